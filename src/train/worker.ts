/** A training replica on its own thread with its own wasm instance (see steps.ts: parallelRunner). */
import * as tf from '@tensorflow/tfjs';
import { parentPort } from 'node:worker_threads';
import { logitsOf } from '../model/architectures.ts';
import { selectBackend, type BackendChoice } from '../model/backend.ts';
import { predictBirdNow } from '../model/predict.ts';
import { GradientExchange } from './gradient-exchange.ts';
import { applyToVariables, makeOptimizer, type Optimizer, type OptimizerSettings } from './optimizers.ts';
import {
  computeGradients,
  gradientArrays,
  gradientSizes,
  setWeightArrays,
  weightArrays,
  type WorkerReply,
  type WorkerRequest,
} from './steps.ts';

let logits: tf.LayersModel;
let model: tf.LayersModel;
let optimizer: Optimizer;
let settings: OptimizerSettings;
let exchange: GradientExchange;

const reply = (message: WorkerReply, transfer: ArrayBuffer[] = []) =>
  parentPort!.postMessage(message, transfer);

async function handle(request: WorkerRequest): Promise<void> {
  switch (request.kind) {
    case 'init': {
      await selectBackend(request.backend as BackendChoice);
      model = await tf.models.modelFromJSON(JSON.parse(request.modelJson));
      setWeightArrays(model, request.weights);
      logits = logitsOf(model);
      settings = request.optimizer;
      optimizer = makeOptimizer(settings.name);
      exchange = new GradientExchange(request.exchange, request.rank, request.workers, gradientSizes(logits));
      reply({ kind: 'ready' });
      return;
    }
    case 'step': {
      const own = request.size > 0 ? computeGradients(logits, request) : undefined;
      const grads = exchange.average(own && gradientArrays(logits, own.grads), request.shares);
      applyToVariables(optimizer, logits.trainableWeights, grads, request.learningRate, settings.weightDecay);
      const losses = own?.losses ?? new Float32Array(0);
      reply({ kind: 'step', loss: own?.loss ?? 0, hits: own?.hits ?? 0, losses }, [
        losses.buffer as ArrayBuffer,
      ]);
      return;
    }
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

// Requests are handled strictly in order: a step's update must land before the next step reads weights.
let queue = Promise.resolve();
parentPort!.on('message', (request: WorkerRequest) => {
  queue = queue.then(() =>
    handle(request).catch((error: Error) => reply({ kind: 'error', message: error.message })),
  );
});
