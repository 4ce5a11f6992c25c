/**
 * The runtime pieces of the API contract the renderer bundles. Zod-free on purpose: the browser never
 * validates (the server and Electron's main process do), so it need not carry the schema library.
 * The modules re-exported here hold constants and types only.
 */
export { CLASS_NAMES as LABELS } from '../data/labels.ts';
export { IMAGE_STATUSES } from '../store/types.ts';

/** Errors cross every boundary as this envelope and are rebuilt as ApiError on the other side. */
export type Envelope<T> = { ok: true; result: T } | { ok: false; error: { code: string; message: string } };

export class ApiError extends Error {
  constructor(
    readonly code: string,
    message: string,
  ) {
    super(message);
    this.name = 'ApiError';
  }
}
