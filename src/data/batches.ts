/**
 * The DataLoader equivalent: a seeded shuffle each epoch, minibatches of normalised NHWC floats, and
 * optional augmentation (random crop from a 4-pixel zero-padded frame, horizontal flip).
 */
import { IMAGE_SIZE, PIXELS_PER_IMAGE, normalizeInto } from '../images/normalize.ts';
import type { LabeledImages } from './labels.ts';

export interface Batch {
  /** size × 32 × 32 × 3 normalised floats. */
  x: Float32Array;
  labels: Uint8Array;
  size: number;
  /** Which images of the data set these are, in order. */
  indices: Uint32Array;
}

export interface BatchOptions {
  batchSize: number;
  shuffle?: boolean;
  augment?: boolean;
  seed?: number;
}

const CROP_PAD = 4;

/** mulberry32: small, fast, and reproducible across platforms (Math.random is not seedable). */
export function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** 0, 1, …, count − 1. */
export function identityOrder(count: number): Uint32Array {
  const order = new Uint32Array(count);
  for (let i = 0; i < count; i++) order[i] = i;
  return order;
}

export function shuffledIndices(count: number, random: () => number): Uint32Array {
  const order = identityOrder(count);
  for (let i = count - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j]!, order[i]!];
  }
  return order;
}

/** Normalises the whole set once, so each epoch only copies (and augments) floats. */
export function normalizeAll(data: LabeledImages): Float32Array {
  const out = new Float32Array(data.count * PIXELS_PER_IMAGE);
  for (let i = 0; i < data.count; i++) {
    normalizeInto(
      data.pixels.subarray(i * PIXELS_PER_IMAGE, (i + 1) * PIXELS_PER_IMAGE),
      out,
      i * PIXELS_PER_IMAGE,
    );
  }
  return out;
}

/** Copies one image shifted by (dy, dx) and optionally mirrored; pixels shifted in from outside are 0. */
function copyAugmented(
  src: Float32Array,
  dst: Float32Array,
  at: number,
  dy: number,
  dx: number,
  flip: boolean,
) {
  const row = IMAGE_SIZE * 3;
  for (let y = 0; y < IMAGE_SIZE; y++) {
    const sy = y + dy;
    const outRow = at + y * row;
    if (sy < 0 || sy >= IMAGE_SIZE) {
      dst.fill(0, outRow, outRow + row);
      continue;
    }
    for (let x = 0; x < IMAGE_SIZE; x++) {
      const sx = (flip ? IMAGE_SIZE - 1 - x : x) + dx;
      const o = outRow + x * 3;
      if (sx < 0 || sx >= IMAGE_SIZE) {
        dst[o] = dst[o + 1] = dst[o + 2] = 0;
      } else {
        const s = sy * row + sx * 3;
        dst[o] = src[s]!;
        dst[o + 1] = src[s + 1]!;
        dst[o + 2] = src[s + 2]!;
      }
    }
  }
}

export class BatchLoader {
  private readonly normalized: Float32Array;

  constructor(
    private readonly data: LabeledImages,
    private readonly options: BatchOptions,
  ) {
    this.normalized = normalizeAll(data);
  }

  get count(): number {
    return this.data.count;
  }

  /** Batches in an epoch of `images` images (by default all of them). */
  batchesFor(images = this.data.count): number {
    return Math.ceil(images / this.options.batchSize);
  }

  /**
   * The batches of one epoch, of all images or of `subset` (indices into the data); the same seed, epoch and
   * subset always give the same order and augmentation.
   */
  *epoch(epoch = 0, subset?: Uint32Array): Generator<Batch> {
    const { batchSize, shuffle = false, augment = false, seed = 0 } = this.options;
    const random = seededRandom(seed * 100003 + epoch);
    const count = subset?.length ?? this.data.count;
    const positions = shuffle ? shuffledIndices(count, random) : identityOrder(count);
    const order = subset ? positions.map((i) => subset[i]!) : positions;
    for (let start = 0; start < order.length; start += batchSize) {
      const size = Math.min(batchSize, order.length - start);
      const x = new Float32Array(size * PIXELS_PER_IMAGE);
      const labels = new Uint8Array(size);
      const indices = order.slice(start, start + size);
      for (let i = 0; i < size; i++) {
        const index = indices[i]!;
        labels[i] = this.data.labels[index]!;
        const src = this.normalized.subarray(index * PIXELS_PER_IMAGE, (index + 1) * PIXELS_PER_IMAGE);
        if (augment) {
          const dy = Math.floor(random() * (2 * CROP_PAD + 1)) - CROP_PAD;
          const dx = Math.floor(random() * (2 * CROP_PAD + 1)) - CROP_PAD;
          copyAugmented(src, x, i * PIXELS_PER_IMAGE, dy, dx, random() < 0.5);
        } else {
          x.set(src, i * PIXELS_PER_IMAGE);
        }
      }
      yield { x, labels, size, indices };
    }
  }
}
