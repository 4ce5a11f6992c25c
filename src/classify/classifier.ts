/**
 * Image files in, bird/airplane decisions out: the one path from a file on disk to p(bird), shared by
 * the CLI, the folder watcher and the app. Decoding runs in sharp's thread pool (both cores); images
 * decoded while the model runs share its next call (batcher.ts).
 */
import type * as tf from '@tensorflow/tfjs';
import type { ClassName } from '../data/labels.ts';
import { preprocessImage } from '../images/preprocess.ts';
import { selectBackend, type BackendChoice } from '../model/backend.ts';
import { inferenceGraph, type InferenceGraph } from '../model/inference-graph.ts';
import { loadModel, type ModelMetadata } from '../model/model-files.ts';
import { predictBird } from '../model/predict.ts';
import { resolveModelDir } from '../model/locate.ts';
import { PredictionBatcher } from './batcher.ts';

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
  ) {
    // The classifier's model is never trained further, so its weights can be folded once.
    this.graph = inferenceGraph(model);
  }

  private readonly graph: InferenceGraph | undefined;
  private readonly batcher = new PredictionBatcher((x) => this.predict(x));

  static async load(options: { modelDir?: string; backend?: BackendChoice } = {}): Promise<Classifier> {
    const backend = await selectBackend(options.backend ?? 'auto');
    const dir = resolveModelDir(options.modelDir);
    const { model, metadata } = await loadModel(dir);
    return new Classifier(model, metadata, dir, backend);
  }

  /** p(bird) for already-normalised 32×32 images laid end to end. */
  predict(x: Float32Array): Float32Array {
    return predictBird(this.model, x, this.graph);
  }

  /** Decodes and classifies one image; throws ImageDecodeError for input it cannot read as an image. */
  async classifyFile(input: string | Buffer, name?: string): Promise<Decision> {
    return this.classifyPixels(await preprocessImage(input, name ? { name } : {}));
  }

  /** Classifies one image decoded elsewhere (preprocessImage's output). */
  async classifyPixels(x: Float32Array): Promise<Decision> {
    return decide(await this.batcher.pBird(x));
  }

  /** Classifies many files, decoding several at once, in input order; one bad file never stops the rest. */
  async *classifyFiles(
    files: string[],
    concurrency = 4,
  ): AsyncGenerator<{ path: string } & ({ decision: Decision } | { error: Error })> {
    const window = concurrency * 16;
    for (let start = 0; start < files.length; start += window) {
      yield* await mapLimit(files.slice(start, start + window), concurrency, async (file) => {
        try {
          return { path: file, decision: await this.classifyFile(file) };
        } catch (error) {
          return { path: file, error: error as Error };
        }
      });
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
