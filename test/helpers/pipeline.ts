/**
 * Shared pieces of the pipeline-level tests (test/pipeline*.test.ts, test/watch-crash.test.ts): a tiny
 * model trained on the generated set, camera-like JPEGs of its two patterns, a started Sorter with
 * test-sized timings, and checks that the database agrees with the disk.
 */
import Database from 'better-sqlite3';
import { createHash } from 'node:crypto';
import { appendFile, lstat, mkdir, readdir, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import sharp from 'sharp';
import { Classifier } from '../../src/classify/classifier.ts';
import { parseSettings, type Settings, type SettingsInput } from '../../src/config/settings.ts';
import type { LabeledImages } from '../../src/data/labels.ts';
import { PIXELS_PER_IMAGE } from '../../src/images/normalize.ts';
import { buildModel } from '../../src/model/architectures.ts';
import { selectBackend } from '../../src/model/backend.ts';
import { saveModel } from '../../src/model/model-files.ts';
import { setSeed } from '../../src/model/seed.ts';
import { UNKNOWN_SHA256, type Outcome } from '../../src/pipeline/ingest.ts';
import { Sorter, type SorterOptions } from '../../src/pipeline/sorter.ts';
import { openStore, type Store } from '../../src/store/store.ts';
import { metadataOfRun } from '../../src/train/run-metadata.ts';
import { train } from '../../src/train/trainer.ts';
import type { ImageJob } from '../../src/watch/work-queue.ts';
import { syntheticImages, tempDir } from './fixtures.ts';

/** Low enough to keep the suites quick, high enough that a loaded 2-core machine keeps up with writers. */
export const STABILITY_MS = 250;
export const FOLDER_CHECK_MS = 250;

/**
 * An MLP trained for a few epochs on the generated set ("airplanes" bright in the top half, "birds" in
 * the left half) and saved as a model folder: a few seconds on wasm, and sure of itself on both patterns.
 */
export async function trainTinyModel(dir: string): Promise<string> {
  await selectBackend('wasm');
  const random = Math.random;
  setSeed(7); // replaces Math.random: put back afterwards, the tests want their own randomness
  const model = buildModel('mlp');
  Math.random = random;
  const result = await train(model, syntheticImages(256, 1), syntheticImages(64, 2), {
    epochs: 3,
    batchSize: 32,
    augment: false,
    learningRate: 1e-3,
    seed: 7,
  });
  await saveModel(
    model,
    dir,
    metadataOfRun(result, {
      architecture: 'mlp',
      training: {
        data: 'synthetic',
        trainImages: 256,
        validationImages: 64,
        seed: 7,
        backend: 'wasm',
        optimizer: 'adam',
      },
    }),
  );
  model.dispose();
  return dir;
}

export const isAirplaneIndex = (index: number) => index % 2 === 0;

/** Image `index` of a generated set as camera-like JPEG bytes (even index: airplane, odd: bird). */
export async function jpegOf(images: LabeledImages, index: number, size = 96): Promise<Buffer> {
  const raw = Buffer.from(images.pixels.subarray(index * PIXELS_PER_IMAGE, (index + 1) * PIXELS_PER_IMAGE));
  return sharp(raw, { raw: { width: 32, height: 32, channels: 3 } })
    .resize(size, size, { kernel: 'nearest' })
    .jpeg({ quality: 90 })
    .toBuffer();
}

/** `count` distinct JPEGs (distinct bytes, so sha256 tells them apart), alternating airplane and bird. */
export async function jpegSet(count: number, seed: number, size = 96): Promise<Buffer[]> {
  const images = syntheticImages(count, seed);
  const out: Buffer[] = [];
  for (let i = 0; i < count; i++) out.push(await jpegOf(images, i, size));
  return out;
}

/**
 * Writes `bytes` in `chunks` appends spread over `totalMs`, the way a slow FTP upload grows a file, and
 * returns the moment the last chunk was on disk. Gaps stay well under the stability wait.
 */
export async function writeSlowly(file: string, bytes: Buffer, chunks = 20, totalMs = 2000): Promise<number> {
  const size = Math.ceil(bytes.length / chunks);
  for (let i = 0; i < chunks; i++) {
    await appendFile(file, bytes.subarray(i * size, (i + 1) * size));
    if (i < chunks - 1) await sleep(totalMs / (chunks - 1));
  }
  return performance.now();
}

export async function waitFor(what: string, condition: () => boolean, timeoutMs = 30_000): Promise<void> {
  const deadline = performance.now() + timeoutMs;
  while (!condition()) {
    if (performance.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await sleep(25);
  }
}

export const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');

/** Every regular file below `dir` (recursively), hidden ones included; none when `dir` is missing. */
export async function filesUnder(dir: string): Promise<string[]> {
  let entries;
  try {
    entries = await readdir(dir, { withFileTypes: true, recursive: true });
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return [];
    throw error;
  }
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.join(e.parentPath, e.name))
    .sort();
}

/** Every regular file below the folders, by sha256 of its content. */
export async function filesBySha(dirs: string[]): Promise<Map<string, string[]>> {
  const bySha = new Map<string, string[]>();
  for (const dir of dirs) {
    for (const file of await filesUnder(dir)) {
      const sha = sha256(await readFile(file));
      bySha.set(sha, [...(bySha.get(sha) ?? []), file]);
    }
  }
  return bySha;
}

export interface LiveImage {
  id: number;
  path: string;
  originalPath: string;
  camera: string;
  size: number;
  sha256: string;
  status: string;
  error: string | null;
  label: string | null;
  pBird: number | null;
}

/** The live images with their newest prediction, read straight from the database file. */
export function liveImages(dbFile: string): LiveImage[] {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return db
      .prepare<[], LiveImage>(
        `SELECT i.id, i.path, i.original_path AS originalPath, i.camera, i.size, i.sha256, i.status, i.error,
           p.label, p.p_bird AS pBird
         FROM images i LEFT JOIN predictions p ON p.id = (SELECT max(id) FROM predictions WHERE image_id = i.id)
         WHERE i.retired_at IS NULL ORDER BY i.id`,
      )
      .all();
  } finally {
    db.close();
  }
}

/** One SQL query against the database file, read-only: for checks a test makes while a child writes. */
export function query<T>(dbFile: string, sql: string): T[] {
  const db = new Database(dbFile, { readonly: true, fileMustExist: true });
  try {
    return db.prepare<[], T>(sql).all();
  } finally {
    db.close();
  }
}

/**
 * Problems with the database against the disk: a live image whose file is missing or holds other bytes,
 * a moved image not at a file, a file in the folders that no live image names, a move still unfinished,
 * a partial copy or an empty claim file left behind. Empty when all agree.
 */
export async function disagreements(dbFile: string, folders: string[]): Promise<string[]> {
  const problems: string[] = [];
  const images = liveImages(dbFile);
  const byPath = new Map(images.map((image) => [image.path, image]));
  for (const image of images) {
    let bytes: Buffer;
    try {
      bytes = await readFile(image.path);
    } catch {
      problems.push(`image ${image.id} (${image.status}) points to a missing file ${image.path}`);
      continue;
    }
    // A file that could not be read has no known hash.
    if (image.sha256 !== UNKNOWN_SHA256 && sha256(bytes) !== image.sha256)
      problems.push(`image ${image.id}: ${image.path} holds other bytes than recorded`);
  }
  for (const folder of folders) {
    for (const file of await filesUnder(folder)) {
      const name = path.basename(file);
      if (name.startsWith('.birdgate-partial-')) problems.push(`partial copy left: ${file}`);
      else if ((await lstat(file)).size === 0 && !byPath.has(file)) problems.push(`empty file left: ${file}`);
      else if (!byPath.has(file)) problems.push(`no live image for ${file}`);
    }
  }
  for (const move of query<{ id: number; toPath: string }>(
    dbFile,
    `SELECT id, to_path AS toPath FROM moves WHERE state = 'intent'`,
  ))
    problems.push(`move ${move.id} to ${move.toPath} is unfinished`);
  return problems;
}

export interface SorterHarness {
  home: string;
  dbFile: string;
  store: Store;
  sorter: Sorter;
  settings: Settings;
  outcomes: { outcome: Outcome; job: ImageJob; at: number }[];
  errors: Error[];
  /** Camera status changes, as `camera:status`. */
  statuses: string[];
  /** Outcomes for one file path (as reported by the watcher). */
  outcomesFor(file: string): Outcome[];
  close(): Promise<void>;
}

const classifiers = new Map<string, Promise<Classifier>>();

/** One classifier per model folder and process: loading is the slow part, and it holds no state per run. */
export function classifierFor(modelDir: string): Promise<Classifier> {
  let loaded = classifiers.get(modelDir);
  if (!loaded) {
    loaded = Classifier.load({ modelDir, backend: 'wasm' });
    classifiers.set(modelDir, loaded);
  }
  return loaded;
}

/**
 * A started Sorter with its own BIRDGATE_HOME (the store lives there; `close()` removes it), test-sized
 * stability and folder checks, and every outcome collected. `settings` are validated like a settings file.
 */
export async function startSorter(
  modelDir: string,
  settings: SettingsInput,
  options: SorterOptions = {},
  /** An app data folder with a database already in it (default: a new temporary one). */
  existingHome?: string,
): Promise<SorterHarness> {
  const home = existingHome ?? (await tempDir('birdgate-home-'));
  process.env.BIRDGATE_HOME = home;
  const dbFile = path.join(home, 'birdgate.db');
  const store = await openStore(dbFile);
  const valid = parseSettings({ stabilityMs: STABILITY_MS, ...settings });
  for (const camera of valid.cameras) await mkdir(camera.folder, { recursive: true });
  const sorter = new Sorter(store, await classifierFor(modelDir), valid, {
    folderCheckMs: FOLDER_CHECK_MS,
    ...options,
  });
  const harness: SorterHarness = {
    home,
    dbFile,
    store,
    sorter,
    settings: valid,
    outcomes: [],
    errors: [],
    statuses: [],
    outcomesFor: (file) => harness.outcomes.filter((o) => o.job.file === file).map((o) => o.outcome),
    close: async () => {
      await sorter.close();
      store.close();
      await rm(home, { recursive: true, force: true });
    },
  };
  sorter.on('outcome', (outcome, job) => harness.outcomes.push({ outcome, job, at: performance.now() }));
  sorter.on('error', (error) => harness.errors.push(error));
  sorter.on('status', (state) => harness.statuses.push(`${state.camera}:${state.status}`));
  await sorter.start();
  return harness;
}
