/**
 * Recovery from each crash point of the move protocol, each simulated by journaling the intent and then
 * doing to the disk exactly what the protocol had done when the process died.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdir, readdir, readFile, rename, unlink, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import { PARTIAL_PREFIX } from '../src/sort/files.ts';
import { moveFile } from '../src/sort/move.ts';
import { recoverMoves } from '../src/sort/recover.ts';
import { sha256File } from '../src/sort/sha256.ts';
import { openStore, type Store } from '../src/store/store.ts';
import type { ImageRow, MoveKind, MoveRow } from '../src/store/types.ts';
import { tempDir } from './helpers/fixtures.ts';

interface Scene {
  store: Store;
  image: ImageRow;
  bytes: Buffer;
  pond: string;
  planes: string;
  source: string;
  dest: string;
  partial: (move: MoveRow) => string;
}

async function scene(): Promise<Scene> {
  const root = await tempDir('birdgate-recover-');
  const store = await openStore(path.join(root, 'birdgate.db'));
  const pond = path.join(root, 'pond');
  const planes = path.join(root, 'planes');
  await mkdir(pond);
  await mkdir(planes);
  const source = path.join(pond, 'a.jpg');
  const bytes = randomBytes(5000);
  await writeFile(source, bytes);
  const image = store.recordImage({
    path: source,
    camera: 'pond',
    size: bytes.length,
    mtimeMs: 0,
    sha256: await sha256File(source),
  });
  store.setStatus(image.id, 'classified');
  return {
    store,
    image,
    bytes,
    pond,
    planes,
    source,
    dest: path.join(planes, 'a.jpg'),
    partial: (move) => path.join(planes, `${PARTIAL_PREFIX}${move.id}`),
  };
}

function journal(s: Scene, kind: MoveKind = 'move'): MoveRow {
  return s.store.moves.begin({ imageId: s.image.id, fromPath: s.source, toPath: s.dest, kind })!;
}

const files = async (dir: string) => (await readdir(dir)).sort();

/** Every image row's file exists where it says with its bytes; nothing is in flight; nothing partial. */
async function assertDiskAgrees(s: Scene): Promise<void> {
  assert.deepEqual(s.store.moves.inFlight(), []);
  const row = s.store.getImage(s.image.id)!;
  assert.deepEqual(await readFile(row.path), s.bytes);
  for (const dir of [s.pond, s.planes]) {
    assert.deepEqual(
      (await files(dir)).filter((n) => n.startsWith(PARTIAL_PREFIX)),
      [],
      `no partial copy left in ${dir}`,
    );
  }
}

async function rolledBack(s: Scene, move: MoveRow): Promise<void> {
  const result = await recoverMoves(s.store);
  assert.deepEqual(
    result.settled.map((m) => [m.id, m.state]),
    [[move.id, 'failed']],
  );
  assert.match(s.store.moves.get(move.id)!.error!, /Interrupted/);
  assert.deepEqual(await files(s.planes), [], 'no claim, no partial');
  assert.deepEqual(await files(s.pond), ['a.jpg']);
  assert.deepEqual(
    [s.store.getImage(s.image.id)?.path, s.store.getImage(s.image.id)?.status],
    [s.source, 'classified'],
  );
  await assertDiskAgrees(s);
}

async function finished(s: Scene, move: MoveRow): Promise<void> {
  const result = await recoverMoves(s.store);
  assert.deepEqual(
    result.settled.map((m) => [m.id, m.state]),
    [[move.id, 'done']],
  );
  assert.deepEqual(await files(s.planes), ['a.jpg']);
  assert.deepEqual(await files(s.pond), [], 'the file exists once: the source is gone');
  assert.deepEqual(
    [s.store.getImage(s.image.id)?.path, s.store.getImage(s.image.id)?.status],
    [s.dest, 'moved'],
  );
  await assertDiskAgrees(s);
}

test('crash after journaling, before anything was touched: rolled back', async () => {
  const s = await scene();
  await rolledBack(s, journal(s));
});

test('crash after claiming the name, before the rename: rolled back, claim removed', async () => {
  const s = await scene();
  const move = journal(s);
  await writeFile(s.dest, '');
  await rolledBack(s, move);
});

test('crash mid-copy (partial half written): rolled back, partial removed', async () => {
  const s = await scene();
  const move = journal(s);
  await writeFile(s.dest, '');
  await writeFile(s.partial(move), s.bytes.subarray(0, 2000));
  await rolledBack(s, move);
});

test('crash after the copy was verified, before it was renamed into place: rolled back', async () => {
  const s = await scene();
  const move = journal(s);
  await writeFile(s.dest, '');
  await writeFile(s.partial(move), s.bytes);
  await rolledBack(s, move);
});

test('crash after the copy was put in place, before the source was unlinked: finished', async () => {
  const s = await scene();
  const move = journal(s);
  await writeFile(s.dest, s.bytes);
  await finished(s, move);
});

test('crash after the source was unlinked (or renamed), before the move was marked done: finished', async () => {
  const s = await scene();
  const move = journal(s);
  await rename(s.source, s.dest);
  await finished(s, move);
});

test('a copy interrupted after it was put in place is done and keeps its source', async () => {
  const s = await scene();
  const move = journal(s, 'copy');
  await writeFile(s.dest, s.bytes);
  const result = await recoverMoves(s.store);
  assert.equal(result.settled[0]?.state, 'done');
  assert.deepEqual([await readFile(s.source), await readFile(s.dest)], [s.bytes, s.bytes]);
  assert.deepEqual(
    [s.store.getImage(s.image.id)?.path, s.store.getImage(s.image.id)?.status],
    [s.source, 'moved'],
  );
  assert.equal(s.store.moves.get(move.id)?.state, 'done');
});

test('an undo interrupted after the file went back is finished: original move undone, path restored', async () => {
  const s = await scene();
  const moved = await moveFile(s.store, {
    imageId: s.image.id,
    from: s.source,
    toDir: s.planes,
    kind: 'move',
  });
  const undo = s.store.moves.begin({
    imageId: s.image.id,
    fromPath: moved.toPath,
    toPath: s.source,
    kind: 'undo',
    undoOf: moved.id,
  })!;
  await rename(moved.toPath, s.source);
  const result = await recoverMoves(s.store);
  assert.deepEqual(
    result.settled.map((m) => [m.id, m.state]),
    [[undo.id, 'done']],
  );
  assert.equal(s.store.moves.get(moved.id)?.state, 'undone');
  assert.deepEqual(
    [s.store.getImage(s.image.id)?.path, s.store.getImage(s.image.id)?.status],
    [s.source, 'classified'],
  );
  assert.deepEqual(await files(s.planes), []);
  await assertDiskAgrees(s);
});

test("someone else's file at the journaled name is never removed", async () => {
  const s = await scene();
  const move = journal(s);
  await writeFile(s.dest, 'not ours');
  const result = await recoverMoves(s.store);
  assert.equal(result.settled[0]?.state, 'failed');
  assert.equal(await readFile(s.dest, 'utf8'), 'not ours');
  assert.deepEqual(await readFile(s.source), s.bytes);
  assert.equal(s.store.moves.get(move.id)?.state, 'failed');
});

test('a complete partial copy whose source vanished is put in place rather than lost', async () => {
  const s = await scene();
  const move = journal(s);
  await writeFile(s.partial(move), s.bytes);
  await unlink(s.source);
  await finished(s, move);
});

test('a file at neither end: the move fails with a clear message and nothing is created', async () => {
  const s = await scene();
  const move = journal(s);
  await unlink(s.source);
  await writeFile(s.dest, '');
  const result = await recoverMoves(s.store);
  assert.equal(result.settled[0]?.state, 'failed');
  assert.match(s.store.moves.get(move.id)!.error!, /the file is at neither .*a\.jpg nor .*a\.jpg/);
  assert.deepEqual([await files(s.planes), await files(s.pond)], [[], []]);
});

test('stray partial copies in the folders of unsettled moves are removed, other files kept', async () => {
  const s = await scene();
  const failed = journal(s);
  s.store.moves.fail(failed.id, 'disk full');
  await writeFile(path.join(s.planes, `${PARTIAL_PREFIX}${failed.id}`), 'leftover');
  await writeFile(path.join(s.planes, `${PARTIAL_PREFIX}999`), 'leftover');
  await writeFile(path.join(s.planes, 'keep.jpg'), 'a user file');
  const result = await recoverMoves(s.store);
  assert.deepEqual(result.settled, []);
  assert.deepEqual(result.removedPartials.map((p) => path.basename(p)).sort(), [
    `${PARTIAL_PREFIX}${failed.id}`,
    `${PARTIAL_PREFIX}999`,
  ]);
  assert.deepEqual(await files(s.planes), ['keep.jpg']);
});
