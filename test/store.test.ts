import assert from 'node:assert/strict';
import { readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { test } from 'node:test';
import Database from 'better-sqlite3';
import { BACKUPS_KEPT, listBackups } from '../src/store/backup.ts';
import { csvField, exportCsv } from '../src/store/csv.ts';
import { durably } from '../src/store/durable.ts';
import { MIGRATIONS } from '../src/store/schema.ts';
import { openStore, type Store } from '../src/store/store.ts';
import type { NewImage } from '../src/store/types.ts';
import { tempDir } from './helpers/fixtures.ts';

const sha = (n: number) => n.toString(16).padStart(64, '0');
const pause = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

function image(n: number, overrides: Partial<NewImage> = {}): NewImage {
  return {
    path: `/cams/pond/img${n}.jpg`,
    camera: 'pond',
    size: 1000 + n,
    mtimeMs: 1e12 + n,
    sha256: sha(n),
    ...overrides,
  };
}

/** A second, plain connection: what is on disk, not what the Store says. */
function inspect<T>(file: string, read: (db: Database.Database) => T): T {
  const db = new Database(file, { readonly: true });
  try {
    return read(db);
  } finally {
    db.close();
  }
}

async function withStore<T>(use: (store: Store, dir: string) => T | Promise<T>): Promise<T> {
  const dir = await tempDir('birdgate-store-');
  const store = await openStore(path.join(dir, 'birdgate.db'));
  try {
    return await use(store, dir);
  } finally {
    store.close();
  }
}

test('a new database gets the whole schema in WAL mode; reopening keeps data and migrates nothing', async () => {
  const dir = await tempDir('birdgate-store-');
  const file = path.join(dir, 'birdgate.db');
  const store = await openStore(file);
  store.recordImage(image(1));
  store.close();
  const tables = inspect(file, (db) => ({
    version: db.pragma('user_version', { simple: true }),
    journal: db.pragma('journal_mode', { simple: true }),
    names: db
      .prepare<[], { name: string }>(`SELECT name FROM sqlite_master WHERE type = 'table' ORDER BY name`)
      .all()
      .map((r) => r.name),
  }));
  assert.deepEqual(tables, {
    version: MIGRATIONS.length,
    journal: 'wal',
    names: ['events', 'images', 'labels', 'moves', 'predictions'],
  });
  assert.deepEqual(await listBackups(path.join(dir, 'backups')), [], 'a brand-new database is not backed up');

  for (let i = 0; i < 2; i++) {
    const again = await openStore(file);
    assert.equal(again.findByPath(image(1).path)?.sha256, sha(1));
    again.close();
  }
  assert.equal(
    inspect(file, (db) => db.pragma('user_version', { simple: true })),
    MIGRATIONS.length,
  );
  assert.equal(
    (await listBackups(path.join(dir, 'backups'))).length,
    1,
    'one daily backup, not one per open',
  );
});

test('foreign keys and CHECK constraints are enforced', async () => {
  await withStore((store) => {
    const row = store.recordImage(image(1));
    assert.throws(
      () => store.addPrediction({ imageId: 999, modelVersion: 'm', pBird: 0.5, label: 'bird' }),
      /FOREIGN KEY/,
    );
    assert.throws(() => store.setStatus(row.id, 'lost' as never), /CHECK/);
    assert.throws(
      () => store.addPrediction({ imageId: row.id, modelVersion: 'm', pBird: 1.5, label: 'bird' }),
      /CHECK/,
    );
    assert.throws(() => store.setLabel(row.id, 'cat' as never), /CHECK/);
    assert.throws(() => store.recordImage(image(2, { sha256: 'short' })), /CHECK/);
    assert.throws(() => store.setStatus(999, 'classified'), /No image 999/);
  });
});

test('refuses a database written by a newer Birdgate', async () => {
  const dir = await tempDir('birdgate-store-');
  const file = path.join(dir, 'birdgate.db');
  (await openStore(file)).close();
  const db = new Database(file);
  db.pragma(`user_version = ${MIGRATIONS.length + 1}`);
  db.close();
  await assert.rejects(openStore(file), /newer than this Birdgate knows/);
});

test('an existing database is backed up before a migration, as it was before it', async () => {
  const dir = await tempDir('birdgate-store-');
  const file = path.join(dir, 'birdgate.db');
  const store = await openStore(file);
  store.recordImage(image(1));
  store.close();
  const next = [...MIGRATIONS, { name: 'notes', sql: 'ALTER TABLE images ADD COLUMN notes TEXT' }];
  (await openStore(file, { migrations: next })).close();

  const backups = await listBackups(path.join(dir, 'backups'));
  assert.equal(backups.length, 1);
  assert.match(backups[0]!, new RegExp(`-before-v${next.length}\\.db$`));
  const backup = path.join(dir, 'backups', backups[0]!);
  const before = inspect(backup, (db) => ({
    version: db.pragma('user_version', { simple: true }),
    images: db.prepare('SELECT count(*) AS n FROM images').get(),
    columns: db.prepare(`SELECT count(*) AS n FROM pragma_table_info('images') WHERE name = 'notes'`).get(),
  }));
  assert.deepEqual(before, { version: MIGRATIONS.length, images: { n: 1 }, columns: { n: 0 } });
  assert.equal(
    inspect(file, (db) => db.pragma('user_version', { simple: true })),
    next.length,
  );
});

test('a daily backup when the newest is over a day old; the newest five are kept', async () => {
  const dir = await tempDir('birdgate-store-');
  const file = path.join(dir, 'birdgate.db');
  const backups = path.join(dir, 'backups');
  const start = Date.parse('2024-05-01T08:00:00Z');
  const at = (hours: number) => ({ now: () => new Date(start + hours * 3_600_000) });
  const store = await openStore(file, at(0));
  store.recordImage(image(1));
  store.close();
  await writeFile(path.join(dir, 'notes.txt'), 'not a backup');

  (await openStore(file, at(1))).close();
  (await openStore(file, at(20))).close();
  assert.equal((await listBackups(backups)).length, 1, 'one backup within a day');
  await writeFile(path.join(backups, 'keep-me.txt'), 'mine');
  for (let day = 1; day <= 7; day++) (await openStore(file, at(1 + day * 24))).close();

  const kept = await listBackups(backups);
  assert.equal(kept.length, BACKUPS_KEPT);
  assert.deepEqual(
    kept.map((name) => name.slice('birdgate-'.length, 'birdgate-2024-05-0X'.length)),
    ['2024-05-04', '2024-05-05', '2024-05-06', '2024-05-07', '2024-05-08'],
  );
  assert.ok((await readdir(backups)).includes('keep-me.txt'), 'files Birdgate did not write are left alone');
  const newest = path.join(backups, kept.at(-1)!);
  assert.deepEqual(
    inspect(newest, (db) => db.prepare('SELECT path FROM images').all()),
    [{ path: image(1).path }],
  );
});

test('record, find by path and by sha256; a replaced file retires the old row', async () => {
  await withStore((store) => {
    const first = store.recordImage(image(1, { captureTime: '2024-05-01T10:00:00.000Z' }));
    assert.equal(first.status, 'pending');
    assert.equal(first.originalPath, first.path);
    assert.equal(first.captureTime, '2024-05-01T10:00:00.000Z');
    assert.equal(store.findBySha256(sha(1))?.pBird, null);

    store.addPrediction({ imageId: first.id, modelVersion: 'v1', pBird: 0.2, label: 'airplane' });
    store.addPrediction({ imageId: first.id, modelVersion: 'v2', pBird: 0.9, label: 'bird' });
    const copy = store.recordImage(image(1, { path: '/cams/meadow/same-bytes.jpg', camera: 'meadow' }));
    store.markDuplicate(copy.id, first.id);
    const found = store.findBySha256(sha(1));
    assert.equal(found?.id, first.id, 'the original, not the duplicate');
    assert.deepEqual([found?.pBird, found?.predictedLabel, found?.modelVersion], [0.9, 'bird', 'v2']);
    assert.equal(store.getImage(copy.id)?.duplicateOf, first.id);
    assert.equal(store.findBySha256(sha(7)), undefined);

    const replaced = store.recordImage(image(2, { path: first.path }));
    assert.equal(store.findByPath(first.path)?.id, replaced.id);
    assert.ok(store.getImage(first.id)?.retiredAt, 'the old row is kept as history');
    assert.equal(store.listImages().total, 2, 'retired rows are not listed');
  });
});

test('a durable commit (journal, labels) is FULL and leaves the connection at NORMAL, even on error', async () => {
  await withStore((store, dir) => {
    const db = new Database(path.join(dir, 'birdgate.db'));
    try {
      const sync = () => db.pragma('synchronous', { simple: true });
      db.pragma('synchronous = NORMAL'); // as openStore sets it
      const seen: unknown[] = [];
      durably(db, () => seen.push(sync()));
      assert.deepEqual([seen, sync()], [[2], 1]);
      assert.throws(() =>
        durably(db, () => {
          db.prepare(`INSERT INTO events (kind, data) VALUES ('x', 'null')`).run();
          throw new Error('boom');
        }),
      );
      assert.equal(sync(), 1);
      assert.equal(db.prepare(`SELECT count(*) AS n FROM events WHERE kind = 'x'`).pluck().get(), 0);
    } finally {
      db.close();
    }
    const row = store.recordImage(image(1));
    store.setLabel(row.id, 'bird');
    assert.equal(store.getListItem(row.id)?.userLabel, 'bird');
  });
});

test('airplanes awaiting a move are found by their mark, whatever p(bird) the threshold let through', async () => {
  await withStore((store) => {
    const [a, b, c] = [1, 2, 3].map((n) => store.recordImage(image(n)));
    // p(bird) 0.6 but moved under a threshold of 0.3 on p(airplane): its label says bird.
    store.addPrediction({ imageId: a!.id, modelVersion: 'v1', pBird: 0.6, label: 'bird' });
    store.setStatus(a!.id, 'classified', 'Not moved yet');
    store.addPrediction({ imageId: b!.id, modelVersion: 'v1', pBird: 0.1, label: 'airplane' });
    store.setStatus(b!.id, 'classified', 'Not moved yet');
    store.setLabel(b!.id, 'bird'); // the user says it stays
    store.setStatus(c!.id, 'classified');
    assert.deepEqual(
      store.unsortedAirplanes().map((i) => i.id),
      [a!.id],
    );
  });
});

test('counts by status and by camera', async () => {
  await withStore((store) => {
    const a = store.recordImage(image(1));
    store.recordImage(image(2));
    const c = store.recordImage(image(3, { path: '/cams/meadow/x.jpg', camera: 'meadow' }));
    store.setStatus(a.id, 'classified');
    store.setStatus(c.id, 'unreadable', 'truncated JPEG');
    assert.equal(store.getImage(c.id)?.error, 'truncated JPEG');
    assert.deepEqual(store.counts(), {
      total: 3,
      byStatus: { pending: 1, classified: 1, moved: 0, uncertain: 0, unreadable: 1, duplicate: 0 },
      byCamera: { pond: { classified: 1, pending: 1 }, meadow: { unreadable: 1 } },
    });
  });
});

test('listImages: newest first, filters, paging, effective and corrected labels', async () => {
  await withStore(async (store) => {
    const early = store.recordImage(image(1));
    await pause(5);
    const cut = new Date();
    await pause(5);
    const ids = [early.id];
    for (let n = 2; n <= 5; n++)
      ids.push(store.recordImage(image(n, n === 5 ? { camera: 'meadow', path: '/m/5.jpg' } : {})).id);
    const [i1, i2, i3, i4, i5] = ids as [number, number, number, number, number];
    store.addPrediction({ imageId: i1, modelVersion: 'v1', pBird: 0.1, label: 'airplane' });
    store.addPrediction({ imageId: i2, modelVersion: 'v1', pBird: 0.1, label: 'airplane' });
    store.addPrediction({ imageId: i3, modelVersion: 'v1', pBird: 0.95, label: 'bird' });
    store.setLabel(i2, 'airplane'); // a confirmation
    store.setLabel(i3, 'bird');
    store.setLabel(i3, 'airplane'); // a correction (the later label wins)
    store.setStatus(i4, 'uncertain');
    const list = (query: Parameters<Store['listImages']>[0]) =>
      store.listImages(query).items.map((i) => i.id);

    assert.deepEqual(list({}), [i5, i4, i3, i2, i1]);
    const third = store.listImages({}).items[2]!;
    assert.deepEqual([third.pBird, third.predictedLabel, third.userLabel], [0.95, 'bird', 'airplane']);
    assert.deepEqual(list({ label: 'airplane' }), [i3, i2, i1], 'the user label overrides the prediction');
    assert.deepEqual(list({ label: 'bird' }), []);
    assert.deepEqual(list({ corrected: true }), [i3]);
    assert.deepEqual(list({ corrected: false }), [i5, i4, i2, i1]);
    assert.deepEqual(list({ status: 'uncertain' }), [i4]);
    assert.deepEqual(list({ camera: 'meadow' }), [i5]);
    assert.deepEqual(list({ since: cut }), [i5, i4, i3, i2]);
    assert.deepEqual(list({ until: cut.toISOString() }), [i1]);
    // An offset time means the same instant as its UTC spelling.
    const shifted = new Date(cut.getTime() + 2 * 3_600_000).toISOString().replace('Z', '+02:00');
    assert.deepEqual(list({ until: shifted }), [i1]);
    const page = store.listImages({ limit: 2, offset: 1, label: 'airplane' });
    assert.deepEqual([page.items.map((i) => i.id), page.total], [[i2, i1], 3]);

    assert.throws(() => store.listImages({ limit: 0 }), /limit/);
    assert.throws(() => store.listImages({ status: 'lost' as never }));
    assert.throws(() => store.listImages({ colour: 'red' } as never), /colour/);
  });
});

test('CSV export: header, one row per image, RFC 4180 quoting, empty for missing', async () => {
  assert.equal(csvField('plain'), 'plain');
  assert.equal(csvField('a,b'), '"a,b"');
  assert.equal(csvField('say "hi"'), '"say ""hi"""');
  assert.equal(csvField('two\nlines'), '"two\nlines"');
  assert.equal(csvField(null), '');
  await withStore(async (store, dir) => {
    const odd = store.recordImage(
      image(1, { path: '/cams/a "quoted", odd\nname.jpg', camera: 'pond, east' }),
    );
    store.addPrediction({ imageId: odd.id, modelVersion: 'v1', pBird: 0.25, label: 'airplane' });
    store.setLabel(odd.id, 'bird');
    store.recordImage(image(2, { captureTime: '2024-05-01T10:00:00.000Z' }));
    const file = path.join(dir, 'out.csv');
    assert.equal(await exportCsv(store, file), 2);
    assert.equal(
      await readFile(file, 'utf8'),
      'path,camera,capture_time,label,p_bird,corrected_label\r\n' +
        '"/cams/a ""quoted"", odd\nname.jpg","pond, east",,airplane,0.25,bird\r\n' +
        '/cams/pond/img2.jpg,pond,2024-05-01T10:00:00.000Z,,,\r\n',
    );
  });
});
