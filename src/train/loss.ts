/**
 * The training loss: mean cross-entropy of the logits against the labels (log-softmax + NLL), as one op.
 * tfjs's `tf.losses.softmaxCrossEntropy` runs ~30 small kernels forward and back for a [batch, 2] input
 * (max, exp, log, casts, divisions, their gradients), each costing more in dispatch than in arithmetic.
 * The logits are read back for the step's hit count anyway, so the loss and its gradient,
 * (softmax − one-hot) / n, are computed here in double precision, and the backward pass is one multiply.
 */
import * as tf from '@tensorflow/tfjs';

export interface LossResult {
  loss: tf.Scalar;
  /** Rows whose larger logit is the label (ties count as airplane). */
  hits: number;
  /** Each row's cross-entropy (what the hard-example sampling ranks images by). */
  losses: Float32Array;
}

/** `logits` [n, classes]; `labels` n class indices. */
export function crossEntropy(logits: tf.Tensor2D, labels: ArrayLike<number>): LossResult {
  const [n, classes] = logits.shape;
  const z = logits.dataSync();
  const gradient = new Float32Array(n * classes);
  const losses = new Float32Array(n);
  let total = 0;
  let hits = 0;
  for (let i = 0; i < n; i++) {
    const row = i * classes;
    let best = 0;
    for (let j = 1; j < classes; j++) if (z[row + j]! > z[row + best]!) best = j;
    const max = z[row + best]!;
    let sum = 0;
    for (let j = 0; j < classes; j++) sum += Math.exp(z[row + j]! - max);
    const logSum = max + Math.log(sum);
    const label = labels[i]!;
    const rowLoss = logSum - z[row + label]!;
    losses[i] = rowLoss;
    total += rowLoss;
    if (best === label) hits++;
    for (let j = 0; j < classes; j++) {
      gradient[row + j] = (Math.exp(z[row + j]! - logSum) - (j === label ? 1 : 0)) / n;
    }
  }
  const op = tf.customGrad((x) => ({
    value: tf.scalar(total / n),
    gradFunc: (dy) => tf.mul(dy, tf.tensor2d(gradient, (x as tf.Tensor2D).shape)),
  }));
  return { loss: op(logits) as tf.Scalar, hits, losses };
}
