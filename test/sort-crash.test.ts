/**
 * Crash safety for real: a child process moves and undoes files as fast as it can and is killed with
 * SIGKILL at a random moment; recovery must then leave every file existing exactly once, nothing partial,
 * and the database agreeing with the disk. The same file runs as that child when BIRDGATE_CRASH_CHILD is set.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { moveFile } from '../src/sort/move.ts';
import { recoverMoves } from '../src/sort/recover.ts';
import { sha256File } from '../src/sort/sha256.ts';
import { undoMoves } from '../src/sort/undo.ts';
import { openStore } from '../src/store/store.ts';
import { tempDir } from './helpers/fixtures.ts';

const ROUNDS = 10;
const IMAGES = 24;
const CAMERAS = ['c1', 'c2'];

const dbFile = (root: string) => path.join(root, 'birdgate.db');
const planesDir = (root: string) => path.join(root, 'planes');

/** The child: sorts random images, half of them across the copy path, and undoes, until it is killed. */
async function child(root: string): Promise<void> {
  const store = await openStore(dbFile(root));
  process.stdout.write('ready\n');
  for (;;) {
    const waiting = store.listImages({ status: 'classified', limit: 100 }).items;
    const pick = waiting[Math.floor(Math.random() * waiting.length)];
    if (pick && Math.random() < 0.6) {
      const forceCopy = Math.random() < 0.5;
      await moveFile(
        store,
        { imageId: pick.id, from: pick.path, toDir: planesDir(root), kind: 'move' },
        { forceCopy },
      );
    } else {
      await undoMoves(store, { last: 1 }, { forceCopy: Math.random() < 0.5 });
    }
  }
}

async function runAndKill(root: string): Promise<void> {
  const proc = spawn(process.execPath, ['--import', 'tsx', fileURLToPath(import.meta.url)], {
    env: { ...process.env, BIRDGATE_CRASH_CHILD: root },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const exited = new Promise<NodeJS.Signals | null>((resolve) =>
    proc.once('exit', (_code, signal) => resolve(signal)),
  );
  const ready = new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error('the child never became ready')), 20_000);
    proc.stdout.on('data', (chunk: Buffer) => {
      if (chunk.toString().includes('ready')) {
        clearTimeout(timer);
        resolve();
      }
    });
    proc.once('exit', () => reject(new Error('the child exited by itself')));
  });
  try {
    await ready;
    await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 250));
  } finally {
    proc.kill('SIGKILL');
  }
  assert.equal(await exited, 'SIGKILL', 'the child was killed, it did not stop on its own');
}

/** Every regular file under the camera and airplane folders, by sha256. */
async function filesOnDisk(root: string): Promise<Map<string, string[]>> {
  const bySha = new Map<string, string[]>();
  for (const dir of [...CAMERAS.map((c) => path.join(root, c)), planesDir(root)]) {
    for (const name of await readdir(dir).catch(() => [])) {
      const file = path.join(dir, name);
      const sha = await sha256File(file);
      bySha.set(sha, [...(bySha.get(sha) ?? []), file]);
    }
  }
  return bySha;
}

if (process.env.BIRDGATE_CRASH_CHILD) {
  await child(process.env.BIRDGATE_CRASH_CHILD);
} else {
  test(`SIGKILL at random moments during moves and undos, ${ROUNDS} times: every file exists exactly once`, async (t) => {
    const root = await tempDir('birdgate-crash-');
    const setup = await openStore(dbFile(root));
    for (let i = 0; i < IMAGES; i++) {
      const camera = CAMERAS[i % CAMERAS.length]!;
      // Same names on both cameras, so moves collide in the airplane folder.
      const file = path.join(root, camera, `IMG_${String(Math.floor(i / 2)).padStart(4, '0')}.jpg`);
      await mkdir(path.dirname(file), { recursive: true });
      const bytes = randomBytes(20_000 + Math.floor(Math.random() * 40_000));
      await writeFile(file, bytes);
      const image = setup.recordImage({
        path: file,
        camera,
        size: bytes.length,
        mtimeMs: 0,
        sha256: await sha256File(file),
      });
      setup.setStatus(image.id, 'classified');
    }
    setup.close();

    let recovered = 0;
    let sorted = 0;
    for (let round = 0; round < ROUNDS; round++) {
      await runAndKill(root);
      const store = await openStore(dbFile(root));
      try {
        recovered += (await recoverMoves(store)).settled.length;
        assert.deepEqual(store.moves.inFlight(), []);
        const images = store.listImages({ limit: 1000 }).items;
        assert.equal(images.length, IMAGES);
        const disk = await filesOnDisk(root);
        const everyFile = [...disk.values()].flat();
        assert.equal(everyFile.length, IMAGES, `round ${round}: no extra files (claims, partials, copies)`);
        for (const image of images) {
          assert.deepEqual(
            disk.get(image.sha256),
            [image.path],
            `round ${round}: image ${image.id} once, where the DB says`,
          );
          const inPlanes = path.dirname(image.path) === planesDir(root);
          assert.equal(
            image.status,
            inPlanes ? 'moved' : 'classified',
            `round ${round}: status of image ${image.id}`,
          );
        }
        sorted = images.filter((i) => i.status === 'moved').length;
      } finally {
        store.close();
      }
    }
    t.diagnostic(
      `${recovered} interrupted moves settled over ${ROUNDS} kills; ${sorted} images sorted at the end`,
    );
    assert.ok(recovered > 0, 'the kills interrupted moves in flight at least once');
  });
}
