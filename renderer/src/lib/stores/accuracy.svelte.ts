/** The active model's accuracy, accuracy per camera, and the model history with activate / rollback. */
import type { Accuracy, BirdgateApi, ModelVersion } from '../../../../src/api/contract.ts';
import type { NoticesStore } from './notices.svelte.ts';

export class AccuracyStore {
  accuracy = $state.raw<Accuracy | null>(null);
  busy = $state(false);

  #api: BirdgateApi;
  #notices: NoticesStore;

  constructor(api: BirdgateApi, notices: NoticesStore) {
    this.#api = api;
    this.#notices = notices;
  }

  async load(): Promise<void> {
    try {
      this.accuracy = await this.#api.call('getAccuracy', {});
    } catch (error) {
      this.#notices.error(error, 'Could not read the accuracy figures');
    }
  }

  activate(model: ModelVersion): Promise<boolean> {
    return this.#switch(
      () => this.#api.call('activateModel', { id: model.id }),
      `Could not activate ${model.name}`,
    );
  }

  rollback(): Promise<boolean> {
    return this.#switch(() => this.#api.call('rollbackModel', {}), 'Could not roll back');
  }

  async #switch(request: () => Promise<ModelVersion>, failure: string): Promise<boolean> {
    this.busy = true;
    try {
      await request();
      await this.load();
      return true;
    } catch (error) {
      this.#notices.error(error, failure);
      return false;
    } finally {
      this.busy = false;
    }
  }
}
