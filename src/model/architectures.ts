/**
 * The model architectures. Every model ends in a 2-way softmax (airplane, bird); training reads the logits
 * underneath it (see `logitsOf`) so the loss is a numerically stable log-softmax + NLL.
 */
import * as tf from '@tensorflow/tfjs';
import { CHANNELS, IMAGE_SIZE } from '../images/normalize.ts';
import { batchNormalization } from './batch-norm.ts';

export const ARCHITECTURES = ['cnn', 'mlp', 'book-cnn'] as const;
export type Architecture = (typeof ARCHITECTURES)[number];

const INPUT_SHAPE = [IMAGE_SIZE, IMAGE_SIZE, CHANNELS];

/** The book's chapter-7 MLP: 3072 → 512 (tanh) → 2. */
function mlp(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.flatten({ inputShape: INPUT_SHAPE }),
      tf.layers.dense({ units: 512, activation: 'tanh' }),
      tf.layers.dense({ units: 2 }),
    ],
  });
}

/**
 * The book's chapter-8 `Net`: conv 3→16, tanh, pool; conv 16→8, tanh, pool; fc 512→32, tanh; fc 32→2.
 * Each tanh is applied after its pool rather than before: tanh is increasing, so the max of the tanh of a
 * window is the tanh of its max, and the gradient reaches the same input. The same function and gradients
 * (test/model.test.ts), with a quarter of the tanh work.
 */
function bookCnn(): tf.Sequential {
  return tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: INPUT_SHAPE, filters: 16, kernelSize: 3, padding: 'same' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.activation({ activation: 'tanh' }),
      tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.activation({ activation: 'tanh' }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 32, activation: 'tanh' }),
      tf.layers.dense({ units: 2 }),
    ],
  });
}

/**
 * The default: three blocks of two 3×3 convolutions (BatchNorm, ReLU) with max pooling, then global
 * average pooling. Small enough to train on two CPU cores in minutes, wide enough for ≥ 0.95.
 */
function cnn(widths: readonly number[], batchNorm = true): tf.Sequential {
  const model = tf.sequential();
  widths.forEach((filters, block) => {
    for (let i = 0; i < 2; i++) {
      model.add(
        tf.layers.conv2d({
          ...(block === 0 && i === 0 ? { inputShape: INPUT_SHAPE } : {}),
          filters,
          kernelSize: 3,
          padding: 'same',
          useBias: !batchNorm,
          kernelInitializer: 'heNormal',
        }),
      );
      if (batchNorm) model.add(batchNormalization({ momentum: 0.9 }));
      model.add(tf.layers.reLU());
    }
    model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
  });
  model.add(tf.layers.globalAveragePooling2d({}));
  model.add(tf.layers.dense({ units: 2 }));
  return model;
}

/** Builds an untrained model; the last layer is the softmax over the logits layer before it. */
export const DEFAULT_CNN_WIDTHS = [16, 32, 64];

export function buildModel(
  arch: Architecture,
  widths: readonly number[] = DEFAULT_CNN_WIDTHS,
): tf.Sequential {
  const model = arch === 'mlp' ? mlp() : arch === 'book-cnn' ? bookCnn() : cnn(widths);
  model.add(tf.layers.softmax());
  return model;
}

/** The same layers without the final softmax: what the training loss reads. */
export function logitsOf(model: tf.LayersModel): tf.LayersModel {
  const logits = model.layers[model.layers.length - 2];
  if (!logits) throw new Error('model has no logits layer');
  return tf.model({ inputs: model.inputs, outputs: logits.output as tf.SymbolicTensor });
}
