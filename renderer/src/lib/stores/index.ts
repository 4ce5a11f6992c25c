/** All stores of the app, built around one injected BirdgateApi, and the routing of its live events. */
import type { BirdgateApi } from '../../../../src/api/contract.ts';
import { AccuracyStore } from './accuracy.svelte.ts';
import { ActivityStore } from './activity.svelte.ts';
import { ImagesStore } from './images.svelte.ts';
import { NoticesStore } from './notices.svelte.ts';
import { SettingsStore } from './settings.svelte.ts';
import { StatusStore } from './status.svelte.ts';
import { TrainingStore } from './training.svelte.ts';

export function createStores(api: BirdgateApi) {
  const notices = new NoticesStore();
  return {
    api,
    notices,
    images: new ImagesStore(api, notices),
    status: new StatusStore(api, notices),
    settings: new SettingsStore(api, notices),
    training: new TrainingStore(api, notices),
    accuracy: new AccuracyStore(api, notices),
    activity: new ActivityStore(api, notices),
  };
}

export type Stores = ReturnType<typeof createStores>;

/** Feeds every live event to the stores that care; returns the unsubscribe function. */
export function routeEvents(stores: Stores): () => void {
  return stores.api.subscribe((event) => {
    if (event.type === 'error') stores.notices.error(new Error(event.message));
    stores.images.handle(event);
    stores.status.handle(event);
    stores.training.handle(event);
    stores.activity.handle(event);
    // A finished run adds a model version: the accuracy history should list it.
    if (event.type === 'training' && event.status.state === 'done') void stores.accuracy.load();
  });
}

/** What every page needs at start, and again after a lost connection comes back. */
export function refreshAll(stores: Stores): Promise<unknown> {
  return Promise.all([
    stores.status.refresh(),
    stores.settings.load(),
    stores.images.reload(),
    stores.training.refresh(),
    stores.accuracy.load(),
    stores.activity.load(),
  ]);
}
