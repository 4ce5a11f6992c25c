/** The metadata of a model folder made by a training run: what the run's result says, derived in one place. */
import { newMetadata, type ModelMetadata } from '../model/model-files.ts';
import type { TrainResult } from './trainer.ts';

export interface RunDescription extends Pick<ModelMetadata, 'architecture' | 'inference'> {
  /** How the run was made; epochs, best epoch and duration come from the result. */
  training: Pick<
    ModelMetadata['training'],
    | 'data'
    | 'trainImages'
    | 'validationImages'
    | 'seed'
    | 'backend'
    | 'optimizer'
    | 'minutes'
    | 'command'
    | 'mode'
    | 'basedOn'
    | 'local'
    | 'history'
  >;
  /** More measurements than the validation split's accuracy, calibration and confusion. */
  metrics?: Partial<ModelMetadata['metrics']>;
}

export function metadataOfRun(result: TrainResult, run: RunDescription): ModelMetadata {
  return newMetadata({
    architecture: run.architecture,
    training: {
      ...run.training,
      epochs: result.history.length,
      bestEpoch: result.bestEpoch + 1, // 1-based, as people count epochs
      durationSec: Math.round(result.durationSec),
    },
    metrics: {
      validationAccuracy: result.validation.accuracy,
      calibrationError: result.validation.calibrationError,
      confusion: result.validation.confusion,
      ...run.metrics,
    },
    ...(run.inference ? { inference: run.inference } : {}),
  });
}
