/** Toasts: errors stay until dismissed (never swallowed), information fades on its own. */
import { errorCode, errorMessage } from '../api/errors.ts';

export interface Notice {
  id: number;
  kind: 'error' | 'info';
  message: string;
}

const INFO_MS = 4000;
const MAX_SHOWN = 5;

export class NoticesStore {
  items = $state.raw<Notice[]>([]);
  /** Set when the server refuses us: every page needs the user to reopen the printed URL. */
  accessProblem = $state<string | null>(null);
  #nextId = 1;

  error(error: unknown, context?: string): void {
    const code = errorCode(error);
    if (code === 'no-token' || code === 'unauthorized') {
      this.accessProblem = errorMessage(error);
      return;
    }
    this.#push('error', context ? `${context}: ${errorMessage(error)}` : errorMessage(error));
  }

  info(message: string): void {
    const id = this.#push('info', message);
    setTimeout(() => this.dismiss(id), INFO_MS);
  }

  dismiss(id: number): void {
    this.items = this.items.filter((notice) => notice.id !== id);
  }

  #push(kind: Notice['kind'], message: string): number {
    // A failing connection makes every request fail the same way: show that once.
    const same = this.items.find((notice) => notice.kind === kind && notice.message === message);
    if (same) return same.id;
    const id = this.#nextId++;
    this.items = [...this.items, { id, kind, message }].slice(-MAX_SHOWN);
    return id;
  }
}
