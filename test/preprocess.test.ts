import assert from 'node:assert/strict';
import { chmod, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp, { type Sharp } from 'sharp';
import { CHANNEL_MEAN, CHANNEL_STD, PIXELS_PER_IMAGE } from '../src/images/normalize.ts';
import {
  ImageDecodeError,
  MAX_INPUT_PIXELS,
  loadImagePixels,
  preprocessImage,
  readCaptureTime,
  type ImageDecodeErrorCode,
} from '../src/images/preprocess.ts';
import { pngDeclaring, tempDir } from './helpers/fixtures.ts';

type Rgb = readonly [number, number, number];
const RED: Rgb = [255, 0, 0];
const GREEN: Rgb = [0, 255, 0];
const BLUE: Rgb = [0, 0, 255];
const BLACK: Rgb = [0, 0, 0];

let dir: string;
before(async () => {
  dir = await tempDir('birdgate-preprocess-');
});
after(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Raw RGB canvas whose pixel colour is chosen by `paint(x, y)`. */
function canvas(width: number, height: number, paint: (x: number, y: number) => Rgb): Sharp {
  const raw = Buffer.alloc(width * height * 3);
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) raw.set(paint(x, y), (y * width + x) * 3);
  }
  return sharp(raw, { raw: { width, height, channels: 3 } });
}

function solid(width: number, height: number, colour: Rgb): Sharp {
  return canvas(width, height, () => colour);
}

async function writeFixture(name: string, data: Buffer | string): Promise<string> {
  const path = join(dir, name);
  await writeFile(path, data);
  return path;
}

/** Output pixel (x, y) of a 32×32 HWC result. */
function pixel(pixels: Uint8Array, x: number, y: number): Rgb {
  const i = (y * 32 + x) * 3;
  return [pixels[i]!, pixels[i + 1]!, pixels[i + 2]!];
}

function assertNear(actual: Rgb, expected: Rgb, tolerance: number, where: string): void {
  for (let c = 0; c < 3; c++) {
    assert.ok(
      Math.abs(actual[c]! - expected[c]!) <= tolerance,
      `${where}: got [${actual.join(',')}], expected [${expected.join(',')}] ±${tolerance}`,
    );
  }
}

async function assertDecodeError(
  input: string | Buffer,
  code: ImageDecodeErrorCode,
  mentions: RegExp,
  opts?: { maxPixels?: number; name?: string },
): Promise<void> {
  await assert.rejects(loadImagePixels(input, opts), (err: unknown) => {
    assert.ok(err instanceof ImageDecodeError, `expected ImageDecodeError, got ${String(err)}`);
    assert.equal(err.code, code);
    assert.match(err.message, mentions);
    return true;
  });
}

describe('preprocessImage: known pixels in, known tensor out', () => {
  test('solid 32×32 colour → every pixel equals the normalised value', async () => {
    const colour: Rgb = [255, 0, 128];
    const path = await writeFixture('solid.png', await solid(32, 32, colour).png().toBuffer());
    const tensor = await preprocessImage(path);
    assert.ok(tensor instanceof Float32Array);
    assert.equal(tensor.length, PIXELS_PER_IMAGE);
    const expected = colour.map((v, c) => (v / 255 - CHANNEL_MEAN[c]!) / CHANNEL_STD[c]!);
    for (let i = 0; i < PIXELS_PER_IMAGE; i++) {
      const want = expected[i % 3]!;
      assert.ok(Math.abs(tensor[i]! - want) < 1e-5, `index ${i}: ${tensor[i]} vs ${want}`);
    }
  });

  test('64×64 left red / right blue → left output columns red, right columns blue', async () => {
    const png = await canvas(64, 64, (x) => (x < 32 ? RED : BLUE))
      .png()
      .toBuffer();
    const pixels = await loadImagePixels(png);
    assert.equal(pixels.length, PIXELS_PER_IMAGE);
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 14; x++) assertNear(pixel(pixels, x, y), RED, 2, `(${x},${y})`);
      for (let x = 18; x < 32; x++) assertNear(pixel(pixels, x, y), BLUE, 2, `(${x},${y})`);
    }
  });

  test('whole frame is kept: a 64×32 image’s green left quarter survives (a centre crop would drop it)', async () => {
    const png = await canvas(64, 32, (x) => (x < 16 ? GREEN : RED))
      .png()
      .toBuffer();
    const pixels = await loadImagePixels(png);
    for (let y = 0; y < 32; y++) {
      for (let x = 0; x < 6; x++) assertNear(pixel(pixels, x, y), GREEN, 2, `(${x},${y})`);
      for (let x = 10; x < 32; x++) assertNear(pixel(pixels, x, y), RED, 2, `(${x},${y})`);
    }
  });

  test('Buffer and path inputs give identical results', async () => {
    const png = await canvas(40, 30, (x, y) => [x * 6, y * 8, 100])
      .png()
      .toBuffer();
    const path = await writeFixture('gradient.png', png);
    assert.deepEqual(await loadImagePixels(png), await loadImagePixels(path));
  });
});

describe('loadImagePixels: orientation, alpha and colour', () => {
  // Stored pixels: 64 wide × 32 tall, top four rows red, rest black.
  const stored = () => canvas(64, 32, (_x, y) => (y < 4 ? RED : BLACK));

  test('without EXIF orientation the red band stays on top (control)', async () => {
    const pixels = await loadImagePixels(await stored().jpeg({ quality: 95 }).toBuffer());
    for (let x = 0; x < 32; x++) assertNear(pixel(pixels, x, 0), RED, 12, `top (${x},0)`);
    assertNear(pixel(pixels, 0, 31), BLACK, 12, 'bottom-left');
  });

  test('EXIF orientation 6 (rotate 90° clockwise) moves the red top row to the right column', async () => {
    const jpeg = await stored().jpeg({ quality: 95 }).withMetadata({ orientation: 6 }).toBuffer();
    assert.equal((await sharp(jpeg).metadata()).orientation, 6);
    const pixels = await loadImagePixels(await writeFixture('rotated.jpg', jpeg));
    for (let y = 0; y < 32; y++) {
      assertNear(pixel(pixels, 31, y), RED, 12, `right column (31,${y})`);
      assertNear(pixel(pixels, 0, y), BLACK, 12, `left column (0,${y})`);
    }
    assertNear(pixel(pixels, 0, 0), BLACK, 12, 'top-left is no longer red');
  });

  test('transparency is flattened onto black', async () => {
    const png = await sharp({
      create: { width: 16, height: 16, channels: 4, background: { r: 255, g: 255, b: 255, alpha: 0 } },
    })
      .png()
      .toBuffer();
    const pixels = await loadImagePixels(png);
    assert.ok(
      pixels.every((v) => v === 0),
      'fully transparent white should become black',
    );

    const half = await sharp({
      create: { width: 16, height: 16, channels: 4, background: { r: 255, g: 255, b: 255, alpha: 0.5 } },
    })
      .png()
      .toBuffer();
    assertNear(pixel(await loadImagePixels(half), 5, 5), [128, 128, 128], 2, 'half-transparent white');
  });

  test('greyscale and 16-bit inputs become 8-bit RGB', async () => {
    const grey = await solid(20, 20, [90, 90, 90]).toColourspace('b-w').png().toBuffer();
    assert.equal((await sharp(grey).metadata()).channels, 1);
    assertNear(pixel(await loadImagePixels(grey), 3, 3), [90, 90, 90], 1, 'greyscale');

    const deep = await solid(20, 20, [255, 0, 128]).toColourspace('rgb16').png().toBuffer();
    assert.equal((await sharp(deep).metadata()).depth, 'ushort');
    const pixels = await loadImagePixels(deep);
    assert.equal(pixels.length, PIXELS_PER_IMAGE);
    assertNear(pixel(pixels, 3, 3), [255, 0, 128], 1, '16-bit');
  });
});

describe('loadImagePixels: formats', () => {
  const colour: Rgb = [40, 160, 220];
  for (const format of ['jpeg', 'png', 'webp', 'gif', 'tiff', 'avif'] as const) {
    test(`${format} decodes`, async () => {
      const path = await writeFixture(
        `colour.${format}`,
        await solid(48, 40, colour).toFormat(format).toBuffer(),
      );
      const pixels = await loadImagePixels(path);
      assert.equal(pixels.length, PIXELS_PER_IMAGE);
      // Lossy formats and GIF's palette shift colours slightly.
      assertNear(pixel(pixels, 16, 16), colour, 12, format);
    });
  }
});

describe('loadImagePixels: refusals', () => {
  test('MAX_INPUT_PIXELS admits a 4K frame', () => {
    assert.ok(MAX_INPUT_PIXELS >= 3840 * 2160);
  });

  test('a tiny PNG declaring 10000×10000 pixels is refused as too-large before decoding', async () => {
    const bomb = await pngDeclaring(10_000, 10_000);
    assert.ok(bomb.length < 200);
    const path = await writeFixture('bomb.png', bomb);
    await assertDecodeError(path, 'too-large', /bomb\.png.*10000×10000.*exceeds the 50 MP limit/);
  });

  test('maxPixels lowers the limit', async () => {
    const png = await solid(100, 100, RED).png().toBuffer();
    await assertDecodeError(png, 'too-large', /^upload\.png: .*100×100.*exceeds the 0\.005 MP limit/, {
      maxPixels: 5000,
      name: 'upload.png',
    });
    assert.equal((await loadImagePixels(png, { maxPixels: 10_000 })).length, PIXELS_PER_IMAGE);
  });

  test('zero-byte file → empty', async () => {
    const path = await writeFixture('empty.jpg', Buffer.alloc(0));
    await assertDecodeError(path, 'empty', /empty\.jpg.*empty/);
  });

  test('text file named .jpg → unsupported', async () => {
    const path = await writeFixture('x.jpg', 'this is not an image\n');
    await assertDecodeError(path, 'unsupported', /x\.jpg.*not an image/);
  });

  test('truncated JPEG → corrupt, not a half-grey image', async () => {
    // Noise defeats compression, so the first half of the file holds only part of the scan data.
    const noise = canvas(256, 192, (x, y) => [(x * 37 + y * 11) % 256, (x * y) % 256, (x ^ y) % 256]);
    const jpeg = await noise.jpeg().toBuffer();
    const path = await writeFixture('truncated.jpg', jpeg.subarray(0, Math.floor(jpeg.length / 2)));
    await assertDecodeError(path, 'corrupt', /truncated\.jpg.*truncated or corrupt/);
  });

  test('missing path → unreadable, keeping the original message', async () => {
    const path = join(dir, 'no-such-file.jpg');
    await assertDecodeError(path, 'unreadable', /no-such-file\.jpg.*ENOENT/);
  });

  test('directory → unreadable', async () => {
    await assertDecodeError(dir, 'unreadable', /EISDIR/);
  });

  test(
    'permission denied → unreadable',
    { skip: process.getuid?.() === 0 && 'root ignores file modes' },
    async () => {
      const path = await writeFixture('locked.png', await solid(8, 8, RED).png().toBuffer());
      await chmod(path, 0o000);
      await assertDecodeError(path, 'unreadable', /locked\.png.*EACCES/);
    },
  );

  test('an invalid maxPixels is a programming error, not a decode error', async () => {
    await assert.rejects(loadImagePixels(Buffer.from('x'), { maxPixels: 0 }), RangeError);
  });
});

describe('readCaptureTime', () => {
  test('JPEG with DateTimeOriginal → that date (EXIF has no zone: local time)', async () => {
    const jpeg = await solid(16, 16, RED)
      .jpeg()
      .withExif({
        IFD0: { DateTime: '2025:01:01 00:00:00' },
        IFD2: { DateTimeOriginal: '2024:05:06 07:08:09', DateTimeDigitized: '2024:05:06 07:08:30' },
      })
      .toBuffer();
    const when = await readCaptureTime(await writeFixture('dated.jpg', jpeg));
    assert.deepEqual(when, new Date(2024, 4, 6, 7, 8, 9));
  });

  test('falls back to CreateDate (DateTimeDigitized)', async () => {
    const jpeg = await solid(16, 16, RED)
      .jpeg()
      .withExif({ IFD2: { DateTimeDigitized: '2023:11:12 13:14:15' } })
      .toBuffer();
    const when = await readCaptureTime(await writeFixture('digitized.jpg', jpeg));
    assert.deepEqual(when, new Date(2023, 10, 12, 13, 14, 15));
  });

  test('an unset camera clock is not a date; CreateDate is used instead when valid', async () => {
    const exif = (tags: Record<string, string>) =>
      solid(16, 16, RED).jpeg().withExif({ IFD2: tags }).toBuffer();
    const zeros = await writeFixture('zeros.jpg', await exif({ DateTimeOriginal: '0000:00:00 00:00:00' }));
    assert.equal(await readCaptureTime(zeros), undefined);
    // The EXIF spec's "unknown" form: separators kept, digits blanked.
    const blank = await writeFixture('blank.jpg', await exif({ DateTimeOriginal: '    :  :     :  :  ' }));
    assert.equal(await readCaptureTime(blank), undefined);
    const rolled = await writeFixture('rolled.jpg', await exif({ DateTimeOriginal: '2024:02:30 10:00:00' }));
    assert.equal(await readCaptureTime(rolled), undefined);
    const fallback = await writeFixture(
      'fallback.jpg',
      await exif({ DateTimeOriginal: '0000:00:00 00:00:00', DateTimeDigitized: '2022:03:04 05:06:07' }),
    );
    assert.deepEqual(await readCaptureTime(fallback), new Date(2022, 2, 4, 5, 6, 7));
  });

  test('PNG, text file and missing file → undefined', async () => {
    const png = await writeFixture('plain.png', await solid(16, 16, RED).png().toBuffer());
    assert.equal(await readCaptureTime(png), undefined);
    assert.equal(await readCaptureTime(await writeFixture('notes.jpg', 'not an image')), undefined);
    assert.equal(await readCaptureTime(join(dir, 'missing.jpg')), undefined);
  });
});
