/**
 * FusedBatchNorm's stock gradient tiles 1/√(var+ε) up to the full activation shape before multiplying,
 * which on wasm costs more than the convolutions around it. This is the same gradient with broadcasting
 * instead of tiles (checked against the stock one in test/kernels.test.ts).
 */
import * as tf from '@tensorflow/tfjs';

const gradConfig: tf.GradConfig = {
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

let installed = false;

export function installBatchNormGradient(): void {
  if (installed) return;
  installed = true;
  tf.registerGradient(gradConfig);
}
