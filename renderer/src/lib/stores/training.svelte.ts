/** A retrain as the Training page shows it: state, progress, a live loss trace and the candidate model. */
import type { ApiEvent, BirdgateApi, ModelVersion, TrainingStatus } from '../../../../src/api/contract.ts';
import type { NoticesStore } from './notices.svelte.ts';

/** Loss as training reports it, against the fraction of the run done (0..1). */
export interface LossSample {
  x: number;
  loss: number;
}

export type TrainingMode = 'fine-tune' | 'scratch';

export class TrainingStore {
  status = $state.raw<TrainingStatus>({ state: 'idle', epochs: [] });
  lossTrace = $state.raw<LossSample[]>([]);
  busy = $state(false);
  /** Candidates the user discarded: they stay in the model history, but stop asking for a decision. */
  dismissed = $state.raw<ReadonlySet<number>>(new Set());

  readonly running = $derived(this.status.state === 'running');
  /** The new model waiting for Accept or Discard, if any. */
  readonly candidate = $derived.by((): ModelVersion | null => {
    const candidate = this.status.candidate;
    return candidate && !candidate.active && !this.dismissed.has(candidate.id) ? candidate : null;
  });

  #api: BirdgateApi;
  #notices: NoticesStore;

  constructor(api: BirdgateApi, notices: NoticesStore) {
    this.#api = api;
    this.#notices = notices;
  }

  refresh(): Promise<boolean> {
    return this.#request(() => this.#api.call('getTraining', {}), 'Could not read the training status');
  }

  /** Neither epochs nor minutes: the server's default length for the mode. */
  start(mode: TrainingMode, length: { epochs?: number; minutes?: number } = {}): Promise<boolean> {
    this.lossTrace = [];
    return this.#request(
      () => this.#api.call('startTraining', { mode, ...length }),
      'Could not start training',
    );
  }

  cancel(): Promise<boolean> {
    return this.#request(() => this.#api.call('cancelTraining', {}), 'Could not cancel training');
  }

  /** Makes the candidate the active model. */
  async accept(): Promise<ModelVersion | null> {
    const candidate = this.candidate;
    if (!candidate) return null;
    this.busy = true;
    try {
      const activated = await this.#api.call('activateModel', { id: candidate.id });
      this.dismissed = new Set([...this.dismissed, candidate.id]);
      return activated;
    } catch (error) {
      this.#notices.error(error, `Could not activate ${candidate.name}`);
      return null;
    } finally {
      this.busy = false;
    }
  }

  discard(): void {
    if (this.candidate) this.dismissed = new Set([...this.dismissed, this.candidate.id]);
  }

  handle(event: ApiEvent): void {
    if (event.type === 'training') this.#setStatus(event.status);
    else if (event.type === 'progress' && event.task === 'training') {
      const loss = this.status.progress?.loss ?? Number.NaN;
      const etaSec = event.etaSec ?? this.status.progress?.etaSec ?? 0;
      this.status = { ...this.status, progress: { done: event.done, total: event.total, etaSec, loss } };
    }
  }

  #setStatus(status: TrainingStatus): void {
    if (status.state === 'running' && this.status.state !== 'running') this.lossTrace = [];
    this.status = status;
    const progress = status.progress;
    if (!progress || progress.total <= 0 || !Number.isFinite(progress.loss)) return;
    const x = progress.done / progress.total;
    if (x > (this.lossTrace.at(-1)?.x ?? -1))
      this.lossTrace = [...this.lossTrace, { x, loss: progress.loss }];
  }

  async #request(request: () => Promise<TrainingStatus>, failure: string): Promise<boolean> {
    this.busy = true;
    try {
      this.#setStatus(await request());
      return true;
    } catch (error) {
      this.#notices.error(error, failure);
      return false;
    } finally {
      this.busy = false;
    }
  }
}
