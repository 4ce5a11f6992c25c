/**
 * `birdgate watch` as a user runs it: a child process on a camera folder, one JSON line per image, Ctrl+C
 * to stop. Also where "permission denied" is tested for real when the tests run as root: root reads any
 * file, so the child runs without CAP_DAC_OVERRIDE / CAP_DAC_READ_SEARCH (setpriv) and meets mode 000
 * like anyone else.
 */
import assert from 'node:assert/strict';
import { execFileSync, spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, it } from 'node:test';
import { tempDir } from './helpers/fixtures.ts';
import {
  disagreements,
  jpegSet,
  liveImages,
  STABILITY_MS,
  trainTinyModel,
  waitFor,
} from './helpers/pipeline.ts';

const BIN = path.resolve('bin/birdgate');
const DROP_DAC = ['--bounding-set', '-dac_override,-dac_read_search'];

let work: string;
let model: string;
let jpegs: Buffer[];

before(async () => {
  work = await tempDir('birdgate-pipeline-cli-');
  model = await trainTinyModel(path.join(work, 'model'));
  jpegs = await jpegSet(8, 21);
});

after(async () => {
  await rm(work, { recursive: true, force: true });
});

/** How to make a file unreadable to the child: undefined when this machine offers no real way. */
function permissionDenial(): { prefix: string[] } | { skip: string } {
  if (process.getuid?.() !== 0) return { prefix: [] };
  try {
    execFileSync('setpriv', [...DROP_DAC, 'true'], { stdio: 'ignore' });
    return { prefix: ['setpriv', ...DROP_DAC] };
  } catch {
    return { skip: 'running as root without setpriv (or without CAP_SETPCAP): root reads mode 000 files' };
  }
}

interface Child {
  proc: ChildProcessWithoutNullStreams;
  lines: Record<string, unknown>[];
  stderr: () => string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
}

function watch(args: string[], home: string, prefix: string[]): Child {
  const [command, ...rest] = [...prefix, BIN, 'watch', ...args];
  const proc = spawn(command!, rest, { env: { ...process.env, BIRDGATE_HOME: home } });
  const lines: Record<string, unknown>[] = [];
  let out = '';
  let err = '';
  proc.stdout.on('data', (chunk: Buffer) => {
    out += chunk.toString();
    const complete = out.split('\n');
    out = complete.pop()!;
    for (const line of complete) if (line.trim()) lines.push(JSON.parse(line));
  });
  proc.stderr.on('data', (chunk: Buffer) => (err += chunk.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) =>
    proc.once('exit', (code, signal) => resolve({ code, signal })),
  );
  return { proc, lines, stderr: () => err, exited };
}

it('birdgate watch --json: a line per image, airplanes out, birds and unreadable files left, clean Ctrl+C', async (t) => {
  const denial = permissionDenial();
  const root = path.join(work, 'run');
  const cam = path.join(root, 'pond');
  const planes = path.join(root, 'planes');
  const home = path.join(root, 'home');
  const config = path.join(root, 'settings.json');
  await mkdir(cam, { recursive: true });
  await writeFile(config, JSON.stringify({ stabilityMs: STABILITY_MS }));
  await writeFile(path.join(cam, 'plane-0.jpg'), jpegs[0]!); // there before the start
  const locked = path.join(cam, 'locked.jpg');

  const child = watch(
    [cam, '--airplanes', planes, '--model', model, '--config', config, '--backend', 'wasm', '--json'],
    home,
    'prefix' in denial ? denial.prefix : [],
  );
  try {
    await waitFor('the watcher to start', () => child.stderr().includes('Watching'), 60_000);
    await waitFor('the first line', () => child.lines.length === 1, 30_000);
    if ('prefix' in denial) {
      await writeFile(locked, jpegs[2]!);
      await chmod(locked, 0o000);
    } else t.diagnostic(`permission denied not tested: ${denial.skip}`);
    for (let n = 1; n < 4; n++) {
      await writeFile(path.join(cam, `plane-${n}.jpg`), jpegs[2 * n]!);
      await writeFile(path.join(cam, `bird-${n}.jpg`), jpegs[2 * n + 1]!);
    }
    await writeFile(path.join(cam, 'broken.jpg'), 'not a jpeg');
    const expected = 1 + 6 + 1 + ('prefix' in denial ? 1 : 0);
    await waitFor(`${expected} lines`, () => child.lines.length >= expected, 60_000);
    child.proc.kill('SIGINT');
    const { code } = await child.exited;
    assert.equal(code, 0, child.stderr());
    assert.match(child.stderr(), /Done: images \d+, airplanes 4, birds 3/);

    const byPath = new Map(child.lines.map((l) => [path.basename(l.path as string), l]));
    assert.equal(child.lines.length, expected, 'one line per image');
    for (let n = 0; n < 4; n++) {
      const line = byPath.get(`plane-${n}.jpg`);
      assert.equal(line?.decision, 'airplane');
      assert.equal(line.status, 'moved');
      assert.equal(line.movedTo, path.join(planes, 'pond', `plane-${n}.jpg`));
    }
    for (let n = 1; n < 4; n++) assert.equal(byPath.get(`bird-${n}.jpg`)?.decision, 'bird');
    assert.equal(byPath.get('broken.jpg')?.kind, 'unreadable');
    assert.match(String(byPath.get('broken.jpg')?.error), /broken\.jpg: not an image format/);
    if ('prefix' in denial) {
      assert.equal(byPath.get('locked.jpg')?.kind, 'unreadable');
      assert.match(String(byPath.get('locked.jpg')?.error), /locked\.jpg: EACCES: permission denied/);
      assert.equal((await stat(locked)).mode & 0o777, 0, 'left alone');
      await chmod(locked, 0o644);
      assert.deepEqual(await readFile(locked), jpegs[2]);
    }

    assert.deepEqual((await readdir(path.join(planes, 'pond'))).sort(), [
      'plane-0.jpg',
      'plane-1.jpg',
      'plane-2.jpg',
      'plane-3.jpg',
    ]);
    const left = ['bird-1.jpg', 'bird-2.jpg', 'bird-3.jpg', 'broken.jpg'];
    if ('prefix' in denial) left.push('locked.jpg');
    assert.deepEqual((await readdir(cam)).sort(), left.sort());
    const images = liveImages(path.join(home, 'birdgate.db'));
    assert.equal(images.length, expected, 'a row per image');
    assert.deepEqual(await disagreements(path.join(home, 'birdgate.db'), [cam, planes]), []);
  } finally {
    child.proc.kill('SIGKILL');
  }
});
