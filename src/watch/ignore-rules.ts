import path from 'node:path';
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
  // chokidar asks about every entry each time it re-lists a folder, so this is plain string work on
  // prefixes computed once: no path.relative (two resolves per call) per folder per entry.
  const rootDir = comparable(path.resolve(root));
  const rootPrefix = asPrefix(rootDir);
  const excludedDirs = excluded.map((p) => comparable(path.resolve(p)));
  const excludedPrefixes = excludedDirs.map(asPrefix);
  return (file, type) => {
    const absolute = comparable(path.resolve(file));
    if (excludedDirs.some((dir, i) => absolute === dir || absolute.startsWith(excludedPrefixes[i]!))) {
      return true;
    }
    if (!absolute.startsWith(rootPrefix)) return false; // the root itself, or outside it
    if (absolute.slice(rootPrefix.length).split(path.sep).some(isHiddenOrPartialName)) return true;
    return type?.isFile() === true && !isImageName(absolute);
  };
}

/** Windows paths compare case-insensitively (as path.win32.relative does). */
const comparable = (p: string) => (path.sep === '\\' ? p.toLowerCase() : p);
const asPrefix = (dir: string) => (dir.endsWith(path.sep) ? dir : dir + path.sep);
