import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, stat, unlink, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { moveFile } from '../src/sort/move.ts';
import { nameWithSuffix } from '../src/sort/names.ts';
import { sha256File } from '../src/sort/sha256.ts';
import { MoveError } from '../src/sort/transfer.ts';
import { undoMoves } from '../src/sort/undo.ts';
import { openStore, type Store } from '../src/store/store.ts';
import type { ImageRow } from '../src/store/types.ts';
import { tempDir } from './helpers/fixtures.ts';

const MTIME = new Date('2021-06-01T12:34:56.000Z');
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

interface World {
  root: string;
  store: Store;
  planes: string;
  /** Writes a file of random bytes (old mtime) into a camera folder and records it as classified. */
  add(name: string, folder?: string): Promise<{ image: ImageRow; bytes: Buffer }>;
}

async function world(): Promise<World> {
  const root = await tempDir('birdgate-sort-');
  const store = await openStore(path.join(root, 'birdgate.db'));
  const planes = path.join(root, 'planes');
  return {
    root,
    store,
    planes,
    async add(name, folder = 'pond') {
      const file = path.join(root, folder, name);
      await mkdir(path.dirname(file), { recursive: true });
      const bytes = randomBytes(3000 + Math.floor(Math.random() * 3000));
      await writeFile(file, bytes);
      await utimes(file, MTIME, MTIME);
      const image = store.recordImage({
        path: file,
        camera: folder,
        size: bytes.length,
        mtimeMs: MTIME.getTime(),
        sha256: await sha256File(file),
      });
      store.setStatus(image.id, 'classified');
      return { image: store.getImage(image.id)!, bytes };
    },
  };
}

async function listing(dir: string): Promise<string[]> {
  return (await readdir(dir).catch(() => [])).sort();
}

async function readOrNull(file: string): Promise<Buffer | null> {
  return readFile(file).catch(() => null);
}

test('file names with collision suffixes', () => {
  assert.equal(nameWithSuffix('a.jpg', 0), 'a.jpg');
  assert.equal(nameWithSuffix('a.jpg', 2), 'a (2).jpg');
  assert.equal(nameWithSuffix('IMG.0001.JPG', 1), 'IMG.0001 (1).JPG');
  assert.equal(nameWithSuffix('README', 1), 'README (1)');
});

test('sha256File streams the SHA-256 of a file', async () => {
  const w = await world();
  const file = path.join(w.root, 'abc.txt');
  await writeFile(file, 'abc');
  assert.equal(await sha256File(file), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
  w.store.close();
});

for (const forceCopy of [false, true]) {
  test(`a move ${forceCopy ? 'across devices (forced copy path)' : 'on one device (rename)'} keeps bytes, times and permissions`, async () => {
    const w = await world();
    const { image, bytes } = await w.add('plane.jpg');
    await chmod(image.path, 0o640);
    const move = await moveFile(
      w.store,
      { imageId: image.id, from: image.path, toDir: w.planes, kind: 'move' },
      { forceCopy },
    );
    const dest = path.join(w.planes, 'plane.jpg');
    assert.deepEqual(
      [move.state, move.kind, move.fromPath, move.toPath, move.prevStatus],
      ['done', 'move', image.path, dest, 'classified'],
    );
    assert.deepEqual(await readFile(dest), bytes);
    assert.equal((await stat(dest)).mtimeMs, MTIME.getTime());
    assert.equal((await stat(dest)).mode & 0o777, 0o640);
    assert.equal(await readOrNull(image.path), null, 'the source is gone');
    assert.deepEqual(await listing(w.planes), ['plane.jpg'], 'no partial copy or claim left');
    const moved = w.store.getImage(image.id)!;
    assert.deepEqual([moved.path, moved.originalPath, moved.status], [dest, image.path, 'moved']);
    w.store.close();
  });
}

test('a copy leaves the source in place and marks the image sorted', async () => {
  const w = await world();
  const { image, bytes } = await w.add('plane.jpg');
  const move = await moveFile(w.store, {
    imageId: image.id,
    from: image.path,
    toDir: w.planes,
    kind: 'copy',
  });
  assert.equal(move.state, 'done');
  assert.deepEqual(await readFile(path.join(w.planes, 'plane.jpg')), bytes);
  assert.deepEqual(await readFile(image.path), bytes);
  assert.equal((await stat(path.join(w.planes, 'plane.jpg'))).mtimeMs, MTIME.getTime());
  assert.deepEqual(
    [w.store.getImage(image.id)?.path, w.store.getImage(image.id)?.status],
    [image.path, 'moved'],
  );
  w.store.close();
});

test('the copy path verifies the sha256: a file changed since it was recorded is not moved', async () => {
  const w = await world();
  const { image, bytes } = await w.add('plane.jpg');
  const changed = Buffer.from(bytes);
  changed[0] = changed[0]! ^ 0xff; // same size, different bytes
  await writeFile(image.path, changed);
  await assert.rejects(
    moveFile(
      w.store,
      { imageId: image.id, from: image.path, toDir: w.planes, kind: 'move' },
      { forceCopy: true },
    ),
    (error: MoveError) => error instanceof MoveError && /changed since it was recorded/.test(error.message),
  );
  assert.deepEqual(await readFile(image.path), changed, 'the file stays where it was, untouched');
  assert.deepEqual(await listing(w.planes), [], 'no partial copy, no claimed name');
  assert.equal(w.store.getImage(image.id)?.status, 'classified');
  assert.equal(w.store.moves.list({ limit: 1, offset: 0 }).items[0]?.state, 'failed');
  w.store.close();
});

test('name collisions get suffixes: a.jpg, a (1).jpg, a (2).jpg; nothing is overwritten', async () => {
  const w = await world();
  const moved: string[] = [];
  for (const camera of ['c1', 'c2', 'c3']) {
    const { image } = await w.add('a.jpg', camera);
    moved.push(
      (await moveFile(w.store, { imageId: image.id, from: image.path, toDir: w.planes, kind: 'move' }))
        .toPath,
    );
  }
  assert.deepEqual(
    moved.map((p) => path.basename(p)),
    ['a.jpg', 'a (1).jpg', 'a (2).jpg'],
  );
  assert.deepEqual(await listing(w.planes), ['a (1).jpg', 'a (2).jpg', 'a.jpg']);
  w.store.close();
});

test('concurrent moves of same-named files never pick the same name', async () => {
  const w = await world();
  const added = await Promise.all(Array.from({ length: 12 }, (_, i) => w.add('x.jpg', `cam${i}`)));
  const moves = await Promise.all(
    added.map(({ image }, i) =>
      moveFile(
        w.store,
        { imageId: image.id, from: image.path, toDir: w.planes, kind: 'move' },
        { forceCopy: i % 2 === 0 },
      ),
    ),
  );
  const names = moves.map((m) => path.basename(m.toPath));
  assert.equal(new Set(names).size, 12);
  assert.deepEqual(await listing(w.planes), [...names].sort());
  for (const [i, { image, bytes }] of added.entries()) {
    const row = w.store.getImage(image.id)!;
    assert.deepEqual(await readFile(row.path), bytes, `image ${i} is where the store says, intact`);
  }
  w.store.close();
});

test('an unwritable destination: clear error, the file stays, no partial, retried later', async (t) => {
  const w = await world();
  const { image, bytes } = await w.add('plane.jpg');
  let blocked: string;
  if (process.getuid?.() === 0) {
    // chmod does not stop root: a destination under a regular file cannot be written by anyone.
    const file = path.join(w.root, 'not-a-folder');
    await writeFile(file, 'x');
    blocked = path.join(file, 'planes');
    t.diagnostic('running as root: destination under a regular file instead of chmod 0o555');
  } else {
    blocked = path.join(w.root, 'locked');
    await mkdir(blocked);
    await chmod(blocked, 0o555);
  }
  for (const forceCopy of [false, true]) {
    await assert.rejects(
      moveFile(w.store, { imageId: image.id, from: image.path, toDir: blocked, kind: 'move' }, { forceCopy }),
      (error: MoveError) =>
        error instanceof MoveError &&
        error.message.startsWith(`Could not move ${image.path} to ${blocked}: `) &&
        /not a folder|permission denied/.test(error.message) &&
        error.move.state === 'failed',
    );
  }
  assert.deepEqual(await readFile(image.path), bytes);
  assert.deepEqual(await listing(path.dirname(image.path)), ['plane.jpg']);
  if (process.getuid?.() !== 0) assert.deepEqual(await listing(blocked), []);
  assert.equal(w.store.getImage(image.id)?.status, 'classified', 'status kept so it is retried');

  const retried = await moveFile(w.store, {
    imageId: image.id,
    from: image.path,
    toDir: w.planes,
    kind: 'move',
  });
  assert.equal(retried.state, 'done');
  assert.deepEqual(await readFile(retried.toPath), bytes);
  w.store.close();
});

test('a move is refused when the caller has the wrong path or the image is already moving', async () => {
  const w = await world();
  const { image } = await w.add('plane.jpg');
  await assert.rejects(
    moveFile(w.store, { imageId: image.id, from: '/elsewhere.jpg', toDir: w.planes, kind: 'move' }),
    /is at .*plane\.jpg, not \/elsewhere\.jpg/,
  );
  w.store.moves.begin({
    imageId: image.id,
    fromPath: image.path,
    toPath: path.join(w.planes, 'x.jpg'),
    kind: 'move',
  });
  await assert.rejects(
    moveFile(w.store, { imageId: image.id, from: image.path, toDir: w.planes, kind: 'move' }),
    /already has a move in progress/,
  );
  w.store.close();
});

async function sortAll(w: World, names: string[], forceCopy = false) {
  const out = [];
  for (const name of names) {
    const { image, bytes } = await w.add(name);
    const move = await moveFile(
      w.store,
      { imageId: image.id, from: image.path, toDir: w.planes, kind: 'move' },
      { forceCopy },
    );
    out.push({ image, bytes, move });
  }
  return out;
}

for (const forceCopy of [false, true]) {
  test(`undo one move by id${forceCopy ? ' (forced copy path)' : ''}: file, path and status restored`, async () => {
    const w = await world();
    const [a] = await sortAll(w, ['a.jpg']);
    const result = await undoMoves(w.store, { ids: [a!.move.id] }, { forceCopy });
    assert.deepEqual([result.skipped, result.failed], [[], []]);
    const undo = result.undone[0]!;
    assert.deepEqual(
      [undo.kind, undo.undoOf, undo.fromPath, undo.toPath],
      ['undo', a!.move.id, a!.move.toPath, a!.image.path],
    );
    assert.deepEqual(await readFile(a!.image.path), a!.bytes);
    assert.equal((await stat(a!.image.path)).mtimeMs, MTIME.getTime());
    assert.deepEqual(await listing(w.planes), []);
    const row = w.store.getImage(a!.image.id)!;
    assert.deepEqual([row.path, row.status], [a!.image.path, 'classified']);
    assert.equal(w.store.moves.get(a!.move.id)?.state, 'undone');

    const again = await undoMoves(w.store, { ids: [a!.move.id, 999, undo.id] });
    assert.deepEqual(again.undone, []);
    assert.deepEqual(again.skipped, [
      { moveId: 999, reason: 'there is no such move' },
      { moveId: undo.id, reason: 'it is itself an undo' },
      { moveId: a!.move.id, reason: 'it is undone' },
    ]);
    w.store.close();
  });
}

test('undo the last N moves, newest first', async () => {
  const w = await world();
  const sorted = await sortAll(w, ['a.jpg', 'b.jpg', 'c.jpg']);
  const result = await undoMoves(w.store, { last: 2 });
  assert.deepEqual(
    result.undone.map((m) => m.undoOf),
    [sorted[2]!.move.id, sorted[1]!.move.id],
  );
  assert.deepEqual(await listing(w.planes), ['a.jpg']);
  assert.deepEqual(await listing(path.join(w.root, 'pond')), ['b.jpg', 'c.jpg']);
  assert.equal(w.store.getImage(sorted[0]!.image.id)?.status, 'moved');
  w.store.close();
});

test('undo everything since a time', async () => {
  const w = await world();
  await sortAll(w, ['a.jpg']);
  await pause(5);
  const since = new Date();
  await pause(5);
  await sortAll(w, ['b.jpg', 'c.jpg']);
  const result = await undoMoves(w.store, { since });
  assert.equal(result.undone.length, 2);
  assert.deepEqual(await listing(w.planes), ['a.jpg']);
  assert.deepEqual(await listing(path.join(w.root, 'pond')), ['b.jpg', 'c.jpg']);
  await assert.rejects(undoMoves(w.store, { last: 0 }));
  w.store.close();
});

test('undo into an occupied original path takes a suffix and leaves the newcomer alone', async () => {
  const w = await world();
  const [a] = await sortAll(w, ['a.jpg']);
  const newcomer = await w.add('a.jpg'); // the camera reused the name
  const result = await undoMoves(w.store, { ids: [a!.move.id] });
  const back = path.join(w.root, 'pond', 'a (1).jpg');
  assert.equal(result.undone[0]?.toPath, back);
  assert.deepEqual(await readFile(back), a!.bytes);
  assert.deepEqual(await readFile(newcomer.image.path), newcomer.bytes);
  assert.equal(w.store.getImage(a!.image.id)?.path, back);
  assert.equal(w.store.findByPath(newcomer.image.path)?.id, newcomer.image.id);
  w.store.close();
});

test('undo a copy: removes the copy when the original is intact, else puts the copy back', async () => {
  const w = await world();
  const { image, bytes } = await w.add('a.jpg');
  const copy = await moveFile(w.store, {
    imageId: image.id,
    from: image.path,
    toDir: w.planes,
    kind: 'copy',
  });
  const result = await undoMoves(w.store, { ids: [copy.id] });
  assert.equal(result.undone.length, 1);
  assert.deepEqual(await listing(w.planes), []);
  assert.deepEqual(await readFile(image.path), bytes);
  assert.deepEqual(
    [w.store.getImage(image.id)?.status, w.store.moves.get(copy.id)?.state],
    ['classified', 'undone'],
  );

  const again = await moveFile(w.store, {
    imageId: image.id,
    from: image.path,
    toDir: w.planes,
    kind: 'copy',
  });
  await writeFile(image.path, 'the original was overwritten by someone');
  await undoMoves(w.store, { ids: [again.id] });
  assert.deepEqual(await listing(w.planes), []);
  assert.deepEqual(
    await readFile(path.join(w.root, 'pond', 'a (1).jpg')),
    bytes,
    'the copy is back, beside the other file',
  );
  assert.equal(w.store.getImage(image.id)?.path, path.join(w.root, 'pond', 'a (1).jpg'));
  w.store.close();
});

test('undo of a move whose file was replaced or deleted fails clearly and leaves the move done', async () => {
  const w = await world();
  const [a, b] = await sortAll(w, ['a.jpg', 'b.jpg']);
  await writeFile(a!.move.toPath, 'someone else wrote this');
  await unlink(b!.move.toPath);
  const result = await undoMoves(w.store, { ids: [a!.move.id, b!.move.id] });
  assert.deepEqual(result.undone, []);
  assert.deepEqual(
    result.failed.map((f) => f.moveId),
    [b!.move.id, a!.move.id],
  );
  assert.match(result.failed[0]!.error, /the file is at neither/);
  assert.match(result.failed[1]!.error, /changed since it was recorded/);
  assert.deepEqual(await listing(path.join(w.root, 'pond')), [], 'no claim left behind in the camera folder');
  assert.deepEqual(
    [w.store.moves.get(a!.move.id)?.state, w.store.moves.get(b!.move.id)?.state],
    ['done', 'done'],
  );
  w.store.close();
});

test('two Birdgates (two databases) sorting into one folder at once never overwrite each other', async () => {
  const [one, two] = [await world(), await world()];
  const added = await Promise.all(
    [one, two].flatMap((w) =>
      Array.from({ length: 6 }, (_, i) => w.add('x.jpg', `cam${i}`).then((a) => ({ w, ...a }))),
    ),
  );
  // Both share one.planes: only the O_EXCL claim on disk keeps them apart, the journals cannot see each other.
  const moves = await Promise.all(
    added.map(({ w, image }) =>
      moveFile(w.store, { imageId: image.id, from: image.path, toDir: one.planes, kind: 'move' }),
    ),
  );
  assert.equal(new Set(moves.map((m) => m.toPath)).size, added.length);
  assert.equal((await listing(one.planes)).length, added.length);
  for (const [i, { bytes }] of added.entries()) assert.deepEqual(await readFile(moves[i]!.toPath), bytes);
  one.store.close();
  two.store.close();
});
