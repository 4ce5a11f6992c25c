/**
 * A stand-in replica for test/gradient-exchange.test.ts: for each step, makes gradients from its rank and
 * the step (after a delay, so replicas arrive at the exchange at different times), averages them through
 * the shared memory and posts back what it got.
 */
import { isMainThread, parentPort, workerData } from 'node:worker_threads';
import { GradientExchange } from '../../src/train/gradient-exchange.ts';

/** Replica `rank`'s gradients at `step`: distinct everywhere, so a wrong slot or step shows. */
export const gradientsOf = (rank: number, step: number, sizes: number[]) =>
  sizes.map((n, k) => Float32Array.from({ length: n }, (_, j) => rank * 1000 + step * 10 + k + j / n));

if (!isMainThread) {
  const { memory, rank, workers, sizes, steps, emptyAt } = workerData as {
    memory: SharedArrayBuffer;
    rank: number;
    workers: number;
    sizes: number[];
    steps: number;
    /** Steps at which the last replica has no share of the batch. */
    emptyAt: number[];
  };

  const exchange = new GradientExchange(memory, rank, workers, sizes);
  const results: number[][][] = [];
  for (let step = 0; step < steps; step++) {
    const sleeper = new Int32Array(new SharedArrayBuffer(4));
    Atomics.wait(sleeper, 0, 0, ((rank + step) % workers) * 3); // a few milliseconds, differing by rank
    const empty = emptyAt.includes(step);
    const shares = Array.from({ length: workers }, (_, r) =>
      empty ? (r === workers - 1 ? 0 : 1 / (workers - 1)) : 1 / workers,
    );
    const own = empty && rank === workers - 1 ? undefined : gradientsOf(rank, step, sizes);
    results.push(exchange.average(own, shares).map((g) => Array.from(g)));
  }
  parentPort!.postMessage(results);
}
