/**
 * Bundles the Electron shell: electron/main.ts → dist/electron/main.cjs and electron/preload.ts →
 * dist/electron/preload.cjs (CommonJS for Node, which is what Electron loads; the sandboxed preload may
 * require nothing but `electron`). Run as `node --import tsx scripts/build-electron.ts`; `birdgate app` calls it.
 *
 * Kept out of the bundle, loaded from node_modules at run time: electron itself, the native modules
 * (better-sqlite3, sharp and its @img/* binaries, the optional tfjs-node) and all of TensorFlow.js, whose
 * wasm backend finds its .wasm files next to its own module and must share the one tfjs engine with it.
 *
 * `import.meta.url` does not exist in CommonJS. Our modules use it to find files relative to themselves
 * (the shipped model, the worker threads' TypeScript entry points), so each one gets the URL of its own
 * source file, computed from the bundle's location: the app keeps the repository's layout (dist/electron/,
 * src/, models/, node_modules/), in a checkout and inside the packaged app alike.
 */
import { build, type Plugin } from 'esbuild';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
export const ELECTRON_OUT_DIR = path.join(ROOT, 'dist', 'electron');
export const ELECTRON_MAIN = path.join(ELECTRON_OUT_DIR, 'main.cjs');

const EXTERNAL = [
  'electron',
  'better-sqlite3',
  'sharp',
  '@img/*',
  '@tensorflow/*',
  // Worker threads load TypeScript through tsx (src/threads/ts-worker.mjs), never through the bundle.
  'tsx',
  'esbuild',
];

/** Replaces `import.meta.url` in our own modules with the URL of the module's source file. */
const moduleUrls: Plugin = {
  name: 'birdgate-module-urls',
  setup(builder) {
    builder.onLoad({ filter: /\.ts$/ }, async (args) => {
      const relative = path.relative(ROOT, args.path);
      if (relative.startsWith('..') || relative.split(path.sep).includes('node_modules')) return undefined;
      const source = await readFile(args.path, 'utf8');
      const segments = JSON.stringify(relative.split(path.sep));
      return { contents: source.replaceAll('import.meta.url', `__birdgateUrl(${segments})`), loader: 'ts' };
    });
  },
};

// dist/electron/ is two levels below the app's root.
// First line of the main bundle, before libuv's thread pool starts: as bin/birdgate sets it (docs/benchmarks.md).
const BANNER =
  'process.env.UV_THREADPOOL_SIZE ??= "16";' +
  'const __birdgateUrl = (segments) => require("node:url").pathToFileURL(' +
  'require("node:path").join(__dirname, "..", "..", ...segments)).href;';

export async function bundleElectron(outDir = ELECTRON_OUT_DIR): Promise<{ main: string; preload: string }> {
  const common = {
    bundle: true,
    platform: 'node',
    format: 'cjs',
    // Electron 45 runs Node 22.
    target: 'node22',
    sourcemap: 'linked',
    logLevel: 'warning',
    external: EXTERNAL,
  } as const;
  const main = path.join(outDir, 'main.cjs');
  const preload = path.join(outDir, 'preload.cjs');
  await Promise.all([
    build({
      ...common,
      entryPoints: [path.join(ROOT, 'electron', 'main.ts')],
      outfile: main,
      plugins: [moduleUrls],
      banner: { js: BANNER },
    }),
    // The preload imports only types from the core: its bundle is the bridge and nothing else.
    build({ ...common, entryPoints: [path.join(ROOT, 'electron', 'preload.ts')], outfile: preload }),
  ]);
  return { main, preload };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { main, preload } = await bundleElectron();
  console.log(`Bundled ${path.relative(ROOT, main)} and ${path.relative(ROOT, preload)}`);
}
