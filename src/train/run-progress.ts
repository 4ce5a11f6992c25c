/**
 * How far through a training run a step is, for the learning-rate schedule and the progress bars: the share
 * of its steps done or, with a budget in minutes, the share of the time spent when that is further on. The
 * time counts what ending the run takes (validating the last epoch), so a run that stops when `outOfTime`
 * says so ends on time with its schedule at the end.
 */
export class RunProgress {
  private readonly started: number;
  private readonly budgetMs: number;
  private reserveMs = 0;

  /** `totalSteps` may be Infinity when there is a budget (as many epochs as fit). */
  constructor(
    private readonly totalSteps: number,
    minutes: number | undefined,
    private readonly now = () => performance.now(),
  ) {
    this.budgetMs = (minutes ?? Infinity) * 60_000;
    if (!(this.budgetMs > 0))
      throw new Error(`The budget must be a positive number of minutes, not ${minutes}`);
    if (!Number.isFinite(totalSteps) && !Number.isFinite(this.budgetMs)) {
      throw new Error('A training run needs a number of epochs, a budget in minutes, or both');
    }
    this.started = now();
  }

  elapsedMs(): number {
    return this.now() - this.started;
  }

  /** Where step `step` (0-based) falls in the run, from 0 to 1. */
  at(step: number): number {
    return Math.min(1, Math.max(this.stepShare(step), this.clockShare()));
  }

  /** True once the budget, less the time the run's end takes, is spent. */
  outOfTime(): boolean {
    return this.clockShare() >= 1;
  }

  /** The steps the run will have, estimated after `done` of them: all of them, or as many as the time fits. */
  expectedSteps(done: number): number {
    const share = this.clockShare();
    if (share <= this.stepShare(done)) return this.totalSteps;
    return Math.min(this.totalSteps, Math.max(done, Math.round(done / share)));
  }

  /** How long ending the run takes, as last measured: the time is up that much before the budget is. */
  reserve(ms: number): void {
    this.reserveMs = ms;
  }

  private stepShare(step: number): number {
    return this.totalSteps <= 1 ? 1 : step / (this.totalSteps - 1);
  }

  private clockShare(): number {
    return (this.elapsedMs() + this.reserveMs) / this.budgetMs;
  }
}
