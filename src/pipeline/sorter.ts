/**
 * The running product: camera folders watched, each complete file queued and ingested, failed airplane
 * moves retried. Unfinished moves from a crash are settled before anything else is touched.
 */
import { EventEmitter } from 'node:events';
import type { Classifier } from '../classify/classifier.ts';
import { appDataDir } from '../config/paths.ts';
import type { Settings } from '../config/settings.ts';
import { recoverMoves } from '../sort/recover.ts';
import type { Store } from '../store/store.ts';
import type { MoveRow } from '../store/types.ts';
import { FrameReader } from '../images/frame-reader.ts';
import { FolderWatcher, type CameraState } from '../watch/folder-watcher.ts';
import { WorkQueue, type ImageJob } from '../watch/work-queue.ts';
import { ingest, sortAirplane, type Outcome } from './ingest.ts';

/** How often airplanes whose move failed (destination unwritable, disk full) are tried again. */
export const RETRY_MS = 30_000;

interface SorterEvents {
  outcome: [outcome: Outcome, job: ImageJob];
  /** A retried airplane move that went through. */
  retried: [move: MoveRow];
  status: [state: CameraState];
  error: [error: Error, job?: ImageJob];
}

export interface SorterOptions {
  /**
   * Files in progress at once. Each waits on the disk (read, fsyncs) and on its decode in sharp's thread
   * pool; 8 keeps both cores busy with p95 under 100 ms (docs/benchmarks.md).
   */
  concurrency?: number;
  retryMs?: number;
  folderCheckMs?: number;
}

export class Sorter extends EventEmitter<SorterEvents> {
  private watcher: FolderWatcher | undefined;
  private readonly queue: WorkQueue;
  private retryTimer: NodeJS.Timeout | undefined;
  private retrying = false;
  /** Files being ingested right now: a retry leaves their images to the ingest that is moving them. */
  private readonly active = new Set<string>();
  private readonly frames = new FrameReader();

  constructor(
    private readonly store: Store,
    private classifier: Classifier,
    private settings: Settings,
    private readonly options: SorterOptions = {},
  ) {
    super();
    this.queue = new WorkQueue((job) => this.process(job), {
      concurrency: options.concurrency ?? 8,
      onError: (error, job) => this.emit('error', error as Error, job),
    });
  }

  async start(): Promise<void> {
    await this.frames.start();
    await recoverMoves(this.store);
    // Airplanes whose move a crash interrupted (rolled back above) or never began go now, not a period later.
    await this.retryMoves();
    await this.attach();
    this.retryTimer = setInterval(() => void this.retryMoves(), this.options.retryMs ?? RETRY_MS);
  }

  private async attach(): Promise<void> {
    const watcher = new FolderWatcher(this.settings, {
      ignorePaths: [appDataDir()],
      folderCheckMs: this.options.folderCheckMs,
    });
    watcher.on('ready', (file, camera) => this.queue.push({ file, camera }));
    watcher.on('status', (state) => this.emit('status', state));
    this.watcher = watcher;
    await watcher.start();
  }

  private async process(job: ImageJob): Promise<void> {
    this.active.add(job.file);
    let outcome: Outcome;
    try {
      outcome = await ingest(
        { store: this.store, classifier: this.classifier, settings: this.settings, frames: this.frames },
        job.file,
        job.camera,
      );
    } finally {
      this.active.delete(job.file);
    }
    this.emit('outcome', outcome, job);
  }

  /** Tries again to move airplanes whose move failed; they stayed in place meanwhile. */
  async retryMoves(): Promise<void> {
    if (this.retrying || this.settings.action === 'tag') return;
    this.retrying = true;
    try {
      for (const image of this.store.unsortedAirplanes()) {
        if (this.active.has(image.path)) continue;
        try {
          const { move } = await sortAirplane(this.store, image, this.settings);
          if (move) this.emit('retried', move);
        } catch (error) {
          // Called from a timer: an unexpected error must not become an unhandled rejection.
          this.emit('error', error as Error);
        }
      }
    } finally {
      this.retrying = false;
    }
  }

  statuses(): CameraState[] {
    return this.watcher?.statuses() ?? [];
  }

  get paused(): boolean {
    return this.watcher?.paused ?? false;
  }

  pause(): void {
    this.watcher?.pause();
  }

  resume(): void {
    this.watcher?.resume();
  }

  /** New settings (cameras, destination, thresholds): the watcher is rebuilt, the queue carries on. */
  async reconfigure(settings: Settings): Promise<void> {
    const paused = this.paused;
    this.settings = settings;
    await this.watcher?.close();
    await this.attach();
    if (paused) this.watcher?.pause();
  }

  useClassifier(classifier: Classifier): void {
    this.classifier = classifier;
  }

  /** Resolves when every queued file has been handled. */
  drain(): Promise<void> {
    return this.queue.drain();
  }

  async close(): Promise<void> {
    clearInterval(this.retryTimer);
    await this.watcher?.close();
    await this.queue.close();
    await this.frames.close();
  }
}
