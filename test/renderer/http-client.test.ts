/** The HTTP client against a real node:http server: envelopes, token handling, server-sent events. */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { ApiError, type ApiEvent } from '../../src/api/contract.ts';
import { createHttpClient } from '../../renderer/src/lib/api/http-client.ts';

interface Seen {
  method?: string;
  url?: string;
  authorization?: string;
  contentType?: string;
  body: string;
}

let server: http.Server | undefined;

afterEach(async () => {
  const running = server;
  server = undefined;
  running?.closeAllConnections();
  if (running) await new Promise((resolve) => running.close(resolve));
});

/** Starts a server on a free port; `handle` answers each request after its body was read. */
async function serve(handle: (req: http.IncomingMessage, res: http.ServerResponse, seen: Seen) => void) {
  const requests: Seen[] = [];
  server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (chunk) => (body += chunk));
    req.on('end', () => {
      const seen = {
        method: req.method,
        url: req.url,
        authorization: req.headers.authorization,
        contentType: req.headers['content-type'],
        body,
      };
      requests.push(seen);
      handle(req, res, seen);
    });
  });
  await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', resolve));
  return { baseUrl: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, requests };
}

const json = (res: http.ServerResponse, status: number, body: unknown) =>
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body));

const client = (baseUrl: string, token: string | null = 's3cret/+') =>
  createHttpClient({ baseUrl, token, EventSource: globalThis.EventSource, retryMs: 20 });

function rejection(promise: Promise<unknown>): Promise<ApiError> {
  return promise.then(
    () => expect.fail('expected a rejection'),
    (error: unknown) => {
      expect(error).toBeInstanceOf(ApiError);
      return error as ApiError;
    },
  );
}

/** Resolves once `check` holds, polling briefly: events arrive on the server's schedule. */
async function until(check: () => boolean, ms = 3000) {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) throw new Error('timed out waiting');
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

describe('http client: calls', () => {
  it('posts the input as JSON with the bearer token and returns the result', async () => {
    const { baseUrl, requests } = await serve((_req, res) =>
      json(res, 200, { ok: true, result: { watching: true } }),
    );
    const result = await client(baseUrl).call('setWatching', { paused: false });
    expect(result).toEqual({ watching: true });
    expect(requests).toEqual([
      {
        method: 'POST',
        url: '/api/call/setWatching',
        authorization: 'Bearer s3cret/+',
        contentType: 'application/json',
        body: '{"paused":false}',
      },
    ]);
  });

  it("rebuilds the server's error envelope as an ApiError", async () => {
    const { baseUrl } = await serve((_req, res) =>
      json(res, 400, { ok: false, error: { code: 'invalid-input', message: 'Invalid input for relabel' } }),
    );
    const error = await rejection(client(baseUrl).call('relabel', { ids: [1], label: 'bird' }));
    expect([error.code, error.message]).toEqual(['invalid-input', 'Invalid input for relabel']);
  });

  it('turns answers that are not envelopes into ApiErrors that say what happened', async () => {
    const { baseUrl } = await serve((req, res) =>
      req.url!.endsWith('getStatus') ? res.writeHead(401).end('no') : res.writeHead(502).end('<html>'),
    );
    expect((await rejection(client(baseUrl).call('getStatus', {}))).code).toBe('unauthorized');
    expect((await rejection(client(baseUrl).call('getSettings', {}))).code).toBe('http-502');
  });

  it('refuses to call without a token, and reports an unreachable server', async () => {
    const { baseUrl, requests } = await serve((_req, res) => json(res, 200, { ok: true, result: {} }));
    expect((await rejection(client(baseUrl, null).call('getStatus', {}))).code).toBe('no-token');
    expect(requests).toHaveLength(0);
    expect((await rejection(client('http://127.0.0.1:9').call('getStatus', {}))).code).toBe('network');
  });

  it('puts the token, URL-encoded, in image URLs', () => {
    const api = client('http://127.0.0.1:4000');
    expect(api.thumbnailUrl(7)).toBe('http://127.0.0.1:4000/api/thumbnails/7?token=s3cret%2F%2B');
    expect(api.imageUrl(7)).toBe('http://127.0.0.1:4000/api/images/7?token=s3cret%2F%2B');
  });
});

describe('http client: live events', () => {
  it('delivers events and reconnects both after a dropped stream and after a refused one', async () => {
    let connections = 0;
    const { baseUrl, requests } = await serve((_req, res) => {
      connections += 1;
      if (connections === 2) return void res.writeHead(503).end(); // EventSource gives up: the client retries
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      const event: ApiEvent = { type: 'error', message: `connection ${connections}` };
      res.write(`retry: 20\ndata: ${JSON.stringify(event)}\n\n`);
      if (connections === 1) res.end(); // drop the stream: the browser reconnects by itself
    });
    const api = client(baseUrl);
    const events: ApiEvent[] = [];
    const states: boolean[] = [];
    api.onConnectionChange((connected) => states.push(connected));
    const unsubscribe = api.subscribe((event) => events.push(event));
    await until(() => events.length === 2);
    unsubscribe();
    expect(events).toEqual([
      { type: 'error', message: 'connection 1' },
      { type: 'error', message: 'connection 3' },
    ]);
    expect(requests.map((r) => [r.method, r.url])).toEqual(
      Array(3).fill(['GET', '/api/events?token=s3cret%2F%2B']),
    );
    expect(states[0]).toBe(true);
    expect(states).toContain(false);
    expect(states.at(-1)).toBe(true);
  });

  it('reports an unreadable event instead of dropping it', async () => {
    const { baseUrl } = await serve((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/event-stream' });
      res.write('data: {not json\n\n');
    });
    const events: ApiEvent[] = [];
    const unsubscribe = client(baseUrl).subscribe((event) => events.push(event));
    await until(() => events.length === 1);
    unsubscribe();
    expect(events[0]).toEqual({ type: 'error', message: expect.stringContaining('Unreadable live update') });
  });
});
