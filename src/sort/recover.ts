/**
 * Recovery: a move interrupted by a crash (or by an error) is finished or rolled back according to what the
 * disk shows, so that every file exists exactly once and the journal and the images table agree with it.
 */
import { readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Store } from '../store/store.ts';
import type { MoveRow } from '../store/types.ts';
import {
  exists,
  fileSize,
  fsyncDir,
  holdsImage,
  partialPath,
  PARTIAL_PREFIX,
  removeIfExists,
} from './files.ts';

const INTERRUPTED = 'Interrupted: Birdgate stopped before the move finished';

/**
 * Settles one `intent` move from the disk and returns it `done` or `failed`:
 * - the destination holds the image's bytes: done (for a move whose source is still there, the source is
 *   removed first; if it cannot be, the destination is removed instead and the move fails);
 * - only a complete partial copy is left (the source vanished): it is put in place, done;
 * - otherwise: rolled back, failed, the source untouched; our partial copy and our empty claim go.
 */
export async function settle(store: Store, move: MoveRow, reason: string): Promise<MoveRow> {
  const image = store.getImage(move.imageId)!;
  const partial = partialPath(move);
  // The destination is a name this move claimed, except when an undone copy's original was still in
  // place: then it is the image's own file and is never removed.
  const claimed = move.toPath !== image.path;
  const sourceThere = await exists(move.fromPath);

  if (await holdsImage(move.toPath, image)) {
    if (sourceThere && move.kind !== 'copy') {
      try {
        await unlink(move.fromPath);
        await fsyncDir(path.dirname(move.fromPath));
      } catch (error) {
        if (claimed) await unlink(move.toPath);
        await removeIfExists(partial);
        return store.moves.fail(
          move.id,
          `${reason}; ${move.fromPath} could not be removed: ${describe(error)}`,
        );
      }
    }
    await removeIfExists(partial);
    return store.moves.complete(move.id);
  }
  if (!sourceThere && (await holdsImage(partial, image))) {
    await rename(partial, move.toPath);
    await fsyncDir(path.dirname(move.toPath));
    return store.moves.complete(move.id);
  }
  await removeIfExists(partial);
  // An empty file there is our claim on the name, never an image (images are not empty).
  if (claimed && image.size > 0 && (await fileSize(move.toPath)) === 0) await unlink(move.toPath);
  return store.moves.fail(
    move.id,
    sourceThere ? reason : `${reason}; the file is at neither ${move.fromPath} nor ${move.toPath}`,
  );
}

export interface Recovery {
  /** The moves that were unfinished, now done or failed. */
  settled: MoveRow[];
  /** Stray partial copies deleted. */
  removedPartials: string[];
}

/**
 * Run once at start, before any move: settles every unfinished move, then deletes the partial copies left
 * in the destination folders of unfinished and failed moves (with no move in flight they are all strays).
 */
export async function recoverMoves(store: Store): Promise<Recovery> {
  const folders = store.moves.unsettledFolders();
  const settled: MoveRow[] = [];
  for (const move of store.moves.inFlight()) {
    const result = await settle(store, move, INTERRUPTED);
    store.addEvent('move-recovered', { moveId: move.id, state: result.state }, move.imageId);
    settled.push(result);
  }
  const removedPartials: string[] = [];
  for (const folder of folders) {
    const names = await readdir(folder).catch((error: NodeJS.ErrnoException) => {
      if (error.code === 'ENOENT' || error.code === 'ENOTDIR') return [];
      throw error;
    });
    for (const name of names.filter((n) => n.startsWith(PARTIAL_PREFIX))) {
      await removeIfExists(path.join(folder, name));
      removedPartials.push(path.join(folder, name));
    }
  }
  return { settled, removedPartials };
}

const REASONS: Record<string, string> = {
  EACCES: 'permission denied',
  EPERM: 'operation not permitted',
  ENOSPC: 'disk full',
  EDQUOT: 'disk quota exceeded',
  EROFS: 'read-only file system',
  ENOTDIR: 'part of the path is not a folder',
  ENOENT: 'no such file or folder',
  EBUSY: 'file busy',
};

/** An error as a user reads it: `permission denied (EACCES: /planes/a.jpg)`, else its message. */
export function describe(error: unknown): string {
  const { code, path: file, message } = error as NodeJS.ErrnoException;
  const text = code && REASONS[code];
  return text ? `${text} (${code}${file ? `: ${file}` : ''})` : message;
}
