/**
 * Training throughput: samples/s at batch 64 on the shared CIFAR data, for the book's ch.8 CNN, the
 * default CNN (two models, each image through both: `members`) and the book's MLP, on every backend that
 * loads here. One JSON line per case. By default one epoch of the training split: a steady state, as
 * PyTorch's reference figures are (the first steps of a run are slower while V8 compiles the hot wasm
 * functions with its optimising tier).
 * Usage: npm run bench:train [-- --data DIR] [-- --backends wasm,cpu] [-- --batches N (≤ an epoch)] [-- --workers N]
 */
import { parseArgs } from 'node:util';
import { loadCifar } from '../src/data/cifar.ts';
import { buildModel, membersOf, type Architecture } from '../src/model/architectures.ts';
import { loadableBackends } from './backends.ts';
import { workersFor } from '../src/train/steps.ts';
import { train } from '../src/train/trainer.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/data/cifar-10-batches-bin' },
    backends: { type: 'string', default: 'tensorflow,wasm,cpu' },
    archs: { type: 'string', default: 'book-cnn,cnn,mlp' },
    batches: { type: 'string' },
    workers: { type: 'string' },
  },
});

const BATCH = 64;
const trainSet = await loadCifar(values.data, 'train');
const validation = {
  count: 64,
  pixels: trainSet.pixels.subarray(0, 64 * 3072),
  labels: trainSet.labels.subarray(0, 64),
};

for await (const backend of loadableBackends(values.backends)) {
  for (const arch of values.archs.split(',') as Architecture[]) {
    // The cpu backend is ~100× slower: a few batches measure it just as well.
    const epoch = Math.floor(trainSet.count / BATCH);
    const batches = backend === 'cpu' ? 4 : Math.min(epoch, Number(values.batches ?? epoch));
    const subset = { count: batches * BATCH, pixels: trainSet.pixels, labels: trainSet.labels };
    let firstBatchAt = 0;
    let lastBatchAt = 0;
    let timed = 0;
    const model = buildModel(arch);
    const workers = values.workers ? Number(values.workers) : workersFor(model);
    await train(model, subset, validation, {
      epochs: 1,
      batchSize: BATCH,
      workers,
      onEvent: (e) => {
        if (e.type !== 'batch') return;
        // The first step pays for kernel set-up and allocation: time from its end.
        if (e.step === 1) firstBatchAt = performance.now();
        else timed += BATCH;
        lastBatchAt = performance.now();
      },
    });
    const samplesPerSec = Math.round(timed / ((lastBatchAt - firstBatchAt) / 1000));
    const members = membersOf(model).length;
    console.log(
      JSON.stringify({ bench: 'train', backend, arch, members, batchSize: BATCH, workers, samplesPerSec }),
    );
  }
}
