/**
 * Retraining cost and effect: a fine-tune of the active model and a from-scratch run on CIFAR + N local
 * images (CIFAR test images saved as 256×256 JPEGs, as a camera would deliver them). One JSON line each.
 * Usage: npm run bench:retrain [-- --local 500] [-- --scratch-epochs 5]
 */
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readFile } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
import sharp from 'sharp';
import { loadCifar } from '../src/data/cifar.ts';
import { CLASS_NAMES } from '../src/data/labels.ts';
import { PIXELS_PER_IMAGE } from '../src/images/normalize.ts';
import { selectBackend } from '../src/model/backend.ts';
import type { LabeledFile } from '../src/retrain/local-set.ts';
import { retrain, type RetrainMode } from '../src/retrain/retrain.ts';

const { values } = parseArgs({
  options: {
    data: { type: 'string', default: path.resolve('../shared/data/cifar-10-batches-bin') },
    local: { type: 'string', default: '500' },
    'scratch-epochs': { type: 'string', default: '5' },
  },
});

// A private app data folder: the run must not touch the user's versions (the active model is the shipped one).
process.env.BIRDGATE_HOME = await mkdtemp(path.join(os.tmpdir(), 'birdgate-bench-'));
const photos = path.join(process.env.BIRDGATE_HOME, 'photos');
await mkdir(photos);
const test = await loadCifar(values.data, 'test');
const labeled: LabeledFile[] = [];
for (let i = 0; i < Number(values.local); i++) {
  const file = path.join(photos, `${i}.jpg`);
  const raw = Buffer.from(test.pixels.subarray(i * PIXELS_PER_IMAGE, (i + 1) * PIXELS_PER_IMAGE));
  await sharp(raw, { raw: { width: 32, height: 32, channels: 3 } })
    .resize(256, 256)
    .jpeg({ quality: 90 })
    .toFile(file);
  const sha256 = createHash('sha256')
    .update(await readFile(file))
    .digest('hex');
  labeled.push({ path: file, sha256, label: CLASS_NAMES[test.labels[i]!]! });
}

const backend = await selectBackend('auto');
for (const mode of ['fine-tune', 'scratch'] as RetrainMode[]) {
  const result = await retrain({
    mode,
    cifar: values.data,
    labeled,
    backend,
    epochs: mode === 'scratch' ? Number(values['scratch-epochs']) : undefined,
  });
  console.log(
    JSON.stringify({
      bench: 'retrain',
      mode,
      backend,
      localImages: labeled.length,
      trainImages: result.candidate.metadata.training.trainImages,
      epochs: result.candidate.metadata.training.epochs,
      durationSec: Number(result.durationSec.toFixed(1)),
      cifarAccuracy: result.evaluation.candidate.cifar.accuracy,
      cifarAccuracyBefore: result.evaluation.previous.cifar.accuracy,
      localHoldoutAccuracy: result.evaluation.candidate.local?.accuracy ?? null,
      localHoldoutAccuracyBefore: result.evaluation.previous.local?.accuracy ?? null,
      localHoldout: result.evaluation.candidate.local?.n ?? 0,
    }),
  );
}
