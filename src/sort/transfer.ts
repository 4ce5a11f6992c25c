/**
 * The journaled move protocol: journal the intent (committed), claim the destination name, move the bytes,
 * then mark the move done and the image moved in one transaction. Any error settles the move from the disk
 * (recover.ts), so a failure leaves the source in place and nothing half-written behind.
 */
import { mkdir, open, rename, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { Store } from '../store/store.ts';
import type { ImageRow, MoveKind, MoveRow } from '../store/types.ts';
import { copyVerified, fileSize, fsyncDir, partialPath } from './files.ts';
import { freePaths } from './names.ts';
import { describe, settle } from './recover.ts';

export interface MoveOptions {
  /**
   * Test seam: take the cross-device path (copy, fsync, verify, unlink) even within one file system, since
   * tests have no second file system to move to.
   */
  forceCopy?: boolean;
}

/** A move that failed and was rolled back: the file is still at `move.fromPath`. */
export class MoveError extends Error {
  constructor(readonly move: MoveRow) {
    super(move.error ?? `Move ${move.id} failed`);
    this.name = 'MoveError';
  }
}

export interface Relocation {
  image: ImageRow;
  from: string;
  toDir: string;
  /** The name wanted in toDir; a collision gets ` (1)`, ` (2)`, … before the extension. */
  name: string;
  kind: MoveKind;
  undoOf?: number;
}

type Names = AsyncGenerator<string>;

async function nextFree(names: Names): Promise<string> {
  return (await names.next()).value as string; // freePaths never ends
}

/** Journals the intent under the first name free on disk and not targeted by another move in flight. */
async function journal(store: Store, names: Names, plan: Relocation): Promise<MoveRow> {
  for (;;) {
    const move = store.moves.begin({
      imageId: plan.image.id,
      fromPath: plan.from,
      toPath: await nextFree(names),
      kind: plan.kind,
      undoOf: plan.undoOf,
    });
    if (move) return move;
  }
}

/**
 * Creates the destination as an empty file with O_EXCL: only one creator can succeed, so no other mover's
 * file and no one else's file is ever overwritten. If the name was taken since we looked, the next free
 * one is journaled before it is tried.
 */
async function claim(store: Store, move: MoveRow, names: Names): Promise<MoveRow> {
  for (;;) {
    try {
      await (await open(move.toPath, 'wx')).close();
      return move;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
      let next: MoveRow | undefined;
      while (!next) next = store.moves.retarget(move.id, await nextFree(names));
      move = next;
    }
  }
}

/** Moves or copies the bytes to the claimed destination. */
async function carryOut(move: MoveRow, image: ImageRow, options: MoveOptions): Promise<void> {
  if (move.kind !== 'copy' && !options.forceCopy) {
    const size = await fileSize(move.fromPath);
    if (size !== undefined && size !== image.size)
      throw new Error(`${move.fromPath} changed since it was recorded`);
    try {
      await rename(move.fromPath, move.toPath); // atomically replaces our empty claim
      await fsyncDir(path.dirname(move.toPath));
      if (path.dirname(move.fromPath) !== path.dirname(move.toPath))
        await fsyncDir(path.dirname(move.fromPath));
      return;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EXDEV') throw error;
    }
  }
  // Another file system (or a copy): the bytes are written under a hidden name first and verified, so the
  // destination name only ever shows a complete file, and the source goes only after that.
  const partial = partialPath(move);
  await copyVerified(move.fromPath, partial, image);
  await rename(partial, move.toPath);
  await fsyncDir(path.dirname(move.toPath));
  if (move.kind !== 'copy') {
    await unlink(move.fromPath);
    await fsyncDir(path.dirname(move.fromPath));
  }
}

/** Moves (or copies) a file to the first free name in a folder through the journal; returns the done move. */
export async function relocate(store: Store, plan: Relocation, options: MoveOptions = {}): Promise<MoveRow> {
  const names = freePaths(plan.toDir, plan.name);
  let move = await journal(store, names, plan);
  try {
    await mkdir(plan.toDir, { recursive: true });
    move = await claim(store, move, names);
    await carryOut(move, plan.image, options);
    return store.moves.complete(move.id);
  } catch (error) {
    const verb = plan.kind === 'copy' ? 'copy' : 'move';
    const settled = await settle(
      store,
      move,
      `Could not ${verb} ${plan.from} to ${plan.toDir}: ${describe(error)}`,
    );
    // Done means the error came after the file was already in place (e.g. syncing a folder): it was moved.
    if (settled.state === 'done') return settled;
    throw new MoveError(settled);
  }
}
