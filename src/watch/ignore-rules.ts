import path from 'node:path';
import { isSameOrInside } from '../config/settings.ts';
import { isImageName } from '../images/extensions.ts';

// Names uploaders, browsers and editors give files that are still being written.
const PARTIAL_SUFFIXES = ['.part', '.tmp', '~', '.crdownload'];

/**
 * A name that marks a file (or folder) as hidden or unfinished, whatever its extension. Hidden covers
 * the mover's own `.birdgate-partial-*` copies too.
 */
function isHiddenOrPartialName(name: string): boolean {
  const lower = name.toLowerCase();
  return name.startsWith('.') || PARTIAL_SUFFIXES.some((suffix) => lower.endsWith(suffix));
}

/** Chokidar passes Stats when it has them; the missed-file search passes directory entries. */
export type IgnoreMatcher = (file: string, type?: { isFile(): boolean }) => boolean;

/**
 * The chokidar `ignored` predicate for one watched root: prunes hidden and partial names below the root
 * and the excluded folders (airplane destination, anything else Birdgate writes). Non-image extensions
 * are only ruled out when the caller knows the path is a file, because folders are often named like
 * "2024.05.01" and pruning one would hide every image in it.
 */
export function createIgnoreMatcher(root: string, excluded: string[]): IgnoreMatcher {
  const rootDir = path.resolve(root);
  const excludedDirs = excluded.map((p) => path.resolve(p));
  return (file, type) => {
    const absolute = path.resolve(file);
    if (excludedDirs.some((dir) => isSameOrInside(absolute, dir))) return true;
    if (absolute === rootDir || !isSameOrInside(absolute, rootDir)) return false;
    if (path.relative(rootDir, absolute).split(path.sep).some(isHiddenOrPartialName)) return true;
    return type?.isFile() === true && !isImageName(absolute);
  };
}
