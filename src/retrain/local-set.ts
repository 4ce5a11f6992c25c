/**
 * The user's corrected images as training data: decoded by the same preprocessing as inference, split
 * deterministically by content hash so a given image is always in the same half (holdout images are never
 * trained on, however often the user retrains), and oversampled so a few hundred count next to CIFAR.
 */
import { concatLabeledImages } from '../data/cifar.ts';
import { BIRD, type ClassName, type LabeledImages } from '../data/labels.ts';
import { PIXELS_PER_IMAGE } from '../images/normalize.ts';
import { loadImagePixels } from '../images/preprocess.ts';
import { mapLimit } from '../classify/classifier.ts';

export interface LabeledFile {
  path: string;
  sha256: string;
  label: ClassName;
}

/** Below this many corrected images, local accuracy is noise and retraining uses CIFAR alone. */
export const MIN_LOCAL_LABELS = 20;
const HOLDOUT_FRACTION = 0.2;

/** One in five images, chosen by the first 32 bits of its sha256: stable across runs and machines. */
export function isHoldout(sha256: string): boolean {
  return parseInt(sha256.slice(0, 8), 16) / 2 ** 32 < HOLDOUT_FRACTION;
}

export interface LocalSet {
  train: LabeledImages;
  holdout: LabeledImages;
  holdoutFiles: LabeledFile[];
  skipped: { path: string; error: string }[];
  counts: { airplane: number; bird: number };
}

export async function loadLocalSet(files: LabeledFile[]): Promise<LocalSet> {
  const decoded = await mapLimit(files, 4, async (file) => {
    try {
      return { file, pixels: await loadImagePixels(file.path) };
    } catch (error) {
      return { file, error: (error as Error).message };
    }
  });
  const pack = (items: { file: LabeledFile; pixels: Uint8Array }[]): LabeledImages => {
    const pixels = new Uint8Array(items.length * PIXELS_PER_IMAGE);
    items.forEach((item, i) => pixels.set(item.pixels, i * PIXELS_PER_IMAGE));
    return {
      count: items.length,
      pixels,
      labels: Uint8Array.from(items, (i) => (i.file.label === 'bird' ? BIRD : 0)),
    };
  };
  const good = decoded.filter((d): d is { file: LabeledFile; pixels: Uint8Array } => 'pixels' in d);
  const holdout = good.filter((d) => isHoldout(d.file.sha256));
  return {
    train: pack(good.filter((d) => !isHoldout(d.file.sha256))),
    holdout: pack(holdout),
    holdoutFiles: holdout.map((d) => d.file),
    skipped: decoded.filter((d) => 'error' in d).map((d) => ({ path: d.file.path, error: d.error! })),
    counts: {
      airplane: good.filter((d) => d.file.label === 'airplane').length,
      bird: good.filter((d) => d.file.label === 'bird').length,
    },
  };
}

/** Repeats the set `times` times (augmentation makes each copy different). */
export function oversample(set: LabeledImages, times: number): LabeledImages {
  return times <= 1 || set.count === 0 ? set : concatLabeledImages(Array.from({ length: times }, () => set));
}

/** A seeded random subset, for fine-tuning on part of CIFAR per run. */
export function subset(set: LabeledImages, count: number, random: () => number): LabeledImages {
  if (count >= set.count) return set;
  const chosen = new Set<number>();
  while (chosen.size < count) chosen.add(Math.floor(random() * set.count));
  const indices = [...chosen];
  const pixels = new Uint8Array(count * PIXELS_PER_IMAGE);
  indices.forEach((from, i) =>
    pixels.set(
      set.pixels.subarray(from * PIXELS_PER_IMAGE, (from + 1) * PIXELS_PER_IMAGE),
      i * PIXELS_PER_IMAGE,
    ),
  );
  return { count, pixels, labels: Uint8Array.from(indices, (i) => set.labels[i]!) };
}
