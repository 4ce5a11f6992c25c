/**
 * BirdgateApi over HTTP for `birdgate serve`: calls are POST /api/call/<method> answering an Envelope, live
 * events are server-sent events. Errors are rebuilt as ApiError so callers see the server's code and message.
 */
import { ApiError } from '../../../../src/api/shared.ts';
import type {
  ApiEvent,
  BirdgateApi,
  Envelope,
  MethodInput,
  MethodName,
  MethodResults,
} from '../../../../src/api/contract.ts';
import { errorMessage } from './errors.ts';

export interface HttpClientOptions {
  /** Origin of the server, e.g. `location.origin`. */
  baseUrl: string;
  token: string | null;
  /** Defaults to the global one; injectable because Node 20 keeps it behind a flag. */
  EventSource?: typeof EventSource;
  /** First delay before reopening an event stream the server closed; doubles up to maxRetryMs. */
  retryMs?: number;
  maxRetryMs?: number;
}

/** Lets the UI say when live updates stopped, and refresh what it may have missed once they resume. */
export interface LiveConnection {
  onConnectionChange(listener: (connected: boolean) => void): () => void;
}

export type HttpClient = BirdgateApi & LiveConnection;

const CLOSED = 2; // EventSource.CLOSED: the browser gave up and will not reconnect by itself
export const NO_TOKEN_MESSAGE =
  'This page has no access token. Open the address that `birdgate serve` printed (it ends in #token=…).';

export function createHttpClient(options: HttpClientOptions): HttpClient {
  const { baseUrl, token } = options;
  const tokenQuery = token ? `?token=${encodeURIComponent(token)}` : '';
  const listeners = new Set<(event: ApiEvent) => void>();
  const connectionListeners = new Set<(connected: boolean) => void>();
  let source: EventSource | null = null;
  let reopenTimer: ReturnType<typeof setTimeout> | undefined;
  let failures = 0;
  let connected: boolean | null = null;

  async function call<M extends MethodName>(method: M, input: MethodInput<M>): Promise<MethodResults[M]> {
    if (!token) throw new ApiError('no-token', NO_TOKEN_MESSAGE);
    let response: Response;
    try {
      response = await fetch(`${baseUrl}/api/call/${method}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
        body: JSON.stringify(input ?? {}),
      });
    } catch (error) {
      throw new ApiError('network', `Cannot reach Birdgate (${errorMessage(error)}). Is it still running?`);
    }
    const envelope = await readEnvelope<MethodResults[M]>(response);
    if (envelope.ok) return envelope.result;
    throw new ApiError(envelope.error.code, envelope.error.message);
  }

  function setConnected(value: boolean) {
    if (connected === value) return;
    connected = value;
    for (const listener of connectionListeners) listener(value);
  }

  function dispatch(event: ApiEvent) {
    for (const listener of listeners) {
      try {
        listener(event);
      } catch (error) {
        // One failing listener must not starve the others; rethrow where the app's error handler sees it.
        setTimeout(() => {
          throw error;
        });
      }
    }
  }

  function open() {
    reopenTimer = undefined;
    const Source = options.EventSource ?? globalThis.EventSource;
    const opened = new Source(`${baseUrl}/api/events${tokenQuery}`);
    source = opened;
    opened.onopen = () => {
      failures = 0;
      setConnected(true);
    };
    opened.onmessage = (message: MessageEvent<string>) => dispatch(parseEvent(message.data));
    opened.onerror = () => {
      setConnected(false);
      // While CONNECTING the browser retries by itself; once CLOSED (e.g. a 5xx answer) it is up to us.
      if (opened.readyState !== CLOSED) return;
      opened.close();
      source = null;
      const delay = Math.min(options.maxRetryMs ?? 30_000, (options.retryMs ?? 1000) * 2 ** failures++);
      reopenTimer = setTimeout(open, delay);
    };
  }

  function close() {
    clearTimeout(reopenTimer);
    reopenTimer = undefined;
    source?.close();
    source = null;
    connected = null;
  }

  return {
    call,
    subscribe(listener) {
      listeners.add(listener);
      if (token && !source && reopenTimer === undefined) open();
      return () => {
        listeners.delete(listener);
        if (listeners.size === 0) close();
      };
    },
    onConnectionChange(listener) {
      connectionListeners.add(listener);
      return () => connectionListeners.delete(listener);
    },
    thumbnailUrl: (id) => `${baseUrl}/api/thumbnails/${id}${tokenQuery}`,
    imageUrl: (id) => `${baseUrl}/api/images/${id}${tokenQuery}`,
  };
}

async function readEnvelope<T>(response: Response): Promise<Envelope<T>> {
  const body: unknown = await response.json().catch(() => undefined);
  if (isEnvelope<T>(body)) return body;
  const code =
    response.status === 401 || response.status === 403 ? 'unauthorized' : `http-${response.status}`;
  const message =
    code === 'unauthorized'
      ? 'Birdgate refused the access token. Open the address that `birdgate serve` printed.'
      : `Unexpected answer from Birdgate: HTTP ${response.status} ${response.statusText}`.trim();
  return { ok: false, error: { code, message } };
}

function isEnvelope<T>(body: unknown): body is Envelope<T> {
  if (typeof body !== 'object' || body === null || !('ok' in body)) return false;
  if (body.ok === true) return 'result' in body;
  const error = (body as { error?: { code?: unknown; message?: unknown } }).error;
  return body.ok === false && typeof error?.code === 'string' && typeof error.message === 'string';
}

function parseEvent(data: string): ApiEvent {
  try {
    return JSON.parse(data) as ApiEvent;
  } catch {
    return { type: 'error', message: `Unreadable live update from the server: ${data.slice(0, 80)}` };
  }
}
