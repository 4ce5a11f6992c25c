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
import { inferenceGraph } from '../src/model/inference-graph.ts';
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
  // As the classifier runs it: the folded inference graph; `layers` is tfjs-layers' model.predict.
  const graph = inferenceGraph(model);
  for (const [path, g] of [
    ['graph', graph],
    ['layers', undefined],
  ] as const) {
    for (const batchSize of [256, 4]) {
      // The watcher's batches are small; a round over fewer images keeps that case quick.
      const n = batchSize === 4 ? 2000 : images;
      const predict = () => {
        for (let s = 0; s < n; s += batchSize)
          predictBird(model, x.subarray(s * 3072, (s + batchSize) * 3072), g);
      };
      predict(); // warm-up: kernel set-up and allocation
      const rounds = backend === 'cpu' ? 1 : Number(values.rounds);
      const started = performance.now();
      for (let r = 0; r < rounds; r++) predict();
      const imagesPerSec = Math.round((rounds * n) / ((performance.now() - started) / 1000));
      console.log(
        JSON.stringify({
          bench: 'infer',
          backend,
          arch: metadata.architecture,
          path,
          batchSize,
          imagesPerSec,
        }),
      );
    }
  }
  graph?.dispose();
  model.dispose();
}
