/**
 * The pipeline as the product runs it, in-process: real folders, real chokidar, a real SQLite file and
 * real sharp decoding, through the Sorter (watcher → queue → ingest → mover), with a tiny model trained
 * here on the generated patterns ("airplanes" bright in the top half, "birds" in the left half).
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { chmod, mkdir, readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { AWAITING_MOVE } from '../src/pipeline/ingest.ts';
import { undoMoves } from '../src/sort/undo.ts';
import { openStore } from '../src/store/store.ts';
import { pngDeclaring, tempDir } from './helpers/fixtures.ts';
import {
  disagreements,
  filesUnder,
  jpegSet,
  liveImages,
  query,
  sha256,
  STABILITY_MS,
  startSorter,
  trainTinyModel,
  waitFor,
  writeSlowly,
  type SorterHarness,
} from './helpers/pipeline.ts';

const run = promisify(execFile);
const BIN = path.resolve('bin/birdgate');
/** After the last expected outcome, how long to keep listening for outcomes that should never come. */
const QUIET_MS = STABILITY_MS * 4 + 1000;

let model: string;
/** Distinct JPEGs: even index an airplane, odd a bird. */
let jpegs: Buffer[];
const roots: string[] = [];
const harnesses: SorterHarness[] = [];

before(async () => {
  const dir = await tempDir('birdgate-pipeline-model-');
  roots.push(dir);
  model = await trainTinyModel(path.join(dir, 'model'));
  jpegs = await jpegSet(40, 11);
});

afterEach(async () => {
  await Promise.all(harnesses.splice(0).map((h) => h.close()));
});

after(async () => {
  await Promise.all(roots.map((dir) => rm(dir, { recursive: true, force: true })));
});

async function workDir(): Promise<string> {
  const dir = await tempDir('birdgate-pipeline-');
  roots.push(dir);
  return dir;
}

async function sorterFor(...args: Parameters<typeof startSorter>): Promise<SorterHarness> {
  const harness = await startSorter(...args);
  harnesses.push(harness);
  return harness;
}

const airplane = (n: number) => jpegs[(2 * n) % jpegs.length]!;
const bird = (n: number) => jpegs[(2 * n + 1) % jpegs.length]!;

/** Outcomes that did something (not "already processed"). */
const handled = (h: SorterHarness) => h.outcomes.filter((o) => o.outcome.kind !== 'skipped');

async function waitForHandled(h: SorterHarness, count: number, timeoutMs = 60_000): Promise<void> {
  await waitFor(
    `${count} images handled (have ${handled(h).length})`,
    () => handled(h).length >= count,
    timeoutMs,
  );
}

describe('pipeline: watch → classify → sort', () => {
  it('moves airplanes to DEST/<camera>, leaves birds, and records a row with a prediction for each', async () => {
    const root = await workDir();
    const cam = path.join(root, 'garden');
    const planes = path.join(root, 'planes');
    await mkdir(cam);
    // Two were there before watching began (scanExisting), the rest arrive while watching.
    await writeFile(path.join(cam, 'early-plane.jpg'), airplane(0));
    await writeFile(path.join(cam, 'early-bird.jpg'), bird(0));
    const h = await sorterFor(model, {
      cameras: [{ name: 'garden', folder: cam }],
      airplaneFolder: planes,
    });
    for (let n = 1; n <= 4; n++) {
      await writeFile(path.join(cam, `plane-${n}.jpg`), airplane(n));
      await writeFile(path.join(cam, `bird-${n}.jpg`), bird(n));
    }
    await waitForHandled(h, 10);
    await sleep(QUIET_MS);

    assert.equal(handled(h).length, 10, 'each image handled once');
    assert.deepEqual(h.errors, []);
    const planeNames = ['early-plane.jpg', 'plane-1.jpg', 'plane-2.jpg', 'plane-3.jpg', 'plane-4.jpg'];
    const birdNames = ['bird-1.jpg', 'bird-2.jpg', 'bird-3.jpg', 'bird-4.jpg', 'early-bird.jpg'];
    assert.deepEqual(await readdir(path.join(planes, 'garden')).then((n) => n.sort()), planeNames);
    assert.deepEqual(await readdir(cam).then((n) => n.sort()), birdNames);
    assert.deepEqual(
      await readFile(path.join(planes, 'garden', 'plane-3.jpg')),
      airplane(3),
      'byte for byte',
    );

    const images = liveImages(h.dbFile);
    assert.equal(images.length, 10);
    for (const image of images) {
      const name = path.basename(image.originalPath);
      assert.equal(image.camera, 'garden');
      assert.ok(image.pBird !== null && image.label !== null, `${name} has a prediction`);
      if (planeNames.includes(name)) {
        assert.equal(image.label, 'airplane', name);
        assert.equal(image.status, 'moved', name);
        assert.equal(image.path, path.join(planes, 'garden', name));
        assert.equal(image.originalPath, path.join(cam, name));
        assert.equal(image.error, null);
      } else {
        assert.equal(image.label, 'bird', name);
        assert.equal(image.status, 'classified', name);
        assert.equal(image.path, path.join(cam, name));
      }
    }
    const moves = query<{ state: string }>(h.dbFile, `SELECT state FROM moves`);
    assert.deepEqual(
      moves.map((m) => m.state),
      Array(5).fill('done'),
      'one journaled move per airplane',
    );
    assert.deepEqual(await disagreements(h.dbFile, [cam, planes]), []);
  });

  it('classifies a slowly written image exactly once, and only once it is complete', async () => {
    const root = await workDir();
    const cam = path.join(root, 'cam');
    const planes = path.join(root, 'planes');
    const h = await sorterFor(model, { cameras: [{ name: 'cam', folder: cam }], airplaneFolder: planes });
    const file = path.join(cam, 'upload.jpg');
    // 20 chunks over ~2 s: a partial JPEG decodes as truncated, so an early read would show as unreadable.
    const done = await writeSlowly(file, airplane(5), 20, 2000);
    await waitForHandled(h, 1);
    await sleep(QUIET_MS);

    const outcomes = h.outcomesFor(file);
    assert.equal(outcomes.length, 1, 'one outcome for the file');
    const [outcome] = outcomes;
    assert.equal(outcome?.kind, 'classified');
    assert.equal(outcome.kind === 'classified' && outcome.decision, 'airplane');
    assert.ok(h.outcomes[0]!.at > done, 'decided after the last chunk was written');
    const [image] = liveImages(h.dbFile);
    assert.equal(image?.size, airplane(5).length, 'recorded at its full size');
    assert.equal(image?.sha256, sha256(airplane(5)));
    assert.equal(image?.status, 'moved');
    assert.deepEqual(await readFile(path.join(planes, 'cam', 'upload.jpg')), airplane(5));
  });

  it('records bad input as unreadable with a clear message, leaves it alone and goes on', async (t) => {
    const root = await workDir();
    const cam = path.join(root, 'cam');
    const planes = path.join(root, 'planes');
    const h = await sorterFor(model, { cameras: [{ name: 'cam', folder: cam }], airplaneFolder: planes });
    const truncated = airplane(6).subarray(0, Math.floor(airplane(6).length / 2));
    const bad: Record<string, { bytes: Buffer | string; message: RegExp }> = {
      'empty.jpg': { bytes: '', message: /empty\.jpg: file is empty \(0 bytes\)/ },
      'truncated.jpg': { bytes: truncated, message: /truncated\.jpg: image data is truncated or corrupt/ },
      'notes.jpg': {
        bytes: 'shopping list: seed, suet\n',
        message: /notes\.jpg: not an image format that can be decoded/,
      },
      'bomb.png': {
        bytes: await pngDeclaring(20_000, 20_000),
        message: /bomb\.png: image of 20000×20000 \(400 MP\) exceeds the 50 MP limit/,
      },
    };
    const runsAsRoot = process.getuid?.() === 0;
    if (!runsAsRoot) {
      // Root reads it anyway; test/pipeline-cli.test.ts covers root by dropping the capability.
      bad['locked.jpg'] = { bytes: airplane(7), message: /locked\.jpg: EACCES: permission denied/ };
    } else t.diagnostic('running as root: permission denied is covered in test/pipeline-cli.test.ts');
    for (const [name, { bytes }] of Object.entries(bad)) await writeFile(path.join(cam, name), bytes);
    if (bad['locked.jpg']) await chmod(path.join(cam, 'locked.jpg'), 0o000);
    const before = new Map<string, { mtimeMs: number; bytes: Buffer | undefined }>();
    for (const name of Object.keys(bad)) {
      const file = path.join(cam, name);
      before.set(name, {
        mtimeMs: (await stat(file)).mtimeMs,
        bytes: name === 'locked.jpg' ? undefined : await readFile(file),
      });
    }
    await waitForHandled(h, Object.keys(bad).length);

    // Removed right after it was reported: the watcher holds it (paused) until it is gone, then hands it on.
    h.sorter.pause();
    const gone = path.join(cam, 'gone.jpg');
    await writeFile(gone, bird(7));
    await sleep(STABILITY_MS * 3 + 500);
    await rm(gone);
    h.sorter.resume();
    await waitFor('the vanished file', () => h.outcomesFor(gone).length > 0);

    // The watcher goes on.
    await writeFile(path.join(cam, 'after.jpg'), airplane(8));
    await waitFor(
      'the good image after the bad ones',
      () => h.outcomesFor(path.join(cam, 'after.jpg')).length > 0,
    );
    await sleep(QUIET_MS);

    assert.deepEqual(h.errors, [], 'bad input is an outcome, not an error');
    for (const [name, { message }] of Object.entries(bad)) {
      const outcomes = h.outcomesFor(path.join(cam, name));
      assert.equal(outcomes.length, 1, `${name}: one outcome`);
      const [outcome] = outcomes;
      assert.equal(outcome?.kind, 'unreadable', name);
      assert.match(outcome.kind === 'unreadable' ? outcome.error : '', message);
      const file = path.join(cam, name);
      assert.equal((await stat(file)).mtimeMs, before.get(name)!.mtimeMs, `${name} untouched`);
      if (name !== 'locked.jpg') assert.deepEqual(await readFile(file), before.get(name)!.bytes);
    }
    const [vanished] = h.outcomesFor(gone);
    assert.equal(vanished?.kind, 'vanished');
    assert.match(vanished.kind === 'vanished' ? vanished.error : '', /gone\.jpg: ENOENT/);
    const events = query<{ data: string }>(h.dbFile, `SELECT data FROM events WHERE kind = 'vanished'`);
    assert.equal(events.length, 1);
    assert.equal(JSON.parse(events[0]!.data).path, gone);
    assert.equal(h.outcomesFor(path.join(cam, 'after.jpg'))[0]?.kind, 'classified');
    assert.deepEqual(await readdir(path.join(planes, 'cam')), ['after.jpg']);

    const images = liveImages(h.dbFile);
    for (const name of Object.keys(bad)) {
      const image = images.find((i) => i.path === path.join(cam, name));
      assert.equal(image?.status, 'unreadable', `${name} has a row with status unreadable`);
      assert.match(image.error ?? '', bad[name]!.message);
    }
    assert.equal(images.length, Object.keys(bad).length + 1, 'no row for the vanished file');
  });

  it('keeps an airplane in place with an error while its destination is unwritable, and moves it on retry', async () => {
    const root = await workDir();
    const cam = path.join(root, 'cam');
    // The airplane folder's parent is a regular file: no one, root included, can create a folder there.
    const blocker = path.join(root, 'blocker');
    await writeFile(blocker, 'not a folder');
    const planes = path.join(blocker, 'planes');
    const h = await sorterFor(
      model,
      { cameras: [{ name: 'cam', folder: cam }], airplaneFolder: planes },
      { retryMs: 3_600_000 },
    );
    await writeFile(path.join(cam, 'plane.jpg'), airplane(9));
    await writeFile(path.join(cam, 'bird.jpg'), bird(9));
    await waitForHandled(h, 2);

    const [outcome] = h.outcomesFor(path.join(cam, 'plane.jpg'));
    assert.equal(outcome?.kind, 'classified');
    assert.ok(outcome.kind === 'classified' && outcome.decision === 'airplane' && !outcome.move);
    assert.match(
      outcome.kind === 'classified' ? (outcome.error ?? '') : '',
      /Could not move .*plane\.jpg to .*blocker\/planes\/cam: part of the path is not a folder \(ENOTDIR/,
    );
    assert.deepEqual(await readFile(path.join(cam, 'plane.jpg')), airplane(9), 'the airplane stayed');
    assert.equal(h.outcomesFor(path.join(cam, 'bird.jpg'))[0]?.kind, 'classified', 'the bird was handled');
    const stuck = liveImages(h.dbFile).find((i) => i.path === path.join(cam, 'plane.jpg'));
    assert.equal(stuck?.status, 'classified');
    assert.match(stuck.error ?? '', /ENOTDIR/);
    assert.deepEqual(
      query<{ state: string }>(h.dbFile, `SELECT state FROM moves`).map((m) => m.state),
      ['failed'],
    );

    // The destination becomes writable: the retry moves it.
    await rm(blocker);
    const retried: string[] = [];
    h.sorter.on('retried', (move) => retried.push(move.toPath));
    await h.sorter.retryMoves();
    assert.deepEqual(retried, [path.join(planes, 'cam', 'plane.jpg')]);
    assert.deepEqual(await readFile(path.join(planes, 'cam', 'plane.jpg')), airplane(9));
    const moved = liveImages(h.dbFile).find((i) => i.originalPath === path.join(cam, 'plane.jpg'));
    assert.equal(moved?.status, 'moved');
    assert.equal(moved.error, null);
    await sleep(QUIET_MS);
    assert.equal(handled(h).length, 2, 'the move did not make anything be processed again');
    assert.deepEqual(await disagreements(h.dbFile, [cam, planes]), []);
  });

  it('does not re-ingest airplanes moved into a destination inside the watched folder', async () => {
    const root = await workDir();
    const cam = path.join(root, 'cam');
    const planes = path.join(cam, 'planes');
    const h = await sorterFor(model, { cameras: [{ name: 'cam', folder: cam }], airplaneFolder: planes });
    for (let n = 0; n < 3; n++) {
      await writeFile(path.join(cam, `plane-${n}.jpg`), airplane(10 + n));
      await writeFile(path.join(cam, `bird-${n}.jpg`), bird(10 + n));
    }
    await waitForHandled(h, 6);
    await sleep(QUIET_MS);

    assert.equal(h.outcomes.length, 6, 'six outcomes, none for the moved files');
    assert.ok(h.outcomes.every((o) => !o.job.file.startsWith(planes + path.sep)));
    assert.deepEqual(await readdir(path.join(planes, 'cam')).then((n) => n.sort()), [
      'plane-0.jpg',
      'plane-1.jpg',
      'plane-2.jpg',
    ]);
    assert.equal(liveImages(h.dbFile).length, 6);
    assert.deepEqual(await disagreements(h.dbFile, [cam]), []);
  });

  it('resumes after its watched folder is removed and re-created', async () => {
    const root = await workDir();
    const cam = path.join(root, 'cam');
    const planes = path.join(root, 'planes');
    const h = await sorterFor(model, { cameras: [{ name: 'cam', folder: cam }], airplaneFolder: planes });
    await writeFile(path.join(cam, 'before.jpg'), airplane(13));
    await waitForHandled(h, 1);

    await rm(cam, { recursive: true });
    await waitFor('status missing', () => h.statuses.includes('cam:missing'));
    await mkdir(cam);
    await waitFor(
      'watching again',
      () => h.statuses.lastIndexOf('cam:watching') > h.statuses.indexOf('cam:missing'),
    );
    await writeFile(path.join(cam, 'after-plane.jpg'), airplane(14));
    await writeFile(path.join(cam, 'after-bird.jpg'), bird(14));
    await waitForHandled(h, 3);
    await sleep(QUIET_MS);

    assert.deepEqual(h.statuses, ['cam:watching', 'cam:missing', 'cam:watching']);
    assert.equal(handled(h).length, 3);
    assert.deepEqual(await readdir(path.join(planes, 'cam')).then((n) => n.sort()), [
      'after-plane.jpg',
      'before.jpg',
    ]);
    assert.deepEqual(await readdir(cam), ['after-bird.jpg']);
  });

  it('undo (birdgate undo --last N) puts airplanes back where the camera left them, and they stay', async () => {
    const root = await workDir();
    const cam = path.join(root, 'cam');
    const planes = path.join(root, 'planes');
    const h = await sorterFor(model, { cameras: [{ name: 'cam', folder: cam }], airplaneFolder: planes });
    await mkdir(path.join(cam, '2024-05-01'), { recursive: true });
    const names = ['a.jpg', 'b.jpg', path.join('2024-05-01', 'c.jpg')];
    for (const [n, name] of names.entries()) await writeFile(path.join(cam, name), airplane(15 + n));
    await writeFile(path.join(cam, 'bird.jpg'), bird(15));
    await waitForHandled(h, 4);
    assert.equal((await filesUnder(planes)).length, 3);

    // The Sorter keeps watching: files coming back must be recognised, not sorted again.
    const undo = await run(BIN, ['undo', '--last', '3'], {
      env: { ...process.env, BIRDGATE_HOME: h.home },
    });
    assert.equal(undo.stdout.trim().split('\n').length, 3, undo.stdout);
    await sleep(QUIET_MS);

    for (const [n, name] of names.entries())
      assert.deepEqual(await readFile(path.join(cam, name)), airplane(15 + n), `${name} is back`);
    assert.deepEqual(await filesUnder(planes), [], 'nothing left in the airplane folder');
    for (const image of liveImages(h.dbFile)) {
      assert.equal(image.path, image.originalPath);
      assert.equal(image.status, 'classified');
      assert.equal(image.error, null, 'not waiting for a retry either');
    }
    assert.ok(
      h.outcomes.slice(4).every((o) => o.outcome.kind === 'skipped'),
      'files put back are recognised, not classified or moved again',
    );
    assert.deepEqual(
      query<{ state: string; n: number }>(
        h.dbFile,
        `SELECT state, count(*) AS n FROM moves GROUP BY state ORDER BY state`,
      ),
      [
        { state: 'done', n: 3 },
        { state: 'undone', n: 3 },
      ],
    );
    await h.sorter.retryMoves();
    assert.deepEqual(await filesUnder(planes), [], 'a retry does not move undone airplanes either');
  });

  it('keeps two cameras’ same-named airplanes apart, suffixes a name reused over time, and undoes both', async () => {
    const root = await workDir();
    const north = path.join(root, 'north');
    const south = path.join(root, 'south');
    const planes = path.join(root, 'planes');
    const h = await sorterFor(model, {
      cameras: [
        { name: 'north', folder: north },
        { name: 'south', folder: south },
      ],
      airplaneFolder: planes,
    });
    await writeFile(path.join(north, 'IMG_0001.jpg'), airplane(16));
    await writeFile(path.join(south, 'IMG_0001.jpg'), airplane(17));
    await waitForHandled(h, 2);
    // The camera reuses a name once the first file has left.
    await writeFile(path.join(north, 'IMG_0002.jpg'), airplane(18));
    await waitForHandled(h, 3);
    await writeFile(path.join(north, 'IMG_0002.jpg'), airplane(19));
    await waitForHandled(h, 4);

    assert.deepEqual(await readFile(path.join(planes, 'north', 'IMG_0001.jpg')), airplane(16));
    assert.deepEqual(await readFile(path.join(planes, 'south', 'IMG_0001.jpg')), airplane(17));
    assert.deepEqual(await readFile(path.join(planes, 'north', 'IMG_0002.jpg')), airplane(18));
    assert.deepEqual(await readFile(path.join(planes, 'north', 'IMG_0002 (1).jpg')), airplane(19));
    assert.equal(liveImages(h.dbFile).length, 4);

    await h.sorter.close(); // undo with nothing watching, as the app's "undo all" after stopping would
    const result = await undoMoves(h.store, { last: 4 });
    assert.equal(result.undone.length, 4);
    assert.deepEqual(result.failed, []);
    assert.deepEqual(await filesUnder(planes), []);
    assert.deepEqual(await readFile(path.join(north, 'IMG_0001.jpg')), airplane(16));
    assert.deepEqual(await readFile(path.join(south, 'IMG_0001.jpg')), airplane(17));
    // Both came from north/IMG_0002.jpg: the newest goes back first, the older one gets a suffix.
    assert.deepEqual(await readFile(path.join(north, 'IMG_0002.jpg')), airplane(19));
    assert.deepEqual(await readFile(path.join(north, 'IMG_0002 (1).jpg')), airplane(18));
    assert.deepEqual(await disagreements(h.dbFile, [north, south, planes]), []);
  });

  it('after a stop mid-way, classifies images left pending and moves airplanes whose move was cut short', async () => {
    const root = await workDir();
    const cam = path.join(root, 'cam');
    const planes = path.join(root, 'planes');
    const home = await workDir();
    await mkdir(cam);
    // The state a kill leaves: one image recorded but not classified, one airplane whose move was journaled
    // (and its destination name claimed) but not carried out, one classified airplane whose move never began.
    const pendingFile = path.join(cam, 'pending.jpg');
    const cutShort = path.join(cam, 'cut-short.jpg');
    const notBegun = path.join(cam, 'not-begun.jpg');
    const store = await openStore(path.join(home, 'birdgate.db'));
    for (const [file, bytes] of [
      [pendingFile, airplane(20)],
      [cutShort, airplane(21)],
      [notBegun, airplane(22)],
    ] as const) {
      await writeFile(file, bytes);
      const info = await stat(file);
      const image = store.recordImage({
        path: file,
        camera: 'cam',
        size: info.size,
        mtimeMs: info.mtimeMs,
        sha256: sha256(bytes),
      });
      if (file === pendingFile) continue;
      store.addPrediction({ imageId: image.id, modelVersion: 'model', pBird: 0.01, label: 'airplane' });
      store.setStatus(image.id, 'classified', AWAITING_MOVE);
      if (file === cutShort) {
        const move = store.moves.begin({
          imageId: image.id,
          fromPath: file,
          toPath: path.join(planes, 'cam', 'cut-short.jpg'),
          kind: 'move',
        });
        assert.ok(move);
        await mkdir(path.join(planes, 'cam'), { recursive: true });
        await writeFile(move.toPath, ''); // the empty claim on the name
      }
    }
    store.close();

    const h = await sorterFor(
      model,
      { cameras: [{ name: 'cam', folder: cam }], airplaneFolder: planes },
      { retryMs: 3_600_000 },
      home,
    );
    await waitForHandled(h, 1);
    await sleep(QUIET_MS);

    assert.deepEqual(h.errors, []);
    const [resumed] = h.outcomesFor(pendingFile);
    assert.equal(resumed?.kind, 'classified', 'the pending image was classified');
    assert.equal(h.outcomes.length, 1, 'the other two were moved by the retry at start, before watching');
    assert.deepEqual(await readdir(path.join(planes, 'cam')).then((n) => n.sort()), [
      'cut-short.jpg',
      'not-begun.jpg',
      'pending.jpg',
    ]);
    assert.deepEqual(await readdir(cam), []);
    const images = liveImages(h.dbFile);
    assert.equal(images.length, 3, 'the pending row was carried on, not replaced by a second one');
    assert.ok(images.every((i) => i.status === 'moved' && i.error === null));
    assert.deepEqual(
      query<{ state: string }>(h.dbFile, `SELECT state FROM moves ORDER BY id`).map((m) => m.state),
      ['failed', 'done', 'done', 'done'],
      'the cut-short move was rolled back at start, then all three were moved',
    );
    assert.deepEqual(await disagreements(h.dbFile, [cam, planes]), []);
  });
});
