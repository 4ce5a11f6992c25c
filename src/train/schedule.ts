/** Learning-rate schedules over the whole run, by how far through it a step is (0 to 1). */
export const SCHEDULES = ['one-cycle', 'cosine', 'constant'] as const;
export type Schedule = (typeof SCHEDULES)[number];

/**
 * one-cycle: linear warm-up over the first 25% of the run from peak/10 to peak, then cosine down to ~0 —
 * the schedule that gets small CNNs to their best accuracy in the fewest epochs.
 */
export function learningRateAt(schedule: Schedule, peak: number, t: number): number {
  const cosine = (u: number) => 0.5 * (1 + Math.cos(Math.PI * u));
  switch (schedule) {
    case 'constant':
      return peak;
    case 'cosine':
      return peak * cosine(t);
    case 'one-cycle': {
      const warm = 0.25;
      if (t < warm) return peak * (0.1 + 0.9 * (t / warm));
      return peak * (0.002 + 0.998 * cosine((t - warm) / (1 - warm)));
    }
  }
}
