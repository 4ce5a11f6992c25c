/**
 * Training on the hard examples ("selective backprop", Jiang et al. 2019, from stale losses): after a few
 * whole epochs, each epoch trains on half of the images, favouring the ones the model got most wrong the
 * last time it saw them: the more an image's loss outranks the others', the likelier it is drawn, and easy
 * images are still revisited now and then. The epochs cost half as much, so twice as many fit into the
 * same time: in five minutes on two cores this took the default cnn from 0.936–0.9385 to 0.9435–0.9495
 * (docs/benchmarks.md, tenth session).
 */
import { identityOrder, seededRandom, shuffledIndices } from '../data/batches.ts';

export const SAMPLINGS = ['hard', 'all'] as const;
export type Sampling = (typeof SAMPLINGS)[number];

/** Whole epochs before sampling starts: every image needs a loss, from weights past their first steps. */
export const WARM_EPOCHS = 2;
/** The part of the images a sampled epoch trains on. */
export const SAMPLED_FRACTION = 0.5;

export class HardExampleSampler {
  /** Each image's loss the last time it was trained on; +∞ until then. */
  private readonly losses: Float32Array;

  constructor(
    count: number,
    private readonly seed: number,
  ) {
    this.losses = new Float32Array(count).fill(Infinity);
  }

  /** How many images epoch `epoch` trains on. */
  imagesIn(epoch: number): number {
    const count = this.losses.length;
    return epoch < WARM_EPOCHS ? count : Math.max(1, Math.round(count * SAMPLED_FRACTION));
  }

  /** Losses of the images at `indices`, from a training step. */
  record(indices: ArrayLike<number>, losses: ArrayLike<number>): void {
    for (let i = 0; i < indices.length; i++) this.losses[indices[i]!] = losses[i]!;
  }

  /**
   * The images of epoch `epoch`: undefined (all of them) in the warm epochs, then `imagesIn(epoch)` of them,
   * the image with the r-th smallest loss (r = 1 … n) drawn with probability r/(n+1): by systematic
   * sampling over the images in random order, so each epoch has exactly that many and no image twice.
   * In integers: image weights r·size sum to size·T, T = n(n+1)/2; an image is drawn when the running sum
   * passes the next of u, u+T, u+2T, …
   */
  subset(epoch: number): Uint32Array | undefined {
    if (epoch < WARM_EPOCHS) return undefined;
    const count = this.losses.length;
    const size = this.imagesIn(epoch);
    const rank = new Float64Array(count);
    identityOrder(count)
      .sort((a, b) => this.losses[a]! - this.losses[b]!)
      .forEach((image, r) => (rank[image] = r + 1));
    const random = seededRandom(this.seed * 7919 + epoch);
    const span = (count * (count + 1)) / 2;
    const drawn = new Uint32Array(size);
    let next = Math.floor(random() * span);
    let sum = 0;
    let k = 0;
    for (const image of shuffledIndices(count, random)) {
      sum += rank[image]! * size;
      if (sum > next) {
        drawn[k++] = image;
        next += span;
      }
    }
    return drawn;
  }
}
