/**
 * Retraining on CIFAR plus the user's corrections. The result is a candidate version saved beside the
 * others but not active: the user compares it with the active model (accuracies, confusion matrices, the
 * images on which they disagree) and accepts it or not. Cancelling or crashing saves nothing.
 */
import type * as tf from '@tensorflow/tfjs';
import { seededRandom, normalizeAll } from '../data/batches.ts';
import { concatLabeledImages, loadCifar } from '../data/cifar.ts';
import type { LabeledImages } from '../data/labels.ts';
import { buildModel } from '../model/architectures.ts';
import { loadModel, saveModel, setInference } from '../model/model-files.ts';
import { metadataOfRun } from '../train/run-metadata.ts';
import { DEFAULT_WEIGHT_DECAY } from '../train/optimizers.ts';
import { predictBird } from '../model/predict.ts';
import { listVersions, nextVersionDir, type VersionInfo } from '../model/registry.ts';
import { computeMetrics, type Metrics } from '../train/metrics.ts';
import { runLength, train, TrainingCancelled, type RunLength, type TrainEvent } from '../train/trainer.ts';
import { loadLocalSet, MIN_LOCAL_LABELS, oversample, subset, type LabeledFile } from './local-set.ts';

export type RetrainMode = 'fine-tune' | 'scratch';

/**
 * Defaults sized so a fine-tune on 10,000 CIFAR + 500 local images takes well under a minute, and a model
 * from scratch five minutes whatever the machine and the number of local images (as many epochs as fit).
 */
export const RETRAIN_DEFAULTS: Record<
  RetrainMode,
  { length: RunLength; learningRate: number; cifarImages: number }
> = {
  'fine-tune': { length: { epochs: 3 }, learningRate: 5e-4, cifarImages: 2500 },
  scratch: { length: { epochs: Infinity, minutes: 5 }, learningRate: 2e-3, cifarImages: Infinity },
};
/** Local images make up about this share of each epoch, however few there are. */
const LOCAL_SHARE = 0.3;

export interface RetrainOptions {
  mode: RetrainMode;
  cifar: string;
  labeled: LabeledFile[];
  /** Either or both; neither: the mode's default length. */
  epochs?: number;
  minutes?: number;
  workers?: number;
  seed?: number;
  backend: string;
  signal?: AbortSignal;
  onEvent?: (event: TrainEvent) => void;
}

export interface Evaluation {
  cifar: Metrics;
  local: Metrics | null;
}

export interface RetrainResult {
  candidate: VersionInfo;
  previous: VersionInfo;
  evaluation: { candidate: Evaluation; previous: Evaluation };
  disagreements: { path: string; label: string; previousPBird: number; candidatePBird: number }[];
  notes: string[];
  durationSec: number;
}

function evaluateOn(model: tf.LayersModel, data: LabeledImages): Metrics | null {
  return data.count ? computeMetrics(predictBird(model, normalizeAll(data)), data.labels) : null;
}

export async function retrain(options: RetrainOptions): Promise<RetrainResult> {
  const started = performance.now();
  const defaults = RETRAIN_DEFAULTS[options.mode];
  const notes: string[] = [];
  const previous = (await listVersions()).find((v) => v.active);
  if (!previous) throw new Error('No active model to compare with (is models/default missing?)');

  const [cifarTrain, cifarValidation] = await Promise.all([
    loadCifar(options.cifar, 'train'),
    loadCifar(options.cifar, 'test'),
  ]);
  const local = await loadLocalSet(options.labeled);
  for (const s of local.skipped) notes.push(`Skipped ${s.path}: ${s.error}`);
  const usable = options.labeled.length - local.skipped.length;
  const useLocal = usable >= MIN_LOCAL_LABELS;
  if (!useLocal) {
    notes.push(
      `Only ${usable} corrected image${usable === 1 ? '' : 's'}: ${MIN_LOCAL_LABELS - usable} more needed before local labels ` +
        `are used (training on CIFAR alone).`,
    );
  }
  const random = seededRandom(options.seed ?? 1);
  const cifarPart = subset(cifarTrain, Math.min(defaults.cifarImages, cifarTrain.count), random);
  const none: LabeledImages = { count: 0, pixels: new Uint8Array(0), labels: new Uint8Array(0) };
  const localTrain = useLocal ? local.train : none;
  const times = localTrain.count
    ? Math.max(1, Math.round((LOCAL_SHARE / (1 - LOCAL_SHARE)) * (cifarPart.count / localTrain.count)))
    : 0;
  const trainSet = concatLabeledImages([cifarPart, oversample(localTrain, times)].filter((s) => s.count));

  const model = options.mode === 'scratch' ? buildModel('cnn') : (await loadModel(previous.dir)).model;
  const length = runLength(options, defaults.length);
  const result = await train(model, trainSet, cifarValidation, {
    ...length,
    learningRate: defaults.learningRate,
    workers: options.workers,
    seed: options.seed,
    signal: options.signal,
    onEvent: options.onEvent,
  });
  if (result.cancelled) throw new TrainingCancelled(); // nothing saved: the active model is unchanged
  setInference(model, previous.metadata.inference); // judged and run the way the active model is

  const previousModel = (await loadModel(previous.dir)).model;
  const holdout = useLocal ? local.holdout : none;
  const evaluation = {
    candidate: { cifar: result.validation, local: evaluateOn(model, holdout) },
    previous: {
      cifar: evaluateOn(previousModel, cifarValidation)!,
      local: evaluateOn(previousModel, holdout),
    },
  };
  const disagreements = findDisagreements(previousModel, model, local.holdoutFiles, holdout);

  const { id, dir } = await nextVersionDir();
  const metadata = metadataOfRun(result, {
    architecture: previous.metadata.architecture,
    training: {
      data: useLocal ? 'CIFAR-10 airplane+bird + local corrections' : 'CIFAR-10 airplane+bird',
      trainImages: trainSet.count,
      validationImages: cifarValidation.count,
      seed: options.seed ?? 1,
      backend: options.backend,
      optimizer: `adam one-cycle, weight decay ${DEFAULT_WEIGHT_DECAY.adam}`,
      minutes: length.minutes,
      mode: options.mode,
      basedOn: options.mode === 'fine-tune' ? previous.name : undefined,
      local: { train: localTrain.count, holdout: holdout.count, ...local.counts },
      history: result.history.map(({ epoch, trainLoss, trainAccuracy, validationAccuracy }) => ({
        epoch,
        trainLoss,
        trainAccuracy,
        validationAccuracy,
      })),
    },
    metrics: {
      localAccuracy: evaluation.candidate.local?.accuracy ?? null,
      localConfusion: evaluation.candidate.local?.confusion ?? null,
    },
    inference: previous.metadata.inference,
  });
  await saveModel(model, dir, metadata);
  previousModel.dispose();
  model.dispose();
  return {
    candidate: { id, name: `v${id}`, dir, active: false, metadata },
    previous,
    evaluation,
    disagreements,
    notes,
    durationSec: (performance.now() - started) / 1000,
  };
}

function findDisagreements(
  previous: tf.LayersModel,
  candidate: tf.LayersModel,
  files: LabeledFile[],
  data: LabeledImages,
): RetrainResult['disagreements'] {
  if (!data.count) return [];
  const x = normalizeAll(data);
  const before = predictBird(previous, x);
  const after = predictBird(candidate, x);
  return files
    .map((file, i) => ({
      path: file.path,
      label: file.label,
      previousPBird: before[i]!,
      candidatePBird: after[i]!,
    }))
    .filter((d) => d.previousPBird >= 0.5 !== d.candidatePBird >= 0.5);
}
