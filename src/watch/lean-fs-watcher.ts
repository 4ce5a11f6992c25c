import { FSWatcher, type ChokidarOptions } from 'chokidar';

type ReaddirpOptions = NonNullable<Parameters<FSWatcher['_readdirp']>[1]>;
type Filter = ReaddirpOptions['fileFilter'];

/**
 * The time between two re-reads of one folder while files keep arriving is REREAD_GAP_FACTOR times what
 * the last read took, within these bounds: listing then costs at most ~1/20 of the time, however large
 * the folder grows. The floor is low so that a burst's first files are not left waiting: with a 0.25 s floor
 * the decoders sat idle for the first quarter second of every burst (docs/benchmarks.md).
 */
export const REREAD_GAP_FACTOR = 20;
export const REREAD_GAP_MIN_MS = 50;
export const REREAD_GAP_MAX_MS = 2000;

type HandleRead = FSWatcher['_nodeFsHandler']['_handleRead'];

/**
 * chokidar with cheaper folder re-reads. Whenever anything in a folder changes, chokidar lists the whole
 * folder again to find what changed, and when more events arrived meanwhile it lists it again the moment
 * it is done: during a burst of uploads it re-reads back to back, and each read lstat()s every entry. A
 * camera folder keeps every bird, so that cost grows with months of images; in a 500-file burst it took
 * more of the JS thread than decoding did (docs/benchmarks.md). Two changes, both inside what chokidar 4
 * declares in its types (test/watch.test.ts covers what depends on them):
 * - a folder is re-read at most every 20× as long as its last read took (0.05–2 s): events in between
 *   are served by one later read;
 * - the listing uses readdir's directory entries, which already know their type, instead of an lstat()
 *   per entry. New files are still stat'ed by chokidar before their `add` event, so events carry Stats.
 */
export class LeanFSWatcher extends FSWatcher {
  /** Per folder: when it was last read and the gap its last read earned. */
  readonly #reads = new Map<string, { at: number; gap: number }>();
  readonly #deferred = new Map<string, { timer: NodeJS.Timeout; args: Parameters<HandleRead> }>();

  constructor(options: ChokidarOptions) {
    // chokidar checks read permission on a listed entry's mode, which a Dirent lacks. Unreadable files
    // are passed on anyway: the consumer records why they cannot be read.
    super({ ...options, ignorePermissionErrors: true });
    const handler = this._nodeFsHandler;
    const original: HandleRead = handler._handleRead.bind(handler);
    const read = (...args: Parameters<HandleRead>) => {
      const directory = args[0];
      const at = performance.now();
      this.#reads.set(directory, { at, gap: this.#reads.get(directory)?.gap ?? REREAD_GAP_MIN_MS });
      const done = original(...args);
      // undefined: chokidar is still reading this folder and will read it again when done.
      void done?.then(
        () => {
          const took = performance.now() - at;
          const gap = Math.min(REREAD_GAP_MAX_MS, Math.max(REREAD_GAP_MIN_MS, took * REREAD_GAP_FACTOR));
          this.#reads.set(directory, { at, gap });
        },
        () => {}, // rejects only when the watcher closed under the read: nothing left to report
      );
      return done;
    };
    handler._handleRead = (...args) => {
      const [directory, initialAdd] = args;
      // The initial scan does not count: the first change after it is read at once.
      if (initialAdd) return original(...args);
      const last = this.#reads.get(directory);
      const wait = last ? last.at + last.gap - performance.now() : 0;
      if (wait <= 0) return read(...args);
      const deferred = this.#deferred.get(directory);
      if (deferred) deferred.args = args;
      else {
        const timer = setTimeout(() => {
          const { args: latest } = this.#deferred.get(directory)!;
          this.#deferred.delete(directory);
          if (!this.closed) void read(...latest);
        }, wait);
        this.#deferred.set(directory, { timer, args });
      }
      return undefined;
    };
  }

  override close(): Promise<void> {
    for (const { timer } of this.#deferred.values()) clearTimeout(timer);
    this.#deferred.clear();
    return super.close();
  }

  override _readdirp(root: string, opts: Partial<ReaddirpOptions> = {}) {
    return super._readdirp(root, {
      ...opts,
      alwaysStat: false,
      fileFilter: withDirentAsStats(opts.fileFilter),
      directoryFilter: withDirentAsStats(opts.directoryFilter),
    });
  }
}

/** chokidar's filters and its listing read `entry.stats`; a Dirent answers the same isFile/isSymbolicLink. */
function withDirentAsStats(filter: Filter): Filter {
  if (typeof filter !== 'function') return filter;
  return (entry) => {
    entry.stats ??= entry.dirent as unknown as NonNullable<typeof entry.stats>;
    return filter(entry);
  };
}
