/** Thumbnails for the review grid: made once with sharp, cached on disk by content hash. */
import { existsSync } from 'node:fs';
import { mkdir, rename } from 'node:fs/promises';
import path from 'node:path';
import sharp from 'sharp';
import { MAX_INPUT_PIXELS } from '../images/preprocess.ts';

const SIZE = 256;

export async function thumbnailFor(source: string, sha256: string, cacheDir: string): Promise<string> {
  const file = path.join(cacheDir, `${sha256 || path.basename(source)}.webp`);
  if (existsSync(file)) return file;
  await mkdir(cacheDir, { recursive: true });
  const tmp = `${file}.${process.pid}.tmp`;
  await sharp(source, { limitInputPixels: MAX_INPUT_PIXELS, failOn: 'none' })
    .autoOrient()
    .resize(SIZE, SIZE, { fit: 'inside', withoutEnlargement: true })
    .webp({ quality: 75 })
    .toFile(tmp);
  await rename(tmp, file); // concurrent requests for one image never see a half-written file
  return file;
}
