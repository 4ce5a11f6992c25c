/**
 * `birdgate app` (npm start): finds Electron's binary without loading the electron module (which would
 * download it), runs the bundled shell where the binary is, and falls back to serve mode with one line
 * saying why where it is not.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { locateElectron } from '../src/cli/commands/app.ts';
import { tempDir } from './helpers/fixtures.ts';
import { activateUntrainedModel } from './helpers/models.ts';

const APP_COMMAND = fileURLToPath(new URL('../src/cli/commands/app.ts', import.meta.url));
const RENDERER_BUILT = fileURLToPath(new URL('../dist/renderer/index.html', import.meta.url));
let root: string;
let home: string;

/** A project folder with node_modules/electron as npm leaves it; `from` is a module inside it. */
async function fakeProject(name: string, files: Record<string, string>) {
  const dir = path.join(root, name);
  const electron = path.join(dir, 'node_modules', 'electron');
  await mkdir(path.join(electron, 'dist'), { recursive: true });
  await writeFile(path.join(electron, 'package.json'), '{"name":"electron","main":"index.js"}');
  // Loading this would mean a download was attempted.
  await writeFile(path.join(electron, 'index.js'), 'throw new Error("electron was required")');
  for (const [file, content] of Object.entries(files)) await writeFile(path.join(electron, file), content);
  return { from: pathToFileURL(path.join(dir, 'main.js')).href, electron };
}

/** Runs `birdgate app ARGS` in a child process; resolves once `until` matches its output (or it exits). */
function runApp(args: string[], env: NodeJS.ProcessEnv, until: RegExp) {
  const driver = `import { appCommand } from ${JSON.stringify(pathToFileURL(APP_COMMAND).href)};
await appCommand().parseAsync(['node', 'app', ...${JSON.stringify(args)}]);`;
  const child = spawn(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', driver], {
    env: { ...process.env, BIRDGATE_HOME: home, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const out = { stdout: '', stderr: '' };
  child.stdout.on('data', (chunk: Buffer) => (out.stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (out.stderr += chunk.toString()));
  return new Promise<{ stdout: string; stderr: string; code: number | null; stop: () => Promise<void> }>(
    (resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`timed out: ${JSON.stringify(out)}`)), 60_000);
      const stop = () =>
        new Promise<void>((done) => {
          if (child.exitCode !== null) return done();
          child.once('exit', () => done()).kill('SIGTERM');
        });
      const check = () => {
        if (until.test(out.stdout + out.stderr)) {
          clearTimeout(timer);
          resolve({ ...out, code: child.exitCode, stop });
        }
      };
      child.stdout.on('data', check);
      child.stderr.on('data', check);
      child.on('exit', (code) => {
        clearTimeout(timer);
        resolve({ ...out, code, stop });
      });
    },
  );
}

before(async () => {
  root = await tempDir('birdgate-app-');
  home = path.join(root, 'home');
  process.env.BIRDGATE_HOME = home;
  await activateUntrainedModel();
});

after(() => rm(root, { recursive: true, force: true }));

test('locateElectron finds the binary as the electron package would, without loading it', async () => {
  const none = pathToFileURL(path.join(root, 'nowhere', 'main.js')).href;
  assert.match((locateElectron(none, {}) as { missing: string }).missing, /not installed/);

  const noPathFile = await fakeProject('no-path-file', {});
  assert.match((locateElectron(noPathFile.from, {}) as { missing: string }).missing, /path\.txt is missing/);

  const noBinary = await fakeProject('no-binary', { 'path.txt': 'electron' });
  assert.match(
    (locateElectron(noBinary.from, {}) as { missing: string }).missing,
    /dist\/electron is missing/,
  );

  const installed = await fakeProject('installed', { 'path.txt': 'electron', 'dist/electron': '' });
  assert.deepEqual(locateElectron(installed.from, {}), {
    binary: path.join(installed.electron, 'dist', 'electron'),
  });

  const override = path.join(root, 'override');
  await mkdir(override, { recursive: true });
  await writeFile(path.join(override, 'electron'), '');
  assert.deepEqual(locateElectron(noPathFile.from, { ELECTRON_OVERRIDE_DIST_PATH: override }), {
    binary: path.join(override, 'electron'),
  });
});

test(
  'without the binary, `birdgate app` says so in one line and serves the UI',
  { skip: !existsSync(RENDERER_BUILT) && 'the UI is not built (npm run build:renderer)' },
  async () => {
    const empty = path.join(root, 'empty-dist');
    await mkdir(empty, { recursive: true });
    const run = await runApp(['--port', '0'], { ELECTRON_OVERRIDE_DIST_PATH: empty }, /running at http/);
    try {
      const url = run.stdout.match(/Birdgate is running at (http:\/\/127\.0\.0\.1:\d+\/#token=\S+)/)?.[1];
      assert.ok(url, run.stdout + run.stderr);
      const notes = run.stderr.split('\n').filter((line) => line.trim());
      assert.equal(notes.length, 1, run.stderr);
      assert.match(notes[0]!, /Electron's binary is not installed.*serving the app in your browser/);
      const page = await fetch(new URL('/', url));
      assert.equal(page.status, 200);
    } finally {
      await run.stop();
    }
  },
);

test(
  'with the binary, `birdgate app` bundles the shell and runs Electron on dist/electron/main.cjs',
  { skip: !existsSync(RENDERER_BUILT) && 'the UI is not built (npm run build:renderer)' },
  async () => {
    const dist = path.join(root, 'fake-electron');
    await mkdir(dist, { recursive: true });
    const record = path.join(root, 'electron-args.txt');
    const binary = path.join(dist, 'electron');
    await writeFile(binary, `#!/bin/sh\necho "[$ELECTRON_RUN_AS_NODE] $@" > '${record}'\nexit 3\n`);
    await chmod(binary, 0o755);
    const run = await runApp([], { ELECTRON_OVERRIDE_DIST_PATH: dist, ELECTRON_RUN_AS_NODE: '1' }, /$^/);
    assert.equal(run.code, 3, run.stdout + run.stderr); // Electron's exit code is passed on
    const main = fileURLToPath(new URL('../dist/electron/main.cjs', import.meta.url));
    // ELECTRON_RUN_AS_NODE is dropped: it would turn the binary into a plain Node.js without a window.
    assert.equal((await readFile(record, 'utf8')).trim(), `[] ${main}`);
    assert.equal(run.stderr, '');
  },
);
