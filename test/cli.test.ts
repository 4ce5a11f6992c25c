import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, writeFile, readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { syntheticImages, tempDir, writeCifarFolder, writeJpeg } from './helpers/fixtures.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/birdgate');

async function birdgate(args: string[], home: string) {
  return run(BIN, args, { env: { ...process.env, BIRDGATE_HOME: home }, maxBuffer: 1 << 24 });
}

/** Output of a `--json` command: one JSON value a line. */
const jsonLines = (stdout: string) =>
  stdout
    .trim()
    .split('\n')
    .map((l) => JSON.parse(l));

/** `birdgate train` of the MLP on the fixture data on wasm, into `out`: its `--json` lines. */
async function trainMlp(out: string, options: string[]) {
  const args = [
    'train',
    '--data',
    data,
    '--arch',
    'mlp',
    ...options,
    '--backend',
    'wasm',
    '--out',
    out,
    '--json',
  ];
  return jsonLines((await birdgate(args, work)).stdout);
}

let work: string;
let data: string;
let model: string;

before(async () => {
  work = await tempDir();
  data = path.join(work, 'cifar');
  model = path.join(work, 'model');
  await mkdir(data);
  await writeCifarFolder(data, 40, 40);
});

test('train → eval --json → classify --json, end to end through bin/birdgate', async () => {
  const lines = await trainMlp(model, ['--epochs', '3', '--lr', '0.001', '--no-augment']);
  assert.equal(lines.filter((l) => l.type === 'epoch').length, 3);
  const metadata = JSON.parse(await readFile(path.join(model, 'metadata.json'), 'utf8'));
  assert.equal(metadata.architecture, 'mlp');
  assert.equal(metadata.training.trainImages, 200);

  const evaluated = JSON.parse(
    (await birdgate(['eval', '--model', model, '--data', data, '--json'], work)).stdout,
  );
  assert.equal(evaluated.n, 40);
  assert.ok(evaluated.accuracy > 0.8, `accuracy ${evaluated.accuracy}`);
  assert.equal(evaluated.confusion.length, 2);
  assert.equal(
    evaluated.confusion.flat().reduce((a: number, b: number) => a + b, 0),
    40,
  );

  const photos = path.join(work, 'photos');
  await mkdir(path.join(photos, 'nested'), { recursive: true });
  const images = syntheticImages(4, 7);
  await writeJpeg(path.join(photos, 'plane.jpg'), images, 0);
  await writeJpeg(path.join(photos, 'nested', 'bird.jpg'), images, 1);
  await writeFile(path.join(photos, 'corrupt.jpg'), 'this is not a jpeg');
  await writeFile(path.join(photos, 'empty.jpg'), '');
  await writeFile(path.join(photos, 'notes.txt'), 'ignored: not an image name');

  const classified = await birdgate(['classify', photos, '--model', model, '--json'], work).catch((e) => e);
  assert.equal(classified.code, 2, 'bad files make the exit code 2, after every file was handled');
  const results = new Map<string, { label?: string; pBird?: number; error?: string }>(
    jsonLines(classified.stdout).map((r) => [path.basename(r.path), r] as const),
  );
  assert.deepEqual([...results.keys()].sort(), ['bird.jpg', 'corrupt.jpg', 'empty.jpg', 'plane.jpg']);
  assert.equal(results.get('plane.jpg')!.label, 'airplane');
  assert.equal(results.get('bird.jpg')!.label, 'bird');
  assert.ok(results.get('bird.jpg')!.pBird! > 0.5);
  assert.match(results.get('corrupt.jpg')!.error!, /corrupt\.jpg/);
  assert.match(results.get('empty.jpg')!.error!, /empty/i);
});

test('train --minutes trains as many epochs as fit and records the budget', async () => {
  const out = path.join(work, 'timed');
  const lines = await trainMlp(out, ['--minutes', '0.05']);
  const epochs = lines.filter((l) => l.type === 'epoch');
  const summary = lines.at(-1);
  assert.ok(epochs.length > 3, `${epochs.length} epochs in 3 s`);
  assert.ok(summary.durationSec <= 4, `${summary.durationSec} s`);
  const metadata = JSON.parse(await readFile(path.join(out, 'metadata.json'), 'utf8'));
  assert.equal(metadata.training.minutes, 0.05);
  assert.equal(metadata.training.epochs, epochs.length);
});

test('eval of a missing data folder fails with a clear message', async () => {
  const failed = await birdgate(
    ['eval', '--model', model, '--data', path.join(work, 'nowhere'), '--json'],
    work,
  ).catch((e) => e);
  assert.equal(failed.code, 1);
  assert.match(failed.stderr, /birdgate: .*nowhere/);
});
