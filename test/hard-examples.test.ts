import assert from 'node:assert/strict';
import { test } from 'node:test';
import { HardExampleSampler, WARM_EPOCHS } from '../src/train/hard-examples.ts';

const COUNT = 1000;

/** A sampler whose image i last had loss i: image 999 is the hardest, image 0 the easiest. */
function rankedSampler(seed = 1): HardExampleSampler {
  const sampler = new HardExampleSampler(COUNT, seed);
  const indices = Array.from({ length: COUNT }, (_, i) => i);
  sampler.record(indices, indices);
  return sampler;
}

test('the warm epochs train on every image; later ones on half of them, none twice', () => {
  const sampler = rankedSampler();
  for (let epoch = 0; epoch < WARM_EPOCHS; epoch++) {
    assert.equal(sampler.subset(epoch), undefined);
    assert.equal(sampler.imagesIn(epoch), COUNT);
  }
  const subset = sampler.subset(WARM_EPOCHS)!;
  assert.equal(subset.length, COUNT / 2);
  assert.equal(sampler.imagesIn(WARM_EPOCHS), COUNT / 2);
  assert.equal(new Set(subset).size, subset.length);
  assert.ok(subset.every((i) => i < COUNT));
});

test('hard images are drawn far more often than easy ones, and easy ones still now and then', () => {
  const sampler = rankedSampler();
  const drawn = new Uint32Array(COUNT);
  const epochs = 40;
  for (let epoch = WARM_EPOCHS; epoch < WARM_EPOCHS + epochs; epoch++)
    for (const i of sampler.subset(epoch)!) drawn[i]!++;
  const share = (from: number, to: number) =>
    drawn.slice(from, to).reduce((sum, n) => sum + n, 0) / ((to - from) * epochs);
  assert.ok(share(900, 1000) > 0.85, `hardest tenth drawn ${share(900, 1000)} of the time`);
  assert.ok(share(0, 100) < 0.1, `easiest tenth drawn ${share(0, 100)} of the time`);
  assert.ok(share(0, 500) > 0.1, `the easier half drawn ${share(0, 500)} of the time`);
});

test('losses recorded later change what is drawn; the draw is fixed by seed and epoch', () => {
  const a = rankedSampler(1);
  assert.deepEqual(a.subset(5), rankedSampler(1).subset(5));
  assert.notDeepEqual(a.subset(5), a.subset(6));
  assert.notDeepEqual(a.subset(5), rankedSampler(2).subset(5));
  // The easiest hundred images become the hardest: now they are nearly always drawn.
  const before = a.subset(7)!.filter((i) => i < 100).length;
  a.record(
    Array.from({ length: 100 }, (_, i) => i),
    Array.from({ length: 100 }, () => 5000),
  );
  const after = a.subset(7)!.filter((i) => i < 100).length;
  assert.ok(before < 10 && after > 85, `${before} → ${after} of the first hundred`);
});
