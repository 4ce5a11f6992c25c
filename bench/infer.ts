/**
 * Inference throughput of a model on preprocessed 32×32 batches (the CIFAR test split), per backend; then
 * on every core at once: one worker thread per core, each with its own wasm instance and model, predicting
 * the whole split (the inference graph, batch 256), started together.
 * Usage: npm run bench:infer [-- --model DIR] [-- --backends wasm,cpu] [-- --threads 2]
 */
import os from 'node:os';
import { parseArgs } from 'node:util';
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { normalizeAll } from '../src/data/batches.ts';
import { loadCifar } from '../src/data/cifar.ts';
import { selectBackend, type BackendChoice } from '../src/model/backend.ts';
import { loadableBackends } from './backends.ts';
import { resolveModelDir } from '../src/model/locate.ts';
import { loadModel } from '../src/model/model-files.ts';
import { inferenceGraph } from '../src/model/inference-graph.ts';
import { predictBird } from '../src/model/predict.ts';
import { spawnTsWorker } from '../src/threads/spawn.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: '../shared/data/cifar-10-batches-bin' },
    model: { type: 'string' },
    backends: { type: 'string', default: 'tensorflow,wasm,cpu' },
    rounds: { type: 'string', default: '5' },
    threads: { type: 'string', default: String(Math.min(2, os.availableParallelism())) },
  },
  args: isMainThread ? process.argv.slice(2) : [],
});

const x = normalizeAll(await loadCifar(values.data, 'test'));
const images = x.length / 3072;

/** One thread's share of the all-cores run: load, warm up, say ready, then time `rounds` passes on "go". */
async function allCoresWorker({
  backend,
  model: dir,
  rounds,
}: {
  backend: BackendChoice;
  model?: string;
  rounds: number;
}) {
  await selectBackend(backend);
  const { model } = await loadModel(resolveModelDir(dir));
  const graph = inferenceGraph(model);
  predictBird(model, x, graph);
  parentPort!.once('message', () => {
    const started = performance.now();
    for (let r = 0; r < rounds; r++) predictBird(model, x, graph);
    parentPort!.postMessage(performance.now() - started);
  });
  parentPort!.postMessage('ready');
}

async function allCores(backend: BackendChoice, threads: number, arch: string) {
  const rounds = Number(values.rounds);
  const workers = Array.from({ length: threads }, () =>
    spawnTsWorker(new URL(import.meta.url), { backend, model: values.model, rounds }),
  );
  const next = () => Promise.all(workers.map((w) => new Promise<unknown>((done) => w.once('message', done))));
  await next(); // all ready
  const finished = next();
  for (const w of workers) w.postMessage('go');
  const ms = Math.max(...((await finished) as number[]));
  await Promise.all(workers.map((w) => w.terminate()));
  const imagesPerSec = Math.round((threads * rounds * images) / (ms / 1000));
  console.log(
    JSON.stringify({ bench: 'infer', backend, arch, path: 'graph', batchSize: 256, threads, imagesPerSec }),
  );
}

if (!isMainThread) {
  await allCoresWorker(workerData);
} else {
  await main();
}

async function main() {
  for await (const backend of loadableBackends(values.backends)) {
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
    const threads = Number(values.threads);
    if (backend !== 'cpu' && threads > 1) await allCores(backend, threads, metadata.architecture);
  }
}
