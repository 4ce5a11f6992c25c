/**
 * `birdgate app` (what `npm start` runs): the desktop app where Electron's binary is installed, else the
 * same UI in the browser through serve mode. Electron's own `require('electron')` would start downloading
 * a missing binary, so the binary is looked up here the way that module does, without loading it.
 */
import { Command } from 'commander';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import path from 'node:path';
import { integer } from '../parse.ts';
import { RENDERER_DIR, serveUntilStopped } from './serve.ts';

/** Where Electron's binary is, or why it is not there. Never downloads anything. */
export function locateElectron(
  from = import.meta.url,
  env: NodeJS.ProcessEnv = process.env,
): { binary: string } | { missing: string } {
  let packageDir: string;
  try {
    packageDir = path.dirname(createRequire(from).resolve('electron/package.json'));
  } catch {
    return { missing: 'the electron package is not installed' };
  }
  const pathFile = path.join(packageDir, 'path.txt');
  const executable = existsSync(pathFile) ? readFileSync(pathFile, 'utf8').trim() : '';
  if (env.ELECTRON_OVERRIDE_DIST_PATH) {
    const binary = path.join(env.ELECTRON_OVERRIDE_DIST_PATH, executable || 'electron');
    return existsSync(binary) ? { binary } : { missing: `${binary} does not exist` };
  }
  if (!executable) return { missing: `${path.relative(process.cwd(), pathFile) || pathFile} is missing` };
  const binary = path.join(packageDir, 'dist', executable);
  return existsSync(binary) ? { binary } : { missing: `${binary} is missing` };
}

/** Bundles the Electron shell and runs it until its window is quit; resolves with its exit code. */
async function runElectron(binary: string): Promise<number> {
  // Loaded only here: the bundler (esbuild) is a development tool that serve mode never needs.
  const { bundleElectron } = await import('../../../scripts/build-electron.ts');
  const { main } = await bundleElectron();
  const env = { ...process.env };
  delete env.ELECTRON_RUN_AS_NODE; // would make the binary a plain Node.js and never open a window
  const child = spawn(binary, [main], { stdio: 'inherit', env });
  const forward = (signal: NodeJS.Signals) => () => child.kill(signal);
  const onInt = forward('SIGINT');
  const onTerm = forward('SIGTERM');
  process.on('SIGINT', onInt).on('SIGTERM', onTerm);
  try {
    return await new Promise<number>((resolve, reject) =>
      child.once('error', reject).once('exit', (code, signal) => resolve(code ?? (signal ? 1 : 0))),
    );
  } finally {
    process.off('SIGINT', onInt).off('SIGTERM', onTerm);
  }
}

export function appCommand(): Command {
  return new Command('app')
    .description('open the desktop app (Electron); without its binary, serve the app in a browser instead')
    .option('--port <n>', 'port for serve mode when Electron is missing (0 picks a free one)', integer, 4777)
    .option('--host <host>', 'address for serve mode when Electron is missing', '127.0.0.1')
    .action(async (opts: { port: number; host: string }) => {
      if (!existsSync(path.join(RENDERER_DIR, 'index.html'))) {
        throw new Error('The UI is not built: run `npm run build:renderer` (npm start does it for you)');
      }
      const electron = locateElectron();
      if ('binary' in electron) {
        process.exitCode = await runElectron(electron.binary);
        return;
      }
      console.error(
        `Electron's binary is not installed (${electron.missing}; \`npx install-electron\` fetches it): serving the app in your browser instead.`,
      );
      await serveUntilStopped({ host: opts.host, port: opts.port });
    });
}
