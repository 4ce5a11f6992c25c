import type { Dirent } from 'node:fs';
import { readdir } from 'node:fs/promises';
import path from 'node:path';
import { isImageName } from '../images/extensions.ts';
import type { IgnoreMatcher } from './ignore-rules.ts';

export interface MissedFileSearch {
  /** The watched folder the directories belong to. */
  root: string;
  /** How many folder levels below `root` are watched (chokidar's `depth`). */
  depth: number;
  /** What chokidar has registered: folder → names in it, as from `FSWatcher.getWatched()`. */
  registered: Record<string, string[]>;
  ignored: IgnoreMatcher;
}

/**
 * Images in `dirs` that chokidar never registered. Its directory re-read is throttled, and an event that
 * arrives while a slow re-read is running can be dropped, so the tail of a burst may never be announced
 * (paulmillr/chokidar#552, #685). Folders chokidar missed the same way are searched too, within `depth`.
 */
export async function findMissedImages(dirs: Iterable<string>, search: MissedFileSearch): Promise<string[]> {
  const { root, depth, registered, ignored } = search;
  const levelOf = (dir: string) => (dir === root ? 0 : path.relative(root, dir).split(path.sep).length);
  const pending = [...dirs];
  const missed: string[] = [];
  for (let dir = pending.pop(); dir !== undefined; dir = pending.pop()) {
    // chokidar reports folders one level past `depth` (addDir) without looking inside them.
    if (levelOf(dir) > depth) continue;
    let entries: Dirent[];
    try {
      entries = await readdir(dir, { withFileTypes: true });
    } catch {
      continue; // gone or unreadable: chokidar reports the folder itself
    }
    const known = new Set(registered[dir]);
    for (const entry of entries) {
      const full = path.join(dir, entry.name);
      if (known.has(entry.name) || ignored(full, entry)) continue;
      if (entry.isFile() && isImageName(entry.name)) missed.push(full);
      else if (entry.isDirectory()) pending.push(full);
    }
  }
  return missed;
}
