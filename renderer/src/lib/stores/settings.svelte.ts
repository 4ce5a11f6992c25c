/** Cameras and sorting settings (destination, action, threshold, uncertain band, polling). */
import type { BirdgateApi, MethodInput, Settings } from '../../../../src/api/contract.ts';
import type { NoticesStore } from './notices.svelte.ts';

export class SettingsStore {
  settings = $state.raw<Settings | null>(null);
  busy = $state(false);

  #api: BirdgateApi;
  #notices: NoticesStore;

  constructor(api: BirdgateApi, notices: NoticesStore) {
    this.#api = api;
    this.#notices = notices;
  }

  async load(): Promise<void> {
    try {
      this.settings = await this.#api.call('getSettings', {});
    } catch (error) {
      this.#notices.error(error, 'Could not read the settings');
    }
  }

  addCamera(name: string, folder: string): Promise<boolean> {
    return this.#apply(() => this.#api.call('addCamera', { name, folder }), `Could not add camera “${name}”`);
  }

  removeCamera(name: string): Promise<boolean> {
    return this.#apply(() => this.#api.call('removeCamera', { name }), `Could not remove camera “${name}”`);
  }

  async update(patch: MethodInput<'updateSettings'>): Promise<boolean> {
    const saved = await this.#apply(
      () => this.#api.call('updateSettings', patch),
      'Could not save the setting',
    );
    // A fresh object makes fields derived from the settings drop the value the server refused.
    if (!saved && this.settings) this.settings = { ...this.settings };
    return saved;
  }

  async #apply(request: () => Promise<Settings>, failure: string): Promise<boolean> {
    this.busy = true;
    try {
      this.settings = await request();
      return true;
    } catch (error) {
      this.#notices.error(error, failure);
      return false;
    } finally {
      this.busy = false;
    }
  }
}
