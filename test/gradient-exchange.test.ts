import assert from 'node:assert/strict';
import { test } from 'node:test';
import { spawnTsWorker } from '../src/threads/spawn.ts';
import { exchangeMemory, GradientExchange } from '../src/train/gradient-exchange.ts';
import { gradientsOf } from './helpers/exchange-replica.ts';

const SIZES = [5, 3, 8];

test('replicas on their own threads all get the weighted average of every replica’s gradients, step after step', async () => {
  const workers = 3;
  const steps = 12;
  const emptyAt = [4, 9];
  const memory = exchangeMemory(workers, SIZES);
  const replicas = Array.from({ length: workers }, (_, rank) =>
    spawnTsWorker(new URL('./helpers/exchange-replica.ts', import.meta.url), {
      memory,
      rank,
      workers,
      sizes: SIZES,
      steps,
      emptyAt,
    }),
  );
  try {
    const results = await Promise.all(
      replicas.map(
        (w) =>
          new Promise<number[][][]>((resolve, reject) => w.once('message', resolve).once('error', reject)),
      ),
    );
    for (let step = 0; step < steps; step++) {
      const contributors = emptyAt.includes(step) ? workers - 1 : workers;
      const expected = SIZES.map((n, k) =>
        Array.from({ length: n }, (_, j) => {
          let sum = 0;
          for (let r = 0; r < contributors; r++) sum += gradientsOf(r, step, SIZES)[k]![j]! / contributors;
          return sum;
        }),
      );
      for (const [rank, result] of results.entries()) {
        // Bit-identical across replicas (same sums in the same order), and the average of the inputs.
        assert.deepEqual(
          result[step],
          results[0]![step],
          `step ${step}: replica ${rank} differs from replica 0`,
        );
        result[step]!.flat().forEach((v, i) =>
          assert.ok(
            Math.abs(v - expected.flat()[i]!) < 1e-3,
            `step ${step} value ${i}: ${v} vs ${expected.flat()[i]}`,
          ),
        );
      }
    }
  } finally {
    await Promise.all(replicas.map((w) => w.terminate()));
  }
});

test('an exchange refuses memory or gradients of the wrong size', () => {
  assert.throws(() => new GradientExchange(exchangeMemory(2, [5, 3, 7]), 0, 2, SIZES), /expected/);
  const alone = new GradientExchange(exchangeMemory(1, SIZES), 0, 1, SIZES);
  assert.throws(
    () => alone.average([new Float32Array(5), new Float32Array(2), new Float32Array(8)], [1]),
    /gradient 1/,
  );
  const [a, b, c] = alone.average(gradientsOf(0, 1, SIZES), [1]);
  assert.deepEqual(
    [a, b, c].map((g) => g!.length),
    SIZES,
  );
});
