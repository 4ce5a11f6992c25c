/**
 * Watching throughput and latency: N camera-sized frames (1920×1080 JPEG, ~350 KB, with EXIF) are renamed
 * into a watched folder handled by a Sorter (the real pipeline: chokidar, queue, sha256, EXIF, decode,
 * predict, SQLite, move). Prints one JSON line:
 *   {"bench":"watch","images","imagesPerSec","p50Ms","p95Ms","rssMb", …}
 * - imagesPerSec: images / (last decision − first file reported complete by the watcher);
 * - p50Ms/p95Ms: from the moment an image's job starts (its file complete, stability wait over, taken
 *   from the queue) to its decision; readyP50Ms/readyP95Ms count from the watcher's `ready` instead, so
 *   they include the wait in the queue behind the rest of the burst;
 * - rssMb: peak resident memory of this process while watching (sampled every 50 ms).
 * Frames are made once, up front, in a child process (so its memory is not counted), then renamed into
 * the folder: a rename is atomic, so the stability wait can be short. The measured burst follows a
 * warm-up burst of other frames (--warmup, default 100; 0 measures a cold start): a watcher that runs
 * for days has long compiled its code, and a cold one spends ~10 % of its CPU in V8's optimising compiler.
 *
 * Usage: npm run bench:watch [-- --count 500] [-- --warmup 100] [-- --preload 0] [-- --model DIR] [-- --backend auto|wasm|cpu|tensorflow]
 *          [-- --stability 100] [-- --concurrency 4] [-- --profile] [-- --stand-in] [-- --keep]
 * Without --model: the active model, else models/default, else (or with --stand-in) a CNN of the shipped
 * architecture trained for a few seconds on the generated patterns: same layers, so the same speed, and
 * it calls half the frames airplanes, so half are moved (a CIFAR model sees these patterns as it likes).
 * --preload N first fills the camera folder with N older files (small stand-ins) that are not
 * ingested (scanExisting off): a folder that has kept months of birds, which every re-read lists.
 * --profile also times each stage of one image alone (sha256, EXIF, decode, predict, SQLite, move).
 */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, open, readdir, readFile, rename, rm, unlink, writeFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { Classifier } from '../src/classify/classifier.ts';
import { parseSettings } from '../src/config/settings.ts';
import { seededRandom } from '../src/data/batches.ts';
import type { LabeledImages } from '../src/data/labels.ts';
import { PIXELS_PER_IMAGE } from '../src/images/normalize.ts';
import { preprocessImage, readCaptureTime } from '../src/images/preprocess.ts';
import { buildModel } from '../src/model/architectures.ts';
import { selectBackend, type BackendChoice } from '../src/model/backend.ts';
import { resolveModelDir } from '../src/model/locate.ts';
import { saveModel } from '../src/model/model-files.ts';
import { setSeed } from '../src/model/seed.ts';
import { Sorter } from '../src/pipeline/sorter.ts';
import { openStore, type Store } from '../src/store/store.ts';
import { metadataOfRun } from '../src/train/run-metadata.ts';
import { train } from '../src/train/trainer.ts';
import type { ImageJob, WorkQueue } from '../src/watch/work-queue.ts';

const WIDTH = 1920;
const HEIGHT = 1080;
/** Distinct scenes rendered; every frame is made unique (bytes and capture time) by its EXIF date. */
const SCENES = 40;
const BASE_DATE = '2024:05:01 12:00:00';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '500' },
    warmup: { type: 'string', default: '100' },
    preload: { type: 'string', default: '0' },
    model: { type: 'string' },
    backend: { type: 'string', default: 'auto' },
    stability: { type: 'string', default: '100' },
    concurrency: { type: 'string' },
    profile: { type: 'boolean', default: false },
    'stand-in': { type: 'boolean', default: false },
    keep: { type: 'boolean', default: false },
    // Internal: the child process that renders the frames (and trains a stand-in model if asked).
    generate: { type: 'string' },
    'train-into': { type: 'string' },
  },
});
const count = Number(values.count);
if (!Number.isInteger(count) || count < 1) throw new Error('--count must be a whole number from 1 up');
const warmup = Number(values.warmup);
if (!Number.isInteger(warmup) || warmup < 0) throw new Error('--warmup must be a whole number');

const percentile = (sorted: number[], p: number) =>
  sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
const round1 = (x: number) => Math.round(x * 10) / 10;
const log = (message: string) => console.error(`# ${message}`);

/** "Airplanes" bright in the top half, "birds" in the left half, as the test fixtures make them. */
function scenes(n: number, seed: number): LabeledImages {
  const random = seededRandom(seed);
  const pixels = new Uint8Array(n * PIXELS_PER_IMAGE);
  const labels = new Uint8Array(n);
  for (let i = 0; i < n; i++) {
    labels[i] = i % 2;
    for (let p = 0; p < 1024; p++) {
      const [x, y] = [p % 32, Math.floor(p / 32)];
      const bright = i % 2 === 0 ? y < 16 : x < 16;
      for (let c = 0; c < 3; c++)
        pixels[i * PIXELS_PER_IMAGE + p * 3 + c] = Math.max(
          0,
          Math.min(255, (bright ? 170 : 80) + (random() - 0.5) * 120),
        );
    }
  }
  return { count: n, pixels, labels };
}

/** A 1080p JPEG of a scene: the pattern smoothly upscaled, with sensor-like noise, and EXIF. */
async function renderScene(images: LabeledImages, index: number, noise: Int8Array): Promise<Buffer> {
  const raw = Buffer.from(images.pixels.subarray(index * PIXELS_PER_IMAGE, (index + 1) * PIXELS_PER_IMAGE));
  const frame = await sharp(raw, { raw: { width: 32, height: 32, channels: 3 } })
    .resize(WIDTH, HEIGHT, { fit: 'fill', kernel: 'cubic' })
    .raw()
    .toBuffer();
  const offset = index * 997;
  for (let j = 0; j < frame.length; j++) {
    const v = frame[j]! + noise[j + offset]!;
    frame[j] = v < 0 ? 0 : v > 255 ? 255 : v;
  }
  return sharp(frame, { raw: { width: WIDTH, height: HEIGHT, channels: 3 } })
    .withExif({ IFD0: { Make: 'Birdgate', Model: 'Bench camera' }, IFD2: { DateTimeOriginal: BASE_DATE } })
    .jpeg({ quality: 85 })
    .toBuffer();
}

/** Frame `i`: scene `i % SCENES` with its EXIF date moved on by `i` seconds (same length, so still valid). */
function frameOf(scene: Buffer, i: number): Buffer {
  const at = scene.indexOf(BASE_DATE, 0, 'latin1');
  if (at < 0) throw new Error('the rendered JPEG has no EXIF date');
  const date = new Date(Date.UTC(2024, 4, 1, 12, 0, 0) + i * 1000);
  const pad = (n: number) => String(n).padStart(2, '0');
  const text = `${date.getUTCFullYear()}:${pad(date.getUTCMonth() + 1)}:${pad(date.getUTCDate())} ${pad(
    date.getUTCHours(),
  )}:${pad(date.getUTCMinutes())}:${pad(date.getUTCSeconds())}`;
  const frame = Buffer.from(scene);
  frame.write(text, at, 'latin1');
  return frame;
}

async function generate(dir: string, n: number): Promise<void> {
  await mkdir(dir, { recursive: true });
  const random = seededRandom(5);
  const noise = new Int8Array(WIDTH * HEIGHT * 3 + SCENES * 997);
  for (let j = 0; j < noise.length; j++) noise[j] = Math.round((random() - 0.5) * 24);
  const images = scenes(SCENES, 9);
  const rendered: Buffer[] = [];
  for (let s = 0; s < Math.min(SCENES, n); s++) rendered.push(await renderScene(images, s, noise));
  for (let i = 0; i < n; i++) {
    const name = `CAM_${String(i).padStart(5, '0')}.jpg`;
    await writeFile(path.join(dir, name), frameOf(rendered[i % rendered.length]!, i));
  }
}

if (values.generate) {
  await generate(values.generate, count);
  if (values['train-into']) await trainStandIn(values['train-into']);
  process.exit(0);
}

/** The model to measure with: --model, else the active or shipped one, else none (the child trains one). */
function existingModelDir(): string | undefined {
  if (values.model) return path.resolve(values.model);
  if (values['stand-in']) return undefined;
  const dir = resolveModelDir();
  return existsSync(path.join(dir, 'model.json')) ? dir : undefined;
}

/** A CNN of the shipped architecture trained for a few seconds on the generated patterns: same speed. */
async function trainStandIn(out: string): Promise<void> {
  await selectBackend('wasm');
  setSeed(7); // its initial weights too, so every run gets the same stand-in
  const model = buildModel('cnn');
  const result = await train(model, scenes(256, 1), scenes(64, 2), {
    epochs: 3,
    seed: 7,
    batchSize: 32,
    augment: false,
    learningRate: 1e-3,
  });
  await saveModel(
    model,
    out,
    metadataOfRun(result, {
      architecture: 'cnn',
      training: {
        data: 'generated patterns (bench/watch.ts)',
        trainImages: 256,
        validationImages: 64,
        seed: 7,
        backend: 'wasm',
        optimizer: 'adam',
      },
    }),
  );
  model.dispose();
  log(`stand-in model: validation accuracy ${result.validation.accuracy} on the generated patterns`);
}

/** The Sorter's queue and job runner, reached into so the bench can time a job's steps. */
interface SorterInternals {
  queue: WorkQueue;
  process(job: ImageJob): Promise<void>;
}

async function measureWatching(
  root: string,
  staging: string,
  warm: string[],
  names: string[],
  classifier: Classifier,
): Promise<Record<string, unknown>> {
  const run = await mkdtemp(path.join(root, 'run-'));
  const cam = path.join(run, 'cam');
  const planes = path.join(run, 'planes');
  await mkdir(cam);
  const preloaded = Array.from(
    { length: Number(values.preload) },
    (_, i) => `OLD_${String(i).padStart(6, '0')}.jpg`,
  );
  // Only listed, never read: small files will do (hard links would share the new frames' inodes, whose
  // attribute changes chokidar reports as changes to the old names).
  for (const name of preloaded) await writeFile(path.join(cam, name), 'old');
  process.env.BIRDGATE_HOME = path.join(run, 'home');
  const store = await openStore();
  const settings = parseSettings({
    cameras: [{ name: 'cam', folder: cam }],
    airplaneFolder: planes,
    stabilityMs: Number(values.stability),
    scanExisting: false,
  });
  const sorter = new Sorter(store, classifier, settings, {
    ...(values.concurrency ? { concurrency: Number(values.concurrency) } : {}),
  });
  const ready = new Map<string, number>();
  const started = new Map<string, number>();
  const decided = new Map<string, number>();
  const internals = sorter as unknown as SorterInternals;
  const push = internals.queue.push.bind(internals.queue);
  internals.queue.push = (job) => {
    ready.set(job.file, performance.now());
    return push(job);
  };
  const processJob = internals.process.bind(sorter);
  internals.process = (job) => {
    started.set(job.file, performance.now());
    return processJob(job);
  };
  let moved = 0;
  let failures = 0;
  let expected = 0;
  let done: () => void = () => {};
  sorter.on('outcome', (outcome, job) => {
    decided.set(job.file, performance.now());
    if (outcome.kind === 'classified' && outcome.move) moved++;
    if (outcome.kind !== 'classified' && outcome.kind !== 'duplicate') failures++;
    if (decided.size === expected) done();
  });
  /** Renames `batch` into the camera folder and waits for every decision; counts start afresh. */
  const burst = async (batch: string[]) => {
    for (const map of [ready, started, decided]) map.clear();
    moved = failures = 0;
    expected = batch.length;
    const all = new Promise<void>((resolve) => (done = resolve));
    for (const name of batch) await rename(path.join(staging, name), path.join(cam, name));
    await all;
  };
  sorter.on('error', (error, job) => {
    failures++;
    log(`error ${job?.file}: ${error.message}`);
  });

  let peakRss = process.memoryUsage.rss();
  const sampler = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage.rss())), 50);
  await sorter.start();
  if (warm.length) await burst(warm);
  global.gc?.();
  const cpu0 = process.cpuUsage();
  const elu0 = performance.eventLoopUtilization();
  await burst(names);
  clearInterval(sampler);
  const cpu = process.cpuUsage(cpu0);
  const elu = performance.eventLoopUtilization(elu0);
  await sorter.close();
  store.close();
  for (const name of preloaded) await unlink(path.join(cam, name));
  // Put the frames back for the next measurement.
  for (const name of await readdir(cam)) await rename(path.join(cam, name), path.join(staging, name));
  for (const name of await readdir(path.join(planes, 'cam')).catch(() => []))
    await rename(path.join(planes, 'cam', name), path.join(staging, name));
  await rm(run, { recursive: true, force: true });

  const firstReady = Math.min(...ready.values());
  const lastDecided = Math.max(...decided.values());
  const service = names.map((n) => decided.get(path.join(cam, n))! - started.get(path.join(cam, n))!);
  const waited = names.map((n) => decided.get(path.join(cam, n))! - ready.get(path.join(cam, n))!);
  service.sort((a, b) => a - b);
  waited.sort((a, b) => a - b);
  return {
    images: names.length,
    imagesPerSec: round1(names.length / ((lastDecided - firstReady) / 1000)),
    p50Ms: round1(percentile(service, 50)),
    p95Ms: round1(percentile(service, 95)),
    rssMb: Math.round(peakRss / 2 ** 20),
    readyP50Ms: round1(percentile(waited, 50)),
    readyP95Ms: round1(percentile(waited, 95)),
    moved,
    failures,
    // CPU time of every thread (sharp's included) per image, and how busy the JS thread was.
    cpuMsPerImage: round1((cpu.user + cpu.system) / 1000 / names.length),
    mainThreadBusy: Math.round(elu.utilization * 100) / 100,
  };
}

/** Milliseconds per call of `fn` over the frames, one at a time. */
async function timeEach(files: string[], fn: (file: string, i: number) => Promise<unknown>): Promise<number> {
  const t0 = performance.now();
  for (const [i, file] of files.entries()) await fn(file, i);
  return round1((performance.now() - t0) / files.length);
}

/** What the mover does to the disk per file on the same device: claim the name, rename, sync both folders. */
async function timeMoves(dir: string, n: number): Promise<number> {
  const to = path.join(dir, 'planes');
  await mkdir(to, { recursive: true });
  const syncDir = async (d: string) => {
    const handle = await open(d, 'r');
    await handle.sync();
    await handle.close();
  };
  let total = 0;
  for (let i = 0; i < n; i++) {
    const from = path.join(dir, `a-${i}.jpg`);
    await writeFile(from, 'x');
    const t0 = performance.now();
    await (await open(path.join(to, `a-${i}.jpg`), 'wx')).close();
    await rename(from, path.join(to, `a-${i}.jpg`));
    await syncDir(to);
    await syncDir(dir);
    total += performance.now() - t0;
  }
  return round1(total / n);
}

/** Each stage of one image, alone, one image at a time: where a job's time goes. */
async function profileStages(root: string, files: string[], classifier: Classifier, store: Store) {
  const bytes = await Promise.all(files.map((f) => readFile(f)));
  const dir = await mkdtemp(path.join(root, 'profile-'));
  const parallelDecode = async () => {
    const t0 = performance.now();
    let next = 0;
    await Promise.all(
      Array.from({ length: 4 }, async () => {
        while (next < bytes.length) await preprocessImage(bytes[next++]!);
      }),
    );
    return round1((performance.now() - t0) / bytes.length);
  };
  const x = await preprocessImage(bytes[0]!);
  const batch4 = new Float32Array(4 * PIXELS_PER_IMAGE);
  for (let k = 0; k < 4; k++) batch4.set(x, k * PIXELS_PER_IMAGE);
  const ids = files.map(
    (f, i) =>
      store.recordImage({ path: f, camera: 'c', size: 1, mtimeMs: 1, sha256: String(i).padStart(64, '0') })
        .id,
  );
  return {
    readFile: await timeEach(files, (f) => readFile(f)),
    sha256: await timeEach(files, async (_f, i) => createHash('sha256').update(bytes[i]!).digest('hex')),
    exif: await timeEach(files, async (_f, i) => readCaptureTime(bytes[i]!)),
    decode: await timeEach(files, async (_f, i) => preprocessImage(bytes[i]!)),
    decode4InFlight: await parallelDecode(),
    predict1: await timeEach(files, async () => classifier.predict(x)),
    predict4PerImage: round1((await timeEach(files, async () => classifier.predict(batch4))) / 4),
    sqliteCommitNormal: await timeEach(files, async (f) => store.addEvent('bench', { f })),
    sqliteCommitFull: await timeEach(files, async (_f, i) => store.setLabel(ids[i]!, 'bird')),
    moveClaimRenameFsyncs: await timeMoves(dir, files.length),
  };
}

const root = await mkdtemp(path.join(os.tmpdir(), 'birdgate-bench-watch-'));
try {
  const staging = path.join(root, 'staging');
  const t0 = performance.now();
  let dir = existingModelDir();
  const standIn = dir ? [] : ['--train-into', (dir = path.join(root, 'model'))];
  if (standIn.length)
    log('stand-in model: a CNN of the shipped architecture trained on the generated patterns');
  // In a child, so that neither rendering nor training counts towards this process's memory.
  const child = spawnSync(
    process.execPath,
    [
      '--import',
      'tsx',
      fileURLToPath(import.meta.url),
      '--generate',
      staging,
      '--count',
      String(count + warmup),
      ...standIn,
    ],
    { stdio: 'inherit' },
  );
  if (child.status !== 0) throw new Error('generating the frames failed');
  const frames = (await readdir(staging)).sort();
  const [warm, names] = [frames.slice(0, warmup), frames.slice(warmup)];
  const frameKb = Math.round((await readFile(path.join(staging, names[0]!))).length / 1024);
  log(
    `${frames.length} frames of ${WIDTH}×${HEIGHT} (~${frameKb} KB) ready in ${((performance.now() - t0) / 1000).toFixed(1)} s`,
  );

  process.env.BIRDGATE_HOME = path.join(root, 'home');
  const classifier = await Classifier.load({ modelDir: dir, backend: values.backend as BackendChoice });
  // Warm-up: kernels set up, first allocations made, sharp's pools started.
  for (const name of names.slice(0, 8)) await classifier.classifyFile(path.join(staging, name));

  // Other processes' load: one figure on a shared machine means little without it.
  const [load1] = os.loadavg();
  const result = await measureWatching(root, staging, warm, names, classifier);
  console.log(
    JSON.stringify({
      bench: 'watch',
      ...result,
      backend: classifier.backend,
      arch: classifier.metadata.architecture,
      frameKb,
      warmup,
      stabilityMs: Number(values.stability),
      preloaded: Number(values.preload),
      load1Before: round1(load1!),
    }),
  );
  if (values.profile) {
    const files = names.slice(0, Math.min(100, names.length)).map((n) => path.join(staging, n));
    const store = await openStore(path.join(root, 'profile.db'));
    console.log(
      JSON.stringify({
        bench: 'watch-profile',
        msPerImage: await profileStages(root, files, classifier, store),
      }),
    );
    store.close();
  }
} finally {
  if (values.keep) log(`kept ${root}`);
  else await rm(root, { recursive: true, force: true });
}
