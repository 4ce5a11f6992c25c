import assert from 'node:assert/strict';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gzipSync } from 'node:zlib';
import * as tar from 'tar';
import {
  CifarFormatError,
  CifarSourceError,
  RECORD_BYTES,
  batchFileNames,
  loadCifar,
  parseCifarRecords,
} from '../src/data/cifar.ts';
import { AIRPLANE, BIRD } from '../src/data/labels.ts';
import { tempDir } from './helpers/fixtures.ts';

/** One CIFAR binary record: label byte, then R, G and B planes with distinct per-seed patterns. */
function record(label: number, seed: number): Buffer {
  const rec = Buffer.alloc(RECORD_BYTES);
  rec[0] = label;
  for (let p = 0; p < 1024; p++) {
    rec[1 + p] = (p * 7 + seed) & 255;
    rec[1 + 1024 + p] = (p * 13 + seed * 3 + 1) & 255;
    rec[1 + 2048 + p] = (p * 31 + seed * 5 + 2) & 255;
  }
  return rec;
}

/** Pixel (x, y, channel) of a record, read straight from its CHW planes. */
function planeValue(rec: Buffer, x: number, y: number, c: number): number {
  return rec[1 + c * 1024 + y * 32 + x]!;
}

/** A small batch per file: an airplane, a bird and some other classes, seeded by the file so each differs. */
function batchFor(fileIndex: number): Buffer {
  return Buffer.concat([0, 5, 2, 9, 0].map((label, i) => record(label, fileIndex * 10 + i)));
}

async function writeBatches(dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  const names = [...batchFileNames('train'), ...batchFileNames('test')];
  await Promise.all(names.map((name, i) => writeFile(path.join(dir, name), batchFor(i))));
}

let tmp: string;
before(async () => {
  tmp = await tempDir('birdgate-cifar-');
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('parseCifarRecords', () => {
  it('keeps only airplanes and birds, relabelled, with CHW planes turned into HWC pixels', () => {
    const records = Array.from({ length: 10 }, (_, label) => record(label, label * 17));
    const out = parseCifarRecords(Buffer.concat(records), 'ten.bin');
    assert.equal(out.count, 2);
    assert.deepEqual([...out.labels], [AIRPLANE, BIRD]);
    assert.equal(out.pixels.length, 2 * 32 * 32 * 3);
    const kept = [records[0]!, records[2]!];
    kept.forEach((rec, n) => {
      for (let y = 0; y < 32; y++) {
        for (let x = 0; x < 32; x++) {
          for (let c = 0; c < 3; c++) {
            const got = out.pixels[n * 3072 + (y * 32 + x) * 3 + c];
            assert.equal(got, planeValue(rec, x, y, c), `image ${n} pixel (${x},${y}) channel ${c}`);
          }
        }
      }
    });
  });

  it('accepts a plain Uint8Array', () => {
    const out = parseCifarRecords(new Uint8Array(record(2, 1)), 'one.bin');
    assert.equal(out.count, 1);
    assert.deepEqual([...out.labels], [BIRD]);
  });

  it('rejects a length that is not a whole number of records, naming the file', () => {
    const buf = Buffer.concat([record(0, 1), record(2, 2)]).subarray(0, RECORD_BYTES * 2 - 100);
    assert.throws(
      () => parseCifarRecords(buf, '/x/data_batch_1.bin'),
      (err: unknown) =>
        err instanceof CifarFormatError &&
        err.message.includes('/x/data_batch_1.bin is truncated or not a CIFAR-10 binary batch') &&
        err.message.includes(`${RECORD_BYTES * 2 - 100} bytes is not a whole number of 3073-byte records`),
    );
  });

  it('rejects label bytes above 9 as garbled', () => {
    const buf = Buffer.concat([record(0, 1), record(200, 2)]);
    assert.throws(
      () => parseCifarRecords(buf, 'bad.bin'),
      (err: unknown) =>
        err instanceof CifarFormatError && /bad\.bin is garbled: record 1 .*label 200/.test(err.message),
    );
  });

  it('rejects an empty file', () => {
    assert.throws(() => parseCifarRecords(Buffer.alloc(0), 'empty.bin'), CifarFormatError);
  });
});

describe('loadCifar', () => {
  let flat: string;
  let nestedRoot: string;
  let archive: string;

  before(async () => {
    flat = path.join(tmp, 'flat');
    nestedRoot = path.join(tmp, 'nested');
    await writeBatches(flat);
    await writeBatches(path.join(nestedRoot, 'cifar-10-batches-bin'));
    archive = path.join(tmp, 'cifar-10-binary.tar.gz');
    await tar.c({ gzip: true, file: archive, cwd: nestedRoot }, ['cifar-10-batches-bin']);
  });

  it('loads the training split from a folder as batches 1..5 in order', async () => {
    const train = await loadCifar(flat, 'train');
    assert.equal(train.count, 15);
    assert.deepEqual([...train.labels], [0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0, 0, 1, 0]);
    const expected = [0, 1, 2, 3, 4].map((i) => parseCifarRecords(batchFor(i), `batch ${i}`));
    assert.deepEqual(Buffer.from(train.pixels), Buffer.concat(expected.map((e) => e.pixels)));
  });

  it('loads the test split from test_batch.bin', async () => {
    const test = await loadCifar(flat, 'test');
    assert.equal(test.count, 3);
    assert.deepEqual(test, parseCifarRecords(batchFor(5), 'test'));
  });

  it('finds a nested cifar-10-batches-bin/ folder', async () => {
    assert.deepEqual(await loadCifar(nestedRoot, 'train'), await loadCifar(flat, 'train'));
    assert.deepEqual(await loadCifar(nestedRoot, 'test'), await loadCifar(flat, 'test'));
  });

  it('reads the official .tar.gz layout the same as the folder', async () => {
    assert.deepEqual(await loadCifar(archive, 'train'), await loadCifar(flat, 'train'));
    assert.deepEqual(await loadCifar(archive, 'test'), await loadCifar(flat, 'test'));
  });

  it('finds the archive inside a folder', async () => {
    const dir = path.join(tmp, 'with-archive');
    await mkdir(dir);
    await writeFile(path.join(dir, 'cifar-10-binary.tar.gz'), await readFile(archive));
    assert.deepEqual(await loadCifar(dir, 'test'), await loadCifar(flat, 'test'));
  });

  it('names the file of a truncated batch', async () => {
    const dir = path.join(tmp, 'truncated');
    await writeBatches(dir);
    const file = path.join(dir, 'data_batch_3.bin');
    await writeFile(file, batchFor(2).subarray(0, 5000));
    await assert.rejects(
      loadCifar(dir, 'train'),
      (err: unknown) => err instanceof CifarFormatError && err.message.includes(file),
    );
  });

  it('names a missing batch file and where it was expected', async () => {
    const dir = path.join(tmp, 'missing');
    await writeBatches(dir);
    await rm(path.join(dir, 'data_batch_4.bin'));
    await assert.rejects(
      loadCifar(dir, 'train'),
      (err: unknown) =>
        err instanceof CifarSourceError &&
        err.message.includes('data_batch_4.bin') &&
        err.message.includes(dir),
    );
  });

  it('explains what it expected in a folder without any CIFAR data', async () => {
    const dir = path.join(tmp, 'empty');
    await mkdir(dir);
    await assert.rejects(
      loadCifar(dir, 'test'),
      (err: unknown) =>
        err instanceof CifarSourceError &&
        err.message.includes(dir) &&
        err.message.includes('test_batch.bin') &&
        err.message.includes('cifar-10-binary.tar.gz'),
    );
    await assert.rejects(loadCifar(path.join(tmp, 'nope'), 'test'), /does not exist/);
  });

  it('reports a truncated archive by name', async () => {
    const bytes = await readFile(archive);
    const cut = path.join(tmp, 'cut.tar.gz');
    await writeFile(cut, bytes.subarray(0, Math.floor(bytes.length * 0.4)));
    await assert.rejects(
      loadCifar(cut, 'train'),
      (err: unknown) =>
        err instanceof CifarSourceError &&
        err.message.includes(cut) &&
        /truncated or corrupt/.test(err.message),
    );
  });

  it('reports a file that is not gzip, or gzip that is not tar', async () => {
    const junk = path.join(tmp, 'junk.tar.gz');
    await writeFile(junk, Buffer.from('definitely not an archive '.repeat(100)));
    await assert.rejects(
      loadCifar(junk, 'test'),
      (err: unknown) =>
        err instanceof CifarSourceError && err.message.includes(`${junk} is not a readable gzip`),
    );
    const notTar = path.join(tmp, 'not-tar.tar.gz');
    await writeFile(notTar, gzipSync(Buffer.alloc(10_000, 7)));
    await assert.rejects(
      loadCifar(notTar, 'test'),
      (err: unknown) => err instanceof CifarSourceError && err.message.includes(notTar),
    );
  });

  it('names the entries an archive lacks', async () => {
    const root = path.join(tmp, 'partial');
    await writeBatches(path.join(root, 'cifar-10-batches-bin'));
    await rm(path.join(root, 'cifar-10-batches-bin', 'test_batch.bin'));
    const partial = path.join(tmp, 'partial.tar.gz');
    await tar.c({ gzip: true, file: partial, cwd: root }, ['cifar-10-batches-bin']);
    await assert.rejects(
      loadCifar(partial, 'test'),
      (err: unknown) =>
        err instanceof CifarSourceError &&
        err.message.includes(partial) &&
        err.message.includes('cifar-10-batches-bin/test_batch.bin'),
    );
  });
});
