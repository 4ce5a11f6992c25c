/**
 * Image files in, bird/airplane decisions out: the one path from a file on disk to p(bird), shared by
 * the CLI, the folder watcher and the app. Decoding runs in sharp's thread pool (both cores); the
 * model runs on the main thread in batches.
 */
import type * as tf from '@tensorflow/tfjs';
import type { ClassName } from '../data/labels.ts';
import { PIXELS_PER_IMAGE } from '../images/normalize.ts';
import { preprocessImage } from '../images/preprocess.ts';
import { selectBackend, type BackendChoice } from '../model/backend.ts';
import { loadModel, type ModelMetadata } from '../model/model-files.ts';
import { predictBird } from '../model/predict.ts';
import { resolveModelDir } from '../model/locate.ts';

export interface Decision {
  pBird: number;
  label: ClassName;
}

export function decide(pBird: number): Decision {
  return { pBird, label: pBird >= 0.5 ? 'bird' : 'airplane' };
}

export class Classifier {
  private constructor(
    readonly model: tf.LayersModel,
    readonly metadata: ModelMetadata,
    readonly modelDir: string,
    readonly backend: string,
  ) {}

  static async load(options: { modelDir?: string; backend?: BackendChoice } = {}): Promise<Classifier> {
    const backend = await selectBackend(options.backend ?? 'auto');
    const dir = resolveModelDir(options.modelDir);
    const { model, metadata } = await loadModel(dir);
    return new Classifier(model, metadata, dir, backend);
  }

  /** p(bird) for already-normalised 32×32 images laid end to end. */
  predict(x: Float32Array): Float32Array {
    return predictBird(this.model, x);
  }

  /** Decodes and classifies one file; throws ImageDecodeError for files it cannot read as images. */
  async classifyFile(file: string): Promise<Decision> {
    const x = await preprocessImage(file);
    return decide(this.predict(x)[0]!);
  }

  /** Classifies many files, decoding several at once; one bad file never stops the rest. */
  async *classifyFiles(
    files: Iterable<string>,
    concurrency = 4,
  ): AsyncGenerator<{ path: string } & ({ decision: Decision } | { error: Error })> {
    const queue = [...files];
    let next = 0;
    while (next < queue.length) {
      const chunk = queue.slice(next, next + concurrency * 8);
      next += chunk.length;
      const decoded = await mapLimit(chunk, concurrency, async (file) => {
        try {
          return { file, x: await preprocessImage(file) };
        } catch (error) {
          return { file, error: error as Error };
        }
      });
      const good = decoded.filter((d): d is { file: string; x: Float32Array } => 'x' in d);
      const batch = new Float32Array(good.length * PIXELS_PER_IMAGE);
      good.forEach((d, i) => batch.set(d.x, i * PIXELS_PER_IMAGE));
      const p = good.length ? this.predict(batch) : new Float32Array();
      let g = 0;
      for (const d of decoded) {
        if ('x' in d) yield { path: d.file, decision: decide(p[g++]!) };
        else yield { path: d.file, error: d.error! };
      }
    }
  }
}

/** Runs `fn` over items with at most `limit` in flight, keeping the input order in the result. */
export async function mapLimit<T, R>(items: T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let index = 0;
  const workers = Array.from({ length: Math.min(limit, items.length) }, async () => {
    while (index < items.length) {
      const i = index++;
      results[i] = await fn(items[i]!);
    }
  });
  await Promise.all(workers);
  return results;
}
