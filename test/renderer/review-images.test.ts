import { describe, expect, it } from 'vitest';
import type { ImageSummary } from '../../src/api/contract.ts';
import { matchesFilter } from '../../renderer/src/lib/review/images.ts';

const image = (overrides: Partial<ImageSummary> = {}): ImageSummary => ({
  id: 1,
  path: '/cams/pond/a.jpg',
  originalPath: '/cams/pond/a.jpg',
  camera: 'Pond',
  status: 'classified',
  error: null,
  captureTime: '2024-05-01T08:00:00.000Z',
  createdAt: '2024-06-01T12:00:00.000Z',
  pBird: 0.9,
  predictedLabel: 'bird',
  modelVersion: 'v1',
  userLabel: null,
  ...overrides,
});

/** Live inserts must land where the server's next page would put them (store.listImages). */
describe('matchesFilter reads the filter as the server does', () => {
  it('counts as corrected only a user label that differs from the prediction', () => {
    expect(matchesFilter(image({ userLabel: 'airplane' }), { corrected: true })).toBe(true);
    expect(matchesFilter(image({ userLabel: 'bird' }), { corrected: true })).toBe(false);
    expect(matchesFilter(image({ userLabel: 'bird' }), { corrected: false })).toBe(true);
    expect(matchesFilter(image(), { corrected: false })).toBe(true);
  });

  it('filters dates on when Birdgate recorded the image, the end excluded', () => {
    expect(matchesFilter(image(), { since: '2024-06-01T00:00:00.000Z' })).toBe(true);
    expect(matchesFilter(image(), { until: '2024-05-02T00:00:00.000Z' })).toBe(false);
    expect(matchesFilter(image(), { until: '2024-06-01T12:00:00.000Z' })).toBe(false);
  });

  it('uses the user label before the prediction for the label filter', () => {
    expect(matchesFilter(image({ userLabel: 'airplane' }), { label: 'airplane' })).toBe(true);
    expect(matchesFilter(image(), { label: 'airplane' })).toBe(false);
  });
});
