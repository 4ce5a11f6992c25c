import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { before, test } from 'node:test';
import sharp from 'sharp';
import { normalizeAll, seededRandom } from '../src/data/batches.ts';
import { buildModel } from '../src/model/architectures.ts';
import { selectBackend } from '../src/model/backend.ts';
import { resolveModelDir } from '../src/model/locate.ts';
import { saveModel } from '../src/model/model-files.ts';
import { activateVersion, listVersions, modelsDir, nextVersionDir, rollback } from '../src/model/registry.ts';
import { isHoldout, loadLocalSet, type LabeledFile } from '../src/retrain/local-set.ts';
import { retrain } from '../src/retrain/retrain.ts';
import { concatLabeledImages, loadCifar } from '../src/data/cifar.ts';
import { predictBird } from '../src/model/predict.ts';
import { metadataOfRun } from '../src/train/run-metadata.ts';
import { train, TrainingCancelled } from '../src/train/trainer.ts';
import { tempDir, writeCifarFolder } from './helpers/fixtures.ts';

let home: string;
let cifar: string;
let local: LabeledFile[];

/** A pattern the CIFAR fixture lacks: colour, not brightness, tells the classes apart. */
async function writeColourImage(file: string, label: 'airplane' | 'bird', random: () => number) {
  const raw = Buffer.alloc(32 * 32 * 3);
  for (let p = 0; p < 1024; p++) {
    const noise = () => Math.floor(random() * 60);
    const [r, g, b] = label === 'airplane' ? [60, 90, 190] : [190, 120, 50];
    raw[p * 3] = r + noise();
    raw[p * 3 + 1] = g + noise();
    raw[p * 3 + 2] = b + noise();
  }
  await sharp(raw, { raw: { width: 32, height: 32, channels: 3 } })
    .png()
    .toFile(file);
}

before(async () => {
  home = await tempDir();
  process.env.BIRDGATE_HOME = home;
  cifar = path.join(home, 'cifar');
  await mkdir(cifar);
  await writeCifarFolder(cifar, 40, 40);
  await selectBackend('wasm');
  const base = buildModel('mlp');
  const result = await train(base, await loadCifar(cifar, 'train'), await loadCifar(cifar, 'test'), {
    epochs: 2,
    augment: false,
    learningRate: 1e-3,
  });
  const { id, dir } = await nextVersionDir();
  await saveModel(
    base,
    dir,
    metadataOfRun(result, {
      architecture: 'mlp',
      training: {
        data: 'fixture',
        trainImages: 200,
        validationImages: 40,
        seed: 1,
        backend: 'wasm',
        optimizer: 'adam',
      },
    }),
  );
  await activateVersion(id);
  const photos = path.join(home, 'photos');
  await mkdir(photos);
  const random = seededRandom(11);
  local = [];
  for (let i = 0; i < 80; i++) {
    const label = i % 2 ? 'bird' : 'airplane';
    const file = path.join(photos, `img${i}.png`);
    await writeColourImage(file, label, random);
    local.push({
      path: file,
      label,
      sha256: createHash('sha256')
        .update(await readFile(file))
        .digest('hex'),
    });
  }
  // The base model learned brightness cues, so how it reads colour is an accident of its initial weights.
  // Pair the colours with the labels it gets wrong, so the corrections hold something it does not know.
  const all = await loadLocalSet(local);
  const x = normalizeAll(concatLabeledImages([all.train, all.holdout]));
  const labels = [...all.train.labels, ...all.holdout.labels];
  const right = [...predictBird(base, x)].filter((p, i) => (p >= 0.5 ? 1 : 0) === labels[i]).length;
  if (right > labels.length / 2) {
    local = local.map((f) => ({ ...f, label: f.label === 'bird' ? 'airplane' : 'bird' }));
  }
});

test('holdout images are chosen by content hash and never trained on', async () => {
  const set = await loadLocalSet(local);
  const expectedHoldout = local.filter((f) => isHoldout(f.sha256)).length;
  assert.ok(expectedHoldout > 5 && expectedHoldout < 30, `holdout ${expectedHoldout} of 80`);
  assert.equal(set.holdout.count, expectedHoldout);
  assert.equal(set.train.count, 80 - expectedHoldout);
  assert.deepEqual(
    set.holdoutFiles.map((f) => f.path).sort(),
    local
      .filter((f) => isHoldout(f.sha256))
      .map((f) => f.path)
      .sort(),
  );
  assert.deepEqual(set.counts, { airplane: 40, bird: 40 });
});

test('a fine-tune on corrections raises accuracy on held-out local images; the candidate is not activated', async () => {
  const activeBefore = resolveModelDir();
  const result = await retrain({
    mode: 'fine-tune',
    cifar,
    labeled: local,
    epochs: 8,
    backend: 'wasm',
    workers: 1,
  });
  const before = result.evaluation.previous.local!.accuracy;
  const after = result.evaluation.candidate.local!.accuracy;
  assert.ok(after >= 0.9 && after > before + 0.2, `holdout accuracy ${before} → ${after}`);
  assert.equal(resolveModelDir(), activeBefore, 'training never activates a model by itself');
  assert.equal(result.candidate.metadata.training.mode, 'fine-tune');
  assert.equal(result.candidate.metadata.training.local!.holdout, result.evaluation.candidate.local!.n);
  assert.ok(result.candidate.metadata.training.local!.train > 0);

  await activateVersion(result.candidate.id);
  assert.equal(resolveModelDir(), result.candidate.dir);
  await rollback();
  assert.equal(resolveModelDir(), activeBefore);
  const versions = await listVersions();
  assert.deepEqual(
    versions.filter((v) => v.active).map((v) => v.dir),
    [activeBefore],
  );
});

test('too few corrections: a clear message, and training on CIFAR alone', async () => {
  const result = await retrain({
    mode: 'fine-tune',
    cifar,
    labeled: local.slice(0, 5),
    epochs: 1,
    backend: 'wasm',
  });
  assert.match(result.notes.join('\n'), /Only 5 corrected images: 15 more needed/);
  assert.equal(result.candidate.metadata.training.local!.train, 0);
});

test('cancelling a retrain saves nothing and leaves the active model as it was', async () => {
  const activeBefore = resolveModelDir();
  const versionsBefore = await readdir(modelsDir());
  const abort = new AbortController();
  await assert.rejects(
    retrain({
      mode: 'scratch',
      cifar,
      labeled: local,
      epochs: 5,
      backend: 'wasm',
      signal: abort.signal,
      onEvent: (e) => e.type === 'batch' && abort.abort(),
    }),
    TrainingCancelled,
  );
  assert.deepEqual(await readdir(modelsDir()), versionsBefore);
  assert.equal(resolveModelDir(), activeBefore);
  assert.ok(existsSync(path.join(activeBefore, 'model.json')));
});
