import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import * as tar from 'tar';
import { loadCifar } from '../src/data/cifar.ts';
import { ChecksumError, DownloadError, downloadFile } from '../src/data/download.ts';
import { tempDir } from './helpers/fixtures.ts';

interface ServerOptions {
  /** The first request for /file gets half the body, then the socket is destroyed. */
  interruptFirst?: boolean;
  /** Answer every request with the full body and 200, as servers without Range support do. */
  ignoreRange?: boolean;
}

interface FixtureServer {
  url: string;
  /** Range header of each request for /file, in order (undefined when none was sent). */
  ranges: (string | undefined)[];
  close(): Promise<void>;
}

/** Serves `body` at /file with Range support; /redirect/N hops N times before reaching /file. */
async function startServer(body: Buffer, opts: ServerOptions = {}): Promise<FixtureServer> {
  const ranges: (string | undefined)[] = [];
  const server = http.createServer((req, res) => {
    const redirect = req.url?.match(/^\/redirect\/(\d+)$/);
    if (redirect) {
      const left = Number(redirect[1]);
      res.writeHead(302, { Location: left > 1 ? `/redirect/${left - 1}` : '/file' }).end();
      return;
    }
    if (req.url !== '/file') {
      res.writeHead(404).end('not found');
      return;
    }
    ranges.push(req.headers.range);
    if (opts.interruptFirst && ranges.length === 1) {
      res.writeHead(200, { 'Content-Length': body.length });
      res.write(body.subarray(0, Math.floor(body.length / 2)), () => req.socket.destroy());
      return;
    }
    const range = req.headers.range?.match(/^bytes=(\d+)-$/);
    if (!range || opts.ignoreRange) {
      res.writeHead(200, { 'Content-Length': body.length }).end(body);
      return;
    }
    const start = Number(range[1]);
    if (start >= body.length) {
      res.writeHead(416, { 'Content-Range': `bytes */${body.length}` }).end();
      return;
    }
    res
      .writeHead(206, {
        'Content-Range': `bytes ${start}-${body.length - 1}/${body.length}`,
        'Content-Length': body.length - start,
      })
      .end(body.subarray(start));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    ranges,
    close: () =>
      new Promise<void>((resolve) => {
        // The client's keep-alive sockets would otherwise hold close() open.
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

const md5 = (buf: Buffer) => createHash('md5').update(buf).digest('hex');

let tmp: string;
let archive: Buffer;
let archiveMd5: string;
const RECORDS = 120;

before(async () => {
  tmp = await tempDir('birdgate-download-');
  // A real (tiny) CIFAR archive; random pixels keep gzip from shrinking it to a single chunk.
  const batchDir = path.join(tmp, 'src', 'cifar-10-batches-bin');
  await mkdir(batchDir, { recursive: true });
  const records = randomBytes(RECORDS * 3073);
  for (let r = 0; r < RECORDS; r++) records[r * 3073] = r % 2 === 0 ? 0 : 2;
  await writeFile(path.join(batchDir, 'test_batch.bin'), records);
  const file = path.join(tmp, 'fixture.tar.gz');
  await tar.c({ gzip: true, file, cwd: path.join(tmp, 'src') }, ['cifar-10-batches-bin']);
  archive = await readFile(file);
  archiveMd5 = md5(archive);
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

describe('downloadFile', () => {
  let n = 0;
  const destPath = () => path.join(tmp, `dl-${++n}`, 'cifar-10-binary.tar.gz');

  it('downloads, verifies the md5 and reports progress up to the total', async () => {
    const server = await startServer(archive);
    try {
      const dest = destPath();
      const progress: [number, number | undefined][] = [];
      await downloadFile({
        url: `${server.url}/file`,
        dest,
        md5: archiveMd5,
        onProgress: (received, total) => progress.push([received, total]),
      });
      assert.deepEqual(await readFile(dest), archive);
      assert.equal(existsSync(`${dest}.part`), false);
      assert.ok(progress.length > 2, `expected several progress calls, got ${progress.length}`);
      assert.deepEqual(progress.at(-1), [archive.length, archive.length]);
      for (let i = 1; i < progress.length; i++) assert.ok(progress[i]![0] >= progress[i - 1]![0]);
      assert.equal((await loadCifar(dest, 'test')).count, RECORDS);
      assert.deepEqual(server.ranges, [undefined]);
    } finally {
      await server.close();
    }
  });

  it('throws ChecksumError on a wrong md5 and leaves neither dest nor .part', async () => {
    const server = await startServer(archive);
    try {
      const dest = destPath();
      const wrong = '0'.repeat(32);
      await assert.rejects(
        downloadFile({ url: `${server.url}/file`, dest, md5: wrong }),
        (err: unknown) =>
          err instanceof ChecksumError &&
          err.expected === wrong &&
          err.actual === archiveMd5 &&
          err.message.includes(wrong) &&
          err.message.includes(archiveMd5),
      );
      assert.equal(existsSync(dest), false);
      assert.equal(existsSync(`${dest}.part`), false);
    } finally {
      await server.close();
    }
  });

  it('resumes an interrupted download with a Range request', async () => {
    const server = await startServer(archive, { interruptFirst: true });
    try {
      const dest = destPath();
      const half = Math.floor(archive.length / 2);
      await assert.rejects(downloadFile({ url: `${server.url}/file`, dest, md5: archiveMd5 }), DownloadError);
      assert.equal(existsSync(dest), false);
      assert.equal((await stat(`${dest}.part`)).size, half);

      const progress: [number, number | undefined][] = [];
      await downloadFile({
        url: `${server.url}/file`,
        dest,
        md5: archiveMd5,
        onProgress: (received, total) => progress.push([received, total]),
      });
      assert.deepEqual(server.ranges, [undefined, `bytes=${half}-`]);
      assert.equal(md5(await readFile(dest)), archiveMd5);
      assert.deepEqual(progress[0], [half, archive.length]);
      assert.deepEqual(progress.at(-1), [archive.length, archive.length]);
      assert.equal(existsSync(`${dest}.part`), false);
    } finally {
      await server.close();
    }
  });

  it('starts over when the server ignores Range and answers 200', async () => {
    const server = await startServer(archive, { ignoreRange: true });
    try {
      const dest = destPath();
      await mkdir(path.dirname(dest), { recursive: true });
      await writeFile(`${dest}.part`, Buffer.alloc(1000, 0xee));
      await downloadFile({ url: `${server.url}/file`, dest, md5: archiveMd5 });
      assert.deepEqual(server.ranges, ['bytes=1000-']);
      assert.deepEqual(await readFile(dest), archive);
    } finally {
      await server.close();
    }
  });

  it('finishes from a complete .part when the server answers 416', async () => {
    const server = await startServer(archive);
    try {
      const dest = destPath();
      await mkdir(path.dirname(dest), { recursive: true });
      await writeFile(`${dest}.part`, archive);
      await downloadFile({ url: `${server.url}/file`, dest, md5: archiveMd5 });
      assert.deepEqual(server.ranges, [`bytes=${archive.length}-`]);
      assert.deepEqual(await readFile(dest), archive);
    } finally {
      await server.close();
    }
  });

  it('restarts when a 416 says the .part is larger than the file', async () => {
    const server = await startServer(archive);
    try {
      const dest = destPath();
      await mkdir(path.dirname(dest), { recursive: true });
      await writeFile(`${dest}.part`, Buffer.alloc(archive.length + 10));
      await downloadFile({ url: `${server.url}/file`, dest, md5: archiveMd5 });
      assert.deepEqual(server.ranges, [`bytes=${archive.length + 10}-`, undefined]);
      assert.deepEqual(await readFile(dest), archive);
    } finally {
      await server.close();
    }
  });

  it('follows up to 5 redirects and refuses more', async () => {
    const server = await startServer(archive);
    try {
      const dest = destPath();
      await downloadFile({ url: `${server.url}/redirect/5`, dest, md5: archiveMd5 });
      assert.deepEqual(await readFile(dest), archive);
      await assert.rejects(
        downloadFile({ url: `${server.url}/redirect/6`, dest: destPath() }),
        (err: unknown) => err instanceof DownloadError && /more than 5 redirects/.test(err.message),
      );
    } finally {
      await server.close();
    }
  });

  it('reports an HTTP error status', async () => {
    const server = await startServer(archive);
    try {
      const dest = destPath();
      await assert.rejects(
        downloadFile({ url: `${server.url}/missing`, dest }),
        (err: unknown) => err instanceof DownloadError && err.status === 404 && err.message.includes('404'),
      );
      assert.equal(existsSync(dest), false);
    } finally {
      await server.close();
    }
  });

  it('stops when aborted, keeping the .part for a later resume', async () => {
    const server = await startServer(archive);
    try {
      const dest = destPath();
      const controller = new AbortController();
      await assert.rejects(
        downloadFile({
          url: `${server.url}/file`,
          dest,
          signal: controller.signal,
          onProgress: (received) => {
            if (received > 0) controller.abort();
          },
        }),
        { name: 'AbortError' },
      );
      assert.equal(existsSync(dest), false);
      await downloadFile({ url: `${server.url}/file`, dest, md5: archiveMd5 });
      assert.deepEqual(await readFile(dest), archive);
    } finally {
      await server.close();
    }
  });
});
