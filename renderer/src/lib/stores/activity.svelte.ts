/** The move journal as the Activity page shows it, newest first, with undo of one or many moves. */
import type { ApiEvent, BirdgateApi, MoveRecord } from '../../../../src/api/contract.ts';
import { plural } from '../format.ts';
import type { NoticesStore } from './notices.svelte.ts';

const PAGE_SIZE = 100;

/** Only a completed move or copy can be undone; an undo record is itself the undoing. */
export function canUndo(move: MoveRecord): boolean {
  return move.state === 'done' && move.kind !== 'undo';
}

export class ActivityStore {
  items = $state.raw<MoveRecord[]>([]);
  total = $state(0);
  loaded = $state(false);
  busy = $state(false);
  selectedIds = $state.raw<ReadonlySet<number>>(new Set());

  readonly hasMore = $derived(this.items.length < this.total);

  #api: BirdgateApi;
  #notices: NoticesStore;

  constructor(api: BirdgateApi, notices: NoticesStore) {
    this.#api = api;
    this.#notices = notices;
  }

  load(): Promise<void> {
    return this.#fetch(0);
  }

  loadMore(): Promise<void> {
    return this.#fetch(this.items.length);
  }

  toggle(id: number): void {
    const next = new Set(this.selectedIds);
    if (!next.delete(id)) next.add(id);
    this.selectedIds = next;
  }

  async undo(ids: number[]): Promise<boolean> {
    if (ids.length === 0) return false;
    this.busy = true;
    try {
      const { undone } = await this.#api.call('undo', { moveIds: ids });
      this.#notices.info(`Undone: ${plural(undone.length, 'move')}.`);
      this.selectedIds = new Set();
      await this.#fetch(0);
      return true;
    } catch (error) {
      this.#notices.error(error, `Could not undo ${plural(ids.length, 'move')}`);
      return false;
    } finally {
      this.busy = false;
    }
  }

  handle(event: ApiEvent): void {
    if (event.type !== 'moved' || !this.loaded) return;
    const { move } = event;
    if (this.items.some((item) => item.id === move.id)) {
      this.items = this.items.map((item) => (item.id === move.id ? move : item));
    } else {
      this.items = [move, ...this.items];
      this.total += 1;
    }
  }

  async #fetch(offset: number): Promise<void> {
    try {
      const page = await this.#api.call('listMoves', { limit: PAGE_SIZE, offset });
      const kept = offset === 0 ? [] : this.items;
      const known = new Set(kept.map((move) => move.id));
      this.items = [...kept, ...page.items.filter((move) => !known.has(move.id))];
      this.total = Math.max(page.total, this.items.length);
      this.loaded = true;
    } catch (error) {
      this.#notices.error(error, 'Could not load the activity');
    }
  }
}
