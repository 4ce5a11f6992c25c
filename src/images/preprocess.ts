/**
 * The single image → model-input path. Inference, training on local images and evaluation all call
 * this, so a frame is decoded, oriented, flattened and resized identically wherever it is seen.
 * Policy and reasoning: docs/preprocessing.md.
 */
import { readFile } from 'node:fs/promises';
import exifr from 'exifr';
import sharp from 'sharp';
import { IMAGE_SIZE, PIXELS_PER_IMAGE, normalizeInto } from './normalize.ts';

/**
 * Refuse images over 50 megapixels before decoding. Camera frames are far below this (1080p ≈ 2 MP,
 * 4K ≈ 8.3 MP, a 24 MP still is fine), while a few-KB "decompression bomb" PNG declaring e.g.
 * 50 000×50 000 pixels would otherwise make libvips allocate gigabytes. sharp's own default limit
 * (~268 MP) is far too generous for a folder watcher that decodes whatever lands in it.
 */
export const MAX_INPUT_PIXELS = 50_000_000;

// libvips caches operations by their inputs to reuse results; every frame Birdgate decodes is new, so the
// cache only costs: off, decoding takes ~15 % less CPU (docs/benchmarks.md).
sharp.cache(false);

export type ImageDecodeErrorCode = 'empty' | 'too-large' | 'unsupported' | 'corrupt' | 'unreadable';

export class ImageDecodeError extends Error {
  override readonly name = 'ImageDecodeError';

  constructor(
    readonly code: ImageDecodeErrorCode,
    /** The file path, or the caller-supplied name for a Buffer input. */
    readonly file: string,
    message: string,
    options?: { cause?: unknown },
  ) {
    super(`${file}: ${message}`, options);
  }
}

export interface PreprocessOptions {
  /** Pixel limit (width × height); defaults to MAX_INPUT_PIXELS. */
  maxPixels?: number;
  /** Name used in error messages when the input is a Buffer. */
  name?: string;
}

/**
 * Decodes any image sharp reads (JPEG, PNG, WebP, first frame of GIF, TIFF, AVIF…) into 32×32 RGB
 * bytes, HWC interleaved (3072 bytes). Throws ImageDecodeError for anything it cannot use.
 */
export async function loadImagePixels(
  input: string | Buffer,
  opts: PreprocessOptions = {},
): Promise<Uint8Array> {
  const file = typeof input === 'string' ? input : (opts.name ?? '<buffer>');
  const maxPixels = opts.maxPixels ?? MAX_INPUT_PIXELS;
  if (!Number.isSafeInteger(maxPixels) || maxPixels <= 0) {
    throw new RangeError(`maxPixels must be a positive integer, got ${maxPixels}`);
  }

  // Read the bytes ourselves rather than handing sharp a path: fs errors keep their code and message,
  // and libvips's file cache never keeps the file open (on Windows that blocks moving it afterwards).
  let bytes: Buffer;
  if (typeof input === 'string') {
    try {
      bytes = await readFile(input);
    } catch (err) {
      throw new ImageDecodeError('unreadable', file, `cannot read file: ${(err as Error).message}`, {
        cause: err,
      });
    }
  } else {
    bytes = input;
  }
  if (bytes.length === 0) throw new ImageDecodeError('empty', file, 'file is empty (0 bytes)');

  // One sharp chain, so sharp can shrink on load: libjpeg decodes a large JPEG at 1/2–1/8 scale (WebP
  // and others similarly) instead of materialising the full frame and then resizing it.
  const pipeline = sharp(bytes, {
    // Checked against header dimensions before any pixel is decoded.
    limitInputPixels: maxPixels,
    // Refuse truncated files instead of returning a half-grey image, but tolerate the benign
    // warnings many cameras' JPEGs trigger (e.g. extraneous bytes before a marker).
    failOn: 'truncated',
    // Apply EXIF Orientation so a portrait shot is seen upright, as a person would see it.
    autoOrient: true,
    // Multi-frame inputs (animated GIF/WebP, multi-page TIFF): first frame only.
    pages: 1,
  })
    // Transparent areas become black, not white: CIFAR airplanes sit on pale sky, so a white fill
    // would nudge transparent cut-outs towards 'airplane'. Black is also what a dropped alpha
    // channel usually shows, and it ignores whatever RGB is hidden under alpha 0.
    .flatten({ background: { r: 0, g: 0, b: 0 } })
    // Whole frame squashed to 32×32 (fit 'fill'), never centre-cropped: a camera-trap subject can be
    // anywhere, and a crop would cut off birds at the edges. CIFAR images are square, so square frames
    // are undistorted and 4:3/16:9 ones only squeezed sideways, a smaller loss than a missing subject.
    // Lanczos3 anti-aliases well even at ratios like 4K → 32 px.
    .resize(IMAGE_SIZE, IMAGE_SIZE, { fit: 'fill', kernel: 'lanczos3' })
    // Embedded ICC profiles (Display P3, Adobe RGB, CMYK) are converted; greyscale becomes 3 bands.
    .toColourspace('srgb')
    .raw({ depth: 'uchar' });

  let data: Buffer;
  let channels: number;
  try {
    const out = await pipeline.toBuffer({ resolveWithObject: true });
    data = out.data;
    channels = out.info.channels;
  } catch (err) {
    throw await classifySharpError(err, bytes, file, maxPixels);
  }
  if (channels !== 3 || data.length !== PIXELS_PER_IMAGE) {
    throw new ImageDecodeError('unsupported', file, `decoded to ${channels} channels, expected RGB`);
  }
  // Copy into an exact-size array: Buffers can be views into sharp's larger pool.
  return new Uint8Array(data);
}

/** loadImagePixels + the shared normalisation: a Float32Array(3072), one 32×32×3 NHWC slice. */
export async function preprocessImage(
  input: string | Buffer,
  opts?: PreprocessOptions,
): Promise<Float32Array> {
  const pixels = await loadImagePixels(input, opts);
  const out = new Float32Array(PIXELS_PER_IMAGE);
  normalizeInto(pixels, out);
  return out;
}

/**
 * Capture time from EXIF DateTimeOriginal, else CreateDate (EXIF DateTimeDigitized), as local time:
 * EXIF dates carry no time zone. Pass the bytes when they are already in memory: no second read. Never throws: missing, unreadable or malformed metadata → undefined.
 */
export async function readCaptureTime(input: string | Buffer): Promise<Date | undefined> {
  // An empty file has nothing to read, and exifr leaves a handle open on one (closed only by GC).
  if (input.length === 0) return undefined;
  try {
    // Raw strings, not exifr's revived Dates: it turns an unset camera clock's "0000:00:00 00:00:00"
    // into 1899-11-30 instead of rejecting it.
    const tags: unknown = await exifr.parse(input, {
      pick: ['DateTimeOriginal', 'CreateDate'],
      reviveValues: false,
    });
    if (typeof tags !== 'object' || tags === null) return undefined;
    const { DateTimeOriginal, CreateDate } = tags as Record<string, unknown>;
    return parseExifDate(DateTimeOriginal) ?? parseExifDate(CreateDate);
  } catch {
    return undefined;
  }
}

/** "YYYY:MM:DD HH:MM:SS" (trailing sub-seconds or zone ignored) → local Date, if it is a real date. */
function parseExifDate(value: unknown): Date | undefined {
  if (typeof value !== 'string') return undefined;
  const m = /^(\d{4})[:-](\d{2})[:-](\d{2})[ T](\d{2}):(\d{2}):(\d{2})/.exec(value.trim());
  if (!m) return undefined;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  if (h > 23 || mi > 59 || s > 59) return undefined;
  const date = new Date(y, mo - 1, d, h, mi, s);
  // Date rolls invalid fields over (month 0, day 32, year 0 → 1900), so a real date round-trips.
  // Hours are not compared: a wall-clock time in a DST gap legitimately shifts by an hour.
  const roundTrips = date.getFullYear() === y && date.getMonth() === mo - 1 && date.getDate() === d;
  return roundTrips ? date : undefined;
}

// sharp reports failures only as Error messages (no codes), so classification matches their text.
async function classifySharpError(
  err: unknown,
  bytes: Buffer,
  file: string,
  maxPixels: number,
): Promise<ImageDecodeError> {
  const message = err instanceof Error ? err.message : String(err);
  if (/exceeds pixel limit/i.test(message)) {
    return new ImageDecodeError(
      'too-large',
      file,
      `image${await describeSize(bytes)} exceeds the ${formatMegapixels(maxPixels)} limit; ` +
        'refusing to decode (possible decompression bomb)',
      { cause: err },
    );
  }
  if (/unsupported image format/i.test(message)) {
    return new ImageDecodeError('unsupported', file, 'not an image format that can be decoded', {
      cause: err,
    });
  }
  return new ImageDecodeError('corrupt', file, `image data is truncated or corrupt (${message})`, {
    cause: err,
  });
}

// Header-only read (no pixels decoded), so it is safe even for a decompression bomb.
async function describeSize(bytes: Buffer): Promise<string> {
  try {
    const { width, height } = await sharp(bytes, { limitInputPixels: false }).metadata();
    return ` of ${width}×${height} (${formatMegapixels(width * height)})`;
  } catch {
    return '';
  }
}

function formatMegapixels(pixels: number): string {
  return `${Number((pixels / 1e6).toPrecision(3))} MP`;
}
