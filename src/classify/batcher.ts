/**
 * Groups single-image predictions into one model call: with several files decoding at once, one batched
 * forward pass costs far less per image than one call each (1.5 ms alone, 1.0 each in a batch of 4, on
 * the JS thread). Images are announced when their decode starts (`decoding`), so a batch waits for the
 * ones still decoding, but never longer than MAX_WAIT_MS.
 */
import { PIXELS_PER_IMAGE } from '../images/normalize.ts';

/** The most a prediction waits for others to join its batch: small next to the p95 ≤ 100 ms target. */
export const MAX_WAIT_MS = 15;

export class PredictionBatcher {
  private queue: { x: Float32Array; resolve: (p: number) => void; reject: (e: Error) => void }[] = [];
  private inDecode = 0;
  private timer: NodeJS.Timeout | undefined;
  private immediate: NodeJS.Immediate | undefined;

  constructor(
    private readonly predict: (x: Float32Array) => Float32Array,
    private readonly maxBatch = 64,
  ) {}

  /** Runs the decode of an image that will (or, if it fails, will not) come to `pBird`. */
  async decoding<T>(decode: Promise<T>): Promise<T> {
    this.inDecode++;
    try {
      return await decode;
    } finally {
      this.inDecode--;
      this.schedule();
    }
  }

  /** p(bird) for one normalised image. */
  pBird(x: Float32Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.queue.push({ x, resolve, reject });
      this.schedule();
    });
  }

  /** Flush once nothing more is coming (in this turn), the batch is full, or the wait is over. */
  private schedule(): void {
    if (!this.queue.length || this.immediate) return;
    if (this.inDecode === 0 || this.queue.length >= this.maxBatch) {
      this.immediate = setImmediate(() => this.flush());
    } else {
      this.timer ??= setTimeout(() => this.flush(), MAX_WAIT_MS);
    }
  }

  private flush(): void {
    clearTimeout(this.timer);
    this.timer = undefined;
    this.immediate = undefined;
    const batch = this.queue.splice(0, this.maxBatch);
    if (!batch.length) return;
    const x = new Float32Array(batch.length * PIXELS_PER_IMAGE);
    batch.forEach((item, i) => x.set(item.x, i * PIXELS_PER_IMAGE));
    try {
      const p = this.predict(x);
      batch.forEach((item, i) => item.resolve(p[i]!));
    } catch (error) {
      for (const item of batch) item.reject(error as Error);
    }
    this.schedule();
  }
}
