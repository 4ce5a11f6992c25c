/**
 * The Review page's state: the filtered image list (paged, newest first), the current image and the
 * multi-selection, optimistic relabelling and the Ctrl+Z stack.
 */
import type {
  ApiEvent,
  BirdgateApi,
  ImageFilter,
  ImageSummary,
  Label,
  MoveRecord,
} from '../../../../src/api/contract.ts';
import { errorMessage } from '../api/errors.ts';
import { plural } from '../format.ts';
import { cleanFilter, effectiveLabel, matchesFilter } from '../review/images.ts';
import { nextIndex, type Direction, type ReviewAction } from '../review/keys.ts';
import type { NoticesStore } from './notices.svelte.ts';

export const PAGE_SIZE = 200;
const UNDO_LIMIT = 50;

/** One relabel as Ctrl+Z reverts it: the moves it made and the user labels it replaced. */
export interface RelabelStep {
  label: Label;
  previous: ReadonlyMap<number, Label | null>;
  moves: MoveRecord[];
}

export type PickMode = 'single' | 'toggle' | 'range';

export class ImagesStore {
  items = $state.raw<ImageSummary[]>([]);
  total = $state(0);
  filter = $state.raw<ImageFilter>({});
  loading = $state(false);
  /** The first page for the current filter has arrived: only then may the page say "nothing here". */
  loaded = $state(false);
  loadError = $state<string | null>(null);
  currentId = $state<number | null>(null);
  selectedIds = $state.raw<ReadonlySet<number>>(new Set());
  undoStack = $state.raw<RelabelStep[]>([]);

  readonly hasMore = $derived(this.items.length < this.total);
  readonly indexById = $derived(new Map(this.items.map((image, index) => [image.id, index])));
  readonly currentIndex = $derived(this.currentId === null ? -1 : (this.indexById.get(this.currentId) ?? -1));
  readonly current = $derived(this.items[this.currentIndex] ?? null);
  /** What B, A and the bulk buttons apply to: the multi-selection, else the current image. */
  readonly targetIds = $derived(
    this.selectedIds.size > 1 ? [...this.selectedIds] : this.currentId === null ? [] : [this.currentId],
  );

  #api: BirdgateApi;
  #notices: NoticesStore;
  #generation = 0;
  #anchorId: number | null = null;

  constructor(api: BirdgateApi, notices: NoticesStore) {
    this.#api = api;
    this.#notices = notices;
  }

  setFilter(filter: ImageFilter): Promise<void> {
    this.filter = cleanFilter(filter);
    return this.reload();
  }

  /** Fetches the first page again; the old list stays on screen until the new one arrives. */
  reload(): Promise<void> {
    return this.#fetchPage(0, ++this.#generation);
  }

  loadMore(): Promise<void> {
    if (this.loading || !this.hasMore || this.loadError) return Promise.resolve();
    return this.#fetchPage(this.items.length, this.#generation);
  }

  retry(): Promise<void> {
    this.loadError = null;
    return this.loaded ? this.loadMore() : this.reload();
  }

  pick(id: number, mode: PickMode = 'single'): void {
    const anchor = this.#anchorId === null ? undefined : this.indexById.get(this.#anchorId);
    const index = this.indexById.get(id);
    if (mode === 'toggle') {
      const next = new Set(this.selectedIds);
      if (next.has(id) && next.size > 1) next.delete(id);
      else next.add(id);
      this.selectedIds = next;
      this.#anchorId = id;
      this.currentId = next.has(id) ? id : [...next].at(-1)!;
      return;
    }
    if (mode === 'range' && anchor !== undefined && index !== undefined) {
      const [from, to] = anchor < index ? [anchor, index] : [index, anchor];
      this.selectedIds = new Set(this.items.slice(from, to + 1).map((image) => image.id));
    } else {
      this.selectedIds = new Set([id]);
      this.#anchorId = id;
    }
    this.currentId = id;
  }

  move(direction: Direction, columns: number): void {
    const index = nextIndex(this.currentIndex, this.items.length, direction, columns);
    const image = this.items[index];
    if (image) this.pick(image.id);
    if (this.items.length - index <= columns * 3) void this.loadMore();
  }

  perform(action: ReviewAction, columns: number): void {
    if (action.kind === 'label') void this.relabel(this.targetIds, action.label);
    else if (action.kind === 'confirm') this.confirmCurrent(columns);
    else if (action.kind === 'undo') void this.undo();
    else if (action.kind === 'move') this.move(action.direction, columns);
    else if (this.currentId !== null) this.selectedIds = new Set([this.currentId]);
  }

  /** Enter/Space: the current label is right; record it as ground truth and go on to the next image. */
  confirmCurrent(columns: number): void {
    const image = this.current;
    if (!image) return;
    const label = effectiveLabel(image);
    if (!label) {
      this.#notices.info('This image has no label yet: press B for bird or A for airplane.');
      return;
    }
    void this.relabel([image.id], label);
    this.move('right', columns);
  }

  /** Shows the new label at once; puts the old ones back if the server refuses. */
  async relabel(ids: number[], label: Label): Promise<boolean> {
    if (ids.length === 0) return false;
    const previous = new Map(ids.map((id) => [id, this.#find(id)?.userLabel ?? null]));
    this.#setLabels(new Map(ids.map((id) => [id, label])));
    try {
      const { moved } = await this.#api.call('relabel', { ids, label });
      this.#applyMoves(moved);
      this.undoStack = [...this.undoStack, { label, previous, moves: moved }].slice(-UNDO_LIMIT);
      return true;
    } catch (error) {
      // Leave alone images the user relabelled again meanwhile.
      this.#setLabels(new Map([...previous].filter(([id]) => this.#find(id)?.userLabel === label)));
      this.#notices.error(error, `Could not mark ${plural(ids.length, 'image')} as ${label}`);
      return false;
    }
  }

  async undo(): Promise<boolean> {
    const step = this.undoStack.at(-1);
    if (!step) {
      this.#notices.info('Nothing to undo.');
      return false;
    }
    this.undoStack = this.undoStack.slice(0, -1);
    let remaining = step;
    try {
      const moveIds = step.moves.filter((move) => move.state === 'done').map((move) => move.id);
      if (moveIds.length > 0) {
        this.#applyMoves((await this.#api.call('undo', { moveIds })).undone);
        remaining = { ...step, moves: [] };
      }
      // Files first: restoring a label afterwards finds each file already where that label puts it.
      for (const [label, ids] of changedLabels(step)) await this.#api.call('relabel', { ids, label });
      this.#setLabels(step.previous);
      this.#notices.info(`Undone: ${plural(step.previous.size, 'image')} no longer marked ${step.label}.`);
      return true;
    } catch (error) {
      this.undoStack = [...this.undoStack, remaining];
      this.#notices.error(error, 'Could not undo');
      return false;
    }
  }

  handle(event: ApiEvent): void {
    if (event.type === 'image') this.#upsert(event.image);
    else if (event.type === 'moved') this.#applyMoves([event.move]);
  }

  async #fetchPage(offset: number, generation: number): Promise<void> {
    this.loading = true;
    try {
      const page = await this.#api.call('listImages', { filter: this.filter, limit: PAGE_SIZE, offset });
      if (generation !== this.#generation) return;
      const kept = offset === 0 ? [] : this.items;
      const known = new Set(kept.map((image) => image.id));
      const fresh = page.items.filter((image) => !known.has(image.id));
      this.items = [...kept, ...fresh];
      // Images that arrived live shift the server's offsets; a page of only known ones means the end.
      this.total =
        fresh.length === 0 && offset > 0 ? this.items.length : Math.max(page.total, this.items.length);
      this.loaded = true;
      this.loadError = null;
      if (offset === 0) this.#keepSelection();
    } catch (error) {
      if (generation !== this.#generation) return;
      this.loadError = errorMessage(error);
      this.#notices.error(error, 'Could not load images');
    } finally {
      if (generation === this.#generation) this.loading = false;
    }
  }

  #keepSelection(): void {
    const present = [...this.selectedIds].filter((id) => this.indexById.has(id));
    if (this.currentId === null || !this.indexById.has(this.currentId))
      this.currentId = this.items[0]?.id ?? null;
    this.selectedIds = new Set(present.length > 0 || this.currentId === null ? present : [this.currentId]);
  }

  #upsert(image: ImageSummary): void {
    const index = this.indexById.get(image.id);
    if (index !== undefined) {
      this.items = this.items.map((item, i) => (i === index ? image : item));
    } else if (this.loaded && matchesFilter(image, this.filter)) {
      this.items = [image, ...this.items];
      this.total += 1;
      if (this.currentId === null) this.pick(image.id);
    }
  }

  #applyMoves(moves: MoveRecord[]): void {
    const paths = new Map<number, string>();
    for (const move of moves) {
      if (move.kind === 'copy') continue; // the original stays where it was
      if (move.state === 'done') paths.set(move.imageId, move.toPath);
      else if (move.state === 'undone') paths.set(move.imageId, move.fromPath);
    }
    if (paths.size === 0) return;
    this.items = this.items.map((image) => {
      const path = paths.get(image.id);
      return path === undefined ? image : { ...image, path };
    });
  }

  #setLabels(labels: ReadonlyMap<number, Label | null>): void {
    if (labels.size === 0) return;
    this.items = this.items.map((image) =>
      labels.has(image.id) ? { ...image, userLabel: labels.get(image.id) ?? null } : image,
    );
  }

  #find(id: number): ImageSummary | undefined {
    const index = this.indexById.get(id);
    return index === undefined ? undefined : this.items[index];
  }
}

/** The relabels that put back what a step replaced, grouped by the label to restore. */
function changedLabels(step: RelabelStep): Map<Label | null, number[]> {
  const groups = new Map<Label | null, number[]>();
  for (const [id, label] of step.previous) {
    if (label !== step.label) groups.set(label, [...(groups.get(label) ?? []), id]);
  }
  return groups;
}
