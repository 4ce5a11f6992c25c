/**
 * Inference throughput of a model on preprocessed 32×32 batches (the CIFAR test split), per backend.
 * Usage: npm run bench:infer [-- --model DIR] [-- --backends wasm,cpu]
 */
import { parseArgs } from 'node:util';
import { normalizeAll } from '../src/data/batches.ts';
import { loadCifar } from '../src/data/cifar.ts';
import { selectBackend, type BackendChoice } from '../src/model/backend.ts';
import { resolveModelDir } from '../src/model/locate.ts';
import { loadModel } from '../src/model/model-files.ts';
import { predictBird } from '../src/model/predict.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/data/cifar-10-batches-bin' },
    model: { type: 'string' },
    backends: { type: 'string', default: 'tensorflow,wasm,cpu' },
    rounds: { type: 'string', default: '5' },
  },
});

const x = normalizeAll(await loadCifar(values.data, 'test'));
const images = x.length / 3072;
for (const backend of values.backends.split(',') as BackendChoice[]) {
  try {
    await selectBackend(backend);
  } catch {
    console.error(`# backend ${backend} does not load here; skipped`);
    continue;
  }
  const { model, metadata } = await loadModel(resolveModelDir(values.model));
  predictBird(model, x.subarray(0, 256 * 3072)); // warm-up: kernel set-up and allocation
  const rounds = backend === 'cpu' ? 1 : Number(values.rounds);
  const started = performance.now();
  for (let r = 0; r < rounds; r++) predictBird(model, x);
  const imagesPerSec = Math.round((rounds * images) / ((performance.now() - started) / 1000));
  console.log(
    JSON.stringify({ bench: 'infer', backend, arch: metadata.architecture, batchSize: 256, imagesPerSec }),
  );
  model.dispose();
}
