/** A training replica on its own thread with its own wasm instance (see steps.ts: parallelRunner). */
import * as tf from '@tensorflow/tfjs';
import { parentPort } from 'node:worker_threads';
import { logitsOf } from '../model/architectures.ts';
import { selectBackend, type BackendChoice } from '../model/backend.ts';
import { predictBirdNow } from '../model/predict.ts';
import { applyToVariables, makeOptimizer, type Optimizer } from './optimizers.ts';
import {
  computeGradients,
  gradientArrays,
  setWeightArrays,
  weightArrays,
  type WorkerReply,
  type WorkerRequest,
} from './steps.ts';

let logits: tf.LayersModel;
let model: tf.LayersModel;
let optimizer: Optimizer;

const reply = (message: WorkerReply, transfer: ArrayBuffer[] = []) =>
  parentPort!.postMessage(message, transfer);

async function handle(request: WorkerRequest): Promise<void> {
  switch (request.kind) {
    case 'init': {
      await selectBackend(request.backend as BackendChoice);
      model = await tf.models.modelFromJSON(JSON.parse(request.modelJson));
      setWeightArrays(model, request.weights);
      logits = logitsOf(model);
      optimizer = makeOptimizer(request.optimizer);
      reply({ kind: 'ready' });
      return;
    }
    case 'step': {
      const { loss, hits, grads } = computeGradients(logits, request);
      const arrays = gradientArrays(logits, grads); // own buffers: transferable
      reply(
        { kind: 'step', loss, hits, grads: arrays },
        arrays.map((a) => a.buffer as ArrayBuffer),
      );
      return;
    }
    case 'apply':
      applyToVariables(optimizer, logits.trainableWeights, request.grads, request.learningRate);
      return;
    case 'weights':
      reply({ kind: 'weights', weights: weightArrays(model) });
      return;
    case 'setWeights':
      setWeightArrays(model, request.weights);
      return;
    case 'predict': {
      const pBird = predictBirdNow(model, request.x);
      reply({ kind: 'predict', pBird }, [pBird.buffer as ArrayBuffer]);
      return;
    }
  }
}

// Requests are handled strictly in order: an `apply` must land before the next `step` reads weights.
let queue = Promise.resolve();
parentPort!.on('message', (request: WorkerRequest) => {
  queue = queue.then(() =>
    handle(request).catch((error: Error) => reply({ kind: 'error', message: error.message })),
  );
});
