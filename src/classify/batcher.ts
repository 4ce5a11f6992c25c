/**
 * Groups single-image predictions that arrive in the same event-loop turn into one model call: with
 * several files decoding at once, one batched forward pass costs far less than one call per image.
 */
import { PIXELS_PER_IMAGE } from '../images/normalize.ts';

export class PredictionBatcher {
  private queue: { x: Float32Array; resolve: (p: number) => void; reject: (e: Error) => void }[] = [];
  private scheduled = false;

  constructor(
    private readonly predict: (x: Float32Array) => Float32Array,
    private readonly maxBatch = 64,
  ) {}

  /** p(bird) for one normalised image. */
  pBird(x: Float32Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.queue.push({ x, resolve, reject });
      if (this.queue.length >= this.maxBatch) this.flush();
      else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  private flush(): void {
    this.scheduled = false;
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
    if (this.queue.length && !this.scheduled) {
      this.scheduled = true;
      setImmediate(() => this.flush());
    }
  }
}
