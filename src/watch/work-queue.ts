/** One complete image to process. */
export interface ImageJob {
  file: string;
  camera: string;
}

export interface WorkQueueOptions {
  /** Jobs run at once. Two keeps both cores busy: sharp decodes in its own thread pool. */
  concurrency?: number;
  /** Jobs held as objects; beyond this, waiting files are only remembered by path and camera name. */
  maxPending?: number;
  /** A consumer that throws or rejects must not stop the queue; default: log to stderr. */
  onError?: (error: unknown, job: ImageJob) => void;
}

export interface WorkQueueStats {
  pending: number;
  overflow: number;
  inFlight: number;
  /** Most jobs ever held in `pending` at once: never above `maxPending`. */
  peakPending: number;
  peakOverflow: number;
}

/**
 * A FIFO of image jobs with bounded concurrency and bounded pending work. Filesystem events cannot be
 * pushed back on, so a burst beyond `maxPending` spills into `overflow`: a path → camera map whose
 * camera names are shared strings, i.e. roughly one path per file. A path already waiting or running is
 * not queued again.
 */
export class WorkQueue {
  readonly #consume: (job: ImageJob) => Promise<void>;
  readonly #concurrency: number;
  readonly #maxPending: number;
  readonly #onError: (error: unknown, job: ImageJob) => void;
  // Maps iterate in insertion order, which makes them FIFOs with O(1) membership tests.
  readonly #pending = new Map<string, ImageJob>();
  readonly #overflow = new Map<string, string>();
  readonly #inFlight = new Set<string>();
  #idleWaiters: (() => void)[] = [];
  #paused = false;
  #closed = false;
  #peakPending = 0;
  #peakOverflow = 0;

  constructor(consume: (job: ImageJob) => Promise<void>, options: WorkQueueOptions = {}) {
    const { concurrency = 2, maxPending = 256 } = options;
    if (!Number.isInteger(concurrency) || concurrency < 1) throw new RangeError('concurrency must be ≥ 1');
    if (!Number.isInteger(maxPending) || maxPending < 1) throw new RangeError('maxPending must be ≥ 1');
    this.#consume = consume;
    this.#concurrency = concurrency;
    this.#maxPending = maxPending;
    this.#onError =
      options.onError ?? ((error, job) => console.error(`Processing ${job.file} failed:`, error));
  }

  /** Queues a job; false when its path is already waiting or running, or the queue is closed. */
  push(job: ImageJob): boolean {
    const { file } = job;
    if (this.#closed || this.#pending.has(file) || this.#overflow.has(file) || this.#inFlight.has(file)) {
      return false;
    }
    // Once anything has spilled, newcomers spill behind it so the order stays first in, first out.
    if (this.#overflow.size === 0 && this.#pending.size < this.#maxPending) {
      this.#pending.set(file, job);
      this.#peakPending = Math.max(this.#peakPending, this.#pending.size);
    } else {
      this.#overflow.set(file, job.camera);
      this.#peakOverflow = Math.max(this.#peakOverflow, this.#overflow.size);
    }
    this.#pump();
    return true;
  }

  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    this.#pump();
  }

  /** Resolves once nothing is waiting or running (after `resume()` if paused with work waiting). */
  drain(): Promise<void> {
    if (this.#isIdle()) return Promise.resolve();
    return new Promise((resolve) => this.#idleWaiters.push(resolve));
  }

  /**
   * Stops taking and starting jobs, drops the waiting ones (their files stay where they are, to be found
   * again by the next scan) and resolves once the running ones have finished.
   */
  close(): Promise<void> {
    this.#closed = true;
    this.#pending.clear();
    this.#overflow.clear();
    this.#settleIdle();
    return this.drain();
  }

  stats(): WorkQueueStats {
    return {
      pending: this.#pending.size,
      overflow: this.#overflow.size,
      inFlight: this.#inFlight.size,
      peakPending: this.#peakPending,
      peakOverflow: this.#peakOverflow,
    };
  }

  #pump(): void {
    while (!this.#paused && !this.#closed && this.#inFlight.size < this.#concurrency) {
      const job = this.#takeNext();
      if (!job) break;
      this.#inFlight.add(job.file);
      void this.#run(job);
    }
    this.#settleIdle();
  }

  #takeNext(): ImageJob | undefined {
    const next = this.#pending.values().next();
    if (next.done) return undefined;
    this.#pending.delete(next.value.file);
    const spilled = this.#overflow.entries().next();
    if (!spilled.done) {
      const [file, camera] = spilled.value;
      this.#overflow.delete(file);
      this.#pending.set(file, { file, camera });
    }
    return next.value;
  }

  async #run(job: ImageJob): Promise<void> {
    try {
      await this.#consume(job);
    } catch (error) {
      this.#onError(error, job);
    } finally {
      this.#inFlight.delete(job.file);
      this.#pump();
    }
  }

  #isIdle(): boolean {
    return this.#pending.size === 0 && this.#overflow.size === 0 && this.#inFlight.size === 0;
  }

  #settleIdle(): void {
    if (!this.#isIdle() || this.#idleWaiters.length === 0) return;
    const waiters = this.#idleWaiters;
    this.#idleWaiters = [];
    for (const resolve of waiters) resolve();
  }
}
