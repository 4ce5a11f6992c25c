/** Small generated data sets for tests: learnable, deterministic, and made without any download. */
import { rmSync } from 'node:fs';
import { mkdtemp, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import sharp from 'sharp';
import { seededRandom } from '../../src/data/batches.ts';
import type { LabeledImages } from '../../src/data/labels.ts';
import { PIXELS_PER_IMAGE } from '../../src/images/normalize.ts';

const made: string[] = [];
// Each test file runs in its own process: its folders go when it ends, passed or failed.
process.once('exit', () => {
  for (const dir of made) rmSync(dir, { recursive: true, force: true });
});

/** A new folder under the system's temp folder, removed when the test process exits. */
export async function tempDir(prefix = 'birdgate-test-'): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), prefix));
  made.push(dir);
  return dir;
}

/**
 * "Airplanes" are bright in the top half (sky), "birds" bright in the left half, both with noise: easy to
 * learn, impossible to guess, so a model that beats chance on them has learned something.
 */
export function syntheticImages(count: number, seed = 1): LabeledImages {
  const random = seededRandom(seed);
  const pixels = new Uint8Array(count * PIXELS_PER_IMAGE);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % 2;
    labels[i] = label;
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 32; x++) {
        const bright = label === 0 ? y < 16 : x < 16;
        for (let c = 0; c < 3; c++) {
          const base = bright ? 170 : 80;
          pixels[i * PIXELS_PER_IMAGE + (y * 32 + x) * 3 + c] = Math.max(
            0,
            Math.min(255, base + (random() - 0.5) * 120),
          );
        }
      }
    }
  }
  return { count, pixels, labels };
}

/** Writes images in the official CIFAR-10 binary layout (label byte, then R, G, B planes). */
export async function writeCifarBatch(
  file: string,
  images: LabeledImages,
  cifarLabels = [0, 2],
): Promise<void> {
  const out = Buffer.alloc(images.count * 3073);
  for (let i = 0; i < images.count; i++) {
    const record = i * 3073;
    out[record] = cifarLabels[images.labels[i]!]!;
    for (let p = 0; p < 1024; p++) {
      for (let c = 0; c < 3; c++)
        out[record + 1 + c * 1024 + p] = images.pixels[i * PIXELS_PER_IMAGE + p * 3 + c]!;
    }
  }
  await writeFile(file, out);
}

/** A CIFAR-style folder: five training batches of `perBatch` images and one test batch. */
export async function writeCifarFolder(dir: string, perBatch = 40, testCount = 40): Promise<void> {
  for (let b = 1; b <= 5; b++)
    await writeCifarBatch(path.join(dir, `data_batch_${b}.bin`), syntheticImages(perBatch, b));
  await writeCifarBatch(path.join(dir, 'test_batch.bin'), syntheticImages(testCount, 99));
}

/** Saves image `index` of a set as a JPEG of the given size, as a camera would. */
export async function writeJpeg(
  file: string,
  images: LabeledImages,
  index: number,
  size = 256,
): Promise<void> {
  const raw = Buffer.from(images.pixels.subarray(index * PIXELS_PER_IMAGE, (index + 1) * PIXELS_PER_IMAGE));
  await sharp(raw, { raw: { width: 32, height: 32, channels: 3 } })
    .resize(size, size, { kernel: 'nearest' })
    .jpeg({ quality: 90 })
    .toFile(file);
}

/**
 * A PNG whose header claims width×height but holds a single pixel of data: a decompression bomb, a few
 * dozen bytes on disk.
 */
export async function pngDeclaring(width: number, height: number): Promise<Buffer> {
  const png = await sharp({ create: { width: 1, height: 1, channels: 3, background: '#000' } })
    .png()
    .toBuffer();
  // IHDR is the first chunk: 8-byte signature, 4-byte length, 'IHDR', then width and height.
  if (png.toString('latin1', 12, 16) !== 'IHDR') throw new Error('unexpected PNG layout');
  png.writeUInt32BE(width, 16);
  png.writeUInt32BE(height, 20);
  png.writeUInt32BE(crc32(png.subarray(12, 29)), 29);
  return png;
}

// zlib.crc32 only exists from Node 20.15, and engines allows any Node 20.
function crc32(bytes: Uint8Array): number {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0xedb88320 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
