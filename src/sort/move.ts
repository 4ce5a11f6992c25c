import path from 'node:path';
import type { Store } from '../store/store.ts';
import type { MoveRow } from '../store/types.ts';
import { relocate, type MoveOptions } from './transfer.ts';

export interface MoveRequest {
  imageId: number;
  /** Where the caller believes the image is; must match the store. */
  from: string;
  toDir: string;
  kind: 'move' | 'copy';
}

/**
 * Moves or copies an image's file into `toDir` without overwriting anything (`a.jpg` taken → `a (1).jpg`),
 * byte for byte with its times. Returns the done move; throws MoveError (the file left in place, the move
 * journaled as failed, the image's status unchanged so it can be retried).
 */
export async function moveFile(
  store: Store,
  request: MoveRequest,
  options: MoveOptions = {},
): Promise<MoveRow> {
  const image = store.getImage(request.imageId);
  if (!image) throw new Error(`No image ${request.imageId}`);
  if (image.path !== request.from)
    throw new Error(`Image ${image.id} is at ${image.path}, not ${request.from}`);
  return relocate(
    store,
    {
      image,
      from: image.path,
      toDir: path.resolve(request.toDir),
      name: path.basename(image.path),
      kind: request.kind,
    },
    options,
  );
}
