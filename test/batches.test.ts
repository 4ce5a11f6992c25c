import assert from 'node:assert/strict';
import { test } from 'node:test';
import { BatchLoader, normalizeAll } from '../src/data/batches.ts';
import { PIXELS_PER_IMAGE } from '../src/images/normalize.ts';
import { computeMetrics } from '../src/train/metrics.ts';
import { learningRateAt } from '../src/train/schedule.ts';
import { syntheticImages } from './helpers/fixtures.ts';

const labelsOf = (loader: BatchLoader, epoch: number) =>
  [...loader.epoch(epoch)].flatMap((b) => [...b.labels]);
const firstX = (loader: BatchLoader, epoch: number) => [...loader.epoch(epoch)][0]!.x;

test('batches cover every image once per epoch, in minibatches', () => {
  const data = syntheticImages(10);
  const loader = new BatchLoader(data, { batchSize: 4, shuffle: true, seed: 3 });
  const batches = [...loader.epoch(0)];
  assert.deepEqual(
    batches.map((b) => b.size),
    [4, 4, 2],
  );
  assert.equal(batches[0]!.x.length, 4 * PIXELS_PER_IMAGE);
  assert.deepEqual(labelsOf(loader, 0).sort(), [...data.labels].sort());
});

test('the shuffle is seeded: same seed and epoch → same order; next epoch → another order', () => {
  const data = syntheticImages(64);
  const a = new BatchLoader(data, { batchSize: 8, shuffle: true, seed: 5 });
  const b = new BatchLoader(data, { batchSize: 8, shuffle: true, seed: 5 });
  assert.deepEqual(firstX(a, 0), firstX(b, 0));
  assert.notDeepEqual(firstX(a, 0), firstX(a, 1));
  assert.notDeepEqual(
    firstX(a, 0),
    firstX(new BatchLoader(data, { batchSize: 8, shuffle: true, seed: 6 }), 0),
  );
});

test('an epoch of a subset has exactly those images, each batch saying which ones it holds', () => {
  const data = syntheticImages(20);
  const loader = new BatchLoader(data, { batchSize: 4, shuffle: true, seed: 2 });
  const subset = Uint32Array.from([17, 3, 8, 11, 0, 19]);
  const batches = [...loader.epoch(3, subset)];
  assert.deepEqual(
    batches.map((b) => b.size),
    [4, 2],
  );
  const indices = batches.flatMap((b) => [...b.indices]);
  assert.deepEqual(
    [...indices].sort((a, b) => a - b),
    [0, 3, 8, 11, 17, 19],
  );
  const normalized = normalizeAll(data);
  batches.forEach((b) =>
    b.indices.forEach((index, i) => {
      assert.equal(b.labels[i], data.labels[index]);
      const image = (array: Float32Array, at: number) =>
        array.subarray(at * PIXELS_PER_IMAGE, (at + 1) * PIXELS_PER_IMAGE);
      assert.deepEqual(image(b.x, i), image(normalized, index));
    }),
  );
});

test('without shuffle or augmentation, batches are the normalised images in order', () => {
  const data = syntheticImages(5);
  const loader = new BatchLoader(data, { batchSize: 5 });
  assert.deepEqual(firstX(loader, 0), normalizeAll(data));
});

test('augmentation crops and flips: values come from the image or the zero padding', () => {
  const data = syntheticImages(32);
  const plain = normalizeAll(data);
  const augmented = [...new BatchLoader(data, { batchSize: 32, augment: true, seed: 1 }).epoch(0)][0]!.x;
  assert.notDeepEqual(augmented, plain);
  const allowed = new Set([...plain, 0].map((v) => v.toFixed(5)));
  assert.ok(augmented.every((v) => allowed.has(v.toFixed(5))));
});

test('metrics: accuracy, confusion rows = true class, precision/recall, calibration', () => {
  const m = computeMetrics([0.9, 0.8, 0.2, 0.6], [1, 1, 0, 0]);
  assert.equal(m.accuracy, 0.75);
  assert.deepEqual(m.confusion, [
    [1, 1],
    [0, 2],
  ]);
  assert.equal(m.perClass.bird.precision, 2 / 3);
  assert.equal(m.perClass.bird.recall, 1);
  assert.equal(m.perClass.airplane.recall, 0.5);
  // bins: 0.9 (right), 0.8 (right), 0.8 (right, p=0.2 → airplane), 0.6 (wrong): |3 - 2.5|/4 + |0 - 0.6|/4
  assert.ok(Math.abs(m.calibrationError - (0.5 / 4 + 0.6 / 4)) < 1e-9);
});

test('one-cycle schedule warms up, peaks, then decays to nearly zero', () => {
  const at = (s: number) => learningRateAt('one-cycle', 1, s / 100);
  assert.ok(Math.abs(at(0) - 0.1) < 1e-9);
  assert.ok(Math.abs(at(25) - 1) < 1e-9);
  assert.ok(at(60) < 1 && at(60) > at(90));
  assert.ok(at(100) < 0.01);
});
