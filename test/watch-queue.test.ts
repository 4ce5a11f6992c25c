import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, describe, it } from 'node:test';
import { parseSettings } from '../src/config/settings.ts';
import { FolderWatcher } from '../src/watch/folder-watcher.ts';
import { WorkQueue, type ImageJob } from '../src/watch/work-queue.ts';
import { tempDir } from './helpers/fixtures.ts';

const tempRoots: string[] = [];

after(async () => {
  await Promise.all(tempRoots.map((dir) => rm(dir, { recursive: true, force: true })));
});

const job = (n: number): ImageJob => ({ file: `/cam/${n}.jpg`, camera: 'cam' });

/** A consumer whose jobs finish only when the test says so, recording what it started. */
function gatedConsumer() {
  const started: string[] = [];
  const release = new Map<string, () => void>();
  let running = 0;
  let maxRunning = 0;
  const consume = async (j: ImageJob) => {
    started.push(j.file);
    running++;
    maxRunning = Math.max(maxRunning, running);
    await new Promise<void>((resolve) => release.set(j.file, resolve));
    running--;
  };
  const finish = async (file: string) => {
    const resolve = release.get(file);
    assert.ok(resolve, `${file} is not running`);
    resolve();
    await sleep(0);
  };
  return { consume, started, finish, maxRunning: () => maxRunning };
}

describe('WorkQueue', () => {
  it('runs at most `concurrency` jobs at once, first in first out', async () => {
    const c = gatedConsumer();
    const queue = new WorkQueue(c.consume, { concurrency: 2, maxPending: 10 });
    for (let n = 1; n <= 5; n++) queue.push(job(n));
    assert.deepEqual(c.started, [job(1).file, job(2).file]);
    assert.equal(queue.stats().inFlight, 2);
    await c.finish(job(2).file);
    await c.finish(job(1).file);
    await c.finish(job(3).file);
    await c.finish(job(4).file);
    await c.finish(job(5).file);
    await queue.drain();
    assert.deepEqual(
      c.started,
      [1, 2, 3, 4, 5].map((n) => job(n).file),
    );
    assert.equal(c.maxRunning(), 2);
  });

  it('keeps at most maxPending jobs and spills the rest in order', async () => {
    const c = gatedConsumer();
    const queue = new WorkQueue(c.consume, { concurrency: 1, maxPending: 2 });
    for (let n = 1; n <= 6; n++) assert.equal(queue.push(job(n)), true);
    assert.deepEqual(queue.stats(), {
      pending: 2,
      overflow: 3,
      inFlight: 1,
      peakPending: 2,
      peakOverflow: 3,
    });
    for (let n = 1; n <= 6; n++) await c.finish(job(n).file);
    await queue.drain();
    assert.deepEqual(
      c.started,
      [1, 2, 3, 4, 5, 6].map((n) => job(n).file),
    );
    assert.equal(queue.stats().peakPending, 2);
  });

  it('does not queue a path that is already waiting, spilled or running', async () => {
    const c = gatedConsumer();
    const queue = new WorkQueue(c.consume, { concurrency: 1, maxPending: 1 });
    queue.push(job(1)); // running
    queue.push(job(2)); // pending
    queue.push(job(3)); // spilled
    for (const n of [1, 2, 3]) assert.equal(queue.push(job(n)), false, `duplicate ${n}`);
    for (const n of [1, 2, 3]) await c.finish(job(n).file);
    await queue.drain();
    assert.equal(c.started.length, 3);
    assert.equal(queue.push(job(1)), true, 'a finished path may come back, e.g. after a change');
  });

  it('goes on after a consumer fails, reporting the failure', async () => {
    const failures: string[] = [];
    const done: string[] = [];
    const queue = new WorkQueue(
      async (j) => {
        if (j.file === job(1).file) throw new Error('decode failed');
        done.push(j.file);
      },
      { onError: (error, j) => failures.push(`${j.file}: ${(error as Error).message}`) },
    );
    queue.push(job(1));
    queue.push(job(2));
    await queue.drain();
    assert.deepEqual(failures, [`${job(1).file}: decode failed`]);
    assert.deepEqual(done, [job(2).file]);
  });

  it('starts nothing while paused', async () => {
    const done: string[] = [];
    const queue = new WorkQueue(async (j) => void done.push(j.file));
    queue.pause();
    queue.push(job(1));
    await sleep(20);
    assert.deepEqual(done, []);
    queue.resume();
    await queue.drain();
    assert.deepEqual(done, [job(1).file]);
  });

  it('close drops waiting jobs, waits for running ones and refuses new ones', async () => {
    const c = gatedConsumer();
    const queue = new WorkQueue(c.consume, { concurrency: 1, maxPending: 1 });
    for (let n = 1; n <= 3; n++) queue.push(job(n));
    let closed = false;
    const closing = queue.close().then(() => (closed = true));
    await sleep(10);
    assert.equal(closed, false, 'resolved while a job was still running');
    await c.finish(job(1).file);
    await closing;
    assert.deepEqual(c.started, [job(1).file]);
    assert.equal(queue.push(job(4)), false);
  });
});

describe('FolderWatcher → WorkQueue under a burst', () => {
  it('hands 2,000 files to the consumer exactly once each, holding no more than maxPending', async () => {
    const root = await tempDir('birdgate-burst-');
    tempRoots.push(root);
    const count = 2000;
    const maxPending = 50;
    const consumed = new Map<string, number>();
    let running = 0;
    let maxRunning = 0;
    // A few ms per image, so files arrive faster than they are consumed and the queue must spill.
    const queue = new WorkQueue(
      async ({ file }) => {
        running++;
        maxRunning = Math.max(maxRunning, running);
        consumed.set(file, (consumed.get(file) ?? 0) + 1);
        await sleep(3);
        running--;
      },
      { concurrency: 2, maxPending },
    );
    const settings = parseSettings({
      cameras: [{ name: 'cam', folder: root }],
      airplaneFolder: path.join(os.tmpdir(), 'birdgate-burst-planes'),
      stabilityMs: 300,
    });
    const watcher = new FolderWatcher(settings);
    watcher.on('ready', (file, camera) => queue.push({ file, camera }));
    await watcher.start();
    try {
      const body = Buffer.alloc(256, 0xff);
      const names = Array.from({ length: count }, (_, i) =>
        path.join(root, `IMG_${String(i).padStart(5, '0')}.jpg`),
      );
      for (let i = 0; i < count; i += 100) {
        await Promise.all(names.slice(i, i + 100).map((file) => writeFile(file, body)));
      }
      const deadline = performance.now() + 120_000;
      while (consumed.size < count && performance.now() < deadline) await sleep(100);
      await queue.drain();
      // Anything reported twice would arrive within a stability period of the last file.
      await sleep(1000);
      await queue.drain();

      assert.equal(consumed.size, count, 'files never reached the consumer');
      assert.deepEqual(
        [...consumed].filter(([, n]) => n !== 1),
        [],
      );
      const stats = queue.stats();
      assert.ok(stats.peakPending <= maxPending, `held ${stats.peakPending} jobs, bound ${maxPending}`);
      assert.ok(stats.peakOverflow > 0, 'the burst never exceeded the bound, so the bound was not tested');
      assert.equal(maxRunning, 2);
    } finally {
      await watcher.close();
      await queue.close();
    }
  });
});
