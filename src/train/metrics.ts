/** Classification metrics for the two classes, computed from p(bird) and the true labels. */
import { BIRD, CLASS_NAMES } from '../data/labels.ts';

export interface ClassMetrics {
  precision: number;
  recall: number;
}

export interface Metrics {
  n: number;
  accuracy: number;
  /** rows = true class (airplane, bird), columns = predicted class. */
  confusion: [[number, number], [number, number]];
  perClass: Record<(typeof CLASS_NAMES)[number], ClassMetrics>;
  /** Expected calibration error over 10 equal-width confidence bins. */
  calibrationError: number;
}

const CALIBRATION_BINS = 10;

export function computeMetrics(
  pBird: ArrayLike<number>,
  labels: ArrayLike<number>,
  threshold = 0.5,
): Metrics {
  const n = labels.length;
  const confusion: [[number, number], [number, number]] = [
    [0, 0],
    [0, 0],
  ];
  const binCount = new Array<number>(CALIBRATION_BINS).fill(0);
  const binConfidence = new Array<number>(CALIBRATION_BINS).fill(0);
  const binCorrect = new Array<number>(CALIBRATION_BINS).fill(0);
  for (let i = 0; i < n; i++) {
    const p = pBird[i]!;
    const predicted = p >= threshold ? 1 : 0;
    const truth = labels[i] === BIRD ? 1 : 0;
    confusion[truth]![predicted]!++;
    const confidence = predicted ? p : 1 - p;
    const bin = Math.min(CALIBRATION_BINS - 1, Math.floor(confidence * CALIBRATION_BINS));
    binCount[bin]!++;
    binConfidence[bin]! += confidence;
    binCorrect[bin]! += predicted === truth ? 1 : 0;
  }
  const ratio = (a: number, b: number) => (b === 0 ? 0 : a / b);
  const classMetrics = (c: 0 | 1): ClassMetrics => ({
    precision: ratio(confusion[c][c], confusion[0][c] + confusion[1][c]),
    recall: ratio(confusion[c][c], confusion[c][0] + confusion[c][1]),
  });
  let calibrationError = 0;
  for (let b = 0; b < CALIBRATION_BINS; b++) {
    if (binCount[b]) calibrationError += Math.abs(binCorrect[b]! - binConfidence[b]!) / n;
  }
  return {
    n,
    accuracy: ratio(confusion[0][0] + confusion[1][1], n),
    confusion,
    perClass: { airplane: classMetrics(0), bird: classMetrics(1) },
    calibrationError,
  };
}
