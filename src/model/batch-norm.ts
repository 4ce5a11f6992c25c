/**
 * BatchNormalization's training pass as one op with its own gradient. tfjs-layers builds it from
 * `tf.moments` and `tf.batchNorm`, and autodiff then walks back through every op of the moments as well:
 * about 50 kernels per layer and step, many of them passes over all the activations. Here each way is one
 * kernel where the backend has it (wasm), else a few ops (five forward: mean, centring, square, mean,
 * normalise; seven back), with the textbook gradient dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂)).
 * Inference is the stock layer's, and the class keeps the stock name, so saved models stay plain
 * Keras-style BatchNormalization layers (docs/training-speed.md).
 */
import * as tf from '@tensorflow/tfjs';
import { BATCH_NORM_TRAINING, BATCH_NORM_TRAINING_GRAD } from './gradients.ts';

type LayerArgs = Parameters<typeof tf.layers.batchNormalization>[0];
type Kwargs = Record<string, unknown>;

/** What the stock layer keeps, as this class reads it (tfjs-layers does not export the class's type). */
interface StockBatchNorm extends tf.layers.Layer {
  axis: number;
  momentum: number;
  epsilon: number;
  center: boolean;
  scale: boolean;
  gamma: tf.LayerVariable;
  beta: tf.LayerVariable;
  movingMean: tf.LayerVariable;
  movingVariance: tf.LayerVariable;
}
type StockClass = (new (args?: LayerArgs) => StockBatchNorm) &
  tf.serialization.SerializableConstructor<StockBatchNorm>;

const Stock = tf.layers.batchNormalization({}).constructor as StockClass;

/** The batch's statistics and normalised output, and the gradient, as tfjs ops: any backend. */
const opsPass = {
  forward(x: tf.Tensor, gamma: tf.Tensor1D, beta: tf.Tensor1D, epsilon: number) {
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const mean = tf.mean(x, axes) as tf.Tensor1D;
    const variance = tf.mean(tf.square(tf.sub(x, mean)), axes) as tf.Tensor1D;
    return [tf.batchNorm(x, mean, variance, beta, gamma, epsilon), mean, variance] as const;
  },
  backward(dy: tf.Tensor, [x, mean, variance, gamma]: Saved, epsilon: number): tf.Tensor[] {
    const axes = x.shape.slice(0, -1).map((_, i) => i);
    const n = x.size / x.shape[x.rank - 1]!;
    const normalised = tf.batchNorm(x, mean, variance, undefined, undefined, epsilon);
    const dOffset = tf.sum(dy, axes);
    const dScale = tf.sum(tf.mul(dy, normalised), axes);
    const k = tf.mul(gamma, tf.rsqrt(tf.add(variance, epsilon)));
    const dx = tf.add(
      tf.mul(dy, k),
      tf.add(tf.mul(normalised, tf.mul(k, tf.div(dScale, -n))), tf.mul(k, tf.div(dOffset, -n))),
    );
    return [dx, dScale, dOffset];
  },
};
type Saved = [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];

/**
 * The same as one kernel each way (wasm: js-kernels.ts, three passes over x forward and two back instead
 * of ~12 kernels), where the backend has them and the channels come in fours.
 */
const kernelPass = {
  fits: (x: tf.Tensor) =>
    x.shape[x.rank - 1]! % 4 === 0 &&
    tf.getKernel(BATCH_NORM_TRAINING, tf.getBackend()) !== undefined &&
    tf.getKernel(BATCH_NORM_TRAINING_GRAD, tf.getBackend()) !== undefined,
  forward: (x: tf.Tensor, scale: tf.Tensor1D, offset: tf.Tensor1D, epsilon: number) =>
    tf.engine().runKernel(BATCH_NORM_TRAINING, { x, scale, offset }, { epsilon }) as unknown as readonly [
      tf.Tensor,
      tf.Tensor1D,
      tf.Tensor1D,
    ],
  backward: (dy: tf.Tensor, [x, mean, variance, scale]: Saved, epsilon: number) =>
    tf
      .engine()
      .runKernel(BATCH_NORM_TRAINING_GRAD, { dy, x, mean, variance, scale }, { epsilon }) as tf.Tensor[],
};

/**
 * Normalises `x` over every axis but the last with the batch's own statistics, scales by `gamma` and
 * shifts by `beta`; `onStatistics` receives the batch mean and variance (for the moving averages).
 */
function batchNormInTraining(
  x: tf.Tensor,
  gamma: tf.Tensor1D,
  beta: tf.Tensor1D,
  epsilon: number,
  onStatistics: (mean: tf.Tensor1D, variance: tf.Tensor1D) => void,
): tf.Tensor {
  const pass = kernelPass.fits(x) ? kernelPass : opsPass;
  const op = tf.customGrad((input, g, b, save) => {
    const [xs, scale, offset] = [input, g, b] as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
    const [value, mean, variance] = pass.forward(xs, scale, offset, epsilon);
    onStatistics(mean, variance);
    (save as tf.GradSaveFunc)([xs, mean, variance, scale]);
    return {
      value,
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) =>
        pass.backward(dy as tf.Tensor, saved as Saved, epsilon),
    };
  });
  return op(x, gamma, beta);
}

export class BatchNormalization extends Stock {
  static override className = 'BatchNormalization';

  override call(inputs: tf.Tensor | tf.Tensor[], kwargs: Kwargs): tf.Tensor | tf.Tensor[] {
    const input = Array.isArray(inputs) ? inputs[0]! : inputs;
    const lastAxis = this.axis === -1 || this.axis === input.rank - 1;
    if (!kwargs['training'] || !lastAxis || !this.center || !this.scale) return super.call(inputs, kwargs);
    return tf.tidy(() =>
      batchNormInTraining(
        input,
        this.gamma.read() as tf.Tensor1D,
        this.beta.read() as tf.Tensor1D,
        this.epsilon,
        (mean, variance) => {
          // The moving averages as the stock layer updates them: v ← v − (v − batch)·(1 − momentum).
          for (const [variable, batch] of [
            [this.movingMean, mean],
            [this.movingVariance, variance],
          ] as const) {
            tf.tidy(() => {
              const current = variable.read();
              variable.write(tf.sub(current, tf.mul(tf.sub(current, batch), 1 - this.momentum)));
            });
          }
        },
      ),
    );
  }
}
tf.serialization.registerClass(BatchNormalization);

export const batchNormalization = (args?: LayerArgs) => new BatchNormalization(args);
