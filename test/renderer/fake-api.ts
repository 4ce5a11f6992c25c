/** An in-memory BirdgateApi for the store tests: scripted answers, recorded calls, events on demand. */
import {
  ApiError,
  type ApiEvent,
  type BirdgateApi,
  type ImageSummary,
  type MethodInput,
  type MethodName,
  type MethodResults,
  type MoveRecord,
} from '../../src/api/contract.ts';

type Handler<M extends MethodName> = (input: MethodInput<M>) => MethodResults[M] | Promise<MethodResults[M]>;

export class FakeApi implements BirdgateApi {
  calls: { method: MethodName; input: unknown }[] = [];
  #handlers: { [M in MethodName]?: Handler<M> } = {};
  #listeners = new Set<(event: ApiEvent) => void>();

  on<M extends MethodName>(method: M, handler: Handler<M>): this {
    (this.#handlers as Record<M, Handler<M>>)[method] = handler;
    return this;
  }

  async call<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodResults[M]> {
    this.calls.push({ method, input });
    const handler = this.#handlers[method] as Handler<M> | undefined;
    if (!handler) throw new ApiError('not-implemented', `FakeApi has no answer for ${method}`);
    return handler(input);
  }

  callsTo(method: MethodName): unknown[] {
    return this.calls.filter((call) => call.method === method).map((call) => call.input);
  }

  subscribe(listener: (event: ApiEvent) => void): () => void {
    this.#listeners.add(listener);
    return () => this.#listeners.delete(listener);
  }

  emit(event: ApiEvent): void {
    for (const listener of this.#listeners) listener(event);
  }

  thumbnailUrl = (id: number) => `/thumb/${id}`;
  imageUrl = (id: number) => `/image/${id}`;
}

export function image(id: number, overrides: Partial<ImageSummary> = {}): ImageSummary {
  return {
    id,
    path: `/cams/pond/${id}.jpg`,
    originalPath: `/cams/pond/${id}.jpg`,
    camera: 'pond',
    status: 'classified',
    error: null,
    captureTime: null,
    createdAt: new Date(Date.UTC(2025, 0, 1, 0, 0, id)).toISOString(),
    pBird: 0.9,
    predictedLabel: 'bird',
    modelVersion: 'v1',
    userLabel: null,
    ...overrides,
  };
}

export function move(id: number, imageId: number, overrides: Partial<MoveRecord> = {}): MoveRecord {
  return {
    id,
    imageId,
    fromPath: `/cams/pond/${imageId}.jpg`,
    toPath: `/planes/${imageId}.jpg`,
    kind: 'move',
    state: 'done',
    error: null,
    createdAt: '2025-01-01T00:00:00.000Z',
    ...overrides,
  };
}

/** Serves `count` images, newest (highest id) first, honouring limit and offset. */
export function imageLibrary(count: number): Handler<'listImages'> {
  const all = Array.from({ length: count }, (_, i) => image(count - i));
  return ({ limit = 100, offset = 0 }) => ({ items: all.slice(offset, offset + limit), total: all.length });
}
