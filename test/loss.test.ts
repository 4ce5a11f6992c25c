import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/model/backend.ts';
import { crossEntropy } from '../src/train/loss.ts';

// Ordinary logits, a tie (counted as airplane), and logits large enough to overflow a naive exp.
const logits = [0.3, -1.2, 2.5, 2.5, -0.7, 0.4, 120, -80, -95, 60, 1e-3, 0];
const labels = [0, 1, 1, 0, 1, 0];

for (const backend of ['cpu', 'wasm'] as const) {
  test(`cross-entropy matches tf.losses.softmaxCrossEntropy in value and gradient on ${backend}`, async () => {
    await selectBackend(backend);
    const x = tf.tensor2d(logits, [6, 2]);
    const oneHot = tf.oneHot(tf.tensor1d(labels, 'int32'), 2);
    const reference = tf.valueAndGrad(
      (z: tf.Tensor) => tf.losses.softmaxCrossEntropy(oneHot, z) as tf.Scalar,
    )(x);
    let hits = -1;
    let losses: Float32Array = new Float32Array(0);
    const ours = tf.valueAndGrad((z: tf.Tensor) => {
      const result = crossEntropy(z as tf.Tensor2D, labels);
      ({ hits, losses } = result);
      return result.loss;
    })(x);
    assert.ok(Number.isFinite(ours.value.dataSync()[0]!));
    assert.ok(Math.abs(ours.value.dataSync()[0]! - reference.value.dataSync()[0]!) < 1e-5);
    const [a, b] = [ours.grad.dataSync(), reference.grad.dataSync()];
    a.forEach((g, i) => assert.ok(Math.abs(g - b[i]!) < 1e-6, `gradient ${i}: ${g} against ${b[i]}`));
    // Every row but the tie, which counts as airplane and is labelled bird.
    assert.equal(hits, 5);
    // Each row's own loss, −log softmax of its label: log(1 + e^(other − own)) for two classes.
    labels.forEach((label, i) => {
      const [own, other] = [logits[2 * i + label]!, logits[2 * i + 1 - label]!];
      const expected = Math.log1p(Math.exp(other - own));
      assert.ok(
        Math.abs(losses[i]! - expected) < 1e-6 * (1 + expected),
        `row ${i}: ${losses[i]}, ${expected}`,
      );
    });
    const mean = losses.reduce((sum, l) => sum + l, 0) / labels.length;
    assert.ok(Math.abs(mean - ours.value.dataSync()[0]!) < 1e-4);
    tf.dispose([x, oneHot, reference.value, reference.grad, ours.value, ours.grad]);
  });
}
