/**
 * The book's per-channel normalisation, shared by every path that turns pixels into model input
 * (CIFAR batches, local images at inference, evaluation), so the model always sees one input space.
 */
export const IMAGE_SIZE = 32;
export const CHANNELS = 3;
export const PIXELS_PER_IMAGE = IMAGE_SIZE * IMAGE_SIZE * CHANNELS;
export const CHANNEL_MEAN = [0.4915, 0.4823, 0.4468] as const;
export const CHANNEL_STD = [0.247, 0.2435, 0.2616] as const;

// (v / 255 - mean) / std, folded into one multiply-add per channel.
const SCALE = CHANNEL_STD.map((s) => 1 / (255 * s));
const SHIFT = CHANNEL_MEAN.map((m, c) => -m / CHANNEL_STD[c]!);

/** Normalises one 32×32 RGB image stored HWC (interleaved) as bytes into `out` at `offset`. */
export function normalizeInto(pixels: Uint8Array, out: Float32Array, offset = 0): void {
  const [s0, s1, s2] = SCALE as [number, number, number];
  const [b0, b1, b2] = SHIFT as [number, number, number];
  for (let i = 0; i < PIXELS_PER_IMAGE; i += 3) {
    out[offset + i] = pixels[i]! * s0 + b0;
    out[offset + i + 1] = pixels[i + 1]! * s1 + b1;
    out[offset + i + 2] = pixels[i + 2]! * s2 + b2;
  }
}
