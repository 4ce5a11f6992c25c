/**
 * Adam and SGD over plain Float32Arrays: one JS loop per weight array. tfjs's optimizers run ~10 kernels per
 * variable (1.3–2.9 ms a step on wasm, 10–15 % of a book-cnn step); this is a few tenths of that. Each
 * replica of parallel training applies the same averaged gradients with its own copy (see steps.ts).
 */
import * as tf from '@tensorflow/tfjs';

export type OptimizerName = 'adam' | 'sgd';

export const DEFAULT_LEARNING_RATE: Record<OptimizerName, number> = { adam: 2e-3, sgd: 1e-2 };

export interface Optimizer {
  /** Updates `weights` in place from `grads` (same order and sizes). */
  update(weights: Float32Array[], grads: ArrayLike<number>[], learningRate: number): void;
}

// tf.train.adam's defaults; its epsilon is the backend's float32 epsilon.
const BETA1 = 0.9;
const BETA2 = 0.999;
const EPSILON = 1e-7;

/** Adam as tf.train.adam computes it (bias-corrected moments, epsilon outside the square root). */
function adam(): Optimizer {
  let moments: { m: Float32Array; v: Float32Array }[] = [];
  let beta1Power = 1;
  let beta2Power = 1;
  return {
    update(weights, grads, learningRate) {
      if (moments.length === 0) {
        moments = weights.map((w) => ({ m: new Float32Array(w.length), v: new Float32Array(w.length) }));
      }
      beta1Power *= BETA1;
      beta2Power *= BETA2;
      const c1 = 1 / (1 - beta1Power);
      const c2 = 1 / (1 - beta2Power);
      weights.forEach((w, k) => {
        const g = grads[k]!;
        const { m, v } = moments[k]!;
        for (let i = 0; i < w.length; i++) {
          const gi = g[i]!;
          const mi = (m[i] = BETA1 * m[i]! + (1 - BETA1) * gi);
          const vi = (v[i] = BETA2 * v[i]! + (1 - BETA2) * gi * gi);
          w[i] = w[i]! - (learningRate * mi * c1) / (Math.sqrt(vi * c2) + EPSILON);
        }
      });
    },
  };
}

function sgd(): Optimizer {
  return {
    update(weights, grads, learningRate) {
      weights.forEach((w, k) => {
        const g = grads[k]!;
        for (let i = 0; i < w.length; i++) w[i] = w[i]! - learningRate * g[i]!;
      });
    },
  };
}

export function makeOptimizer(name: OptimizerName): Optimizer {
  return name === 'adam' ? adam() : sgd();
}

/** One optimizer step on a model's trainable variables, gradients in their order. */
export function applyToVariables(
  optimizer: Optimizer,
  variables: tf.LayerVariable[],
  grads: ArrayLike<number>[],
  learningRate: number,
): void {
  const weights = variables.map((v) => new Float32Array(v.read().dataSync()));
  optimizer.update(weights, grads, learningRate);
  tf.tidy(() => variables.forEach((v, i) => v.write(tf.tensor(weights[i]!, v.shape as number[]))));
}
