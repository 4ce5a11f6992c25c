import assert from 'node:assert/strict';
import { test } from 'node:test';
import * as tf from '@tensorflow/tfjs';
import { buildModel, membersOf } from '../src/model/architectures.ts';
import { selectBackend } from '../src/model/backend.ts';
import { BatchNormalization, batchNormalization } from '../src/model/batch-norm.ts';

type Make = (args: { momentum: number }) => tf.layers.Layer;
const stock: Make = (args) => tf.layers.batchNormalization(args);
const ours: Make = (args) => batchNormalization(args);

/**
 * A training call and its gradients through one layer: [output, dx, dγ, dβ, moving mean, moving variance].
 * Channels in fours take the one-kernel path on wasm, others the ops (batch-norm.ts).
 */
function trainingStep(make: Make, training = true, channels = 8): Float32Array[] {
  const shape = [4, 6, 6, channels];
  const x = tf.variable(tf.randomNormal(shape, 3, 2, 'float32', 1)); // off-centre, as activations are
  const weights = tf.randomNormal(shape, 0, 1, 'float32', 2);
  const layer = make({ momentum: 0.9 });
  layer.build([null, 6, 6, channels]);
  layer.setWeights([
    tf.randomNormal([channels], 1, 0.3, 'float32', 3),
    tf.randomNormal([channels], 0, 0.3, 'float32', 4),
    tf.randomNormal([channels], 0, 0.3, 'float32', 5),
    tf.randomUniform([channels], 0.5, 2, 'float32', 6),
  ]);
  const variables = [x, ...layer.trainableWeights.map((w) => w.read() as tf.Variable)];
  let output: Float32Array = new Float32Array();
  const { grads } = tf.variableGrads(() => {
    const y = layer.apply(x, { training }) as tf.Tensor;
    output = y.dataSync() as Float32Array;
    return tf.sum(tf.mul(y, weights)) as tf.Scalar;
  }, variables);
  const moving = layer.getWeights().slice(2);
  return [
    output,
    ...variables.map((v) => grads[v.name]!.dataSync() as Float32Array),
    ...moving.map((t) => t.dataSync() as Float32Array),
  ];
}

for (const backend of ['cpu', 'wasm'] as const) {
  test(`BatchNormalization's fused training pass equals the stock layer's (${backend}): output, gradients, moving statistics`, async () => {
    await selectBackend(backend);
    for (const [training, channels] of [
      [true, 8],
      [true, 6],
      [false, 8],
    ] as const) {
      const [expected, actual] = [
        trainingStep(stock, training, channels),
        trainingStep(ours, training, channels),
      ];
      expected.forEach((e, i) => {
        let worst = 0;
        e.forEach((v, j) => (worst = Math.max(worst, Math.abs(v - actual[i]![j]!) / (1 + Math.abs(v)))));
        assert.ok(
          worst < 1e-5,
          `training ${training}, ${channels} channels, result ${i} differs by ${worst}`,
        );
      });
      // The moving statistics moved in training and only then.
      const initialMean = tf.randomNormal([channels], 0, 0.3, 'float32', 5).dataSync();
      assert.equal(
        actual[4]!.some((v, j) => v !== initialMean[j]),
        training,
      );
    }
  });
}

test('the fused training pass keeps no more tensors than the stock one', async () => {
  await selectBackend('wasm');
  const growth = (make: Make) => {
    const before = tf.memory().numTensors;
    trainingStep(make);
    return tf.memory().numTensors - before;
  };
  assert.equal(growth(ours), growth(stock));
});

test('models keep the stock class name, and load back with the fused layer', async () => {
  await selectBackend('cpu');
  const model = buildModel('cnn');
  const json = JSON.stringify(model.toJSON(null, false));
  assert.match(json, /"class_name":"BatchNormalization"/);
  const loaded = await tf.models.modelFromJSON(JSON.parse(json));
  assert.ok(membersOf(loaded).every((member) => member.layers.some((l) => l instanceof BatchNormalization)));
});
