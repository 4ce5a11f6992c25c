import { describe, expect, it } from 'vitest';
import { ApiError, type Settings } from '../../src/api/contract.ts';
import { ActivityStore } from '../../renderer/src/lib/stores/activity.svelte.ts';
import { createStores, routeEvents } from '../../renderer/src/lib/stores/index.ts';
import { NoticesStore } from '../../renderer/src/lib/stores/notices.svelte.ts';
import { SettingsStore } from '../../renderer/src/lib/stores/settings.svelte.ts';
import { StatusStore } from '../../renderer/src/lib/stores/status.svelte.ts';
import { FakeApi, image, move } from './fake-api.ts';

const settings: Settings = {
  cameras: [],
  airplaneFolder: '/planes',
  action: 'move',
  threshold: 0.5,
  uncertainBand: 0.1,
  scanExisting: true,
  polling: { enabled: false, intervalMs: 2000 },
};

describe('SettingsStore', () => {
  it('adds a camera and keeps the settings the server answers', async () => {
    const api = new FakeApi().on('addCamera', ({ name, folder }) => ({
      ...settings,
      cameras: [{ name, folder, enabled: true }],
    }));
    const store = new SettingsStore(api, new NoticesStore());
    expect(await store.addCamera('pond', '/cams/pond')).toBe(true);
    expect(store.settings?.cameras).toEqual([{ name: 'pond', folder: '/cams/pond', enabled: true }]);
  });

  it('keeps the saved value and shows the reason when an update is refused', async () => {
    const api = new FakeApi()
      .on('getSettings', () => settings)
      .on('updateSettings', () => Promise.reject(new ApiError('invalid-input', 'threshold must be ≤ 1')));
    const notices = new NoticesStore();
    const store = new SettingsStore(api, notices);
    await store.load();
    const before = store.settings;
    expect(await store.update({ threshold: 0.7 })).toBe(false);
    expect(store.settings).toEqual(before);
    expect(store.settings).not.toBe(before); // a new object, so drafts derived from it reset
    expect(notices.items[0]?.message).toBe('Could not save the setting: threshold must be ≤ 1');
  });
});

describe('StatusStore', () => {
  it('pauses watching and follows status and scan events', async () => {
    const api = new FakeApi()
      .on('setWatching', ({ paused }) => ({ watching: !paused }))
      .on('getStatus', () => ({ watching: false, cameras: [], counts: {} }));
    const status = new StatusStore(api, new NoticesStore());
    await status.setPaused(true);
    expect(status.watching).toBe(false);
    const camera = { name: 'pond', folder: '/cams/pond', state: 'missing' as const, counts: {} };
    status.handle({ type: 'status', cameras: [camera] });
    status.handle({ type: 'progress', task: 'scan', done: 3, total: 10 });
    expect(status.cameras).toEqual([camera]);
    expect(status.scan).toEqual({ done: 3, total: 10, etaSec: undefined });
    status.handle({ type: 'progress', task: 'scan', done: 10, total: 10 });
    expect(status.scan).toBeNull();
  });
});

describe('ActivityStore', () => {
  it('undoes several moves at once and reloads the journal', async () => {
    const api = new FakeApi()
      .on('listMoves', () => ({ items: [move(2, 20), move(1, 10)], total: 2 }))
      .on('undo', () => ({ undone: [move(3, 20, { kind: 'undo' }), move(4, 10, { kind: 'undo' })] }));
    const activity = new ActivityStore(api, new NoticesStore());
    await activity.load();
    activity.toggle(1);
    activity.toggle(2);
    expect(await activity.undo([...activity.selectedIds])).toBe(true);
    expect(api.callsTo('undo')).toEqual([{ moveIds: [1, 2] }]);
    expect(api.callsTo('listMoves')).toHaveLength(2);
    expect(activity.selectedIds.size).toBe(0);
  });
});

describe('routeEvents', () => {
  it('feeds live events to the stores and turns error events into notices', async () => {
    const api = new FakeApi().on('listImages', () => ({ items: [], total: 0 }));
    const stores = createStores(api);
    await stores.images.reload();
    const stop = routeEvents(stores);
    api.emit({ type: 'image', image: image(1) });
    api.emit({ type: 'error', message: 'camera "pond" folder vanished' });
    stop();
    api.emit({ type: 'image', image: image(2) });
    expect(stores.images.items.map((i) => i.id)).toEqual([1]);
    expect(stores.notices.items.map((n) => n.message)).toEqual(['camera "pond" folder vanished']);
  });

  it('shows a refused token as an access problem, not a toast', () => {
    const stores = createStores(new FakeApi());
    stores.notices.error(new ApiError('unauthorized', 'Open the printed address'));
    expect(stores.notices.accessProblem).toBe('Open the printed address');
    expect(stores.notices.items).toEqual([]);
  });
});
