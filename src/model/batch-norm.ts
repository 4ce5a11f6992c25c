/**
 * BatchNormalization's training pass as one op with its own gradient. tfjs-layers builds it from
 * `tf.moments` and `tf.batchNorm`, and autodiff then walks back through every op of the moments as well:
 * about 50 kernels per layer and step, many of them passes over all the activations. Here the forward
 * pass takes five (mean, centring, square, mean, normalise) and the backward pass seven, with the textbook
 * gradient dx = γ/σ · (dy − mean(dy) − x̂·mean(dy·x̂)). Inference is the stock layer's, and the class keeps
 * the stock name, so saved models stay plain Keras-style BatchNormalization layers (docs/training-speed.md).
 */
import * as tf from '@tensorflow/tfjs';

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
  const axes = x.shape.slice(0, -1).map((_, i) => i);
  const n = x.size / x.shape[x.rank - 1]!;
  const op = tf.customGrad((input, g, b, save) => {
    const [xs, scale, offset] = [input, g, b] as [tf.Tensor, tf.Tensor1D, tf.Tensor1D];
    const mean = tf.mean(xs, axes) as tf.Tensor1D;
    const variance = tf.mean(tf.square(tf.sub(xs, mean)), axes) as tf.Tensor1D;
    onStatistics(mean, variance);
    (save as tf.GradSaveFunc)([xs, mean, variance, scale]);
    return {
      value: tf.batchNorm(xs, mean, variance, offset, scale, epsilon),
      gradFunc: (dy: tf.Tensor | tf.Tensor[], saved: tf.Tensor[]) => {
        const dyT = dy as tf.Tensor;
        const [xSaved, m, v, s] = saved as [tf.Tensor, tf.Tensor1D, tf.Tensor1D, tf.Tensor1D];
        const normalised = tf.batchNorm(xSaved, m, v, undefined, undefined, epsilon);
        const dOffset = tf.sum(dyT, axes);
        const dScale = tf.sum(tf.mul(dyT, normalised), axes);
        const k = tf.mul(s, tf.rsqrt(tf.add(v, epsilon)));
        const dx = tf.add(
          tf.mul(dyT, k),
          tf.add(tf.mul(normalised, tf.mul(k, tf.div(dScale, -n))), tf.mul(k, tf.div(dOffset, -n))),
        );
        return [dx, dScale, dOffset];
      },
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
