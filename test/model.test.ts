import assert from 'node:assert/strict';
import { test } from 'node:test';
import path from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { normalizeAll } from '../src/data/batches.ts';
import { PIXELS_PER_IMAGE } from '../src/images/normalize.ts';
import {
  ARCHITECTURES,
  buildModel,
  DEFAULT_CNN_WIDTHS,
  logitsOf,
  membersOf,
} from '../src/model/architectures.ts';
import { selectBackend } from '../src/model/backend.ts';
import { loadModel, newMetadata, saveModel, type ModelMetadata } from '../src/model/model-files.ts';
import { inferenceGraph } from '../src/model/inference-graph.ts';
import { predictBird } from '../src/model/predict.ts';
import { setSeed } from '../src/model/seed.ts';
import type { Sampling } from '../src/train/hard-examples.ts';
import { localRunner, parallelRunner } from '../src/train/steps.ts';
import { DEFAULT_LEARNING_RATE, type OptimizerSettings } from '../src/train/optimizers.ts';
import { evaluate, train } from '../src/train/trainer.ts';
import { BatchLoader } from '../src/data/batches.ts';
import { syntheticImages, tempDir } from './helpers/fixtures.ts';

const ADAM: OptimizerSettings = { name: 'adam', weightDecay: 0 };

const metadata = (architecture: ModelMetadata['architecture']): ModelMetadata =>
  newMetadata({
    architecture,
    training: {
      data: 'synthetic',
      trainImages: 1,
      validationImages: 1,
      epochs: 1,
      bestEpoch: 1,
      seed: 1,
      backend: 'cpu',
      optimizer: 'adam',
      durationSec: 0,
    },
    metrics: { validationAccuracy: 0.5 },
  });

for (const backend of ['wasm', 'cpu'] as const) {
  test(`every architecture outputs probabilities that sum to 1 (${backend})`, async () => {
    await selectBackend(backend);
    const x = tf.randomNormal([3, 32, 32, 3], 0, 1, 'float32', 1);
    for (const arch of ARCHITECTURES) {
      const probs = (buildModel(arch).predict(x) as tf.Tensor).arraySync() as number[][];
      assert.equal(probs.length, 3);
      for (const row of probs) {
        assert.equal(row.length, 2);
        assert.ok(Math.abs(row[0]! + row[1]! - 1) < 1e-5, `${arch}: ${row}`);
        assert.ok(row.every((p) => p >= 0 && p <= 1));
      }
    }
  });
}

for (const backend of ['wasm', 'cpu'] as const) {
  test(`the folded inference graph gives model.predict's probabilities for every architecture (${backend})`, async () => {
    await selectBackend(backend);
    const x = tf.randomNormal([5, 32, 32, 3], 0, 1, 'float32', 2) as tf.Tensor4D;
    for (const arch of ARCHITECTURES) {
      const model = buildModel(arch);
      // Trained-looking BatchNorm statistics, so folding them is really exercised.
      const layers = membersOf(model).flatMap((member) => member.layers);
      for (const layer of layers.filter((l) => l.getClassName() === 'BatchNormalization')) {
        const n = layer.getWeights()[0]!.shape[0]!;
        layer.setWeights([
          tf.randomUniform([n], 0.5, 2, 'float32', 3),
          tf.randomNormal([n], 0, 0.5, 'float32', 4),
          tf.randomNormal([n], 0, 0.5, 'float32', 5),
          tf.randomUniform([n], 0.2, 3, 'float32', 6),
        ]);
      }
      const graph = inferenceGraph(model);
      assert.ok(graph, `${arch}: every layer is supported`);
      const expected = (model.predict(x) as tf.Tensor).dataSync();
      const actual = graph.run(x).dataSync();
      assert.equal(actual.length, expected.length);
      const worst = Math.max(...expected.map((e, i) => Math.abs(e - actual[i]!)));
      assert.ok(worst < 1e-4, `${arch}: largest difference ${worst}`);
      graph.dispose();
      model.dispose();
    }
  });
}

test("book-cnn's tanh after each pool is the book's tanh before it: same outputs and gradients", async () => {
  await selectBackend('cpu');
  // Seeded: tanh can round two values of a pool window to one float, a tie the two orders break differently.
  setSeed(7);
  const ours = buildModel('book-cnn');
  // The book's order, conv → tanh → pool, with the same weights.
  const book = tf.sequential({
    layers: [
      tf.layers.conv2d({
        inputShape: [32, 32, 3],
        filters: 16,
        kernelSize: 3,
        padding: 'same',
        activation: 'tanh',
      }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.conv2d({ filters: 8, kernelSize: 3, padding: 'same', activation: 'tanh' }),
      tf.layers.maxPooling2d({ poolSize: 2 }),
      tf.layers.flatten(),
      tf.layers.dense({ units: 32, activation: 'tanh' }),
      tf.layers.dense({ units: 2 }),
      tf.layers.softmax(),
    ],
  });
  book.setWeights(ours.getWeights());
  const x = tf.randomNormal([4, 32, 32, 3], 0, 1, 'float32', 7);
  const outputs = [ours, book].map((m) => (m.predict(x) as tf.Tensor).dataSync());
  outputs[0]!.forEach((p, i) => assert.ok(Math.abs(p - outputs[1]![i]!) < 1e-6, `output ${i}`));
  const gradients = [ours, book].map((m) => {
    const { grads } = tf.variableGrads(
      () => tf.sum(tf.log(m.apply(x) as tf.Tensor)) as tf.Scalar,
      m.trainableWeights.map((w) => w.read() as tf.Variable),
    );
    return m.trainableWeights.map((w) => grads[(w.read() as tf.Variable).name]!.dataSync());
  });
  gradients[0]!.forEach((g, k) =>
    g.forEach((v, i) =>
      assert.ok(Math.abs(v - gradients[1]![k]![i]!) < 1e-5 * (1 + Math.abs(v)), `gradient ${k}[${i}]`),
    ),
  );
  ours.dispose();
  book.dispose();
});

test('a model with a layer the inference graph does not know is run by tfjs-layers', async () => {
  await selectBackend('cpu');
  const model = tf.sequential({
    layers: [
      tf.layers.conv2d({ inputShape: [32, 32, 3], filters: 2, kernelSize: 3 }),
      tf.layers.upSampling2d({}),
      tf.layers.globalAveragePooling2d({}),
      tf.layers.softmax(),
    ],
  });
  const before = tf.memory().numTensors;
  assert.equal(inferenceGraph(model), undefined);
  assert.equal(tf.memory().numTensors, before, 'nothing leaked');
  const x = normalizeAll(syntheticImages(2, 1));
  assert.equal(predictBird(model, x).length, 2);
});

test('save then load gives identical predictions and keeps the metadata', async () => {
  await selectBackend('wasm');
  const model = buildModel('cnn');
  const dir = path.join(await tempDir(), 'model');
  const x = normalizeAll(syntheticImages(8));
  const before = predictBird(model, x);
  await saveModel(model, dir, metadata('cnn'));
  const loaded = await loadModel(dir);
  assert.deepEqual(Array.from(predictBird(loaded.model, x)), Array.from(before));
  assert.equal(loaded.metadata.architecture, 'cnn');
  assert.deepEqual(loaded.metadata.input.mean, [0.4915, 0.4823, 0.4468]);
});

test('loading a folder without a model is a clear error', async () => {
  await assert.rejects(loadModel(await tempDir()), /Cannot load the model in/);
});

for (const backend of ['wasm', 'cpu'] as const) {
  test(`a short training run beats chance clearly on a generated set (${backend})`, async () => {
    await selectBackend(backend);
    const model = buildModel('mlp');
    const events: string[] = [];
    const result = await train(model, syntheticImages(256, 1), syntheticImages(64, 2), {
      epochs: 3,
      batchSize: 32,
      augment: false,
      learningRate: 1e-3,
      onEvent: (e) => events.push(e.type),
    });
    assert.ok(result.validation.accuracy >= 0.85, `accuracy ${result.validation.accuracy}`);
    assert.equal(result.history.length, 3);
    assert.equal(events[0], 'start');
    assert.equal(events.at(-1), 'done');
    assert.ok(events.includes('epoch') && events.includes('batch'));
  });
}

test('after two whole epochs each epoch trains on half the images; progress counts the steps of the run', async () => {
  await selectBackend('wasm');
  const data = syntheticImages(256, 1);
  const run = async (sampling: Sampling) => {
    const steps: { epoch: number; step: number; totalSteps: number }[] = [];
    await train(buildModel('mlp'), data, syntheticImages(64, 2), {
      epochs: 4,
      batchSize: 32,
      sampling,
      workers: 1,
      onEvent: (e) => {
        if (e.type === 'batch') steps.push(e);
      },
    });
    const perEpoch = [0, 1, 2, 3].map((epoch) => steps.filter((s) => s.epoch === epoch).length);
    return { perEpoch, last: steps.at(-1)! };
  };
  const hard = await run('hard');
  assert.deepEqual(hard.perEpoch, [8, 8, 4, 4]);
  assert.deepEqual([hard.last.step, hard.last.totalSteps], [24, 24]);
  const all = await run('all');
  assert.deepEqual(all.perEpoch, [8, 8, 8, 8]);
  assert.deepEqual([all.last.step, all.last.totalSteps], [32, 32]);
});

test('a budget in minutes: as many epochs as fit, the schedule ending with the time', async () => {
  await selectBackend('wasm');
  const budgetSec = 2;
  const run = (epochs: number) => {
    const batches: { step: number; totalSteps: number }[] = [];
    const result = train(buildModel('mlp'), syntheticImages(256, 1), syntheticImages(64, 2), {
      epochs,
      minutes: budgetSec / 60,
      workers: 1,
      onEvent: (e) => {
        if (e.type === 'batch') batches.push(e);
      },
    });
    return result.then((r) => ({ ...r, batches }));
  };
  const timed = await run(Infinity);
  assert.ok(timed.history.length >= 3, `${timed.history.length} epochs`);
  // Ends on time: the budget counts the last epoch's validation (a few steps' slack for a slow host).
  assert.ok(timed.durationSec < budgetSec + 0.5, `${timed.durationSec} s`);
  const rates = timed.history.map((h) => h.learningRate);
  assert.ok(rates.at(-1)! < 0.05 * DEFAULT_LEARNING_RATE.adam, `last rate ${rates.at(-1)}`);
  assert.ok(Math.max(...rates) > 0.5 * DEFAULT_LEARNING_RATE.adam, 'the rate went up to its peak');
  const last = timed.batches.at(-1)!;
  assert.ok(Math.abs(last.totalSteps - last.step) <= 0.05 * last.step, `${last.step} of ${last.totalSteps}`);

  // The epochs end first: the run is theirs, and the schedule follows the steps.
  const counted = await run(2);
  assert.equal(counted.history.length, 2);
  assert.deepEqual([counted.batches.at(-1)!.step, counted.batches.at(-1)!.totalSteps], [16, 16]);
  assert.ok(counted.history[1]!.learningRate < 0.01 * DEFAULT_LEARNING_RATE.adam);
});

test('the CNN trains on wasm (convolution gradients included) and beats chance', async () => {
  await selectBackend('wasm');
  const result = await train(buildModel('cnn'), syntheticImages(256, 3), syntheticImages(64, 4), {
    epochs: 3,
    batchSize: 32,
  });
  assert.ok(result.validation.accuracy >= 0.8, `accuracy ${result.validation.accuracy}`);
});

test("an ensemble's members train independently: the first exactly as one model of the same seed", async () => {
  await selectBackend('wasm');
  const options = { epochs: 1, batchSize: 32, workers: 1, seed: 3 };
  const trainSet = syntheticImages(96, 3);
  setSeed(2);
  const ensemble = buildModel('cnn', [8, 8, 8], 2);
  await train(ensemble, trainSet, syntheticImages(32, 4), options);
  setSeed(2);
  const single = buildModel('cnn', [8, 8, 8], 1);
  await train(single, trainSet, syntheticImages(32, 4), options);
  const [first, second] = membersOf(ensemble).map((member) => member.getWeights().map((w) => w.dataSync()));
  const alone = single.getWeights().map((w) => w.dataSync());
  first!.forEach((w, i) => assert.deepEqual(w, alone[i], `weight ${i}`));
  assert.notDeepEqual(second![0], first![0]);
  // The ensemble's probabilities are its members' mean, by layers and by the inference graph alike.
  const x = normalizeAll(syntheticImages(8, 5));
  const means = membersOf(ensemble).map((member) => predictBird(member, x));
  const expected = means[0]!.map((p, i) => (p + means[1]![i]!) / 2);
  for (const graph of [undefined, inferenceGraph(ensemble)]) {
    const got = predictBird(ensemble, x, graph);
    got.forEach((p, i) => assert.ok(Math.abs(p - expected[i]!) < 1e-5, `image ${i}: ${p} vs ${expected[i]}`));
  }
});

test('logitsOf refuses an ensemble, which trains member by member', () => {
  assert.throws(() => logitsOf(buildModel('cnn', [8, 8, 8], 2)), /ensemble/);
  assert.deepEqual(membersOf(buildModel('mlp')).length, 1);
});

test('cancelling stops training and keeps the best weights so far', async () => {
  await selectBackend('wasm');
  const abort = new AbortController();
  const result = await train(buildModel('mlp'), syntheticImages(256, 1), syntheticImages(64, 2), {
    epochs: 50,
    batchSize: 32,
    augment: false,
    signal: abort.signal,
    onEvent: (e) => {
      if (e.type === 'epoch' && e.epoch === 1) abort.abort();
    },
  });
  assert.equal(result.cancelled, true);
  assert.equal(result.history.length, 2);
});

test('data-parallel training on two worker threads follows the same path as one thread', async () => {
  await selectBackend('wasm');
  const losses: number[][] = [];
  for (const workers of [1, 2]) {
    setSeed(3);
    // 257 images: each epoch ends with a batch of one, which leaves the second replica nothing to do.
    const result = await train(buildModel('mlp'), syntheticImages(257, 5), syntheticImages(64, 6), {
      epochs: 2,
      batchSize: 64,
      augment: false,
      learningRate: 1e-4,
      workers,
    });
    losses.push(result.history.map((h) => h.trainLoss));
  }
  // Same initial weights, same batches, gradients averaged over the shards: the same updates.
  losses[0]!.forEach((loss, i) =>
    assert.ok(Math.abs(loss - losses[1]![i]!) < 1e-4, `${losses[0]} vs ${losses[1]}`),
  );
});

test("two replicas report each image's loss in the batch's order, as one thread does", async () => {
  await selectBackend('wasm');
  const model = buildModel('mlp');
  const [batch] = new BatchLoader(syntheticImages(11, 7), { batchSize: 11 }).epoch(0);
  const runner = await parallelRunner(model, ADAM, 2);
  try {
    const parallel = await runner.step(batch!, 0);
    const local = await localRunner(model, ADAM).step(batch!, 0);
    assert.equal(parallel.losses.length, 11);
    assert.ok(new Set(local.losses).size > 5, 'the images have losses of their own');
    local.losses.forEach((loss, i) =>
      assert.ok(Math.abs(loss - parallel.losses[i]!) < 1e-5, `image ${i}: ${loss} vs ${parallel.losses[i]}`),
    );
  } finally {
    await runner.dispose();
  }
});

test('weight decay reaches the replicas: two workers update the weights as one thread does', async () => {
  await selectBackend('wasm');
  // A fifth off the kernels in one step at 0.001, where Adam's own step is at most 0.001 a weight.
  const settings = { name: 'adam', weightDecay: 200 } as const;
  const [batch] = new BatchLoader(syntheticImages(12, 7), { batchSize: 12 }).epoch(0);
  const local = buildModel('mlp');
  const parallel = buildModel('mlp');
  parallel.setWeights(local.getWeights());
  const norm = (m: tf.LayersModel) => tf.tidy(() => m.getWeights()[0]!.norm().dataSync()[0]!);
  const before = norm(local);
  const runner = await parallelRunner(parallel, settings, 2);
  try {
    await runner.step(batch!, 0.001);
    await runner.syncTo(parallel);
  } finally {
    await runner.dispose();
  }
  await localRunner(local, settings).step(batch!, 0.001);
  const ratio = norm(local) / before;
  assert.ok(ratio > 0.75 && ratio < 0.85, `the kernel's norm went ×${ratio}, not ×0.8`);
  const expected = local.getWeights()[0]!.dataSync();
  const got = parallel.getWeights()[0]!.dataSync();
  expected.forEach((w, i) => assert.ok(Math.abs(w - got[i]!) < 1e-5, `weight ${i}: ${got[i]} vs ${w}`));
});

test('a replica that fails a step fails the step, and the other one is not left waiting for it', async () => {
  await selectBackend('wasm');
  const runner = await parallelRunner(buildModel('mlp'), ADAM, 2);
  try {
    // Pixels for three images, not four: the second replica cannot make its half of the batch.
    const batch = {
      x: new Float32Array(3 * PIXELS_PER_IMAGE),
      labels: new Uint8Array(4),
      size: 4,
      indices: new Uint32Array(4),
    };
    await assert.rejects(runner.step(batch, 1e-3), /training worker failed/);
  } finally {
    await runner.dispose(); // the first replica is blocked at the exchange: disposing must still end it
  }
});

test('validation on two workers judges every image by the model that training hands back', async () => {
  await selectBackend('wasm');
  setSeed(4);
  const model = buildModel('cnn', DEFAULT_CNN_WIDTHS, 1);
  const runner = await parallelRunner(model, ADAM, 2);
  try {
    // A few steps: each replica's BatchNorm statistics follow its own half of every batch. A tiny rate
    // keeps the outputs away from 0 and 1, where different statistics would not show.
    const loader = new BatchLoader(syntheticImages(96, 7), { batchSize: 32, shuffle: true, augment: true });
    for (const batch of loader.epoch(0)) await runner.step(batch, 1e-6);
    await runner.syncTo(model);
    const x = normalizeAll(syntheticImages(40, 8));
    const expected = predictBird(model, x);
    const got = await runner.predict(x);
    assert.equal(got.length, 40);
    assert.ok(expected.every((p) => p > 0.05 && p < 0.95));
    got.forEach((p, i) => assert.ok(Math.abs(p - expected[i]!) < 1e-5, `image ${i}: ${p} vs ${expected[i]}`));
  } finally {
    await runner.dispose();
  }
});

test("a training run's validation metrics are those of the model it returns", async () => {
  await selectBackend('wasm');
  setSeed(5);
  const model = buildModel('cnn');
  const validationSet = syntheticImages(64, 4);
  const result = await train(model, syntheticImages(128, 3), validationSet, { epochs: 3, batchSize: 32 });
  const again = evaluate(model, validationSet);
  assert.equal(result.validation.accuracy, again.accuracy);
  assert.deepEqual(result.validation.confusion, again.confusion);
  assert.equal(result.history[result.bestEpoch]!.validationAccuracy, again.accuracy);
});

test('a model folder asking for flip averaging is run on the image and its mirror everywhere', async () => {
  await selectBackend('wasm');
  const model = buildModel('cnn');
  const dir = path.join(await tempDir(), 'model');
  await saveModel(model, dir, { ...metadata('cnn'), inference: { flipAverage: true } });
  const loaded = (await loadModel(dir)).model;
  const x = normalizeAll(syntheticImages(4));
  const mirrored = tf.tidy(() => tf.reverse(tf.tensor4d(x, [4, 32, 32, 3]), 2).dataSync() as Float32Array);
  const plain = predictBird(model, x);
  const flipped = predictBird(model, mirrored);
  const averaged = predictBird(loaded, x);
  averaged.forEach((p, i) => assert.ok(Math.abs(p - (plain[i]! + flipped[i]!) / 2) < 1e-5));
  assert.notDeepEqual(Array.from(averaged), Array.from(plain));
});
