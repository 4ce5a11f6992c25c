/**
 * `birdgate serve`: the built UI plus the API over HTTP. Every /api request must carry the session token
 * (Authorization: Bearer, or ?token= where a browser cannot set headers: EventSource, <img>); the Host
 * header must name this server (no DNS rebinding); the same schemas as Electron's IPC validate input.
 */
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import http from 'node:http';
import path from 'node:path';
import { timingSafeEqual } from 'node:crypto';
import { ApiError, parseCall, type ApiEvent, type Envelope } from '../api/contract.ts';

export interface ApiService {
  call(method: string, input: unknown): Promise<unknown>;
  subscribe(listener: (event: ApiEvent) => void): () => void;
  /** A file to send for an image id: its cached thumbnail or the image itself. */
  imageFile(id: number, kind: 'thumbnail' | 'full'): Promise<{ file: string; type: string }>;
}

export interface ServerOptions {
  host: string;
  port: number;
  token: string;
  staticDir: string;
  service: ApiService;
}

export const CONTENT_SECURITY_POLICY =
  "default-src 'self'; img-src 'self' data: blob:; style-src 'self' 'unsafe-inline'; connect-src 'self'; " +
  "script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'none'";

const MIME: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
  '.json': 'application/json',
  '.woff2': 'font/woff2',
};
const MAX_BODY = 1 << 20;

const STATUS: Record<string, number> = {
  unauthorized: 401,
  'unknown-method': 404,
  'not-found': 404,
  'invalid-input': 400,
  'outside-folders': 403,
  conflict: 409,
};

function send(
  res: http.ServerResponse,
  status: number,
  body: unknown,
  headers: http.OutgoingHttpHeaders = {},
) {
  res.writeHead(status, { 'content-type': 'application/json', 'cache-control': 'no-store', ...headers });
  res.end(JSON.stringify(body));
}

function sendError(res: http.ServerResponse, error: unknown) {
  const e = error instanceof ApiError ? error : new ApiError('internal', (error as Error).message);
  const envelope: Envelope<never> = { ok: false, error: { code: e.code, message: e.message } };
  send(res, STATUS[e.code] ?? 500, envelope);
}

function tokenMatches(given: string | null | undefined, token: string): boolean {
  if (!given) return false;
  const a = Buffer.from(given);
  const b = Buffer.from(token);
  return a.length === b.length && timingSafeEqual(a, b);
}

async function readJson(req: http.IncomingMessage): Promise<unknown> {
  let size = 0;
  const chunks: Buffer[] = [];
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new ApiError('invalid-input', 'Request body too large');
    chunks.push(chunk as Buffer);
  }
  if (!size) return {};
  try {
    return JSON.parse(Buffer.concat(chunks).toString('utf8'));
  } catch {
    throw new ApiError('invalid-input', 'Request body is not JSON');
  }
}

async function serveStatic(res: http.ServerResponse, staticDir: string, urlPath: string) {
  const relative = decodeURIComponent(urlPath === '/' ? '/index.html' : urlPath);
  const file = path.resolve(staticDir, `.${relative}`);
  const inside = file.startsWith(path.resolve(staticDir) + path.sep);
  const info = inside ? await stat(file).catch(() => undefined) : undefined;
  if (!info?.isFile()) {
    res.writeHead(404, { 'content-type': 'text/plain' }).end('Not found');
    return;
  }
  res.writeHead(200, {
    'content-type': MIME[path.extname(file)] ?? 'application/octet-stream',
    'content-security-policy': CONTENT_SECURITY_POLICY,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'cache-control': relative === '/index.html' ? 'no-store' : 'max-age=3600',
  });
  createReadStream(file).pipe(res);
}

function streamEvents(req: http.IncomingMessage, res: http.ServerResponse, service: ApiService) {
  res.writeHead(200, {
    'content-type': 'text/event-stream',
    'cache-control': 'no-store',
    connection: 'keep-alive',
  });
  res.write(': connected\n\n');
  const unsubscribe = service.subscribe((event) => res.write(`data: ${JSON.stringify(event)}\n\n`));
  const keepAlive = setInterval(() => res.write(': ping\n\n'), 15_000);
  req.on('close', () => {
    clearInterval(keepAlive);
    unsubscribe();
  });
}

export function createHttpServer(options: ServerOptions): http.Server {
  const { token, service, staticDir } = options;
  const server = http.createServer(async (req, res) => {
    try {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : options.port;
      const allowedHosts = new Set([
        `127.0.0.1:${port}`,
        `localhost:${port}`,
        `[::1]:${port}`,
        `${options.host}:${port}`,
      ]);
      if (!allowedHosts.has(req.headers.host ?? '')) {
        res.writeHead(421, { 'content-type': 'text/plain' }).end('Misdirected request');
        return;
      }
      const url = new URL(req.url ?? '/', `http://${req.headers.host}`);
      if (!url.pathname.startsWith('/api/')) {
        if (req.method !== 'GET' && req.method !== 'HEAD') throw new ApiError('not-found', 'Not found');
        await serveStatic(res, staticDir, url.pathname);
        return;
      }
      const bearer = req.headers.authorization?.match(/^Bearer (.+)$/)?.[1];
      if (!tokenMatches(bearer ?? url.searchParams.get('token'), token)) {
        throw new ApiError(
          'unauthorized',
          'Missing or wrong token: open the URL that `birdgate serve` printed',
        );
      }
      const call = url.pathname.match(/^\/api\/call\/([A-Za-z]+)$/);
      const image = url.pathname.match(/^\/api\/(thumbnails|images)\/(\d+)$/);
      if (call && req.method === 'POST') {
        const parsed = parseCall(call[1]!, await readJson(req));
        const result = await service.call(parsed.method, parsed.input);
        send(res, 200, { ok: true, result } satisfies Envelope<unknown>);
      } else if (url.pathname === '/api/events' && req.method === 'GET') {
        streamEvents(req, res, service);
      } else if (image && req.method === 'GET') {
        const { file, type } = await service.imageFile(
          Number(image[2]),
          image[1] === 'thumbnails' ? 'thumbnail' : 'full',
        );
        res.writeHead(200, { 'content-type': type, 'cache-control': 'private, max-age=300' });
        createReadStream(file)
          .on('error', () => res.destroy())
          .pipe(res);
      } else {
        throw new ApiError('not-found', `No such endpoint: ${req.method} ${url.pathname}`);
      }
    } catch (error) {
      if (res.headersSent) res.destroy();
      else sendError(res, error);
    }
  });
  return server;
}

export const isLoopback = (host: string) => ['127.0.0.1', 'localhost', '::1'].includes(host);
