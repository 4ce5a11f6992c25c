/**
 * The status, export and undo commands, each run in a child process (as bin/birdgate would) against a
 * database in a temporary BIRDGATE_HOME.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { parseSince } from '../src/cli/commands/undo.ts';
import { moveFile } from '../src/sort/move.ts';
import { sha256File } from '../src/sort/sha256.ts';
import { openStore } from '../src/store/store.ts';
import { tempDir } from './helpers/fixtures.ts';

const run = promisify(execFile);
let home: string;
let planes: string;

/** Runs one command factory the way src/cli/main.ts will once it registers it. */
async function command(file: string, factory: string, args: string[]) {
  const script = `const { ${factory} } = await import(${JSON.stringify(path.resolve('src/cli/commands', file))});
    await ${factory}().parseAsync(process.argv.slice(1), { from: 'user' });`;
  return run(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script, '--', ...args], {
    env: { ...process.env, BIRDGATE_HOME: home },
  });
}

before(async () => {
  home = await tempDir('birdgate-cli-');
  planes = path.join(home, 'planes');
  const store = await openStore(path.join(home, 'birdgate.db'));
  for (const [camera, name, label] of [
    ['pond', 'a.jpg', 'airplane'],
    ['pond', 'b.jpg', 'bird'],
    ['meadow, east', 'c.jpg', 'airplane'],
  ] as const) {
    const file = path.join(home, camera, name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, randomBytes(2000));
    const image = store.recordImage({
      path: file,
      camera,
      size: 2000,
      mtimeMs: 0,
      sha256: await sha256File(file),
    });
    store.addPrediction({
      imageId: image.id,
      modelVersion: 'v1',
      pBird: label === 'bird' ? 0.9 : 0.1,
      label,
    });
    store.setStatus(image.id, 'classified');
    if (label === 'airplane')
      await moveFile(store, { imageId: image.id, from: file, toDir: planes, kind: 'move' });
  }
  store.close();
});

test('status --json counts by status and camera; plain status is readable', async () => {
  const { stdout } = await command('status.ts', 'statusCommand', ['--json']);
  const counts = JSON.parse(stdout);
  assert.equal(counts.total, 3);
  assert.deepEqual([counts.byStatus.moved, counts.byStatus.classified], [2, 1]);
  assert.deepEqual(counts.byCamera, { pond: { classified: 1, moved: 1 }, 'meadow, east': { moved: 1 } });
  const plain = (await command('status.ts', 'statusCommand', [])).stdout;
  assert.match(plain, /^3 images$/m);
  assert.match(plain, /^ {2}moved {7}2$/m);
  assert.match(plain, /^camera pond: classified 1, moved 1$/m);
});

test('export --csv writes one quoted row per image', async () => {
  const file = path.join(home, 'out.csv');
  const { stdout } = await command('export.ts', 'exportCommand', ['--csv', file]);
  assert.match(stdout, /Exported 3 images/);
  const lines = (await readFile(file, 'utf8')).trimEnd().split('\r\n');
  assert.equal(lines[0], 'path,camera,capture_time,label,p_bird,corrected_label');
  assert.equal(lines.length, 4);
  assert.ok(lines[3]!.endsWith(',"meadow, east",,airplane,0.1,'), lines[3]);
});

test('undo --last 1 prints what moved back; without a selection it refuses', async () => {
  const { stdout } = await command('undo.ts', 'undoCommand', ['--last', '1']);
  assert.match(stdout, /^moved back: .*meadow, east\/c\.jpg {2}\(from .*planes\/c\.jpg\)$/m);
  assert.deepEqual(await readdir(planes), ['a.jpg']);
  await assert.rejects(command('undo.ts', 'undoCommand', []), /say which moves to undo/);
  await assert.rejects(
    command('undo.ts', 'undoCommand', ['--last', '1', '--since', '1h']),
    /cannot be used with/,
  );
});

test('--since takes ISO dates and times (local unless offset) and spans back from now', () => {
  const now = new Date('2024-05-01T12:00:00Z');
  assert.equal(parseSince('30m', now).toISOString(), '2024-05-01T11:30:00.000Z');
  assert.equal(parseSince('2d', now).toISOString(), '2024-04-29T12:00:00.000Z');
  assert.equal(parseSince('2024-05-01T10:00:00Z').toISOString(), '2024-05-01T10:00:00.000Z');
  assert.equal(
    parseSince('2024-05-01').getTime(),
    new Date(2024, 4, 1).getTime(),
    'a date is local midnight',
  );
  assert.equal(parseSince('2024-05-01T14:30').getTime(), new Date(2024, 4, 1, 14, 30).getTime());
  assert.throws(() => parseSince('yesterday'), /expected an ISO date/);
  assert.throws(() => parseSince('2024-13-01'), /expected an ISO date/);
});
