/**
 * The one API between the UI and the core. Every method has a zod schema for its input (checked by the
 * HTTP server and by Electron's main process before anything runs) and a TypeScript type for its result.
 * The renderer sees only `BirdgateApi`; the HTTP client and the Electron preload bridge implement it.
 */
import { z } from 'zod';

import { ApiError, IMAGE_STATUSES, LABELS } from './shared.ts';

export { ApiError, IMAGE_STATUSES, LABELS, type Envelope } from './shared.ts';

export const labelSchema = z.enum(LABELS);
export const imageStatusSchema = z.enum(IMAGE_STATUSES);
const id = z.number().int().positive();
const isoDate = z.string().datetime({ offset: true });

export const imageFilterSchema = z
  .object({
    label: labelSchema.optional(),
    status: imageStatusSchema.optional(),
    corrected: z.boolean().optional(),
    camera: z.string().max(200).optional(),
    since: isoDate.optional(),
    until: isoDate.optional(),
  })
  .strict();

const settingsPatchSchema = z
  .object({
    airplaneFolder: z.string().min(1).max(4096).optional(),
    action: z.enum(['move', 'copy', 'tag']).optional(),
    threshold: z.number().min(0).max(1).optional(),
    uncertainBand: z.number().min(0).max(0.5).optional(),
    scanExisting: z.boolean().optional(),
    polling: z
      .object({ enabled: z.boolean(), intervalMs: z.number().int().min(100).max(600_000) })
      .optional(),
  })
  .strict();

/** Input schema of every method, by name. */
export const methods = {
  // queries
  listImages: z
    .object({
      filter: imageFilterSchema.default({}),
      limit: z.number().int().min(1).max(500).default(100),
      offset: z.number().int().min(0).default(0),
    })
    .strict(),
  getImage: z.object({ id }).strict(),
  getStatus: z.object({}).strict(),
  getSettings: z.object({}).strict(),
  listMoves: z
    .object({
      limit: z.number().int().min(1).max(500).default(100),
      offset: z.number().int().min(0).default(0),
    })
    .strict(),
  getAccuracy: z.object({}).strict(),
  listModels: z.object({}).strict(),
  getTraining: z.object({}).strict(),
  // commands
  /** `label: null` clears the user's label (the image is unverified again), e.g. to undo a confirmation. */
  relabel: z.object({ ids: z.array(id).min(1).max(1000), label: labelSchema.nullable() }).strict(),
  undo: z.union([
    z.object({ moveIds: z.array(id).min(1).max(1000) }).strict(),
    z.object({ last: z.number().int().min(1).max(1000) }).strict(),
  ]),
  addCamera: z
    .object({ name: z.string().trim().min(1).max(100), folder: z.string().min(1).max(4096) })
    .strict(),
  removeCamera: z.object({ name: z.string().min(1).max(100) }).strict(),
  updateSettings: settingsPatchSchema,
  setWatching: z.object({ paused: z.boolean() }).strict(),
  startTraining: z
    .object({
      mode: z.enum(['fine-tune', 'scratch']).default('fine-tune'),
      epochs: z.number().int().min(1).max(200).optional(),
      /** A time budget; with epochs too, whichever ends first; neither: the mode's default. */
      minutes: z.number().min(0.5).max(240).optional(),
    })
    .strict(),
  cancelTraining: z.object({}).strict(),
  activateModel: z.object({ id }).strict(),
  rollbackModel: z.object({}).strict(),
} as const;

export type MethodName = keyof typeof methods;
export type MethodInput<M extends MethodName> = z.input<(typeof methods)[M]>;
export type ParsedInput<M extends MethodName> = z.output<(typeof methods)[M]>;
export type Label = z.infer<typeof labelSchema>;
export type ImageStatus = z.infer<typeof imageStatusSchema>;
export type ImageFilter = z.infer<typeof imageFilterSchema>;

export interface ImageSummary {
  id: number;
  path: string;
  originalPath: string;
  camera: string;
  status: ImageStatus;
  error: string | null;
  captureTime: string | null;
  createdAt: string;
  pBird: number | null;
  predictedLabel: Label | null;
  modelVersion: string | null;
  /** The user's label, when they set or confirmed one: ground truth for retraining. */
  userLabel: Label | null;
}

export interface CameraStatus {
  name: string;
  folder: string;
  state: 'watching' | 'missing' | 'error' | 'paused';
  error?: string;
  counts: Partial<Record<ImageStatus, number>>;
}

export interface Settings {
  cameras: { name: string; folder: string; enabled: boolean }[];
  airplaneFolder: string;
  action: 'move' | 'copy' | 'tag';
  threshold: number;
  uncertainBand: number;
  scanExisting: boolean;
  polling: { enabled: boolean; intervalMs: number };
}

export interface MoveRecord {
  id: number;
  imageId: number;
  fromPath: string;
  toPath: string;
  kind: 'move' | 'copy' | 'undo';
  state: 'intent' | 'done' | 'undone' | 'failed';
  error: string | null;
  createdAt: string;
}

export interface ConfusionMatrix {
  /** rows = true airplane, bird; columns = predicted airplane, bird */
  matrix: [[number, number], [number, number]];
}

export interface ModelVersion {
  id: number;
  name: string;
  createdAt: string;
  active: boolean;
  mode: 'shipped' | 'fine-tune' | 'scratch';
  cifarAccuracy: number | null;
  localAccuracy: number | null;
  localHoldoutSize: number;
  cifarConfusion: ConfusionMatrix['matrix'] | null;
  localConfusion: ConfusionMatrix['matrix'] | null;
}

export interface Accuracy {
  active: ModelVersion | null;
  perCamera: { camera: string; n: number; accuracy: number | null }[];
  history: ModelVersion[];
}

export interface TrainingEpoch {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  validationAccuracy: number;
}

export interface TrainingStatus {
  state: 'idle' | 'running' | 'done' | 'cancelled' | 'failed';
  mode?: 'fine-tune' | 'scratch';
  progress?: { done: number; total: number; etaSec: number; loss: number };
  epochs: TrainingEpoch[];
  /** The candidate model waiting for the user to accept it (compare with the active one). */
  candidate?: ModelVersion;
  comparison?: {
    previous: ModelVersion;
    /** The previous model's accuracy on the same local holdout the candidate was measured on. */
    localAccuracyBefore: number | null;
    /** Held-out local images the two models label differently. */
    disagreements: { path: string; label: string; previousPBird: number; candidatePBird: number }[];
  };
  error?: string;
  message?: string;
}

/** What each method returns. */
export interface MethodResults {
  listImages: { items: ImageSummary[]; total: number };
  getImage: ImageSummary;
  getStatus: { watching: boolean; cameras: CameraStatus[]; counts: Partial<Record<ImageStatus, number>> };
  getSettings: Settings;
  listMoves: { items: MoveRecord[]; total: number };
  getAccuracy: Accuracy;
  listModels: ModelVersion[];
  getTraining: TrainingStatus;
  relabel: { updated: number; moved: MoveRecord[] };
  undo: { undone: MoveRecord[] };
  addCamera: Settings;
  removeCamera: Settings;
  updateSettings: Settings;
  setWatching: { watching: boolean };
  startTraining: TrainingStatus;
  cancelTraining: TrainingStatus;
  activateModel: ModelVersion;
  rollbackModel: ModelVersion;
}

/** Live updates pushed to the UI (server-sent events in serve mode, IPC messages in Electron). */
export type ApiEvent =
  | { type: 'image'; image: ImageSummary }
  | { type: 'moved'; move: MoveRecord }
  | { type: 'status'; cameras: CameraStatus[] }
  | { type: 'progress'; task: 'scan' | 'training'; done: number; total: number; etaSec?: number }
  | { type: 'training'; status: TrainingStatus }
  | { type: 'error'; message: string };

export interface BirdgateApi {
  call<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodResults[M]>;
  subscribe(listener: (event: ApiEvent) => void): () => void;
  /** URL of a cached thumbnail (and of the full image) the renderer can put in <img src>. */
  thumbnailUrl(id: number): string;
  imageUrl(id: number): string;
  /** The native folder picker where there is one (Electron); undefined in the browser. */
  pickFolder?: () => Promise<string | undefined>;
}

/** Validates a method name and its input: used by every entry point (HTTP, IPC). */
export function parseCall(method: string, input: unknown): { method: MethodName; input: unknown } {
  if (!Object.hasOwn(methods, method)) throw new ApiError('unknown-method', `Unknown method: ${method}`);
  const parsed = methods[method as MethodName].safeParse(input ?? {});
  if (!parsed.success) {
    throw new ApiError('invalid-input', `Invalid input for ${method}: ${z.prettifyError(parsed.error)}`);
  }
  return { method: method as MethodName, input: parsed.data };
}
