/**
 * One training step, two ways: on this thread, or on worker threads: data-parallel (one model replica
 * each; every replica applies the same averaged gradients, so they never drift apart), or a single one,
 * as each member of an ensemble trains (trainer.ts).
 */
import * as tf from '@tensorflow/tfjs';
import os from 'node:os';
import type { Batch } from '../data/batches.ts';
import { CHANNELS, IMAGE_SIZE, PIXELS_PER_IMAGE } from '../images/normalize.ts';
import { logitsOf } from '../model/architectures.ts';
import { predictBirdNow } from '../model/predict.ts';
import { withUnreadInputGradient, type ConvolutionShapes } from '../model/wasm-kernels.ts';
import { spawnTsWorker } from '../threads/spawn.ts';
import { exchangeMemory } from './gradient-exchange.ts';
import { crossEntropy } from './loss.ts';
import { applyToVariables, makeOptimizer, type OptimizerSettings } from './optimizers.ts';

export interface StepResult {
  loss: number;
  hits: number;
  /** Each image's loss, in the batch's order. */
  losses: Float32Array;
}

export interface StepRunner {
  step(batch: Batch, learningRate: number): Promise<StepResult>;
  /** p(bird) for normalised images, by the weights as they are now (validation between epochs). */
  predict(x: Float32Array): Promise<Float32Array>;
  /** Copies the replicas' weights (BatchNorm statistics included) into the model. */
  syncTo(model: tf.LayersModel): Promise<void>;
  dispose(): Promise<void>;
}

/** The model's first layer if it is a convolution: its input is the batch itself. */
function firstConvolution(model: tf.LayersModel, batchSize: number): ConvolutionShapes | undefined {
  const first = model.layers.find((layer) => layer.getClassName() !== 'InputLayer');
  const kernel = first?.getClassName() === 'Conv2D' ? first.trainableWeights[0] : undefined;
  return (
    kernel && {
      inputShape: [batchSize, IMAGE_SIZE, IMAGE_SIZE, CHANNELS],
      filterShape: kernel.shape as number[],
    }
  );
}

/** Forward and backward pass for one batch: cross-entropy on the logits (log-softmax + NLL). */
export function computeGradients(
  logits: tf.LayersModel,
  batch: Pick<Batch, 'x' | 'labels' | 'size'>,
): StepResult & { grads: tf.NamedTensorMap } {
  let hits = 0;
  let losses: Float32Array = new Float32Array(0);
  const x = tf.tensor4d(batch.x, [batch.size, IMAGE_SIZE, IMAGE_SIZE, CHANNELS]);
  const { value, grads } = withUnreadInputGradient(firstConvolution(logits, batch.size), () =>
    tf.variableGrads(() => {
      const result = crossEntropy(logits.apply(x, { training: true }) as tf.Tensor2D, batch.labels);
      ({ hits, losses } = result);
      return result.loss;
    }),
  );
  const loss = value.dataSync()[0]!;
  tf.dispose([x, value]);
  return { loss, hits, losses, grads };
}

/** Lengths of a model's gradient arrays: one per trainable weight, in order. */
export const gradientSizes = (model: tf.LayersModel) =>
  model.trainableWeights.map((w) => tf.util.sizeFromShape(w.shape as number[]));

/** The model's gradients as arrays in the order of its trainable weights (what an Optimizer updates). */
export function gradientArrays(logits: tf.LayersModel, grads: tf.NamedTensorMap): Float32Array[] {
  const arrays = logits.trainableWeights.map(
    (w) => new Float32Array(grads[(w.read() as tf.Variable).name]!.dataSync()),
  );
  tf.dispose(grads);
  return arrays;
}

export function localRunner(model: tf.LayersModel, settings: OptimizerSettings): StepRunner {
  const logits = logitsOf(model);
  const optimizer = makeOptimizer(settings.name);
  return {
    async step(batch, learningRate) {
      const { grads, ...result } = computeGradients(logits, batch);
      const arrays = gradientArrays(logits, grads);
      applyToVariables(optimizer, logits.trainableWeights, arrays, learningRate, settings.weightDecay);
      return result;
    },
    async predict(x) {
      return predictBirdNow(model, x);
    },
    async syncTo() {}, // the model itself is trained
    async dispose() {},
  };
}

/** Messages between the main thread and a training worker (src/train/worker.ts). */
export type WorkerRequest =
  | {
      kind: 'init';
      backend: string;
      modelJson: string;
      weights: Float32Array[];
      optimizer: OptimizerSettings;
      /** Where the replicas average their gradients (gradient-exchange.ts), and this one's rank there. */
      exchange: SharedArrayBuffer;
      rank: number;
      workers: number;
    }
  | {
      kind: 'step';
      x: Float32Array;
      labels: Uint8Array;
      size: number;
      /** Each replica's share of the batch: the weights of their gradients in the average. */
      shares: number[];
      learningRate: number;
    }
  | { kind: 'weights' }
  | { kind: 'setWeights'; weights: Float32Array[] }
  | { kind: 'predict'; x: Float32Array };
export type WorkerReply =
  | { kind: 'ready' }
  | ({ kind: 'step' } & StepResult)
  | { kind: 'weights'; weights: Float32Array[] }
  | { kind: 'predict'; pBird: Float32Array }
  | { kind: 'error'; message: string };

class WorkerHandle {
  private readonly worker = spawnTsWorker(new URL('./worker.ts', import.meta.url));
  private pending: ((reply: WorkerReply) => void)[] = [];
  private failure: Error | undefined;

  constructor() {
    this.worker.on('message', (reply: WorkerReply) => this.pending.shift()?.(reply));
    this.worker.on('error', (error) => {
      this.failure = error;
      for (const resolve of this.pending.splice(0)) resolve({ kind: 'error', message: error.message });
    });
  }

  send(request: WorkerRequest, transfer: ArrayBuffer[] = []): void {
    this.worker.postMessage(request, transfer);
  }

  async ask<K extends WorkerReply['kind']>(request: WorkerRequest, kind: K, transfer: ArrayBuffer[] = []) {
    if (this.failure) throw this.failure;
    const reply = await new Promise<WorkerReply>((resolve) => {
      this.pending.push(resolve);
      this.send(request, transfer);
    });
    if (reply.kind === 'error') throw new Error(`training worker failed: ${reply.message}`);
    if (reply.kind !== kind) throw new Error(`training worker answered ${reply.kind}, expected ${kind}`);
    return reply as Extract<WorkerReply, { kind: K }>;
  }

  terminate() {
    return this.worker.terminate();
  }
}

/** One replica per core, capped at two: the configuration measured in docs/benchmarks.md. */
export function defaultWorkers(): number {
  return Math.min(2, os.availableParallelism());
}

/**
 * Replicas for a model: every step ships its gradients between threads, which outweighs the second core
 * for a model as large as the book's MLP (1.6 M parameters: 859 vs 595 samples/s measured here).
 */
export function workersFor(model: tf.LayersModel, requested = defaultWorkers()): number {
  return model.countParams() > 1_000_000 ? 1 : requested;
}

/** All weights (BatchNorm statistics included) as arrays, for messages between threads. */
export const weightArrays = (model: tf.LayersModel) =>
  model.getWeights().map((w) => w.dataSync() as Float32Array);

export function setWeightArrays(model: tf.LayersModel, weights: Float32Array[]): void {
  const tensors = model.getWeights().map((w, i) => tf.tensor(weights[i]!, w.shape));
  model.setWeights(tensors);
  tf.dispose(tensors);
}

export async function parallelRunner(
  model: tf.LayersModel,
  optimizer: OptimizerSettings,
  workers: number,
): Promise<StepRunner> {
  const handles = Array.from({ length: workers }, () => new WorkerHandle());
  const modelJson = JSON.stringify(model.toJSON(null, false));
  const exchange = exchangeMemory(workers, gradientSizes(model));
  try {
    await Promise.all(
      handles.map((h, rank) =>
        h.ask(
          {
            kind: 'init',
            backend: tf.getBackend(),
            modelJson,
            weights: weightArrays(model),
            optimizer,
            exchange,
            rank,
            workers,
          },
          'ready',
        ),
      ),
    );
  } catch (error) {
    await Promise.all(handles.map((h) => h.terminate()));
    throw error;
  }
  return {
    async step(batch, learningRate) {
      // Every replica takes part in every step (the exchange waits for all of them), an empty share too.
      const shard = Math.ceil(batch.size / workers);
      const shards = handles.map((_, i) => ({
        from: Math.min(batch.size, i * shard),
        to: Math.min(batch.size, (i + 1) * shard),
      }));
      // Each replica's loss is a mean over its shard: weighted by shard size they give the batch mean.
      const shares = shards.map(({ from, to }) => (to - from) / batch.size);
      const replies = await Promise.all(
        shards.map(({ from, to }, i) => {
          const x = batch.x.slice(from * PIXELS_PER_IMAGE, to * PIXELS_PER_IMAGE);
          const labels = batch.labels.slice(from, to);
          const request = { kind: 'step', x, labels, size: to - from, shares, learningRate } as const;
          return handles[i]!.ask(request, 'step', [x.buffer, labels.buffer]);
        }),
      );
      const losses = new Float32Array(batch.size);
      replies.forEach((reply, i) => losses.set(reply.losses, shards[i]!.from));
      return {
        loss: replies.reduce((sum, reply, i) => sum + reply.loss * shares[i]!, 0),
        hits: replies.reduce((sum, reply) => sum + reply.hits, 0),
        losses,
      };
    },
    async predict(x) {
      // Replicas share their trainable weights but each keeps BatchNorm statistics of its own shards:
      // give them all the first one's, so every image is judged by the model that syncTo hands out.
      const { weights } = await handles[0]!.ask({ kind: 'weights' }, 'weights');
      for (const h of handles.slice(1)) h.send({ kind: 'setWeights', weights });
      const count = x.length / PIXELS_PER_IMAGE;
      const shard = Math.ceil(count / workers);
      const parts = await Promise.all(
        handles.map((h, i) => {
          const part = x.slice(i * shard * PIXELS_PER_IMAGE, (i + 1) * shard * PIXELS_PER_IMAGE);
          return h.ask({ kind: 'predict', x: part }, 'predict', [part.buffer]);
        }),
      );
      const pBird = new Float32Array(count);
      parts.forEach((part, i) => pBird.set(part.pBird, i * shard));
      return pBird;
    },
    async syncTo(target) {
      const { weights } = await handles[0]!.ask({ kind: 'weights' }, 'weights');
      setWeightArrays(target, weights);
    },
    async dispose() {
      await Promise.all(handles.map((h) => h.terminate()));
    },
  };
}
