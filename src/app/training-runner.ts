/** One retrain at a time, in a worker thread; its state is what the Training page shows. */
import { EventEmitter } from 'node:events';
import type { Worker } from 'node:worker_threads';
import type { TrainingStatus } from '../api/contract.ts';
import type { LabeledFile } from '../retrain/local-set.ts';
import type { RetrainMode, RetrainResult } from '../retrain/retrain.ts';
import { spawnTsWorker } from '../threads/spawn.ts';
import type { TrainEvent } from '../train/trainer.ts';
import { toModelVersion } from './mapping.ts';

export interface TrainingRequest {
  mode: RetrainMode;
  epochs?: number;
  minutes?: number;
  cifar: string;
  labeled: LabeledFile[];
  workers?: number;
}

export type TrainingMessage =
  | { kind: 'event'; event: TrainEvent }
  | { kind: 'done'; result: RetrainResult }
  | { kind: 'failed'; message: string; cancelled: boolean };

export class TrainingRunner extends EventEmitter<{ status: [TrainingStatus]; finished: [RetrainResult] }> {
  private worker: Worker | undefined;
  private state: TrainingStatus = { state: 'idle', epochs: [] };
  result: RetrainResult | undefined;

  status(): TrainingStatus {
    return this.state;
  }

  start(request: TrainingRequest): TrainingStatus {
    if (this.worker) throw new Error('A training run is already in progress');
    this.result = undefined;
    this.update({ state: 'running', mode: request.mode, epochs: [], message: 'Loading data…' });
    const worker = spawnTsWorker(new URL('./training-worker.ts', import.meta.url), { ...request });
    this.worker = worker;
    worker.on('message', (message: TrainingMessage) => {
      if (message.kind === 'event') this.onTrainEvent(message.event);
      else if (message.kind === 'done') {
        this.result = message.result;
        const { candidate, previous, evaluation, disagreements, notes } = message.result;
        this.update({
          ...this.state,
          state: 'done',
          candidate: toModelVersion(candidate),
          comparison: {
            previous: toModelVersion(previous),
            localAccuracyBefore: evaluation.previous.local?.accuracy ?? null,
            disagreements,
          },
          message: notes.join(' ') || undefined,
        });
        this.emit('finished', message.result);
      } else {
        this.update({
          ...this.state,
          state: message.cancelled ? 'cancelled' : 'failed',
          error: message.cancelled ? undefined : message.message,
          message: message.cancelled ? 'Cancelled: the active model is unchanged.' : undefined,
        });
      }
    });
    worker.on('error', (error) => this.update({ ...this.state, state: 'failed', error: error.message }));
    worker.on('exit', () => (this.worker = undefined));
    return this.state;
  }

  cancel(): TrainingStatus {
    this.worker?.postMessage({ kind: 'cancel' });
    return this.state;
  }

  private onTrainEvent(event: TrainEvent) {
    if (event.type === 'start') {
      this.update({ ...this.state, message: `Training on ${event.trainImages} images` });
    } else if (event.type === 'batch') {
      const { step: done, totalSteps: total, etaSec, loss } = event;
      this.update({ ...this.state, progress: { done, total, etaSec, loss } });
    } else if (event.type === 'epoch') {
      const { epoch, trainLoss, trainAccuracy, validationAccuracy } = event;
      // The trainer counts epochs from 0; people (and the Training page's "Epoch N") count from 1.
      this.update({
        ...this.state,
        epochs: [...this.state.epochs, { epoch: epoch + 1, trainLoss, trainAccuracy, validationAccuracy }],
      });
    }
  }

  private update(next: TrainingStatus) {
    this.state = next;
    this.emit('status', next);
  }

  async close(): Promise<void> {
    await this.worker?.terminate();
  }
}
