import { createHash } from 'node:crypto';
import { createReadStream, createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, rename, rm, stat } from 'node:fs/promises';
import http, { type IncomingMessage } from 'node:http';
import https from 'node:https';
import path from 'node:path';

export const CIFAR_URL = 'https://www.cs.toronto.edu/~kriz/cifar-10-binary.tar.gz';
export const CIFAR_MD5 = 'c32a1d4ab5d03f1284b67883e8d87530';

const MAX_REDIRECTS = 5;
// A stalled connection would otherwise hang the download forever.
const IDLE_TIMEOUT_MS = 60_000;
const MAX_WRITE_BACKLOG = 8 * 1024 * 1024;

export interface DownloadOptions {
  url: string;
  dest: string;
  /** Expected MD5 (hex) of the whole file; the file only lands at `dest` when it matches. */
  md5?: string;
  /** Bytes received so far, counting a resumed part, and the full size when the server tells it. */
  onProgress?: (received: number, total: number | undefined) => void;
  signal?: AbortSignal;
}

/** The server refused, redirected too often, or the transfer broke off (the `.part` file is kept). */
export class DownloadError extends Error {
  override name = 'DownloadError';
  constructor(
    message: string,
    readonly status?: number,
    options?: ErrorOptions,
  ) {
    super(message, options);
  }
}

/** The downloaded bytes are not the expected file; the partial download has been deleted. */
export class ChecksumError extends Error {
  override name = 'ChecksumError';
  constructor(
    readonly url: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(
      `Checksum mismatch for ${url}: expected MD5 ${expected} but got ${actual}; ` +
        `the corrupt download was deleted, try again`,
    );
  }
}

/**
 * Downloads `url` to `dest` via `dest.part`, resuming an existing `.part` with a Range request, and
 * renames it into place only once complete (and matching `md5` when given), so `dest` is never partial.
 */
export async function downloadFile(opts: DownloadOptions): Promise<void> {
  const { url, dest, md5, signal } = opts;
  signal?.throwIfAborted();
  const part = `${dest}.part`;
  await mkdir(path.dirname(path.resolve(dest)), { recursive: true });
  await fetchIntoPart(opts, part);
  if (md5 !== undefined) {
    const expected = md5.toLowerCase();
    const actual = await md5OfFile(part);
    if (actual !== expected) {
      // Resuming from bytes that hash wrong would only reproduce the mismatch, so start clean next time.
      await rm(part, { force: true });
      throw new ChecksumError(url, expected, actual);
    }
  }
  await rename(part, dest);
}

async function fetchIntoPart(opts: DownloadOptions, part: string): Promise<void> {
  const { url, signal, onProgress } = opts;
  let offset = await sizeOrZero(part);
  // At most one restart from zero: when the server cannot continue our part (bad 416 or mismatched 206).
  for (let attempt = 0; attempt < 2; attempt++) {
    const headers: Record<string, string> = { 'User-Agent': 'birdgate' };
    if (offset > 0) headers.Range = `bytes=${offset}-`;
    const res = await get(url, headers, signal);
    const status = res.statusCode ?? 0;

    if (status === 416 && offset > 0) {
      res.resume();
      const total = parseContentRange(res.headers['content-range'])?.total;
      if (total === offset) {
        // The previous run got every byte but stopped before verifying/renaming.
        onProgress?.(offset, total);
        return;
      }
      await rm(part, { force: true });
      offset = 0;
      continue;
    }

    if (status === 206) {
      const range = parseContentRange(res.headers['content-range']);
      if (!range || range.start !== offset) {
        res.destroy();
        await rm(part, { force: true });
        offset = 0;
        continue;
      }
      const length = contentLength(res);
      const total = range.total ?? (length === undefined ? undefined : offset + length);
      await receive(res, part, offset, total, opts);
      return;
    }

    if (status === 200) {
      // Either a fresh download or a server that ignored Range: both mean the body starts at byte 0.
      await receive(res, part, 0, contentLength(res), opts);
      return;
    }

    res.resume();
    throw new DownloadError(`Downloading ${url} failed: the server answered HTTP ${status}`, status);
  }
  throw new DownloadError(`Downloading ${url} failed: the server could not resume or restart the transfer`);
}

/** Writes the body at `offset` of the part file (truncating it when 0) and checks it arrived whole. */
async function receive(
  res: IncomingMessage,
  part: string,
  offset: number,
  total: number | undefined,
  { url, onProgress, signal }: DownloadOptions,
): Promise<void> {
  const out = createWriteStream(part, { flags: offset > 0 ? 'a' : 'w' });
  let writeError: Error | undefined;
  out.on('error', (err) => {
    writeError ??= err;
  });
  let received = offset;
  onProgress?.(received, total);
  try {
    await new Promise<void>((resolve, reject) => {
      // 'data' events rather than async iteration: chunks still queued in a paused response are discarded
      // when the connection drops, and every byte that arrived should reach the .part for the resume.
      res.on('data', (chunk: Buffer) => {
        received += chunk.length;
        out.write(chunk);
        // Only pause when the disk falls far behind, which keeps memory bounded.
        if (out.writableLength > MAX_WRITE_BACKLOG && !res.isPaused()) {
          res.pause();
          out.once('drain', () => res.resume());
        }
        onProgress?.(received, total);
      });
      res.once('end', resolve);
      res.once('error', reject);
      res.once('close', () => reject(new Error('connection closed')));
      out.once('error', reject);
    });
  } catch (err) {
    // The socket error an abort causes is noise; the caller wants the abort reason itself.
    signal?.throwIfAborted();
    if (err === writeError) throw err;
    throw new DownloadError(
      `Downloading ${url} was interrupted after ${received} of ${total ?? 'unknown'} bytes ` +
        `(${(err as Error).message}); the next attempt resumes from ${part}`,
      undefined,
      { cause: err },
    );
  } finally {
    if (!res.complete) res.destroy();
    // Flush what did arrive rather than discarding it, so a retry resumes from the right offset.
    await closeStream(out);
  }
  if (writeError) throw writeError;
  if (total !== undefined && received !== total) {
    throw new DownloadError(
      `Downloading ${url} ended early: ${received} of ${total} bytes; the next attempt resumes from ${part}`,
    );
  }
}

function closeStream(out: WriteStream): Promise<void> {
  if (out.destroyed) return Promise.resolve();
  return new Promise((resolve) => {
    out.once('close', resolve);
    out.end();
  });
}

/** GET with redirects followed (keeping the Range header), resolving once response headers arrive. */
async function get(
  url: string,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<IncomingMessage> {
  let current = new URL(url);
  for (let redirects = 0; ; redirects++) {
    const res = await requestOnce(current, headers, signal);
    const status = res.statusCode ?? 0;
    const location = res.headers.location;
    if (![301, 302, 303, 307, 308].includes(status) || !location) return res;
    res.resume();
    if (redirects === MAX_REDIRECTS) {
      throw new DownloadError(`Downloading ${url} failed: more than ${MAX_REDIRECTS} redirects`, status);
    }
    current = new URL(location, current);
  }
}

function requestOnce(
  url: URL,
  headers: Record<string, string>,
  signal: AbortSignal | undefined,
): Promise<IncomingMessage> {
  const client = url.protocol === 'https:' ? https : url.protocol === 'http:' ? http : undefined;
  if (!client) return Promise.reject(new DownloadError(`Cannot download ${url.href}: unsupported protocol`));
  return new Promise((resolve, reject) => {
    const req = client.get(url, { headers, signal, timeout: IDLE_TIMEOUT_MS }, resolve);
    req.on('error', reject);
    req.on('timeout', () => {
      req.destroy(new DownloadError(`No data from ${url.href} for ${IDLE_TIMEOUT_MS / 1000} s`));
    });
  });
}

function parseContentRange(
  header: string | undefined,
): { start: number | undefined; total: number | undefined } | undefined {
  // "bytes 100-199/200", "bytes 100-199/*" or, with 416, "bytes */200".
  const m = header?.match(/^bytes\s+(?:(\d+)-\d+|\*)\/(\d+|\*)\s*$/i);
  if (!m) return undefined;
  return {
    start: m[1] === undefined ? undefined : Number(m[1]),
    total: m[2] === '*' || m[2] === undefined ? undefined : Number(m[2]),
  };
}

function contentLength(res: IncomingMessage): number | undefined {
  const value = res.headers['content-length'];
  return value !== undefined && /^\d+$/.test(value) ? Number(value) : undefined;
}

async function sizeOrZero(file: string): Promise<number> {
  try {
    return (await stat(file)).size;
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return 0;
    throw err;
  }
}

/** Streamed so a 160 MB archive is never held in memory. */
async function md5OfFile(file: string): Promise<string> {
  const hash = createHash('md5');
  for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  return hash.digest('hex');
}
