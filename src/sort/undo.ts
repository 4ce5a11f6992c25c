/** Undo: puts moved files back where they came from, through the same journal as moves. */
import { unlink } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import type { Store } from '../store/store.ts';
import type { ImageRow, MoveRow } from '../store/types.ts';
import { fsyncDir, holdsImage } from './files.ts';
import { describe, settle } from './recover.ts';
import { MoveError, relocate, type MoveOptions } from './transfer.ts';

const id = z.number().int().positive();

/** Which moves to undo: given ids, the newest N, or everything journaled since a time. */
export const undoSelectionSchema = z.union([
  z.object({ ids: z.array(id).min(1) }).strict(),
  z.object({ last: id }).strict(),
  z.object({ since: z.date() }).strict(),
]);
export type UndoSelection = z.infer<typeof undoSelectionSchema>;

export interface UndoResult {
  /** The undo moves, each from the sorted location back to where the file now is. */
  undone: MoveRow[];
  skipped: { moveId: number; reason: string }[];
  failed: { moveId: number; error: string }[];
}

function whyNotUndoable(move: MoveRow, image: ImageRow): string | undefined {
  if (move.kind === 'undo') return 'it is itself an undo';
  if (move.state !== 'done') return `it is ${move.state}`;
  // A move left the image at its destination, a copy left it at its source.
  const expected = move.kind === 'move' ? move.toPath : move.fromPath;
  if (image.retiredAt || image.path !== expected) return `the image has moved since (it is at ${image.path})`;
  return undefined;
}

/**
 * Undoing a copy whose original is still in place just removes the copy (journaled from the copy to the
 * original, so recovery completes or keeps it like any move).
 */
async function removeCopy(store: Store, copy: MoveRow, image: ImageRow): Promise<MoveRow> {
  const undo = store.moves.begin({
    imageId: image.id,
    fromPath: copy.toPath,
    toPath: copy.fromPath,
    kind: 'undo',
    undoOf: copy.id,
  });
  if (!undo) throw new Error(`${copy.fromPath} is the destination of another move in progress`);
  try {
    // Checked again now that the intent is journaled: the copy goes only while the original is intact.
    if (!(await holdsImage(copy.fromPath, image))) throw new Error(`${copy.fromPath} changed`);
    await unlink(copy.toPath);
    await fsyncDir(path.dirname(copy.toPath));
    return store.moves.complete(undo.id);
  } catch (error) {
    const settled = await settle(store, undo, `Could not remove the copy ${copy.toPath}: ${describe(error)}`);
    if (settled.state === 'done') return settled;
    throw new MoveError(settled);
  }
}

async function undoOne(store: Store, move: MoveRow, image: ImageRow, options: MoveOptions): Promise<MoveRow> {
  if (move.kind === 'copy' && (await holdsImage(move.fromPath, image))) return removeCopy(store, move, image);
  // The original name may be taken by now (cameras reuse names): then it gets a suffix like any collision.
  return relocate(
    store,
    {
      image,
      from: move.toPath,
      toDir: path.dirname(move.fromPath),
      name: path.basename(move.fromPath),
      kind: 'undo',
      undoOf: move.id,
    },
    options,
  );
}

/**
 * Moves files back to where they were before the selected moves (newest first, so a file sorted twice
 * walks back step by step), marks those moves `undone` and restores each image's path and status. One
 * failure does not stop the rest.
 */
export async function undoMoves(
  store: Store,
  selection: UndoSelection,
  options: MoveOptions = {},
): Promise<UndoResult> {
  const which = undoSelectionSchema.parse(selection);
  const moves =
    'ids' in which
      ? store.moves.byIds(which.ids)
      : 'last' in which
        ? store.moves.lastUndoable(which.last)
        : store.moves.undoableSince(which.since);
  const result: UndoResult = { undone: [], skipped: [], failed: [] };
  if ('ids' in which) {
    for (const moveId of which.ids) {
      if (!moves.some((m) => m.id === moveId))
        result.skipped.push({ moveId, reason: 'there is no such move' });
    }
  }
  for (const move of moves) {
    const image = store.getImage(move.imageId)!;
    const reason = whyNotUndoable(move, image);
    if (reason) {
      result.skipped.push({ moveId: move.id, reason });
      continue;
    }
    try {
      result.undone.push(await undoOne(store, move, image, options));
    } catch (error) {
      result.failed.push({ moveId: move.id, error: (error as Error).message });
    }
  }
  return result;
}
