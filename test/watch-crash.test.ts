/**
 * Crash safety of the running product: `birdgate watch` in a child process is killed with SIGKILL at
 * random moments while images keep arriving (during its start, its recovery, its classifying and its
 * moves), then started again, round after round. After a last run that drains everything: every file
 * exists exactly once (by content), airplanes sorted and birds in place, the database agrees with the
 * disk, and no partial copy or empty claim file is left.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { appendFile, mkdir, rename, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, it } from 'node:test';
import { tempDir } from './helpers/fixtures.ts';
import {
  disagreements,
  filesBySha,
  filesUnder,
  isAirplaneIndex,
  jpegSet,
  liveImages,
  query,
  sha256,
  trainTinyModel,
  waitFor,
} from './helpers/pipeline.ts';

const ROUNDS = 10;
/** Files written while a child runs (and maybe after it was killed), and while none runs. */
const DURING = 24;
const BETWEEN = 8;
const TOTAL = ROUNDS * (DURING + BETWEEN) + DURING;
const BIN = path.resolve('bin/birdgate');

let root: string | undefined;

after(async () => {
  if (root) await rm(root, { recursive: true, force: true });
});

interface Run {
  stderr: () => string;
  /** Lines printed on stdout: one per image handled. */
  handled: () => number;
  kill(signal: NodeJS.Signals): void;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function startWatch(args: string[], home: string): Run {
  const proc = spawn(BIN, ['watch', ...args], {
    env: { ...process.env, BIRDGATE_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let err = '';
  let lines = 0;
  proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  proc.stdout.on('data', (chunk: Buffer) => (lines += chunk.toString().split('\n').length - 1));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { stderr: () => err, handled: () => lines, kill: (signal) => proc.kill(signal), exited };
}

it(`survives SIGKILL at random moments ${ROUNDS} times while images arrive: every file exactly once`, async (t) => {
  root = await tempDir('birdgate-watch-crash-');
  const src = path.join(root, 'cam');
  const dest = path.join(root, 'planes');
  const staging = path.join(root, 'staging');
  const home = path.join(root, 'home');
  const config = path.join(root, 'settings.json');
  const dbFile = path.join(home, 'birdgate.db');
  await Promise.all([src, staging, home].map((dir) => mkdir(dir, { recursive: true })));
  await writeFile(config, JSON.stringify({ stabilityMs: 200 }));
  const model = await trainTinyModel(path.join(root, 'model'));
  const jpegs = await jpegSet(TOTAL, 41, 64);
  const args = [
    src,
    '--airplanes',
    dest,
    '--model',
    model,
    '--config',
    config,
    '--backend',
    'wasm',
    '--json',
  ];

  let next = 0;
  const nameOf = (i: number) => `IMG_${String(i).padStart(4, '0')}.jpg`;
  /** Writes `count` images the ways uploaders do: whole, renamed into place, or in a few slow chunks. */
  const arrive = async (count: number, gapMs: number) => {
    for (let k = 0; k < count; k++) {
      const i = next++;
      const file = path.join(src, nameOf(i));
      const bytes = jpegs[i]!;
      if (i % 3 === 0) {
        await writeFile(file, bytes);
      } else if (i % 3 === 1) {
        const temp = path.join(staging, nameOf(i));
        await writeFile(temp, bytes);
        await rename(temp, file);
      } else {
        const third = Math.ceil(bytes.length / 3);
        for (let c = 0; c < 3; c++) {
          await appendFile(file, bytes.subarray(c * third, (c + 1) * third));
          if (c < 2) await sleep(40);
        }
      }
      if (gapMs) await sleep(gapMs);
    }
  };

  /** Each written image exactly once by content; what a kill leaves may be unsettled but nothing is lost. */
  const assertNothingLost = async (when: string) => {
    const disk = await filesBySha([src, dest]);
    for (let i = 0; i < next; i++) {
      const where = disk.get(sha256(jpegs[i]!)) ?? [];
      assert.equal(
        where.length,
        1,
        `${when}: ${nameOf(i)} exists ${where.length} times (${where.join(', ')})`,
      );
    }
  };

  const kills: string[] = [];
  let interrupted = 0;
  for (let round = 0; round < ROUNDS; round++) {
    await arrive(BETWEEN, 0); // arrived while nothing was running: found by the scan at start
    const run = startWatch(args, home);
    // Some kills land in the start (backend, model, recovery, scan), most in the middle of a burst: its
    // files become complete after the stability wait, then take a few ms each.
    const early = round % 4 === 3;
    let writing: Promise<void>;
    let delay: number;
    if (early) {
      writing = arrive(DURING, 60);
      delay = Math.round(200 + Math.random() * 1500);
      await sleep(delay);
    } else {
      await waitFor('the watcher to start', () => run.stderr().includes('Watching'), 60_000);
      writing = arrive(DURING, 5);
      // Once the burst is being handled, at a random moment within it (a slice of files takes a few
      // hundred ms, and the burst comes in slices).
      await waitFor(
        'the burst to be handled',
        () => run.handled() > 0 || run.stderr().includes('Error'),
        60_000,
      );
      delay = Math.round(Math.random() * 250);
      await sleep(delay);
    }
    run.kill('SIGKILL');
    const { signal } = await run.exited;
    assert.equal(signal, 'SIGKILL', `round ${round}: the child stopped by itself:\n${run.stderr()}`);
    kills.push(`${early ? 'start' : 'first image'}+${delay}ms`);
    await writing;

    // Work the kill cut short: recorded but not classified, an airplane not yet moved, a move unfinished.
    const unsettled =
      query<{ n: number }>(
        dbFile,
        `SELECT count(*) AS n FROM images WHERE retired_at IS NULL
           AND (status = 'pending' OR (status = 'classified' AND error IS NOT NULL))`,
      )[0]!.n + query<{ n: number }>(dbFile, `SELECT count(*) AS n FROM moves WHERE state = 'intent'`)[0]!.n;
    if (unsettled) interrupted++;
    await assertNothingLost(`after kill ${round}`);
  }

  // The last run: more images arrive, then it drains everything and is stopped with Ctrl+C.
  const run = startWatch(args, home);
  await arrive(DURING, 20);
  assert.equal(next, TOTAL);
  const settled = () => {
    const images = liveImages(dbFile);
    return (
      images.length === TOTAL &&
      images.every((i) => i.status === 'moved' || (i.status === 'classified' && i.label === 'bird'))
    );
  };
  await waitFor('every image handled and every airplane sorted', settled, 180_000);
  run.kill('SIGINT');
  const { code } = await run.exited;
  assert.equal(code, 0, run.stderr());

  const recovered = query<{ n: number }>(
    dbFile,
    `SELECT count(*) AS n FROM events WHERE kind = 'move-recovered'`,
  )[0]!.n;
  t.diagnostic(`kills: ${kills.join(', ')}`);
  t.diagnostic(
    `${interrupted} kills left work unfinished; ${recovered} interrupted moves settled at restarts`,
  );

  await assertNothingLost('at the end');
  const disk = await filesBySha([src, dest]);
  for (let i = 0; i < TOTAL; i++) {
    const expected = isAirplaneIndex(i) ? path.join(dest, 'cam', nameOf(i)) : path.join(src, nameOf(i));
    assert.deepEqual(disk.get(sha256(jpegs[i]!)), [expected], `${nameOf(i)} where it belongs`);
  }
  const files = [...(await filesUnder(src)), ...(await filesUnder(dest))];
  assert.equal(files.length, TOTAL, 'no extra files: no partial copies, no empty claims');
  assert.deepEqual(await disagreements(dbFile, [src, dest]), [], 'the database agrees with the disk');
  const images = liveImages(dbFile);
  assert.equal(images.length, TOTAL, 'one live row per file');
  assert.equal(new Set(images.map((i) => i.sha256)).size, TOTAL, 'no file recorded twice');
  assert.ok(images.every((i) => i.pBird !== null && i.error === null));
  assert.ok(interrupted > 0, 'at least one kill interrupted work in progress');
});
