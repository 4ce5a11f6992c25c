/**
 * Groups single-image predictions into one model call. A prediction runs on the JS thread; the images
 * whose decodes finish meanwhile queue up and go together in the next call, which costs less per image
 * than one call each. Nothing waits on purpose: a batch is whatever arrived since the last call, so the
 * model never holds back images while both cores have decoding to do (docs/benchmarks.md, "Watching").
 */
import { PIXELS_PER_IMAGE } from '../images/normalize.ts';

export class PredictionBatcher {
  private queue: { x: Float32Array; resolve: (p: number) => void; reject: (e: Error) => void }[] = [];
  private immediate: NodeJS.Immediate | undefined;

  constructor(
    private readonly predict: (x: Float32Array) => Float32Array,
    private readonly maxBatch = 64,
  ) {}

  /** p(bird) for one normalised image. */
  pBird(x: Float32Array): Promise<number> {
    return new Promise((resolve, reject) => {
      this.queue.push({ x, resolve, reject });
      this.immediate ??= setImmediate(() => this.flush());
    });
  }

  private flush(): void {
    this.immediate = undefined;
    const batch = this.queue.splice(0, this.maxBatch);
    if (this.queue.length) this.immediate = setImmediate(() => this.flush());
    const x = new Float32Array(batch.length * PIXELS_PER_IMAGE);
    batch.forEach((item, i) => x.set(item.x, i * PIXELS_PER_IMAGE));
    try {
      const p = this.predict(x);
      batch.forEach((item, i) => item.resolve(p[i]!));
    } catch (error) {
      for (const item of batch) item.reject(error as Error);
    }
  }
}
