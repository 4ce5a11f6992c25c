/**
 * Builds the renderer (Svelte 5) into dist/renderer and runs its unit tests (test/renderer).
 * `BIRDGATE_API=http://127.0.0.1:PORT npx vite --config renderer/vite.config.ts` proxies /api to a running
 * `birdgate serve` for development (open the dev URL with the `#token=...` the server printed).
 */
import { fileURLToPath } from 'node:url';
import { svelte } from '@sveltejs/vite-plugin-svelte';
import { defineConfig } from 'vitest/config';

const here = (relative: string) => fileURLToPath(new URL(relative, import.meta.url));
const apiTarget = process.env.BIRDGATE_API;

export default defineConfig({
  root: here('.'),
  // Relative asset URLs: the same files load from the HTTP server and from Electron.
  base: './',
  // Keep Vite's caches with the project's other dependencies rather than in a renderer/node_modules.
  cacheDir: here('../node_modules/.vite/renderer'),
  plugins: [svelte()],
  // Tests run the stores against Svelte's client runtime (runes are inert in its server build).
  resolve: process.env.VITEST ? { conditions: ['browser'] } : undefined,
  build: {
    outDir: here('../dist/renderer'),
    emptyOutDir: true,
    target: 'es2022',
    // The polyfill is not needed by the browsers we target and keeps the output free of inline code.
    modulePreload: { polyfill: false },
  },
  server: apiTarget ? { proxy: { '/api': { target: apiTarget } } } : undefined,
  test: {
    dir: here('../test/renderer'),
    include: ['**/*.test.ts'],
    environment: 'node',
    // Node 20 has EventSource only behind this flag; the HTTP client test uses it against a real server.
    execArgv: ['--experimental-eventsource', '--no-warnings=ExperimentalWarning'],
    maxWorkers: 1,
  },
});
