import { describe, expect, it } from 'vitest';
import {
  belongsToTarget,
  nextIndex,
  reviewAction,
  type KeyPress,
} from '../../renderer/src/lib/review/keys.ts';

const press = (key: string, modifiers: Partial<KeyPress> = {}): KeyPress => ({
  key,
  ctrlKey: false,
  metaKey: false,
  altKey: false,
  shiftKey: false,
  ...modifiers,
});

describe('review keys', () => {
  it('maps B and A (either case) to labels', () => {
    expect(reviewAction(press('b'))).toEqual({ kind: 'label', label: 'bird' });
    expect(reviewAction(press('B', { shiftKey: true }))).toEqual({ kind: 'label', label: 'bird' });
    expect(reviewAction(press('a'))).toEqual({ kind: 'label', label: 'airplane' });
  });

  it('confirms with Enter and Space, moves with arrows, Home and End', () => {
    expect(reviewAction(press('Enter'))).toEqual({ kind: 'confirm' });
    expect(reviewAction(press(' '))).toEqual({ kind: 'confirm' });
    expect(reviewAction(press('ArrowDown'))).toEqual({ kind: 'move', direction: 'down' });
    expect(reviewAction(press('End'))).toEqual({ kind: 'move', direction: 'last' });
    expect(reviewAction(press('Escape'))).toEqual({ kind: 'clear-selection' });
  });

  it('undoes with Ctrl+Z and Cmd+Z only', () => {
    expect(reviewAction(press('z', { ctrlKey: true }))).toEqual({ kind: 'undo' });
    expect(reviewAction(press('Z', { metaKey: true }))).toEqual({ kind: 'undo' });
    expect(reviewAction(press('z'))).toBeNull();
    expect(reviewAction(press('z', { ctrlKey: true, shiftKey: true }))).toBeNull();
  });

  it('leaves browser shortcuts and other keys alone', () => {
    expect(reviewAction(press('a', { ctrlKey: true }))).toBeNull(); // select all
    expect(reviewAction(press('b', { altKey: true }))).toBeNull();
    expect(reviewAction(press('x'))).toBeNull();
  });

  it('moves through a grid, clamped at its ends', () => {
    expect(nextIndex(0, 10, 'right', 4)).toBe(1);
    expect(nextIndex(5, 10, 'up', 4)).toBe(1);
    expect(nextIndex(1, 10, 'up', 4)).toBe(0);
    expect(nextIndex(7, 10, 'down', 4)).toBe(9);
    expect(nextIndex(9, 10, 'right', 4)).toBe(9);
    expect(nextIndex(6, 10, 'first', 4)).toBe(0);
    expect(nextIndex(2, 10, 'last', 4)).toBe(9);
    expect(nextIndex(-1, 10, 'down', 4)).toBe(0);
    expect(nextIndex(0, 0, 'down', 4)).toBe(-1);
  });

  it('lets form fields keep their keys, and buttons their Enter and Space', () => {
    expect(belongsToTarget({ tagName: 'INPUT' } as unknown as EventTarget, 'b')).toBe(true);
    expect(belongsToTarget({ tagName: 'DIV', isContentEditable: true } as unknown as EventTarget, 'b')).toBe(
      true,
    );
    expect(belongsToTarget({ tagName: 'BUTTON' } as unknown as EventTarget, 'Enter')).toBe(true);
    expect(belongsToTarget({ tagName: 'BUTTON' } as unknown as EventTarget, 'b')).toBe(false);
    expect(belongsToTarget({ tagName: 'DIV' } as unknown as EventTarget, ' ')).toBe(false);
    expect(belongsToTarget(null, 'b')).toBe(false);
  });
});
