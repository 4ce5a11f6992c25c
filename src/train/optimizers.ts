/**
 * Adam and SGD over plain Float32Arrays, whatever the backend. tfjs's optimizers run ~10 kernels per
 * variable (1.3–2.9 ms of a CNN step on wasm, almost all per-kernel overhead); these are one pass over all
 * the weights. Each replica of parallel training applies the same averaged gradients (see steps.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { ownMemory } from '../model/simd-kernels.ts';

export type OptimizerName = 'adam' | 'sgd';

export const DEFAULT_LEARNING_RATE: Record<OptimizerName, number> = { adam: 2e-3, sgd: 1e-2 };

/**
 * Decoupled weight decay (AdamW, Loshchilov & Hutter 2019): each step shrinks the convolution and dense
 * kernels by the factor 1 − rate·decay, apart from the gradient step. With Adam's 0.1, five-minute runs of
 * the default cnn scored 0.9488 on average over eight seeds against 0.9454 without, their last epochs
 * 0.9465 against 0.9431 (docs/benchmarks.md, twelfth session). SGD's 5e-4 is the usual L2 of 5e-4
 * (without momentum the two are the same).
 */
export const DEFAULT_WEIGHT_DECAY: Record<OptimizerName, number> = { adam: 0.1, sgd: 5e-4 };

/** What a step runner needs to make its optimizer (also sent to worker replicas). */
export interface OptimizerSettings {
  name: OptimizerName;
  weightDecay: number;
}

export interface Optimizer {
  /** Updates `weights` in place from `grads` (same order and sizes). */
  update(weights: Float32Array[], grads: Float32Array[], learningRate: number): void;
}

const [BETA1, BETA2] = [0.9, 0.999]; // tf.train.adam's defaults (and simd-kernels.wat's constants)

/**
 * Adam as tf.train.adam computes it (bias-corrected moments, epsilon outside the square root), four weights
 * at a time in WebAssembly SIMD (simd-kernels.wat: adam) on a memory of its own: the weights and gradients
 * are copied in end to end, and the moments stay there between steps.
 */
function adam(): Optimizer {
  const { memory, kernels } = ownMemory();
  let total = -1;
  let beta1Power = 1;
  let beta2Power = 1;
  return {
    update(weights, grads, learningRate) {
      const n = weights.reduce((sum, w) => sum + w.length, 0);
      const padded = Math.ceil(n / 4) * 4; // the tail's gradients stay 0, so its weights never change
      if (total < 0) {
        // Four regions: weights, gradients, first and second moments (a new memory is zeroed).
        const pages = Math.ceil((16 * padded) / 65536) - memory.buffer.byteLength / 65536;
        if (pages > 0) memory.grow(pages);
        total = n;
      } else if (n !== total) {
        throw new Error(`Adam was set up for ${total} weights, got ${n}`);
      }
      const heap = new Float32Array(memory.buffer);
      let at = 0;
      weights.forEach((w, k) => {
        heap.set(w, at);
        heap.set(grads[k]!, padded + at);
        at += w.length;
      });
      beta1Power *= BETA1;
      beta2Power *= BETA2;
      const bytes = 4 * padded;
      kernels.adam(
        0,
        bytes,
        2 * bytes,
        3 * bytes,
        padded / 4,
        learningRate,
        1 / (1 - beta1Power),
        1 / (1 - beta2Power),
      );
      at = 0;
      for (const w of weights) {
        w.set(heap.subarray(at, at + w.length));
        at += w.length;
      }
    },
  };
}

function sgd(): Optimizer {
  return {
    update(weights, grads, learningRate) {
      for (let k = 0; k < weights.length; k++) {
        const [w, g] = [weights[k]!, grads[k]!];
        for (let i = 0; i < w.length; i++) w[i] = w[i]! - learningRate * g[i]!;
      }
    },
  };
}

export function makeOptimizer(name: OptimizerName): Optimizer {
  return name === 'adam' ? adam() : sgd();
}

/**
 * One optimizer step on a model's trainable variables, gradients in their order, after the kernels' weight
 * decay (BatchNorm's scale and offset and the biases, the vectors, do not decay).
 */
export function applyToVariables(
  optimizer: Optimizer,
  variables: tf.LayerVariable[],
  grads: Float32Array[],
  learningRate: number,
  weightDecay: number,
): void {
  const weights = variables.map((v) => new Float32Array(v.read().dataSync()));
  const keep = 1 - learningRate * weightDecay;
  variables.forEach((v, i) => {
    if (keep === 1 || v.shape.length < 2) return;
    const w = weights[i]!;
    for (let j = 0; j < w.length; j++) w[j] = w[j]! * keep;
  });
  optimizer.update(weights, grads, learningRate);
  tf.tidy(() => variables.forEach((v, i) => v.write(tf.tensor(weights[i]!, v.shape as number[]))));
}
