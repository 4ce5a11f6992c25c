/** Row and input types of the store; every column comes back camelCased. */
import type { ClassName } from '../data/labels.ts';

export const IMAGE_STATUSES = [
  'pending',
  'classified',
  'moved',
  'uncertain',
  'unreadable',
  'duplicate',
] as const;
export type ImageStatus = (typeof IMAGE_STATUSES)[number];

export const MOVE_KINDS = ['move', 'copy', 'undo'] as const;
export type MoveKind = (typeof MOVE_KINDS)[number];

export const MOVE_STATES = ['intent', 'done', 'undone', 'failed'] as const;
export type MoveState = (typeof MOVE_STATES)[number];

export interface ImageRow {
  id: number;
  /** Where the file is now (changes when it is moved); unique among live rows. */
  path: string;
  /** Where the camera put it. */
  originalPath: string;
  camera: string;
  size: number;
  mtimeMs: number;
  sha256: string;
  /** EXIF capture time (ISO 8601) when the image has one. */
  captureTime: string | null;
  status: ImageStatus;
  error: string | null;
  duplicateOf: number | null;
  /** Set when a different file took this row's path: the row is history, no longer live. */
  retiredAt: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewImage {
  path: string;
  camera: string;
  size: number;
  mtimeMs: number;
  sha256: string;
  captureTime?: string | null;
}

export interface PredictionRow {
  id: number;
  imageId: number;
  modelVersion: string;
  pBird: number;
  label: ClassName;
  createdAt: string;
}

export interface NewPrediction {
  imageId: number;
  modelVersion: string;
  pBird: number;
  label: ClassName;
}

/** The newest prediction of an image, all null when it has none yet. */
export interface LatestPrediction {
  pBird: number | null;
  predictedLabel: ClassName | null;
  modelVersion: string | null;
}

export type ImageWithPrediction = ImageRow & LatestPrediction;

export type ImageListItem = ImageWithPrediction & {
  /** The user's label (a correction or a confirmation): ground truth for retraining. */
  userLabel: ClassName | null;
};

export interface MoveRow {
  id: number;
  imageId: number;
  fromPath: string;
  toPath: string;
  kind: MoveKind;
  state: MoveState;
  /** The image's status when the move was journaled: what an undo restores. */
  prevStatus: ImageStatus;
  /** For kind 'undo': the move it reverses. */
  undoOf: number | null;
  error: string | null;
  createdAt: string;
  updatedAt: string;
}

export interface NewMove {
  imageId: number;
  fromPath: string;
  toPath: string;
  kind: MoveKind;
  undoOf?: number;
}

export interface Counts {
  /** Live images. */
  total: number;
  byStatus: Record<ImageStatus, number>;
  byCamera: Record<string, Partial<Record<ImageStatus, number>>>;
}

export interface ExportRow {
  path: string;
  camera: string;
  captureTime: string | null;
  label: ClassName | null;
  pBird: number | null;
  correctedLabel: ClassName | null;
}

export interface Page<T> {
  items: T[];
  total: number;
}

export interface LabeledImage {
  imageId: number;
  path: string;
  sha256: string;
  label: ClassName;
}
