/**
 * A model folder: `model.json` (tfjs topology + weights manifest), `weights.bin`, and `metadata.json`
 * (what it is, how it normalises, what it was trained on, how well it did). Written through tfjs IO
 * handlers of our own, so saving and loading work on every backend, not only tfjs-node's file://.
 */
import * as tf from '@tensorflow/tfjs';
import { mkdir, readFile, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { CLASS_NAMES } from '../data/labels.ts';
import { CHANNEL_MEAN, CHANNEL_STD, IMAGE_SIZE } from '../images/normalize.ts';
import { ARCHITECTURES } from './architectures.ts';

const row = z.tuple([z.number().int(), z.number().int()]);
const confusionSchema = z.tuple([row, row]);

export const metadataSchema = z.object({
  format: z.literal('birdgate-model/1'),
  architecture: z.enum(ARCHITECTURES),
  classNames: z.array(z.string()).length(2),
  input: z.object({
    size: z.number().int(),
    mean: z.array(z.number()).length(3),
    std: z.array(z.number()).length(3),
  }),
  training: z
    .object({
      data: z.string(),
      trainImages: z.number().int(),
      validationImages: z.number().int(),
      epochs: z.number().int(),
      /** The run's time budget, when it had one (then the epochs are those that fitted). */
      minutes: z.number().optional(),
      bestEpoch: z.number().int(),
      seed: z.number().int(),
      backend: z.string(),
      optimizer: z.string(),
      durationSec: z.number(),
      command: z.string().optional(),
      mode: z.enum(['shipped', 'fine-tune', 'scratch']).optional(),
      basedOn: z.string().optional(),
      local: z
        .object({
          train: z.number().int(),
          holdout: z.number().int(),
          airplane: z.number().int(),
          bird: z.number().int(),
        })
        .optional(),
      history: z
        .array(
          z.object({
            epoch: z.number(),
            trainLoss: z.number(),
            trainAccuracy: z.number(),
            validationAccuracy: z.number(),
          }),
        )
        .optional(),
    })
    .passthrough(),
  metrics: z
    .object({
      validationAccuracy: z.number(),
      validationLoss: z.number().optional(),
      calibrationError: z.number().optional(),
      confusion: confusionSchema.optional(),
      localAccuracy: z.number().nullable().optional(),
      localConfusion: confusionSchema.nullable().optional(),
    })
    .passthrough(),
  /** How the model is run: flipAverage averages p over the image and its mirror (test-time augmentation). */
  inference: z.object({ flipAverage: z.boolean() }).optional(),
  createdAt: z.string(),
});
export type ModelMetadata = z.infer<typeof metadataSchema>;

function describeInput(): ModelMetadata['input'] {
  return { size: IMAGE_SIZE, mean: [...CHANNEL_MEAN], std: [...CHANNEL_STD] };
}

/** Metadata for a model trained here: the fixed parts (format, classes, normalisation, date) filled in. */
export function newMetadata(
  fields: Pick<ModelMetadata, 'architecture' | 'training' | 'metrics'> &
    Pick<Partial<ModelMetadata>, 'inference'>,
): ModelMetadata {
  return {
    format: 'birdgate-model/1',
    classNames: [...CLASS_NAMES],
    input: describeInput(),
    createdAt: new Date().toISOString(),
    ...fields,
  };
}

export class ModelLoadError extends Error {}

export type Inference = NonNullable<ModelMetadata['inference']>;
const inferenceByModel = new WeakMap<tf.LayersModel, Inference>();

/** How a model must be run, as its folder says; predictBird follows it wherever the model is used. */
export function inferenceOf(model: tf.LayersModel): Inference | undefined {
  return inferenceByModel.get(model);
}

export function setInference(model: tf.LayersModel, inference: Inference | undefined): void {
  if (inference) inferenceByModel.set(model, inference);
  else inferenceByModel.delete(model);
}

/** Writes the folder atomically: files go to a sibling temp folder that is renamed into place. */
export async function saveModel(model: tf.LayersModel, dir: string, metadata: ModelMetadata): Promise<void> {
  const tmp = `${dir}.saving-${process.pid}`;
  await mkdir(tmp, { recursive: true });
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      const weights = artifacts.weightData as ArrayBuffer;
      const modelJson = {
        modelTopology: artifacts.modelTopology,
        format: artifacts.format,
        generatedBy: artifacts.generatedBy,
        convertedBy: artifacts.convertedBy,
        weightsManifest: [{ paths: ['weights.bin'], weights: artifacts.weightSpecs }],
      };
      await writeFile(path.join(tmp, 'model.json'), JSON.stringify(modelJson));
      await writeFile(path.join(tmp, 'weights.bin'), Buffer.from(weights));
      await writeFile(
        path.join(tmp, 'metadata.json'),
        JSON.stringify(metadataSchema.parse(metadata), null, 2),
      );
      return { modelArtifactsInfo: tf.io.getModelArtifactsInfoForJSON(artifacts) };
    }),
  );
  await rm(dir, { recursive: true, force: true });
  await rename(tmp, dir);
}

export interface LoadedModel {
  model: tf.LayersModel;
  metadata: ModelMetadata;
  dir: string;
}

export async function loadModel(dir: string): Promise<LoadedModel> {
  let modelJson: { modelTopology: object; weightsManifest: { weights: tf.io.WeightsManifestEntry[] }[] };
  let weights: Buffer;
  let metadata: ModelMetadata;
  try {
    modelJson = JSON.parse(await readFile(path.join(dir, 'model.json'), 'utf8'));
    weights = await readFile(path.join(dir, 'weights.bin'));
    metadata = metadataSchema.parse(JSON.parse(await readFile(path.join(dir, 'metadata.json'), 'utf8')));
  } catch (error) {
    throw new ModelLoadError(`Cannot load the model in ${dir}: ${(error as Error).message}`);
  }
  const weightSpecs = modelJson.weightsManifest.flatMap((group) => group.weights);
  const buffer = weights.buffer.slice(weights.byteOffset, weights.byteOffset + weights.byteLength);
  const model = await tf.loadLayersModel(
    tf.io.fromMemory({
      modelTopology: modelJson.modelTopology,
      weightSpecs,
      weightData: buffer as ArrayBuffer,
    }),
  );
  setInference(model, metadata.inference);
  return { model, metadata, dir };
}
