/** The Review page's keyboard: key presses → actions, and how arrow keys move through a grid. Pure. */
import type { Label } from '../../../../src/api/contract.ts';

export type Direction = 'left' | 'right' | 'up' | 'down' | 'first' | 'last';

export type ReviewAction =
  | { kind: 'label'; label: Label }
  | { kind: 'confirm' }
  | { kind: 'undo' }
  | { kind: 'move'; direction: Direction }
  | { kind: 'clear-selection' };

export interface KeyPress {
  key: string;
  ctrlKey: boolean;
  metaKey: boolean;
  altKey: boolean;
  shiftKey: boolean;
}

const plainKeys: Record<string, ReviewAction> = {
  b: { kind: 'label', label: 'bird' },
  a: { kind: 'label', label: 'airplane' },
  Enter: { kind: 'confirm' },
  ' ': { kind: 'confirm' },
  ArrowLeft: { kind: 'move', direction: 'left' },
  ArrowRight: { kind: 'move', direction: 'right' },
  ArrowUp: { kind: 'move', direction: 'up' },
  ArrowDown: { kind: 'move', direction: 'down' },
  Home: { kind: 'move', direction: 'first' },
  End: { kind: 'move', direction: 'last' },
  Escape: { kind: 'clear-selection' },
};

export function reviewAction(press: KeyPress): ReviewAction | null {
  if (press.altKey) return null;
  if (press.ctrlKey || press.metaKey) {
    // Ctrl+Z on Linux/Windows, Cmd+Z on macOS; Shift would mean redo, which there is none of.
    return press.key.toLowerCase() === 'z' && !press.shiftKey ? { kind: 'undo' } : null;
  }
  const key = press.key.length === 1 ? press.key.toLowerCase() : press.key;
  return plainKeys[key] ?? null;
}

/** The index an arrow key leads to in a grid of `count` items laid out `columns` wide, clamped to it. */
export function nextIndex(index: number, count: number, direction: Direction, columns: number): number {
  if (count === 0) return -1;
  if (index < 0) return 0;
  const steps: Record<Direction, number> = {
    left: -1,
    right: 1,
    up: -columns,
    down: columns,
    first: -count,
    last: count,
  };
  return Math.min(count - 1, Math.max(0, index + steps[direction]));
}

/** Whether a key press is the focused control's own business (typing, or activating a button). */
export function belongsToTarget(target: EventTarget | null, key: string): boolean {
  const element = target as { tagName?: string; isContentEditable?: boolean } | null;
  if (!element?.tagName) return false;
  if (['INPUT', 'TEXTAREA', 'SELECT'].includes(element.tagName) || element.isContentEditable) return true;
  return ['BUTTON', 'A'].includes(element.tagName) && (key === 'Enter' || key === ' ');
}
