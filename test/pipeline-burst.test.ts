/**
 * A burst of 2,000 images dropped into a watched folder, through the whole pipeline (Sorter, real
 * chokidar, SQLite file, sharp): every one recorded, classified and sorted, none lost, none twice.
 */
import assert from 'node:assert/strict';
import { rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, it } from 'node:test';
import { tempDir } from './helpers/fixtures.ts';
import {
  filesBySha,
  filesUnder,
  jpegSet,
  liveImages,
  sha256,
  STABILITY_MS,
  startSorter,
  trainTinyModel,
  waitFor,
  type SorterHarness,
} from './helpers/pipeline.ts';

const COUNT = 2000;
let root: string | undefined;
let harness: SorterHarness | undefined;

after(async () => {
  await harness?.close();
  if (root) await rm(root, { recursive: true, force: true });
});

it(`records and sorts every one of ${COUNT} images dropped at once, none lost, none twice`, async (t) => {
  root = await tempDir('birdgate-pipeline-burst-');
  const model = await trainTinyModel(path.join(root, 'model'));
  const cam = path.join(root, 'cam');
  const planes = path.join(root, 'planes');
  // Small frames keep the burst about the pipeline (watching, queueing, SQLite, moves), not decoding.
  const jpegs = await jpegSet(COUNT, 31, 48);
  const h = (harness = await startSorter(model, {
    cameras: [{ name: 'cam', folder: cam }],
    airplaneFolder: planes,
  }));
  const names = jpegs.map((_, i) => `IMG_${String(i).padStart(5, '0')}.jpg`);
  const started = performance.now();
  for (let i = 0; i < COUNT; i += 100) {
    await Promise.all(
      names.slice(i, i + 100).map((name, j) => writeFile(path.join(cam, name), jpegs[i + j]!)),
    );
  }
  const written = performance.now();
  await waitFor(`${COUNT} outcomes (have ${h.outcomes.length})`, () => h.outcomes.length >= COUNT, 300_000);
  await h.sorter.drain();
  // Anything reported twice would come within a few stability periods of the last file.
  await sleep(STABILITY_MS * 4 + 1000);
  t.diagnostic(
    `written in ${Math.round(written - started)} ms; all handled ${((performance.now() - written) / 1000).toFixed(1)} s after`,
  );

  assert.deepEqual(h.errors, []);
  const perFile = new Map<string, number>();
  for (const { job } of h.outcomes) perFile.set(job.file, (perFile.get(job.file) ?? 0) + 1);
  assert.equal(perFile.size, COUNT, 'an outcome for every file');
  assert.deepEqual(
    [...perFile].filter(([, n]) => n !== 1),
    [],
    'no file handled twice',
  );
  assert.ok(h.outcomes.every((o) => o.outcome.kind === 'classified'));

  const images = liveImages(h.dbFile);
  assert.equal(images.length, COUNT, 'a row per image');
  assert.ok(images.every((i) => i.pBird !== null));

  // By content: each of the 2,000 exactly once, airplanes in the airplane folder, birds where they were.
  const disk = await filesBySha([cam, planes]);
  assert.equal((await filesUnder(cam)).length + (await filesUnder(planes)).length, COUNT);
  for (const [i, bytes] of jpegs.entries()) {
    const where = disk.get(sha256(bytes)) ?? [];
    const expected = i % 2 === 0 ? path.join(planes, 'cam', names[i]!) : path.join(cam, names[i]!);
    assert.deepEqual(where, [expected], `${names[i]} once, in the right place`);
  }
  const moved = images.filter((i) => i.status === 'moved').length;
  assert.equal(moved, COUNT / 2);
});
