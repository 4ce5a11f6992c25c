/** File-system steps of a move, each safe to repeat. */
import { createHash } from 'node:crypto';
import { lstat, open, unlink } from 'node:fs/promises';
import path from 'node:path';
import type { ImageRow, MoveRow } from '../store/types.ts';
import { sha256File } from './sha256.ts';

/** Hidden (leading dot) so watchers skip it; named after the move so recovery knows whose it is. */
export const PARTIAL_PREFIX = '.birdgate-partial-';
const COPY_CHUNK = 1 << 20;

export function partialPath(move: MoveRow): string {
  return path.join(path.dirname(move.toPath), `${PARTIAL_PREFIX}${move.id}`);
}

function isMissing(error: unknown): boolean {
  const code = (error as NodeJS.ErrnoException).code;
  return code === 'ENOENT' || code === 'ENOTDIR';
}

/** Size of the regular file at `file`, undefined when there is none. */
export async function fileSize(file: string): Promise<number | undefined> {
  try {
    const info = await lstat(file);
    return info.isFile() ? info.size : undefined;
  } catch (error) {
    if (isMissing(error)) return undefined;
    throw error;
  }
}

export async function exists(file: string): Promise<boolean> {
  try {
    await lstat(file);
    return true;
  } catch (error) {
    if (isMissing(error)) return false;
    throw error;
  }
}

export async function removeIfExists(file: string): Promise<void> {
  try {
    await unlink(file);
  } catch (error) {
    if (!isMissing(error)) throw error;
  }
}

/** True when `file` holds exactly the image's bytes (size first: it rules most files out without reading). */
export async function holdsImage(file: string, image: ImageRow): Promise<boolean> {
  return (await fileSize(file)) === image.size && (await sha256File(file)) === image.sha256;
}

/**
 * Makes a rename, creation or deletion in `dir` durable. Windows cannot open a folder for fsync; NTFS
 * journals its metadata, so there is nothing to do there.
 */
export async function fsyncDir(dir: string): Promise<void> {
  if (process.platform === 'win32') return;
  const handle = await open(dir, 'r');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
}

/**
 * Copies `from` into the new file `partial`, hashing the source as it is read, keeps its permissions and
 * access and modification times, fsyncs, then re-reads the copy: both hashes and the size must equal the image's,
 * so a file that changed since it was recorded, or a bad write, never replaces the original.
 */
export async function copyVerified(from: string, partial: string, image: ImageRow): Promise<void> {
  const source = await open(from, 'r');
  try {
    const target = await open(partial, 'wx');
    try {
      const hash = createHash('sha256');
      const buffer = Buffer.allocUnsafe(COPY_CHUNK);
      for (;;) {
        const { bytesRead } = await source.read(buffer, 0, COPY_CHUNK);
        if (bytesRead === 0) break;
        hash.update(buffer.subarray(0, bytesRead));
        // A write may be short (nearly full disk): write the rest until it fails with the real error.
        for (let done = 0; done < bytesRead;) {
          done += (await target.write(buffer, done, bytesRead - done)).bytesWritten;
        }
      }
      if (hash.digest('hex') !== image.sha256) throw new Error(`${from} changed since it was recorded`);
      const times = await source.stat();
      await target.chmod(times.mode & 0o777);
      // Seconds as numbers keep sub-millisecond precision that Date objects would drop.
      await target.utimes(times.atimeMs / 1000, times.mtimeMs / 1000);
      await target.sync();
    } finally {
      await target.close();
    }
  } finally {
    await source.close();
  }
  if (!(await holdsImage(partial, image))) throw new Error(`the copy of ${from} does not match it`);
}
