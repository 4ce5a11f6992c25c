/** Whether Birdgate is watching, each camera's live state and counts, and folder-scan progress. */
import type { ApiEvent, BirdgateApi, CameraStatus, ImageStatus } from '../../../../src/api/contract.ts';
import type { NoticesStore } from './notices.svelte.ts';

export interface ScanProgress {
  done: number;
  total: number;
  etaSec?: number;
}

export class StatusStore {
  watching = $state(false);
  cameras = $state.raw<CameraStatus[]>([]);
  counts = $state.raw<Partial<Record<ImageStatus, number>>>({});
  loaded = $state(false);
  scan = $state.raw<ScanProgress | null>(null);

  #api: BirdgateApi;
  #notices: NoticesStore;

  constructor(api: BirdgateApi, notices: NoticesStore) {
    this.#api = api;
    this.#notices = notices;
  }

  async refresh(): Promise<void> {
    try {
      const status = await this.#api.call('getStatus', {});
      this.watching = status.watching;
      this.cameras = status.cameras;
      this.counts = status.counts;
      this.loaded = true;
    } catch (error) {
      this.#notices.error(error, 'Could not read the watcher status');
    }
  }

  async setPaused(paused: boolean): Promise<void> {
    try {
      this.watching = (await this.#api.call('setWatching', { paused })).watching;
      // Each camera's state changes with it; its status event may come later than our answer.
      await this.refresh();
    } catch (error) {
      this.#notices.error(error, paused ? 'Could not pause watching' : 'Could not resume watching');
    }
  }

  handle(event: ApiEvent): void {
    if (event.type === 'status') this.cameras = event.cameras;
    else if (event.type === 'progress' && event.task === 'scan') {
      this.scan =
        event.done < event.total ? { done: event.done, total: event.total, etaSec: event.etaSec } : null;
    }
  }
}
