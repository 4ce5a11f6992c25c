/**
 * The training loop: shuffled, optionally augmented minibatches; cross-entropy on the logits under the
 * softmax (log-softmax + NLL); SGD or Adam under a learning-rate schedule; after two whole epochs, epochs
 * of the harder half of the images (hard-examples.ts); validation accuracy each epoch; the best epoch's
 * weights kept; a number of epochs, a budget in minutes, or both (whichever ends first). An ensemble's
 * members train side by side, each on its own data order, and are validated together. Everything
 * observable goes out as events (CLI progress bar, UI charts).
 */
import * as tf from '@tensorflow/tfjs';
import { BatchLoader, normalizeAll } from '../data/batches.ts';
import type { LabeledImages } from '../data/labels.ts';
import { membersOf } from '../model/architectures.ts';
import { predictBirdNow } from '../model/predict.ts';
import { computeMetrics, type Metrics } from './metrics.ts';
import { HardExampleSampler, type Sampling } from './hard-examples.ts';
import {
  DEFAULT_LEARNING_RATE,
  DEFAULT_WEIGHT_DECAY,
  type OptimizerName,
  type OptimizerSettings,
} from './optimizers.ts';
import { RunProgress } from './run-progress.ts';
import { learningRateAt, type Schedule } from './schedule.ts';
import { localRunner, parallelRunner, workersFor, type StepRunner } from './steps.ts';

export type { OptimizerName };

/**
 * Minibatch size. 32 rather than the book's 64: in runs of the default cnn that fit five minutes on two
 * cores it gave 0.9375 and 0.9395 (20 epochs, two seeds) against 0.93 and 0.9325 (22 epochs), and 0.928
 * against 0.9205 at 14 epochs (docs/benchmarks.md).
 */
export const DEFAULT_BATCH_SIZE = 32;

/** How long a run is: epochs, a budget in minutes, or both (whichever ends first). */
export interface RunLength {
  /** Epochs to train; with `minutes`, at most this many (Infinity: as many as fit). */
  epochs: number;
  /**
   * A budget of wall-clock time: the learning-rate schedule follows the share of it spent (or of the epochs,
   * if further on), and the run ends, its last epoch cut short and validated, when it is spent. The run
   * then depends on the machine's speed: the same seed no longer gives the same model.
   */
  minutes?: number;
}

/** The length a user asked for (epochs, minutes, or both), or `defaults` if neither. */
export function runLength(asked: { epochs?: number; minutes?: number }, defaults: RunLength): RunLength {
  return asked.epochs === undefined && asked.minutes === undefined
    ? defaults
    : { epochs: asked.epochs ?? Infinity, minutes: asked.minutes };
}

export interface TrainOptions extends RunLength {
  batchSize?: number;
  optimizer?: OptimizerName;
  learningRate?: number;
  /** Decoupled weight decay of the kernels; default: per optimizer (DEFAULT_WEIGHT_DECAY). */
  weightDecay?: number;
  schedule?: Schedule;
  augment?: boolean;
  /** 'hard' (the default): after two whole epochs, each epoch trains on half the images, the harder ones. */
  sampling?: Sampling;
  seed?: number;
  /**
   * Worker threads (1 = train on this thread): replicas of a single model (data-parallel), or for an
   * ensemble one thread per member; default: per model size, see workersFor.
   */
  workers?: number;
  signal?: AbortSignal;
  onEvent?: (event: TrainEvent) => void;
}

export interface EpochResult {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  validationAccuracy: number;
  learningRate: number;
  seconds: number;
}

export type TrainEvent =
  | { type: 'start'; epochs: number; minutes?: number; trainImages: number; validationImages: number }
  | {
      type: 'batch';
      epoch: number;
      /** Steps done in the whole run, and of how many (with a budget: as many as the time looks to fit). */
      step: number;
      totalSteps: number;
      loss: number;
      samplesPerSec: number;
      etaSec: number;
    }
  | ({ type: 'epoch'; best: boolean } & EpochResult)
  | { type: 'done'; bestEpoch: number; validation: Metrics; durationSec: number; cancelled: boolean };

export interface TrainResult {
  history: EpochResult[];
  bestEpoch: number;
  validation: Metrics;
  durationSec: number;
  cancelled: boolean;
  samplesPerSec: number;
}

export class TrainingCancelled extends Error {
  constructor() {
    super('Training was cancelled');
  }
}

/** Evaluates in inference mode (BatchNorm uses its running statistics). */
export function evaluate(model: tf.LayersModel, data: LabeledImages): Metrics {
  return computeMetrics(predictBirdNow(model, normalizeAll(data)), data.labels);
}

/** Lets timers, I/O and cancellation in between steps: each step is synchronous on wasm/cpu. */
const yieldToEventLoop = () => new Promise<void>((resolve) => setImmediate(resolve));

/** A member's own data order: the first keeps the run's seed, so a single model trains as it always has. */
const memberSeed = (seed: number, member: number) => seed + 7919 * member;

/** Each member of an ensemble on a thread of its own (no gradients cross threads); one model on `workers`. */
async function runnersFor(
  members: tf.LayersModel[],
  settings: OptimizerSettings,
  workers: number,
): Promise<StepRunner[]> {
  const threadsEach = members.length > 1 ? 1 : workers;
  const runners: StepRunner[] = [];
  try {
    for (const member of members) {
      runners.push(
        workers > 1 ? await parallelRunner(member, settings, threadsEach) : localRunner(member, settings),
      );
    }
  } catch (error) {
    await Promise.all(runners.map((runner) => runner.dispose()));
    throw error;
  }
  return runners;
}

/** The members' mean p(bird): an ensemble's prediction (inference-graph.ts averages the same way). */
async function predictTogether(runners: StepRunner[], x: Float32Array): Promise<Float32Array> {
  const each = await Promise.all(runners.map((runner) => runner.predict(x)));
  const mean = new Float32Array(each[0]!.length);
  for (const p of each) p.forEach((value, i) => (mean[i]! += value / each.length));
  return mean;
}

export async function train(
  model: tf.LayersModel,
  trainSet: LabeledImages,
  validationSet: LabeledImages,
  options: TrainOptions,
): Promise<TrainResult> {
  const {
    epochs,
    minutes,
    batchSize = DEFAULT_BATCH_SIZE,
    optimizer: optimizerName = 'adam',
    schedule = 'one-cycle',
    augment = true,
    sampling = 'hard',
    seed = 1,
    workers = workersFor(model),
    signal,
    onEvent = () => {},
  } = options;
  const peakRate = options.learningRate ?? DEFAULT_LEARNING_RATE[optimizerName];
  const settings = {
    name: optimizerName,
    weightDecay: options.weightDecay ?? DEFAULT_WEIGHT_DECAY[optimizerName],
  };
  const members = membersOf(model);
  const runs = members.map((_, k) => ({
    loader: new BatchLoader(trainSet, { batchSize, shuffle: true, augment, seed: memberSeed(seed, k) }),
    sampler: sampling === 'hard' ? new HardExampleSampler(trainSet.count, memberSeed(seed, k)) : undefined,
  }));
  // Every member has as many images in each epoch, so they step in lockstep: one count for all.
  const { loader, sampler } = runs[0]!;
  let totalSteps = Number.isFinite(epochs) ? 0 : Infinity;
  for (let epoch = 0; epoch < epochs && Number.isFinite(totalSteps); epoch++) {
    totalSteps += loader.batchesFor(sampler?.imagesIn(epoch));
  }
  const progress = new RunProgress(totalSteps, minutes); // the clock starts with the workers' start-up
  const runners = await runnersFor(members, settings, workers);
  const history: EpochResult[] = [];
  const validationX = normalizeAll(validationSet);
  let best: { epoch: number; metrics: Metrics; weights: tf.Tensor[] } | undefined;
  let samplesSeen = 0;
  let stepsDone = 0;
  let cancelled = false;
  let outOfTime = false;

  onEvent({
    type: 'start',
    epochs,
    minutes,
    trainImages: trainSet.count,
    validationImages: validationSet.count,
  });
  try {
    for (let epoch = 0; epoch < epochs && !cancelled && !outOfTime; epoch++) {
      const epochStart = performance.now();
      let lossSum = 0;
      let correct = 0;
      let seen = 0;
      let rate = peakRate;
      const batches = runs.map((run) => run.loader.epoch(epoch, run.sampler?.subset(epoch)));
      /** Builds the next batches and queues their steps; nothing once cancelled, out of time or at the epoch's end. */
      const post = (step: number) => {
        if (signal?.aborted) cancelled = true;
        if (progress.outOfTime()) outOfTime = true;
        if (cancelled || outOfTime) return undefined;
        const next = batches.flatMap((memberBatches) => {
          const { done, value } = memberBatches.next();
          return done ? [] : [value];
        });
        if (next.length < runs.length) return undefined;
        const learningRate = learningRateAt(schedule, peakRate, progress.at(step));
        const steps = next.map((batch, k) => {
          const result = runners[k]!.step(batch, learningRate);
          result.catch(() => {}); // awaited in turn; if an earlier step fails first, this one is never read
          return { indices: batch.indices, result };
        });
        return { size: next[0]!.size, learningRate, steps };
      };
      let inFlight = post(stepsDone);
      while (inFlight) {
        // Queued while the replicas compute this step, so they go on to it without waiting for this thread.
        const queued = post(stepsDone + 1);
        const results = await Promise.all(inFlight.steps.map((step) => step.result));
        results.forEach(({ losses }, k) => runs[k]!.sampler?.record(inFlight!.steps[k]!.indices, losses));
        // An ensemble's loss and accuracy in training are its members' means.
        const loss = results.reduce((sum, result) => sum + result.loss, 0) / results.length;
        rate = inFlight.learningRate;
        lossSum += loss * inFlight.size;
        correct += results.reduce((sum, result) => sum + result.hits, 0) / results.length;
        seen += inFlight.size;
        samplesSeen += inFlight.size;
        stepsDone++;
        const samplesPerSec = samplesSeen / (progress.elapsedMs() / 1000);
        const expectedSteps = progress.expectedSteps(stepsDone);
        onEvent({
          type: 'batch',
          epoch,
          step: stepsDone,
          totalSteps: expectedSteps,
          loss,
          samplesPerSec,
          etaSec: ((expectedSteps - stepsDone) * batchSize) / samplesPerSec,
        });
        inFlight = queued;
        await yieldToEventLoop();
      }
      if (cancelled || seen === 0) break;
      const stepsEnded = performance.now();
      await Promise.all(runners.map((runner, k) => runner.syncTo(members[k]!)));
      const metrics = computeMetrics(await predictTogether(runners, validationX), validationSet.labels);
      const validationAccuracy = metrics.accuracy;
      const isBest = !best || validationAccuracy > best.metrics.accuracy;
      if (isBest) {
        best?.weights.forEach((w) => w.dispose());
        best = { epoch, metrics, weights: model.getWeights().map((w) => w.clone()) };
      }
      const result: EpochResult = {
        epoch,
        trainLoss: lossSum / seen,
        trainAccuracy: correct / seen,
        validationAccuracy,
        learningRate: rate,
        seconds: (performance.now() - epochStart) / 1000,
      };
      history.push(result);
      onEvent({ type: 'epoch', best: isBest, ...result });
      progress.reserve(performance.now() - stepsEnded);
    }
    if (best) model.setWeights(best.weights);
  } finally {
    best?.weights.forEach((w) => w.dispose());
    await Promise.all(runners.map((runner) => runner.dispose()));
  }
  if (cancelled && history.length === 0) throw new TrainingCancelled();
  const durationSec = progress.elapsedMs() / 1000;
  // The kept weights are the best epoch's, so its metrics are the model's (no epoch ran: evaluate now).
  const validation = best?.metrics ?? evaluate(model, validationSet);
  const bestEpoch = best?.epoch ?? 0;
  onEvent({ type: 'done', bestEpoch, validation, durationSec, cancelled });
  return { history, bestEpoch, validation, durationSec, cancelled, samplesPerSec: samplesSeen / durationSec };
}
