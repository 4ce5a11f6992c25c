import { describe, expect, it } from 'vitest';
import { ApiError, type MethodResults } from '../../src/api/contract.ts';
import { ImagesStore, PAGE_SIZE } from '../../renderer/src/lib/stores/images.svelte.ts';
import { NoticesStore } from '../../renderer/src/lib/stores/notices.svelte.ts';
import { FakeApi, image, imageLibrary, move } from './fake-api.ts';

function setup(count = 10) {
  const api = new FakeApi().on('listImages', imageLibrary(count));
  const notices = new NoticesStore();
  return { api, notices, images: new ImagesStore(api, notices) };
}

function deferred<T>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => ((resolve = res), (reject = rej)));
  return { promise, resolve, reject };
}

describe('ImagesStore: lists', () => {
  it('asks for the first page with the filter, without unset fields', async () => {
    const { api, images } = setup();
    await images.setFilter({ label: 'airplane', camera: undefined, corrected: true });
    expect(api.callsTo('listImages')).toEqual([
      { filter: { label: 'airplane', corrected: true }, limit: PAGE_SIZE, offset: 0 },
    ]);
  });

  it('pages through with offsets until everything is loaded, and selects the newest image', async () => {
    const { api, images } = setup(PAGE_SIZE + 50);
    await images.reload();
    expect(images.items).toHaveLength(PAGE_SIZE);
    expect(images.current?.id).toBe(PAGE_SIZE + 50);
    await images.loadMore();
    await images.loadMore(); // nothing left: no request
    expect(api.callsTo('listImages').map((input) => (input as { offset: number }).offset)).toEqual([
      0,
      PAGE_SIZE,
    ]);
    expect(images.items).toHaveLength(PAGE_SIZE + 50);
    expect(images.hasMore).toBe(false);
  });

  it('starts again from offset 0 when the filter changes, ignoring a slower older answer', async () => {
    const { api, images } = setup();
    const slow = deferred<MethodResults['listImages']>();
    api.on('listImages', () => slow.promise);
    const first = images.reload();
    api.on('listImages', () => ({ items: [image(99, { camera: 'meadow' })], total: 1 }));
    await images.setFilter({ camera: 'meadow' });
    slow.resolve({ items: [image(1)], total: 1 });
    await first;
    expect(images.items.map((i) => i.id)).toEqual([99]);
  });

  it('reports a failed page and retries on request', async () => {
    const { api, images, notices } = setup();
    api.on('listImages', () => Promise.reject(new ApiError('db', 'database is locked')));
    await images.reload();
    expect(images.loadError).toBe('database is locked');
    expect(notices.items[0]?.message).toBe('Could not load images: database is locked');
    api.on('listImages', imageLibrary(3));
    await images.retry();
    expect(images.items).toHaveLength(3);
  });

  it('puts live images that match the filter on top and updates known ones in place', async () => {
    const { images } = setup(3);
    await images.setFilter({ camera: 'pond' });
    images.handle({ type: 'image', image: image(4) });
    images.handle({ type: 'image', image: image(5, { camera: 'meadow' }) });
    images.handle({ type: 'image', image: image(2, { status: 'moved' }) });
    expect(images.items.map((i) => [i.id, i.status])).toEqual([
      [4, 'classified'],
      [3, 'classified'],
      [2, 'moved'],
      [1, 'classified'],
    ]);
    expect(images.total).toBe(4);
  });
});

describe('ImagesStore: selection and keys', () => {
  it('selects ranges with Shift and toggles with Ctrl/Cmd', async () => {
    const { images } = setup(6); // ids 6..1
    await images.reload();
    images.pick(5);
    images.pick(3, 'range');
    expect([...images.selectedIds]).toEqual([5, 4, 3]);
    images.pick(1, 'toggle');
    images.pick(4, 'toggle');
    expect([...images.selectedIds].sort()).toEqual([1, 3, 5]);
    expect(images.targetIds).toHaveLength(3);
    images.perform({ kind: 'clear-selection' }, 3);
    expect(images.targetIds).toEqual([images.currentId]);
  });

  it('moves the current image with arrows over the grid columns', async () => {
    const { images } = setup(10);
    await images.reload();
    images.perform({ kind: 'move', direction: 'down' }, 4);
    expect(images.currentIndex).toBe(4);
    images.perform({ kind: 'move', direction: 'left' }, 4);
    expect(images.currentIndex).toBe(3);
    images.perform({ kind: 'move', direction: 'last' }, 4);
    expect(images.currentIndex).toBe(9);
  });

  it('labels every selected image with B/A in one call', async () => {
    const { api, images } = setup(5);
    api.on('relabel', ({ ids }) => ({ updated: ids.length, moved: [] }));
    await images.reload();
    images.pick(5);
    images.pick(4, 'range');
    images.perform({ kind: 'label', label: 'airplane' }, 4);
    expect(api.callsTo('relabel')).toEqual([{ ids: [5, 4], label: 'airplane' }]);
  });

  it('confirms the current label with Enter and goes on to the next image', async () => {
    const { api, images } = setup(3);
    api.on('relabel', ({ ids }) => ({ updated: ids.length, moved: [] }));
    await images.reload();
    images.perform({ kind: 'confirm' }, 4);
    expect(api.callsTo('relabel')).toEqual([{ ids: [3], label: 'bird' }]);
    expect(images.currentId).toBe(2);
  });
});

describe('ImagesStore: relabel and undo', () => {
  it('shows the new label before the server answers, then records the moves for undo', async () => {
    const { api, images } = setup(2);
    const answer = deferred<MethodResults['relabel']>();
    api.on('relabel', () => answer.promise);
    await images.reload();
    const done = images.relabel([2], 'airplane');
    expect(images.items[0]?.userLabel).toBe('airplane');
    answer.resolve({ updated: 1, moved: [move(7, 2)] });
    expect(await done).toBe(true);
    expect(images.items[0]?.path).toBe('/planes/2.jpg');
    expect(images.undoStack).toHaveLength(1);
  });

  it('puts the old label back and shows why when the server refuses', async () => {
    const { api, images, notices } = setup(2);
    api.on('relabel', () => Promise.reject(new ApiError('not-found', 'image 2 is gone')));
    await images.reload();
    expect(await images.relabel([2], 'airplane')).toBe(false);
    expect(images.items[0]?.userLabel).toBeNull();
    expect(images.undoStack).toHaveLength(0);
    expect(notices.items.map((n) => [n.kind, n.message])).toEqual([
      ['error', 'Could not mark 1 image as airplane: image 2 is gone'],
    ]);
  });

  it('undoes the last relabel: moves back first, then restores the labels it replaced', async () => {
    const { api, images } = setup(3);
    api.on('relabel', ({ ids }) => ({ updated: ids.length, moved: [move(7, 3)] }));
    api.on('undo', () => ({
      undone: [move(8, 3, { kind: 'undo', fromPath: '/planes/3.jpg', toPath: '/cams/pond/3.jpg' })],
    }));
    await images.reload();
    images.items = images.items.map((i) => (i.id === 2 ? { ...i, userLabel: 'bird' } : i));
    await images.relabel([3, 2], 'airplane');
    api.calls = [];
    images.perform({ kind: 'undo' }, 4);
    await new Promise((resolve) => setTimeout(resolve));
    expect(api.calls).toEqual([
      { method: 'undo', input: { moveIds: [7] } },
      { method: 'relabel', input: { ids: [3], label: null } },
      { method: 'relabel', input: { ids: [2], label: 'bird' } },
    ]);
    expect(images.items.map((i) => [i.id, i.userLabel, i.path])).toEqual([
      [3, null, '/cams/pond/3.jpg'],
      [2, 'bird', '/cams/pond/2.jpg'],
      [1, null, '/cams/pond/1.jpg'],
    ]);
    expect(images.undoStack).toHaveLength(0);
  });

  it('keeps a failed undo on the stack without the moves it already reverted', async () => {
    const { api, images, notices } = setup(1);
    api.on('relabel', ({ label }) =>
      label === null
        ? Promise.reject(new ApiError('busy', 'try again'))
        : { updated: 1, moved: [move(7, 1)] },
    );
    api.on('undo', () => ({ undone: [] }));
    await images.reload();
    await images.relabel([1], 'airplane');
    expect(await images.undo()).toBe(false);
    expect(images.undoStack).toEqual([expect.objectContaining({ label: 'airplane', moves: [] })]);
    expect(notices.items.at(-1)?.message).toBe('Could not undo: try again');
  });

  it('says so when there is nothing to undo', async () => {
    const { images, notices } = setup(1);
    expect(await images.undo()).toBe(false);
    expect(notices.items.map((n) => n.message)).toEqual(['Nothing to undo.']);
  });
});
