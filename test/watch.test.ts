import assert from 'node:assert/strict';
import { Stats } from 'node:fs';
import { appendFile, mkdir, mkdtemp, rm, stat, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { after, afterEach, describe, it } from 'node:test';
import sharp from 'sharp';
import { parseSettings, type SettingsInput } from '../src/config/settings.ts';
import { FolderWatcher, type CameraStatus, type FolderWatcherOptions } from '../src/watch/folder-watcher.ts';
import { createIgnoreMatcher } from '../src/watch/ignore-rules.ts';
import { LeanFSWatcher } from '../src/watch/lean-fs-watcher.ts';
import { findMissedImages } from '../src/watch/missed-files.ts';

// Low enough to keep the suite quick, high enough that a loaded 2-core machine does not stall a writer
// for longer than this between two chunks.
const STABILITY_MS = 300;
const FOLDER_CHECK_MS = 250;
// After the last expected file arrives, how long to keep listening for files that should never come.
const QUIET_MS = STABILITY_MS * 3 + 500;

const tempRoots: string[] = [];
const watchers: FolderWatcher[] = [];

after(async () => {
  await Promise.all(tempRoots.map((dir) => rm(dir, { recursive: true, force: true })));
});

afterEach(async () => {
  await Promise.all(watchers.splice(0).map((w) => w.close()));
});

async function tempDir(): Promise<string> {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'birdgate-watch-'));
  tempRoots.push(dir);
  return dir;
}

interface Harness {
  watcher: FolderWatcher;
  /** Every `ready` event in order, with the moment it came. */
  reported: { file: string; camera: string; at: number }[];
  statuses: CameraStatus[];
  count(file: string): number;
}

/** A started watcher on one camera folder (`cam`) with test-sized timings. */
async function startWatching(
  root: string,
  overrides: Partial<SettingsInput> = {},
  options: FolderWatcherOptions = {},
): Promise<Harness> {
  const settings = parseSettings({
    cameras: [{ name: 'cam', folder: root }],
    airplaneFolder: path.join(path.dirname(root), 'planes'),
    stabilityMs: STABILITY_MS,
    ...overrides,
  });
  const watcher = new FolderWatcher(settings, { folderCheckMs: FOLDER_CHECK_MS, ...options });
  watchers.push(watcher);
  const harness: Harness = {
    watcher,
    reported: [],
    statuses: [],
    count: (file) => harness.reported.filter((r) => r.file === file).length,
  };
  watcher.on('ready', (file, camera) => harness.reported.push({ file, camera, at: performance.now() }));
  watcher.on('status', (state) => harness.statuses.push(state.status));
  await watcher.start();
  return harness;
}

async function waitFor(what: string, condition: () => boolean, timeoutMs = 20_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) assert.fail(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(20);
  }
}

const reportedFiles = (h: Harness) => h.reported.map((r) => r.file).sort();

let jpegBytes: Buffer | undefined;
/** A real 64×64 JPEG, so "image file" means what a camera uploads. */
async function jpeg(): Promise<Buffer> {
  jpegBytes ??= await sharp({ create: { width: 64, height: 64, channels: 3, background: '#6699cc' } })
    .jpeg()
    .toBuffer();
  return jpegBytes;
}

/**
 * Writes `bytes` in 20 chunks spread over ~2 s, the way a slow FTP upload grows a file, and returns the
 * moment the last chunk was on disk. Gaps are a third of the stability wait, leaving room for a loaded
 * machine to run late without the file looking finished mid-way.
 */
async function writeSlowly(file: string, bytes: Buffer, afterFirstChunk?: () => void): Promise<number> {
  const chunks = 20;
  const size = Math.ceil(bytes.length / chunks);
  for (let i = 0; i < chunks; i++) {
    await appendFile(file, bytes.subarray(i * size, (i + 1) * size));
    if (i === 0) afterFirstChunk?.();
    if (i < chunks - 1) await sleep(100);
  }
  return performance.now();
}

describe('ignore rules', () => {
  const root = '/cams/garden';
  const ignored = createIgnoreMatcher(root, ['/cams/garden/planes', '/data/birdgate']);
  const file = Object.assign(new Stats(), { mode: 0o100644 });
  const dir = Object.assign(new Stats(), { mode: 0o040755 });

  it('prunes hidden and partial names anywhere below the root, whatever the type', () => {
    for (const p of [
      '.hidden.jpg',
      '.thumbs/a.jpg',
      'a.jpg.part',
      'a.jpg.tmp',
      'a.jpg~',
      'a.jpg.crdownload',
      'A.JPG.PART',
      '.birdgate-partial-123-a.jpg',
      'day/.sync/a.jpg',
    ]) {
      assert.equal(ignored(path.join(root, p)), true, p);
    }
  });

  it('prunes the airplane folder and extra paths, with everything below them', () => {
    for (const p of ['/cams/garden/planes', '/cams/garden/planes/a.jpg', '/data/birdgate/x/y.png']) {
      assert.equal(ignored(p), true, p);
    }
    assert.equal(ignored('/cams/garden/planes-2/a.jpg', file), false, 'a sibling that only shares a prefix');
  });

  it('rules out non-images only when they are known to be files', () => {
    assert.equal(ignored(path.join(root, 'notes.txt'), file), true);
    assert.equal(ignored(path.join(root, 'IMG_1.HEIC'), file), false);
    assert.equal(ignored(path.join(root, '2024.05.01'), dir), false, 'a dated folder');
    assert.equal(ignored(path.join(root, '2024.05.01')), false, 'type unknown yet');
  });

  it('never prunes the root itself, even when its own path looks hidden', () => {
    const hiddenRoot = '/home/u/.cams/garden';
    assert.equal(createIgnoreMatcher(hiddenRoot, [])(hiddenRoot, dir), false);
    assert.equal(createIgnoreMatcher(hiddenRoot, [])(path.join(hiddenRoot, 'a.jpg'), file), false);
  });
});

describe('findMissedImages', () => {
  it('finds images chokidar never registered, in folders it missed too, within depth', async () => {
    const root = await tempDir();
    await mkdir(path.join(root, 'known'));
    await mkdir(path.join(root, 'missed', 'deeper', 'too-deep'), { recursive: true });
    for (const name of [
      'registered.jpg',
      'new.jpg',
      'new.txt',
      '.hidden.jpg',
      'new.jpg.part',
      'known/registered.jpg',
      'known/new.png',
      'missed/a.jpg',
      'missed/deeper/b.jpg',
      'missed/deeper/too-deep/c.jpg',
    ]) {
      await writeFile(path.join(root, name), 'x');
    }
    const missed = await findMissedImages(
      [root, path.join(root, 'known'), path.join(root, 'missed/deeper/too-deep')],
      {
        root,
        depth: 2,
        registered: { [root]: ['registered.jpg', 'known'], [path.join(root, 'known')]: ['registered.jpg'] },
        ignored: createIgnoreMatcher(root, []),
      },
    );
    assert.deepEqual(
      missed.sort(),
      ['new.jpg', 'known/new.png', 'missed/a.jpg', 'missed/deeper/b.jpg']
        .map((p) => path.join(root, p))
        .sort(),
    );
  });
});

describe('FolderWatcher', () => {
  it('reports a slowly written image once, only after its last chunk', async () => {
    const root = await tempDir();
    const h = await startWatching(root);
    const file = path.join(root, 'slow.jpg');
    const bytes = Buffer.concat([await jpeg(), Buffer.alloc(20_000, 7)]);
    const lastChunkAt = await writeSlowly(file, bytes);
    await waitFor('the slow file', () => h.count(file) > 0);
    await sleep(QUIET_MS);
    assert.equal(h.count(file), 1);
    assert.ok(h.reported[0]!.at - lastChunkAt >= STABILITY_MS - 5, 'reported before the write had settled');
    assert.equal((await stat(file)).size, bytes.length);
  });

  it('also waits for a file that was still being written when watching started', async () => {
    const root = await tempDir();
    const file = path.join(root, 'uploading.jpg');
    let started: Promise<Harness> | undefined;
    // Start watching after the first chunk, without pausing the writer: the initial scan finds a partial file.
    const lastChunkAt = await writeSlowly(
      file,
      Buffer.concat([await jpeg(), Buffer.alloc(20_000, 7)]),
      () => {
        started = startWatching(root);
      },
    );
    assert.ok(started);
    const harness = await started;
    await waitFor('the file found by the initial scan', () => harness.count(file) > 0);
    await sleep(QUIET_MS);
    assert.equal(harness.count(file), 1);
    assert.ok(
      harness.reported[0]!.at - lastChunkAt >= STABILITY_MS - 5,
      'reported before the write had settled',
    );
  });

  it('ignores hidden, partial, non-image and excluded files, and accepts any image extension case', async () => {
    const root = await tempDir();
    const extra = path.join(root, 'birdgate-data');
    const h = await startWatching(root, {}, { ignorePaths: [extra] });
    const image = await jpeg();
    const skipped = [
      '.hidden.jpg',
      '.thumbs/a.jpg',
      'a.jpg.part',
      'b.jpg.tmp',
      'c.jpg~',
      'd.jpg.crdownload',
      '.birdgate-partial-1-e.jpg',
      'notes.txt',
      'clip.mp4',
      'birdgate-data/f.jpg',
    ];
    const accepted = [
      'g.jpg',
      'H.JPEG',
      'i.png',
      'j.webp',
      'k.GIF',
      'l.tif',
      'm.tiff',
      'n.avif',
      'o.heic',
      'day/p.jpg',
    ];
    for (const name of [...skipped, ...accepted]) {
      await mkdir(path.dirname(path.join(root, name)), { recursive: true });
      await writeFile(path.join(root, name), image);
    }
    await waitFor('every accepted image', () => h.reported.length >= accepted.length);
    await sleep(QUIET_MS);
    assert.deepEqual(reportedFiles(h), accepted.map((name) => path.join(root, name)).sort());
    assert.ok(h.reported.every((r) => r.camera === 'cam'));
  });

  it('does not report the airplane folder when it sits inside the watched folder', async () => {
    const root = await tempDir();
    const planes = path.join(root, 'airplanes');
    await mkdir(planes);
    await writeFile(path.join(planes, 'already-sorted.jpg'), await jpeg());
    const h = await startWatching(root, { airplaneFolder: planes });
    await writeFile(path.join(planes, 'moved-in.jpg'), await jpeg());
    await mkdir(path.join(planes, '2024'));
    await writeFile(path.join(planes, '2024', 'deeper.jpg'), await jpeg());
    const control = path.join(root, 'new.jpg');
    await writeFile(control, await jpeg());
    await waitFor('the control image', () => h.count(control) > 0);
    await sleep(QUIET_MS);
    assert.deepEqual(reportedFiles(h), [control]);
  });

  it('reports files already there at start when scanExisting is on', async () => {
    const root = await tempDir();
    const old = [path.join(root, 'old1.jpg'), path.join(root, 'sub', 'old2.jpg')];
    await mkdir(path.join(root, 'sub'));
    for (const file of old) await writeFile(file, await jpeg());
    const h = await startWatching(root, { scanExisting: true });
    await waitFor('both existing files', () => h.reported.length >= 2);
    await sleep(QUIET_MS);
    assert.deepEqual(reportedFiles(h), old.sort());
  });

  it('leaves files already there at start alone when scanExisting is off', async () => {
    const root = await tempDir();
    await writeFile(path.join(root, 'old.jpg'), await jpeg());
    const h = await startWatching(root, { scanExisting: false });
    const fresh = path.join(root, 'new.jpg');
    await writeFile(fresh, await jpeg());
    await waitFor('the new file', () => h.count(fresh) > 0);
    await sleep(QUIET_MS);
    assert.deepEqual(reportedFiles(h), [fresh]);
  });

  it('reports a file again when it is rewritten, and only then', async () => {
    const root = await tempDir();
    const h = await startWatching(root);
    const file = path.join(root, 'snapshot.jpg');
    await writeFile(file, await jpeg());
    await waitFor('the first version', () => h.count(file) === 1);
    await appendFile(file, Buffer.alloc(1000, 1));
    await waitFor('the second version', () => h.count(file) === 2);
    await sleep(QUIET_MS);
    assert.equal(h.count(file), 2);
  });

  it('limits recursion to the configured depth', async () => {
    const root = await tempDir();
    const h = await startWatching(root, { depth: 1 });
    await mkdir(path.join(root, 'a', 'b'), { recursive: true });
    const shallow = path.join(root, 'a', 'one-down.jpg');
    await writeFile(path.join(root, 'a', 'b', 'two-down.jpg'), await jpeg());
    await writeFile(shallow, await jpeg());
    await waitFor('the file one level down', () => h.count(shallow) > 0);
    await sleep(QUIET_MS);
    assert.deepEqual(reportedFiles(h), [shallow]);
  });

  it('survives its folder vanishing and coming back, and picks up what arrived meanwhile', async () => {
    const root = await tempDir();
    const h = await startWatching(root);
    assert.deepEqual(h.watcher.statuses(), [{ camera: 'cam', folder: root, status: 'watching' }]);

    await rm(root, { recursive: true });
    await waitFor('status missing', () => h.statuses.at(-1) === 'missing');
    assert.equal(h.watcher.statuses()[0]?.status, 'missing');

    // Re-created with a file already inside, as a share that comes back would be.
    await mkdir(root);
    const meanwhile = path.join(root, 'meanwhile.jpg');
    await writeFile(meanwhile, await jpeg());
    await waitFor('status watching again', () => h.statuses.at(-1) === 'watching');
    const after = path.join(root, 'after.jpg');
    await writeFile(after, await jpeg());
    await waitFor('both files', () => h.count(meanwhile) > 0 && h.count(after) > 0);
    await sleep(QUIET_MS);
    assert.deepEqual(reportedFiles(h), [after, meanwhile]);
    assert.deepEqual(h.statuses, ['watching', 'missing', 'watching']);
  });

  it('notices its folder being replaced faster than it probes', async () => {
    const root = await tempDir();
    const h = await startWatching(root);
    await rm(root, { recursive: true });
    await mkdir(root);
    await waitFor('status watching again', () => h.statuses.length >= 3 && h.statuses.at(-1) === 'watching');
    const file = path.join(root, 'a.jpg');
    await writeFile(file, await jpeg());
    await waitFor('the file in the new folder', () => h.count(file) > 0);
  });

  it('attaches a folder that does not exist yet once it appears', async () => {
    const root = path.join(await tempDir(), 'later');
    const h = await startWatching(root);
    assert.deepEqual(h.statuses, ['missing']);
    await mkdir(root);
    await waitFor('status watching', () => h.statuses.at(-1) === 'watching');
    const file = path.join(root, 'a.jpg');
    await writeFile(file, await jpeg());
    await waitFor('the file', () => h.count(file) > 0);
  });

  it('watches several cameras independently and leaves disabled ones alone', async () => {
    const base = await tempDir();
    const garden = path.join(base, 'garden');
    const roof = path.join(base, 'roof');
    const off = path.join(base, 'off');
    await mkdir(garden);
    await mkdir(off);
    const settings = parseSettings({
      cameras: [
        { name: 'garden', folder: garden },
        { name: 'roof', folder: roof },
        { name: 'off', folder: off, enabled: false },
      ],
      airplaneFolder: path.join(base, 'planes'),
      stabilityMs: STABILITY_MS,
    });
    const watcher = new FolderWatcher(settings, { folderCheckMs: FOLDER_CHECK_MS });
    watchers.push(watcher);
    const reported: string[] = [];
    watcher.on('ready', (file, camera) => reported.push(`${camera}:${path.relative(base, file)}`));
    await watcher.start();
    assert.deepEqual(
      watcher.statuses().map((s) => `${s.camera}:${s.status}`),
      ['garden:watching', 'roof:missing'],
    );
    await writeFile(path.join(off, 'ignored.jpg'), await jpeg());
    await writeFile(path.join(garden, 'a.jpg'), await jpeg());
    await waitFor('the garden file', () => reported.length > 0);
    await sleep(QUIET_MS);
    assert.deepEqual(reported, [`garden:${path.join('garden', 'a.jpg')}`]);
  });

  it('reports an error status when the camera path is not a folder', async () => {
    const root = path.join(await tempDir(), 'a-file');
    await writeFile(root, 'not a folder');
    const h = await startWatching(root);
    const [state] = h.watcher.statuses();
    assert.equal(state?.status, 'error');
    assert.match(state?.detail ?? '', /not a folder/);
  });

  it('works by polling, for shares that send no events', async () => {
    const root = await tempDir();
    const h = await startWatching(root, { polling: { enabled: true, intervalMs: 100 } });
    const file = path.join(root, 'polled.jpg');
    const lastChunkAt = await writeSlowly(file, Buffer.concat([await jpeg(), Buffer.alloc(20_000, 7)]));
    await waitFor('the polled file', () => h.count(file) > 0);
    await sleep(QUIET_MS);
    assert.equal(h.count(file), 1);
    assert.ok(h.reported[0]!.at - lastChunkAt >= STABILITY_MS - 5, 'reported before the write had settled');
  });

  it('holds completed files while paused and releases them on resume', async () => {
    const root = await tempDir();
    const h = await startWatching(root);
    h.watcher.pause();
    const file = path.join(root, 'while-paused.jpg');
    await writeFile(file, await jpeg());
    await sleep(QUIET_MS);
    assert.equal(h.count(file), 0);
    h.watcher.resume();
    assert.equal(h.count(file), 1);
  });

  it('emits nothing after close', async () => {
    const root = await tempDir();
    const h = await startWatching(root);
    await writeFile(path.join(root, 'late.jpg'), await jpeg());
    await h.watcher.close();
    await sleep(QUIET_MS);
    assert.deepEqual(h.reported, []);
  });
});

describe('LeanFSWatcher', () => {
  it('sees every file of a burst into a large folder while listing it only a few times, with types from readdir', async () => {
    const dir = await tempDir();
    for (let i = 0; i < 2000; i++) await writeFile(path.join(dir, `old-${i}.jpg`), 'x');
    let listings = 0;
    let stattedEntries = 0;
    class Counting extends LeanFSWatcher {
      override _readdirp(root: string, opts?: Parameters<LeanFSWatcher['_readdirp']>[1]) {
        listings++;
        const stream = super._readdirp(root, opts);
        stream?.on('data', (entry: { stats?: unknown }) => {
          if (entry.stats instanceof Stats) stattedEntries++;
        });
        return stream;
      }
    }
    const fsWatcher = new Counting({ ignoreInitial: true }).add(dir);
    const added = new Set<string>();
    fsWatcher.on('add', (file) => added.add(path.basename(file)));
    await new Promise<void>((resolve) => fsWatcher.once('ready', () => resolve()));
    const before = listings;
    try {
      // 300 files over about 1.5 s: stock chokidar lists the 2,000-entry folder again after nearly every one.
      for (let i = 0; i < 300; i++) {
        await writeFile(path.join(dir, `new-${i}.jpg`), 'y');
        if (i % 10 === 9) await sleep(50);
      }
      await waitFor('every new file', () => added.size === 300);
      assert.equal(added.size, 300, 'every new file announced');
      assert.ok(![...added].some((name) => name.startsWith('old-')), 'old files are not announced');
      const rereads = listings - before;
      assert.ok(rereads >= 1 && rereads <= 12, `${rereads} re-reads for 300 files`);
      assert.equal(stattedEntries, 0, 'listings carry directory entries, not an lstat per entry');
    } finally {
      await fsWatcher.close();
    }
  });
});
