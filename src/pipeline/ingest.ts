/**
 * What happens to one complete file from a camera: record it, reuse the result of an identical file or
 * classify it, then leave it (bird), flag it (uncertain) or move/copy/tag it (airplane). Every outcome is
 * recorded; bad input is recorded with its message and the file is left exactly where it is.
 */
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Classifier } from '../classify/classifier.ts';
import { decideAction, type Settings } from '../config/settings.ts';
import type { FrameReader } from '../images/frame-reader.ts';
import { moveFile } from '../sort/move.ts';
import { sha256File } from '../sort/sha256.ts';
import { MoveError } from '../sort/transfer.ts';
import type { Store } from '../store/store.ts';
import type { ImageRow, MoveRow } from '../store/types.ts';

/** Far above any camera frame; a bigger "image" is refused before it is read into memory. */
export const MAX_FILE_BYTES = 200 * 1024 * 1024;

/** The sha256 recorded for a file that could not be read (the column requires 64 hex digits). */
export const UNKNOWN_SHA256 = '0'.repeat(64);

/** The error an airplane carries between its classification and its finished move (see `sortAirplane`). */
export const AWAITING_MOVE = 'Not moved yet: Birdgate stopped before moving it; it is retried automatically';

export interface IngestContext {
  store: Store;
  classifier: Classifier;
  settings: Settings;
  frames: FrameReader;
}

export type Outcome =
  | { kind: 'skipped'; reason: string }
  | { kind: 'vanished'; error: string }
  | { kind: 'unreadable'; image: ImageRow; error: string }
  | { kind: 'duplicate'; image: ImageRow; of: number }
  | {
      kind: 'classified';
      image: ImageRow;
      pBird: number;
      decision: 'airplane' | 'bird' | 'uncertain';
      move?: MoveRow;
      error?: string;
    };

export function modelVersionOf(classifier: Classifier): string {
  const name = path.basename(classifier.modelDir);
  return name === 'default' ? 'shipped' : name;
}

export async function ingest(ctx: IngestContext, file: string, camera: string): Promise<Outcome> {
  const { store, classifier, settings, frames } = ctx;
  let info;
  try {
    info = await stat(file);
  } catch (error) {
    // Gone before we could look at it: there is no file to give a status, so the event is the record.
    const message = `${file}: ${(error as Error).message}`;
    store.addEvent('vanished', { path: file, camera, error: message });
    return { kind: 'vanished', error: message };
  }
  const seen = store.findByPath(file);
  const unchanged = seen !== undefined && seen.size === info.size && seen.mtimeMs === info.mtimeMs;
  // A row still `pending` was being ingested when Birdgate stopped (crash, kill): carry on with it, or the
  // file would never be classified.
  const resumed = unchanged && seen.status === 'pending' ? seen : undefined;
  if (unchanged && !resumed) return { kind: 'skipped', reason: 'already processed' };
  const unreadable = (error: string, sha256 = UNKNOWN_SHA256) => {
    const image =
      resumed ?? store.recordImage({ path: file, camera, size: info.size, mtimeMs: info.mtimeMs, sha256 });
    store.setStatus(image.id, 'unreadable', error);
    return { kind: 'unreadable' as const, image: store.getImage(image.id)!, error };
  };
  if (info.size > MAX_FILE_BYTES) {
    return unreadable(`${file}: ${info.size} bytes is too large for a camera image`, await sha256File(file));
  }
  // Read, hashed, EXIF parsed and decoded on the frame thread.
  const frame = await frames.read(file);
  if (frame.kind === 'unreadable') return unreadable(frame.error); // e.g. permission denied
  const { sha256, captureTime } = frame;
  const original = store.findBySha256(sha256);
  const image =
    resumed?.sha256 === sha256
      ? resumed
      : store.recordImage({
          path: file,
          camera,
          size: info.size,
          mtimeMs: info.mtimeMs,
          sha256,
          captureTime,
        });

  if (original && original.id !== image.id && original.pBird !== null) {
    // The same bytes were seen before: reuse that result and leave this copy for the user to review.
    store.transaction(() => {
      store.markDuplicate(image.id, original.id);
      store.addPrediction({
        imageId: image.id,
        modelVersion: original.modelVersion!,
        pBird: original.pBird!,
        label: original.predictedLabel!,
      });
    });
    return { kind: 'duplicate', image: store.getImage(image.id)!, of: original.id };
  }
  if (frame.kind === 'undecodable') {
    store.setStatus(image.id, 'unreadable', frame.error);
    return { kind: 'unreadable', image: store.getImage(image.id)!, error: frame.error };
  }

  const { pBird, label } = await classifier.classifyPixels(frame.pixels);
  const decision = decideAction(1 - pBird, settings);
  // An airplane is marked before its move, so that if Birdgate stops before the move is done (or recovery
  // rolls it back) it is among those retried; a done move clears the mark.
  const awaitingMove = decision === 'airplane' && settings.action !== 'tag' ? AWAITING_MOVE : null;
  store.transaction(() => {
    store.addPrediction({ imageId: image.id, modelVersion: modelVersionOf(classifier), pBird, label });
    store.setStatus(image.id, decision === 'uncertain' ? 'uncertain' : 'classified', awaitingMove);
  });
  if (decision !== 'airplane') {
    return { kind: 'classified', image: store.getImage(image.id)!, pBird, decision };
  }
  const result = await sortAirplane(store, image, settings);
  return { kind: 'classified', image: store.getImage(image.id)!, pBird, decision, ...result };
}

/** Where a camera's airplanes go: one subfolder per camera keeps names apart and provenance visible. */
export function airplaneDir(settings: Settings, camera: string): string {
  return path.join(settings.airplaneFolder, camera.replace(/[\\/:*?"<>|]/g, '_'));
}

/** Moves or copies an airplane per the settings; a failure leaves the file in place, recorded for retry. */
export async function sortAirplane(
  store: Store,
  image: ImageRow,
  settings: Settings,
): Promise<{ move?: MoveRow; error?: string }> {
  if (settings.action === 'tag') return {};
  try {
    const move = await moveFile(store, {
      imageId: image.id,
      from: image.path,
      toDir: airplaneDir(settings, image.camera),
      kind: settings.action,
    });
    return { move };
  } catch (error) {
    if (!(error instanceof MoveError)) throw error;
    store.setStatus(image.id, 'classified', error.message);
    return { error: error.message };
  }
}
