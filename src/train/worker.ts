/** A training replica on its own thread with its own wasm instance (see steps.ts: parallelRunner). */
import * as tf from '@tensorflow/tfjs';
import { parentPort } from 'node:worker_threads';
import { logitsOf } from '../model/architectures.ts';
import { selectBackend, type BackendChoice } from '../model/backend.ts';
import { makeOptimizer, setLearningRate } from './optimizers.ts';
import { computeGradients, type WorkerReply, type WorkerRequest } from './steps.ts';

let logits: tf.LayersModel;
let model: tf.LayersModel;
let optimizer: tf.Optimizer;
let names: string[] = [];

const reply = (message: WorkerReply, transfer: ArrayBuffer[] = []) =>
  parentPort!.postMessage(message, transfer);

async function handle(request: WorkerRequest): Promise<void> {
  switch (request.kind) {
    case 'init': {
      await selectBackend(request.backend as BackendChoice);
      model = await tf.models.modelFromJSON(JSON.parse(request.modelJson));
      const tensors = model.getWeights().map((w, i) => tf.tensor(request.weights[i]!, w.shape));
      model.setWeights(tensors);
      tf.dispose(tensors);
      logits = logitsOf(model);
      optimizer = makeOptimizer(request.optimizer);
      names = logits.trainableWeights.map((w) => (w.read() as tf.Variable).name);
      reply({ kind: 'ready' });
      return;
    }
    case 'step': {
      const { loss, hits, grads } = computeGradients(logits, request);
      const arrays = names.map((name) => new Float32Array(grads[name]!.dataSync())); // own buffers: transferable
      tf.dispose(grads);
      reply(
        { kind: 'step', loss, hits, grads: arrays },
        arrays.map((a) => a.buffer as ArrayBuffer),
      );
      return;
    }
    case 'apply': {
      setLearningRate(optimizer, request.learningRate);
      const grads = names.map((name, i) => ({ name, tensor: tf.tensor(request.grads[i]!, shapeOf(name)) }));
      optimizer.applyGradients(grads);
      tf.dispose(grads.map((g) => g.tensor));
      return;
    }
    case 'weights':
      reply({ kind: 'weights', weights: model.getWeights().map((w) => w.dataSync() as Float32Array) });
      return;
  }
}

const shapes = new Map<string, number[]>();
function shapeOf(name: string): number[] {
  if (!shapes.size)
    for (const w of logits.trainableWeights) shapes.set((w.read() as tf.Variable).name, w.shape as number[]);
  return shapes.get(name)!;
}

// Requests are handled strictly in order: an `apply` must land before the next `step` reads weights.
let queue = Promise.resolve();
parentPort!.on('message', (request: WorkerRequest) => {
  queue = queue.then(() =>
    handle(request).catch((error: Error) => reply({ kind: 'error', message: error.message })),
  );
});
