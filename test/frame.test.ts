import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import sharp from 'sharp';
import { Worker } from 'node:worker_threads';
import { FrameReader, spawnFrameThread } from '../src/images/frame-reader.ts';
import { preprocessImage } from '../src/images/preprocess.ts';
import { tempDir } from './helpers/fixtures.ts';

let dir: string;
let reader: FrameReader;
before(async () => {
  dir = await tempDir('birdgate-frame-');
  reader = new FrameReader();
});
after(async () => {
  await reader.close();
  await rm(dir, { recursive: true, force: true });
});

/** A 640×480 gradient JPEG with an EXIF capture time. */
async function cameraJpeg(name: string): Promise<string> {
  const raw = Buffer.alloc(640 * 480 * 3);
  for (let i = 0; i < raw.length; i++) raw[i] = (i * 7) % 251;
  const file = join(dir, name);
  await sharp(raw, { raw: { width: 640, height: 480, channels: 3 } })
    .withExif({ IFD2: { DateTimeOriginal: '2024:05:01 12:34:56' } })
    .jpeg()
    .toFile(file);
  return file;
}

describe('FrameReader: a file read once on its own thread', () => {
  test('an image: the sha256 of its bytes, its EXIF capture time and exactly what preprocessImage gives', async () => {
    const file = await cameraJpeg('frame.jpg');
    const frame = await reader.read(file);
    assert.equal(frame.kind, 'image');
    if (frame.kind !== 'image') return;
    assert.equal(
      frame.sha256,
      createHash('sha256')
        .update(await readFile(file))
        .digest('hex'),
    );
    assert.equal(frame.captureTime, new Date(2024, 4, 1, 12, 34, 56).toISOString());
    assert.deepEqual(frame.pixels, await preprocessImage(file));
  });

  test('many at once come back each to its own caller', async () => {
    const files = await Promise.all(['a', 'b', 'c', 'd'].map((n) => cameraJpeg(`${n}.jpg`)));
    await writeFile(files[1]!, 'not a jpeg'); // b is no image: its answer must not land on a, c or d
    const frames = await Promise.all(files.map((f) => reader.read(f)));
    assert.deepEqual(
      frames.map((f) => f.kind),
      ['image', 'undecodable', 'image', 'image'],
    );
  });

  test('a file that is not an image: hashed, and the decoder error as the reason', async () => {
    const file = join(dir, 'notes.jpg');
    await writeFile(file, 'these are not pixels');
    const frame = await reader.read(file);
    assert.equal(frame.kind, 'undecodable');
    if (frame.kind !== 'undecodable') return;
    assert.equal(frame.sha256, createHash('sha256').update('these are not pixels').digest('hex'));
    assert.match(frame.error, /notes\.jpg: not an image format/);
  });

  test('a file that cannot be read: unreadable, with the reason', async () => {
    const frame = await reader.read(join(dir, 'gone.jpg'));
    assert.equal(frame.kind, 'unreadable');
    if (frame.kind === 'unreadable') assert.match(frame.error, /gone\.jpg: ENOENT/);
  });

  test('a read whose thread dies is sent once more to a fresh thread; a second death fails it', async () => {
    const file = await cameraJpeg('survivor.jpg');
    // A thread that dies at its first request, as a bug in it would make it.
    const dying = () =>
      new Worker("require('node:worker_threads').parentPort.on('message', () => process.exit(3))", {
        eval: true,
      });
    let spawned = 0;
    const recovering = new FrameReader(() => (spawned++ === 0 ? dying() : spawnFrameThread()));
    let doomed = 0;
    const always = new FrameReader(() => (doomed++, dying()));
    try {
      assert.equal((await recovering.read(file)).kind, 'image');
      assert.equal(spawned, 2);
      await assert.rejects(always.read(file), /the frame thread exited \(code 3\)/);
      assert.equal(doomed, 2); // one retry, not a loop
    } finally {
      await Promise.all([recovering.close(), always.close()]);
    }
  });

  test('after the thread is closed, the next read starts a new one', async () => {
    const file = await cameraJpeg('again.jpg');
    await reader.close();
    assert.equal((await reader.read(file)).kind, 'image');
  });
});
