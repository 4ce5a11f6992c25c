import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';

/** What "unchanged" means for a file: same size, same modification time. */
export interface Fingerprint {
  size: number;
  mtimeMs: number;
}

interface Waiting {
  camera: string;
  seen: Fingerprint | undefined;
  timer: NodeJS.Timeout | undefined;
}

const fingerprint = (s: Stats): Fingerprint => ({ size: s.size, mtimeMs: s.mtimeMs });
export const sameFingerprint = (a: Fingerprint, b: Fingerprint) =>
  a.size === b.size && a.mtimeMs === b.mtimeMs;

/**
 * Hands a file on only when two looks at it agree on size and mtime. Files chokidar found in its initial
 * scan never went through its awaitWriteFinish, so the looks are `stabilityMs` apart; a file chokidar has
 * already waited for (`settled`) needs only one fresh look matching its stats, the final re-check that
 * catches a write in the last moments. Any difference restarts the wait.
 */
export class StabilityGate {
  readonly #waiting = new Map<string, Waiting>();

  constructor(
    private readonly stabilityMs: number,
    /** `fingerprint` is missing when the file could not even be stat'ed. */
    private readonly onStable: (file: string, camera: string, fingerprint: Fingerprint | undefined) => void,
  ) {}

  /** Starts watching `file` unless it already is: the running check notices any change by itself. */
  observe(file: string, camera: string, seen: Stats | undefined, settled: boolean): void {
    if (this.#waiting.has(file)) return;
    const entry: Waiting = { camera, seen: seen && fingerprint(seen), timer: undefined };
    this.#waiting.set(file, entry);
    // Without stats there is nothing to compare yet, so take the first look now rather than after a wait.
    if (settled || !entry.seen) void this.#check(file, entry);
    else this.#schedule(file, entry);
  }

  /** The file went away: stop checking it. */
  forget(file: string): void {
    clearTimeout(this.#waiting.get(file)?.timer);
    this.#waiting.delete(file);
  }

  clear(): void {
    for (const entry of this.#waiting.values()) clearTimeout(entry.timer);
    this.#waiting.clear();
  }

  #schedule(file: string, entry: Waiting): void {
    entry.timer = setTimeout(() => void this.#check(file, entry), this.stabilityMs);
  }

  async #check(file: string, entry: Waiting): Promise<void> {
    let now: Fingerprint | 'gone' | 'unreadable';
    try {
      const s = await stat(file);
      now = s.isFile() ? fingerprint(s) : 'gone';
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code;
      now = code === 'ENOENT' || code === 'ENOTDIR' ? 'gone' : 'unreadable';
    }
    if (this.#waiting.get(file) !== entry) return; // forgotten or cleared while the stat ran
    if (now === 'gone') {
      this.#waiting.delete(file);
    } else if (now === 'unreadable') {
      // Handed on all the same, so the consumer records why instead of the file vanishing silently.
      this.#waiting.delete(file);
      this.onStable(file, entry.camera, undefined);
    } else if (entry.seen && sameFingerprint(entry.seen, now)) {
      this.#waiting.delete(file);
      this.onStable(file, entry.camera, now);
    } else {
      entry.seen = now;
      this.#schedule(file, entry);
    }
  }
}
