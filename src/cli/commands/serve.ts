import { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { createApp } from '../../app/app.ts';
import { createHttpServer, isLoopback } from '../../server/http.ts';
import { integer } from '../parse.ts';

export const RENDERER_DIR = fileURLToPath(new URL('../../../dist/renderer', import.meta.url));

export interface Served {
  url: string;
  close(): Promise<void>;
}

/** Starts the app and its HTTP server; used by `serve` and by `app` when Electron is missing. */
export async function serve(options: { host: string; port: number; allowRemote?: boolean }): Promise<Served> {
  if (!isLoopback(options.host) && !options.allowRemote) {
    throw new Error(
      `Refusing to listen on ${options.host}: anyone on that network could reach Birdgate. Add --allow-remote if you mean it.`,
    );
  }
  if (!existsSync(`${RENDERER_DIR}/index.html`)) {
    throw new Error('The UI is not built: run `npm run build:renderer` (npm start does it for you)');
  }
  const app = await createApp();
  const token = randomBytes(24).toString('base64url');
  const server = createHttpServer({ ...options, token, staticDir: RENDERER_DIR, service: app.service });
  await new Promise<void>((resolve, reject) =>
    server.once('error', reject).listen(options.port, options.host, resolve),
  );
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : options.port;
  const host = options.host.includes(':') ? `[${options.host}]` : options.host;
  return {
    url: `http://${host}:${port}/#token=${token}`,
    async close() {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
      await app.close();
    },
  };
}

export async function serveUntilStopped(options: { host: string; port: number; allowRemote?: boolean }) {
  const served = await serve(options);
  if (!isLoopback(options.host))
    console.error(`Warning: listening beyond this computer (${options.host}); the token is the only lock.`);
  console.log(`Birdgate is running at ${served.url}`);
  await new Promise<void>((resolve) => {
    process.once('SIGINT', resolve);
    process.once('SIGTERM', resolve);
  });
  await served.close();
}

export function serveCommand(): Command {
  return new Command('serve')
    .description('serve the app in a browser (prints a URL with an access token)')
    .option('--port <n>', 'port (0 picks a free one)', integer, 4777)
    .option('--host <host>', 'address to listen on', '127.0.0.1')
    .option('--allow-remote', 'allow listening on an address other computers can reach')
    .action(async (opts) =>
      serveUntilStopped({ host: opts.host, port: opts.port, allowRemote: opts.allowRemote }),
    );
}
