/** Batched inference: normalised 32×32 NHWC images in, p(bird) out (the softmax's bird column). */
import * as tf from '@tensorflow/tfjs';
import { BIRD } from '../data/labels.ts';
import { CHANNELS, IMAGE_SIZE, PIXELS_PER_IMAGE } from '../images/normalize.ts';
import { inferenceGraph, type InferenceGraph } from './inference-graph.ts';
import { inferenceOf } from './model-files.ts';

// Small enough that a batch's activations stay in cache between layers: images/s at 256, 64, 32, 16 per
// call measured 2,370, 2,391, 2,546, 2,494 (docs/benchmarks.md).
const PREDICT_BATCH = 32;

/** `graph`, when given, is the model's own inference graph (inference-graph.ts): same results, faster. */
export function predictBird(model: tf.LayersModel, x: Float32Array, graph?: InferenceGraph): Float32Array {
  const forward = (batch: tf.Tensor4D) => (graph ? graph.run(batch) : (model.predict(batch) as tf.Tensor));
  const count = x.length / PIXELS_PER_IMAGE;
  const out = new Float32Array(count);
  for (let start = 0; start < count; start += PREDICT_BATCH) {
    const size = Math.min(PREDICT_BATCH, count - start);
    const probs = tf.tidy(() => {
      const batch = tf.tensor4d(x.subarray(start * PIXELS_PER_IMAGE, (start + size) * PIXELS_PER_IMAGE), [
        size,
        IMAGE_SIZE,
        IMAGE_SIZE,
        CHANNELS,
      ]);
      const probs = forward(batch);
      if (!inferenceOf(model)?.flipAverage) return probs.dataSync();
      // Birds and airplanes look the same mirrored: averaging both views steadies the decision.
      const mirrored = forward(tf.reverse(batch, 2));
      return tf.div(tf.add(probs, mirrored), 2).dataSync();
    });
    for (let i = 0; i < size; i++) out[start + i] = probs[i * 2 + BIRD]!;
  }
  return out;
}

/** predictBird through an inference graph of the weights as they are now (a model still in training). */
export function predictBirdNow(model: tf.LayersModel, x: Float32Array): Float32Array {
  const graph = inferenceGraph(model);
  try {
    return predictBird(model, x, graph);
  } finally {
    graph?.dispose();
  }
}
