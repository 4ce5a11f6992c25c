/**
 * Gradients Birdgate registers in place of tfjs's own, for every backend: the same mathematics in fewer or
 * cheaper kernels (each checked against the stock one in test/kernels.test.ts).
 */
import * as tf from '@tensorflow/tfjs';

/**
 * FusedBatchNorm's stock gradient tiles 1/√(var+ε) up to the full activation shape before multiplying,
 * which on wasm costs more than the convolutions around it. This is the same gradient with broadcasting
 * instead of tiles.
 */
const batchNorm: tf.GradConfig = {
  kernelName: 'FusedBatchNorm',
  inputsToSave: ['x', 'mean', 'variance', 'scale'],
  gradFunc: (dy, saved, attrs) => {
    const dyT = dy as tf.Tensor;
    const { varianceEpsilon } = attrs as unknown as { varianceEpsilon: number };
    const [x, mean, variance, scale] = saved as [tf.Tensor, tf.Tensor, tf.Tensor, tf.Tensor | undefined];
    const axes = tf.backend_util.getReductionAxes(mean.shape, x.shape);
    const reduce = (t: tf.Tensor) => (axes.length ? tf.sum(t, axes) : t).reshape(mean.shape);
    const scaleValue = scale ?? tf.scalar(1);
    const rstd = tf.rsqrt(tf.add(variance, varianceEpsilon));
    const centred = () => tf.sub(x, mean);
    return {
      x: () => tf.mul(dyT, tf.mul(rstd, scaleValue)),
      mean: () => reduce(tf.mul(dyT, tf.neg(tf.mul(rstd, scaleValue)))),
      variance: () =>
        reduce(tf.mul(tf.mul(dyT, centred()), tf.mul(tf.pow(rstd, 3), tf.mul(scaleValue, -0.5)))),
      scale: () => reduce(tf.mul(tf.mul(dyT, centred()), rstd)),
      offset: () => reduce(dyT),
    };
  },
};

// Kernels computing tanh's gradient dy·(1 − y²) and ReLU's (dy where x > 0) in one pass each, where a
// backend has them (wasm: js-kernels.ts).
export const TANH_GRAD = 'BirdgateTanhGrad';
export const RELU_GRAD = 'BirdgateReluGrad';
// BatchNorm's training pass and its gradient, each one kernel where a backend has them (batch-norm.ts).
export const BATCH_NORM_TRAINING = 'BirdgateBatchNormTraining';
export const BATCH_NORM_TRAINING_GRAD = 'BirdgateBatchNormTrainingGrad';

/**
 * An activation's gradient from one saved tensor: the one-pass kernel where the backend has it, else
 * tfjs's own ops (three kernels each: tanh's Square, Sub, Multiply; ReLU's Step, Cast, Multiply).
 */
function activation(
  kernelName: 'Tanh' | 'Relu',
  saved: 'x' | 'y',
  fused: string,
  fallback: (dy: tf.Tensor, v: tf.Tensor) => tf.Tensor,
): tf.GradConfig {
  return {
    kernelName,
    ...(saved === 'x' ? { inputsToSave: ['x'] } : { outputsToSave: [true] }),
    gradFunc: (dy, tensors) => {
      const [v] = tensors as [tf.Tensor];
      const dyT = dy as tf.Tensor;
      return {
        x: () =>
          tf.getKernel(fused, tf.getBackend())
            ? (tf.engine().runKernel(fused, { dy: dyT, [saved]: v }) as tf.Tensor)
            : fallback(dyT, v),
      };
    },
  };
}

const tanh = activation('Tanh', 'y', TANH_GRAD, (dy, y) => tf.mul(dy, tf.sub(1, tf.square(y))));
const relu = activation('Relu', 'x', RELU_GRAD, (dy, x) => tf.mul(dy, tf.cast(tf.step(x), 'float32')));

let installed = false;

export function installGradients(): void {
  if (installed) return;
  installed = true;
  tf.registerGradient(batchNorm);
  tf.registerGradient(tanh);
  tf.registerGradient(relu);
}
