import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { selectBackend } from '../src/model/backend.ts';
import { applyToVariables, makeOptimizer, type OptimizerName } from '../src/train/optimizers.ts';

for (const [name, reference] of [
  ['adam', () => tf.train.adam(0.01)],
  ['sgd', () => tf.train.sgd(0.01)],
] as const) {
  test(`${name} on arrays matches tf.train.${name} over several steps, changing rates included`, async () => {
    await selectBackend('cpu');
    const shapes = [[3, 4], [7], [2, 2, 5]];
    // Seeds from 1: tfjs takes a seed of 0 as none, which made this test draw new numbers on every run.
    const initial = shapes.map(
      (s, i) => tf.randomNormal(s, 0, 1, 'float32', i + 1).dataSync() as Float32Array,
    );
    const variables = initial.map((w, i) => tf.variable(tf.tensor(w, shapes[i]), true, `${name}-w${i}`));
    const tfOptimizer = reference();
    const ours = makeOptimizer(name as OptimizerName);
    const weights = initial.map((w) => Float32Array.from(w));
    for (let step = 0; step < 6; step++) {
      const rate = 0.01 * (1 + step); // the one-cycle schedule changes the rate every step
      // Adam reads its learningRate field each step; SGD keeps a scalar that only its setter replaces.
      if (name === 'sgd') (tfOptimizer as tf.SGDOptimizer).setLearningRate(rate);
      else (tfOptimizer as unknown as { learningRate: number }).learningRate = rate;
      const grads = shapes.map((s, i) => tf.randomNormal(s, 0, 1, 'float32', 100 * step + i + 1));
      tfOptimizer.applyGradients(variables.map((v, i) => ({ name: v.name, tensor: grads[i]! })));
      ours.update(
        weights,
        grads.map((g) => g.dataSync() as Float32Array),
        rate,
      );
      tf.dispose(grads);
    }
    variables.forEach((v, i) => {
      const expected = v.dataSync();
      const actual = weights[i]!;
      for (let j = 0; j < expected.length; j++) {
        assert.ok(
          Math.abs(expected[j]! - actual[j]!) < 1e-5,
          `weight ${i}[${j}]: ${actual[j]} ≠ ${expected[j]}`,
        );
      }
      // The weights moved: a test of an optimizer that does nothing would pass the comparison above only if
      // tf's did nothing too.
      assert.ok(Math.abs(actual[0]! - initial[i]![0]!) > 1e-3);
    });
    tf.dispose(variables);
  });
}

test('weight decay shrinks the kernels by 1 − rate·decay and leaves the biases alone', async () => {
  await selectBackend('cpu');
  const model = tf.sequential({
    layers: [tf.layers.dense({ units: 2, inputShape: [3], biasInitializer: 'ones' })],
  });
  const [kernel, bias] = model.getWeights().map((w) => w.dataSync().slice());
  const zeros = model.trainableWeights.map(
    (v) => new Float32Array(tf.util.sizeFromShape(v.shape as number[])),
  );
  // Zero gradients: Adam's own step is 0, so what changes is the decay alone.
  applyToVariables(makeOptimizer('adam'), model.trainableWeights, zeros, 0.1, 2);
  const [kernelAfter, biasAfter] = model.getWeights().map((w) => w.dataSync());
  kernel!.forEach((w, i) => assert.ok(Math.abs(kernelAfter![i]! - 0.8 * w) < 1e-6, `kernel ${i}`));
  assert.deepEqual(Array.from(biasAfter!), Array.from(bias!));
  model.dispose();
});
