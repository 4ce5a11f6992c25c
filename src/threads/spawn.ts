import { Worker } from 'node:worker_threads';

/** Starts a worker thread running a TypeScript module (given as a file URL). */
export function spawnTsWorker(module: URL, data: Record<string, unknown> = {}): Worker {
  return new Worker(new URL('./ts-worker.mjs', import.meta.url), {
    workerData: { ...data, module: module.href },
  });
}
