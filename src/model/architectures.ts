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
 * The default's members: six 3×3 convolutions (BatchNorm, ReLU) that pool early. One convolution at 32×32
 * with widths[0] channels; then at each smaller size (a 2×2 max pool between sizes) two, from the previous
 * width to the next; one more at the smallest size; global average pooling. With widths 16-32-64: 32×32
 * (16), 16×16 (16, 32), 8×8 (32, 64), 4×4 (64), 4.6 M multiply-adds an image. Pooling after the first
 * convolution keeps work away from 32×32, where narrow convolutions cost the most per multiply-add
 * (docs/training-speed.md, "Pooling earlier").
 */
function cnn(widths: readonly number[]): tf.Sequential {
  const model = tf.sequential();
  const sizes = [
    ...widths.map((width, i) => (i === 0 ? [width] : [widths[i - 1]!, width])),
    [widths.at(-1)!],
  ];
  sizes.forEach((convolutions, size) => {
    if (size > 0) model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    for (const filters of convolutions) {
      model.add(
        tf.layers.conv2d({
          ...(model.layers.length === 0 ? { inputShape: INPUT_SHAPE } : {}),
          filters,
          kernelSize: 3,
          padding: 'same',
          useBias: false,
          kernelInitializer: 'heNormal',
        }),
      );
      model.add(batchNormalization({ momentum: 0.9 }));
      model.add(tf.layers.reLU());
    }
  });
  model.add(tf.layers.globalAveragePooling2d({}));
  model.add(tf.layers.dense({ units: 2 }));
  return model;
}

/** The default cnn's widths (each member's). */
export const DEFAULT_CNN_WIDTHS = [16, 32, 64];
/** Independently trained cnns whose probabilities the default model averages (see `ensemble`). */
export const DEFAULT_CNN_MEMBERS = 2;

/** One model: its layers, then the softmax over the logits layer before it. */
function single(arch: Architecture, widths: readonly number[]): tf.Sequential {
  const model = arch === 'mlp' ? mlp() : arch === 'book-cnn' ? bookCnn() : cnn(widths);
  model.add(tf.layers.softmax());
  return model;
}

/**
 * Several models side by side, their probabilities averaged: each member a whole model (a nested
 * Sequential), trained on its own (train/trainer.ts), so each can run on its own core with no gradients
 * between threads. Two narrow cnns trained for five minutes beat one wide one trained in the same minutes,
 * as their errors largely differ (docs/training-speed.md, "Two models instead of one").
 */
function ensemble(members: tf.Sequential[]): tf.LayersModel {
  const input = tf.input({ shape: INPUT_SHAPE });
  const outputs = members.map((member) => member.apply(input) as tf.SymbolicTensor);
  return tf.model({ inputs: input, outputs: tf.layers.average().apply(outputs) as tf.SymbolicTensor });
}

/** Builds an untrained model; members > 1 builds an ensemble of that many. */
export function buildModel(
  arch: Architecture,
  widths: readonly number[] = DEFAULT_CNN_WIDTHS,
  members = arch === 'cnn' ? DEFAULT_CNN_MEMBERS : 1,
): tf.LayersModel {
  if (members === 1) return single(arch, widths);
  return ensemble(Array.from({ length: members }, () => single(arch, widths)));
}

/** The models an ensemble averages, each a whole model of its own; a single model is its only member. */
export function membersOf(model: tf.LayersModel): tf.LayersModel[] {
  const nested = model.layers.filter((layer): layer is tf.LayersModel => layer instanceof tf.LayersModel);
  return nested.length > 0 ? nested : [model];
}

/** The same layers without the final softmax: what the training loss reads (of one model: a member). */
export function logitsOf(model: tf.LayersModel): tf.LayersModel {
  const logits = model.layers.at(-1)?.getClassName() === 'Softmax' ? model.layers.at(-2) : undefined;
  if (!logits) throw new Error('model has no logits layer under a softmax (an ensemble trains by member)');
  return tf.model({ inputs: model.inputs, outputs: logits.output as tf.SymbolicTensor });
}
