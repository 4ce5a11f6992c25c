/**
 * tfjs initialisers draw from Math.random unless given a seed; seeding it makes `--seed` reproduce the
 * initial weights as well as the shuffle and augmentation.
 */
import { seededRandom } from '../data/batches.ts';

export function setSeed(seed: number): void {
  Math.random = seededRandom(seed ^ 0x5eed);
}
