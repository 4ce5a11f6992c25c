import { describe, expect, it } from 'vitest';
import { ApiError, type ModelVersion, type TrainingStatus } from '../../src/api/contract.ts';
import { NoticesStore } from '../../renderer/src/lib/stores/notices.svelte.ts';
import { TrainingStore } from '../../renderer/src/lib/stores/training.svelte.ts';
import { FakeApi } from './fake-api.ts';

const model = (id: number, active = false): ModelVersion => ({
  id,
  name: `v${id}`,
  createdAt: '2025-01-01T00:00:00.000Z',
  active,
  mode: 'fine-tune',
  cifarAccuracy: 0.9,
  localAccuracy: 0.8,
  localHoldoutSize: 40,
  cifarConfusion: [
    [900, 100],
    [80, 920],
  ],
  localConfusion: null,
});

const running = (done: number, loss: number): TrainingStatus => ({
  state: 'running',
  mode: 'fine-tune',
  progress: { done, total: 100, etaSec: 30, loss },
  epochs: [],
});

function setup() {
  const api = new FakeApi();
  const notices = new NoticesStore();
  return { api, notices, training: new TrainingStore(api, notices) };
}

describe('TrainingStore', () => {
  it('starts a run with the chosen mode and epochs', async () => {
    const { api, training } = setup();
    api.on('startTraining', () => running(0, Number.NaN));
    expect(await training.start('scratch', { minutes: 2 })).toBe(true);
    expect(api.callsTo('startTraining')).toEqual([{ mode: 'scratch', minutes: 2 }]);
    expect(training.running).toBe(true);
  });

  it('follows training events: progress, a live loss trace and epochs', () => {
    const { training } = setup();
    training.handle({ type: 'training', status: running(10, 0.7) });
    training.handle({ type: 'training', status: running(20, 0.5) });
    training.handle({ type: 'progress', task: 'training', done: 30, total: 100, etaSec: 12 });
    training.handle({ type: 'progress', task: 'scan', done: 1, total: 2 });
    expect(training.status.progress).toEqual({ done: 30, total: 100, etaSec: 12, loss: 0.5 });
    expect(training.lossTrace).toEqual([
      { x: 0.1, loss: 0.7 },
      { x: 0.2, loss: 0.5 },
    ]);
    const epoch = { epoch: 1, trainLoss: 0.5, trainAccuracy: 0.8, validationAccuracy: 0.78 };
    training.handle({ type: 'training', status: { ...running(50, 0.4), epochs: [epoch] } });
    expect(training.status.epochs).toEqual([epoch]);
  });

  it('starts a fresh loss trace when a new run begins', () => {
    const { training } = setup();
    training.handle({ type: 'training', status: running(90, 0.2) });
    training.handle({ type: 'training', status: { state: 'done', epochs: [] } });
    training.handle({ type: 'training', status: running(5, 0.9) });
    expect(training.lossTrace).toEqual([{ x: 0.05, loss: 0.9 }]);
  });

  it('offers the candidate until it is accepted or discarded', async () => {
    const { api, training } = setup();
    api.on('activateModel', ({ id }) => model(id, true));
    training.handle({ type: 'training', status: { state: 'done', epochs: [], candidate: model(2) } });
    expect(training.candidate?.id).toBe(2);
    expect((await training.accept())?.active).toBe(true);
    expect(api.callsTo('activateModel')).toEqual([{ id: 2 }]);
    expect(training.candidate).toBeNull();

    training.handle({ type: 'training', status: { state: 'done', epochs: [], candidate: model(3) } });
    training.discard();
    expect(training.candidate).toBeNull();
    expect(api.callsTo('activateModel')).toHaveLength(1);
  });

  it('reports a refused start and a refused cancel', async () => {
    const { api, notices, training } = setup();
    api.on('startTraining', () => Promise.reject(new ApiError('busy', 'a run is already going')));
    expect(await training.start('fine-tune')).toBe(false);
    expect(await training.cancel()).toBe(false);
    expect(notices.items.map((n) => n.message)).toEqual([
      'Could not start training: a run is already going',
      'Could not cancel training: FakeApi has no answer for cancelTraining',
    ]);
    expect(training.busy).toBe(false);
  });
});
