import { createReadStream } from 'node:fs';
import { readFile, stat } from 'node:fs/promises';
import path from 'node:path';
import { createGunzip } from 'node:zlib';
import { Parser, type ReadEntry } from 'tar';
import { cifarToClass, type LabeledImages } from './labels.ts';

/** The CIFAR-10 binary format is fixed at 32×32 RGB, independent of what the model consumes. */
const SIDE = 32;
const PLANE_BYTES = SIDE * SIDE;
const IMAGE_BYTES = 3 * PLANE_BYTES;
export const RECORD_BYTES = 1 + IMAGE_BYTES;

/** Folder name used inside the official archive (and usually kept after extracting it). */
export const BATCH_DIR = 'cifar-10-batches-bin';
export const ARCHIVE_NAME = 'cifar-10-binary.tar.gz';

export type CifarSplit = 'train' | 'test';

/** The content of a batch file is not CIFAR-10 binary records. */
export class CifarFormatError extends Error {
  override name = 'CifarFormatError';
}

/** The data is missing where we looked, or the archive holding it cannot be read. */
export class CifarSourceError extends Error {
  override name = 'CifarSourceError';
}

/** Batch file names of a split, in the order their records are concatenated. */
export function batchFileNames(split: CifarSplit): string[] {
  return split === 'train' ? [1, 2, 3, 4, 5].map((i) => `data_batch_${i}.bin`) : ['test_batch.bin'];
}

/**
 * Decodes one binary batch, keeping only airplanes and birds (relabelled 0/1) and turning each record's
 * R, G, B planes into interleaved HWC bytes.
 */
export function parseCifarRecords(buf: Buffer | Uint8Array, fileName: string): LabeledImages {
  if (buf.length === 0) {
    // A 0-byte batch is almost always a failed copy, not a batch that happens to be empty.
    throw new CifarFormatError(
      `${fileName} is empty: expected CIFAR-10 binary records of ${RECORD_BYTES} bytes`,
    );
  }
  if (buf.length % RECORD_BYTES !== 0) {
    throw new CifarFormatError(
      `${fileName} is truncated or not a CIFAR-10 binary batch: ${buf.length} bytes is not a whole number of ` +
        `${RECORD_BYTES}-byte records`,
    );
  }
  const records = buf.length / RECORD_BYTES;
  // First pass validates every label and sizes the output exactly, so no intermediate arrays are needed.
  let kept = 0;
  for (let r = 0; r < records; r++) {
    const label = buf[r * RECORD_BYTES]!;
    if (label > 9) {
      throw new CifarFormatError(
        `${fileName} is garbled: record ${r} (byte offset ${r * RECORD_BYTES}) has label ${label}, ` +
          `but CIFAR-10 labels are 0-9`,
      );
    }
    if (cifarToClass(label) !== undefined) kept++;
  }
  const pixels = new Uint8Array(kept * IMAGE_BYTES);
  const labels = new Uint8Array(kept);
  let n = 0;
  for (let r = 0; r < records; r++) {
    const start = r * RECORD_BYTES;
    const cls = cifarToClass(buf[start]!);
    if (cls === undefined) continue;
    labels[n] = cls;
    const red = start + 1;
    const green = red + PLANE_BYTES;
    const blue = green + PLANE_BYTES;
    let out = n * IMAGE_BYTES;
    for (let p = 0; p < PLANE_BYTES; p++) {
      pixels[out++] = buf[red + p]!;
      pixels[out++] = buf[green + p]!;
      pixels[out++] = buf[blue + p]!;
    }
    n++;
  }
  return { count: kept, pixels, labels };
}

/** Concatenates image sets in order. */
export function concatLabeledImages(parts: LabeledImages[]): LabeledImages {
  const count = parts.reduce((sum, p) => sum + p.count, 0);
  const pixels = new Uint8Array(count * IMAGE_BYTES);
  const labels = new Uint8Array(count);
  let at = 0;
  for (const p of parts) {
    pixels.set(p.pixels.subarray(0, p.count * IMAGE_BYTES), at * IMAGE_BYTES);
    labels.set(p.labels.subarray(0, p.count), at);
    at += p.count;
  }
  return { count, pixels, labels };
}

/**
 * Loads the airplane and bird images of a split. `source` is a folder holding the batch files, a folder
 * with a `cifar-10-batches-bin/` subfolder (or the official archive) in it, or the official
 * `cifar-10-binary.tar.gz`, which is read as a stream without extracting it.
 */
export async function loadCifar(source: string, split: CifarSplit): Promise<LabeledImages> {
  const names = batchFileNames(split);
  const where = `(in the folder itself or in ${BATCH_DIR}/)`;
  const expected = `${names.join(', ')} ${where}, or the archive ${ARCHIVE_NAME}`;
  const info = await statOrUndefined(source);
  if (!info) {
    throw new CifarSourceError(
      `CIFAR-10 source ${source} does not exist: expected a folder with ${expected}`,
    );
  }
  if (info.isFile()) return loadFromArchive(source, names);
  if (!info.isDirectory()) {
    throw new CifarSourceError(`CIFAR-10 source ${source} is neither a folder nor a file`);
  }

  for (const dir of [source, path.join(source, BATCH_DIR)]) {
    // A folder that holds any of the wanted batches is the one meant, so a missing sibling gets named.
    const present = await Promise.all(
      names.map(async (n) => (await statOrUndefined(path.join(dir, n)))?.isFile()),
    );
    if (!present.some(Boolean)) continue;
    const missing = names.filter((_, i) => !present[i]);
    if (missing.length > 0) {
      throw new CifarSourceError(
        `CIFAR-10 ${split} data in ${dir} is incomplete: missing ${missing.join(', ')}`,
      );
    }
    const parts: LabeledImages[] = [];
    for (const n of names) {
      const file = path.join(dir, n);
      parts.push(parseCifarRecords(await readFile(file), file));
    }
    return concatLabeledImages(parts);
  }

  const archive = path.join(source, ARCHIVE_NAME);
  if ((await statOrUndefined(archive))?.isFile()) return loadFromArchive(archive, names);
  throw new CifarSourceError(`No CIFAR-10 ${split} data in ${source}: expected ${expected}`);
}

async function statOrUndefined(p: string) {
  try {
    return await stat(p);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

const REGULAR_FILE_TYPES = new Set(['File', 'OldFile', 'ContiguousFile']);

/** Streams the gzipped tar, decoding only the wanted batches; stops reading once all of them are found. */
async function loadFromArchive(archive: string, names: string[]): Promise<LabeledImages> {
  const wanted = new Set(names);
  const found = new Map<string, LabeledImages>();
  let failure: unknown;
  // strict turns tar's warnings (bad checksum, truncated entry, not a tar) into errors.
  const parser = new Parser({ strict: true });
  parser.on('error', (err: unknown) => {
    failure ??= err;
  });
  parser.on('entry', (entry: ReadEntry) => {
    // Match on the base name so archives re-packed with "./" or another top folder still load.
    const name = path.posix.basename(entry.path);
    if (!REGULAR_FILE_TYPES.has(entry.type) || !wanted.has(name) || found.has(name)) {
      entry.resume();
      return;
    }
    // Sized up front: a training batch is 30 MB, so avoid holding chunks and their concatenation at once.
    const body = Buffer.allocUnsafe(entry.size);
    let filled = 0;
    entry.on('data', (chunk: Buffer) => {
      filled += chunk.copy(body, filled);
    });
    entry.on('end', () => {
      try {
        found.set(name, parseCifarRecords(body.subarray(0, filled), `${archive} (entry ${entry.path})`));
      } catch (err) {
        failure ??= err;
      }
    });
  });

  // Piped by hand rather than with pipeline(): stopping early must not turn into an AbortError.
  const file = createReadStream(archive);
  const gunzip = createGunzip();
  file.on('error', (err) => gunzip.destroy(err));
  file.pipe(gunzip);
  try {
    for await (const chunk of gunzip as AsyncIterable<Buffer>) {
      if (!parser.write(chunk)) await new Promise((resolve) => parser.once('drain', resolve));
      if (failure) throw failure;
      if (found.size === wanted.size) break;
    }
    if (found.size < wanted.size) parser.end();
    if (failure) throw failure;
  } catch (err) {
    throw describeArchiveError(err, archive);
  } finally {
    file.destroy();
    gunzip.destroy();
  }

  const missing = names.filter((n) => !found.has(n));
  if (missing.length > 0) {
    throw new CifarSourceError(
      `${archive} is not the CIFAR-10 binary archive: it has no ${missing.map((n) => `${BATCH_DIR}/${n}`).join(', ')}`,
    );
  }
  return concatLabeledImages(names.map((n) => found.get(n)!));
}

function describeArchiveError(err: unknown, archive: string): unknown {
  if (err instanceof CifarFormatError || err instanceof CifarSourceError) return err;
  const e = err as NodeJS.ErrnoException & { tarCode?: string };
  const hint = 'it may be truncated or corrupt; delete it and download it again';
  if (typeof e.code === 'string' && e.code.startsWith('Z_')) {
    return new CifarSourceError(`${archive} is not a readable gzip archive (${e.message}): ${hint}`, {
      cause: err,
    });
  }
  if (e.tarCode || (typeof e.code === 'string' && e.code.startsWith('TAR_'))) {
    return new CifarSourceError(`${archive} is not a valid tar.gz archive (${e.message}): ${hint}`, {
      cause: err,
    });
  }
  return err;
}
