/**
 * The Electron bundle without Electron (its binary is not installable everywhere): dist/electron/main.cjs
 * is loaded by plain Node with a stand-in `electron` module, which then calls what the real one would —
 * the IPC handler and the birdgate:// protocol — as the window would. Proves the CommonJS bundle starts
 * the core, finds files relative to its modules (model, worker threads), validates IPC and serves the CSP.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { bundleElectron } from '../scripts/build-electron.ts';
import { tempDir, writeCifarFolder } from './helpers/fixtures.ts';
import { activateUntrainedModel } from './helpers/models.ts';

/** The built UI (npm run build:renderer); the page is only checked when it is there. */
const RENDERER = fileURLToPath(new URL('../dist/renderer', import.meta.url));

let root: string;
let home: string;
let bundle: { main: string; preload: string };

/** Resolves `electron` to the stand-in, then loads the bundle given as the first argument. */
const HARNESS = `
const Module = require('node:module');
const path = require('node:path');
const resolve = Module._resolveFilename;
Module._resolveFilename = function (request, ...rest) {
  return request === 'electron' ? path.join(__dirname, 'electron-stub.cjs') : resolve.call(this, request, ...rest);
};
require(process.argv[2]);
`;

/** Just enough of Electron's main-process API; once the app is ready it plays the window and reports. */
const STUB = `
const { readFile } = require('node:fs/promises');
const { fileURLToPath } = require('node:url');
const { EventEmitter } = require('node:events');
const handlers = new Map();
const windows = [];
let serveScheme;
const app = Object.assign(new EventEmitter(), {
  requestSingleInstanceLock: () => true,
  whenReady: () => new Promise((resolve) => setTimeout(resolve, 10)),
  getLoginItemSettings: () => ({ openAtLogin: false }),
  setLoginItemSettings() {},
  quit() {},
  exit: (code) => process.exit(code),
});
class BrowserWindow extends EventEmitter {
  constructor(options) {
    super();
    this.options = options;
    this.webContents = { send() {} };
    windows.push(this);
  }
  loadURL(url) { this.url = url; }
  isMinimized() { return false; }
  show() {}
  focus() {}
  restore() {}
}
const fetchFile = async (url) => new Response(await readFile(fileURLToPath(url)));
module.exports = {
  app,
  BrowserWindow,
  dialog: {
    showOpenDialog: async () => ({ canceled: true, filePaths: [] }),
    showErrorBox: (title, message) => console.log('ERRORBOX ' + JSON.stringify({ title, message })),
  },
  ipcMain: { handle: (channel, handler) => handlers.set(channel, handler) },
  Menu: { buildFromTemplate: (template) => template },
  Notification: class { show() {} },
  net: { fetch: fetchFile },
  protocol: { registerSchemesAsPrivileged() {}, handle: (scheme, handler) => (serveScheme = handler) },
  session: { defaultSession: { setPermissionRequestHandler() {} } },
  Tray: class { constructor(icon) { this.icon = icon; } setContextMenu() {} setToolTip() {} },
};
const ours = { senderFrame: { url: 'birdgate://app/' } };
const call = (method, input, event = ours) => handlers.get('birdgate:call')(event, method, input);
async function waitForCore() {
  // main.ts registers its IPC handlers once createApp has finished.
  for (let i = 0; i < 600 && !handlers.has('birdgate:call'); i++) await new Promise((r) => setTimeout(r, 100));
  return call('getStatus', {});
}
app.whenReady().then(async () => {
  const report = {};
  report.status = await waitForCore();
  report.invalid = await call('relabel', { ids: [], label: 'cat' });
  report.foreign = await call('getStatus', {}, { senderFrame: { url: 'https://example.com/' } });
  const page = await serveScheme(new Request('birdgate://app/')).catch((error) => error);
  report.page = page instanceof Response
    ? { status: page.status, csp: page.headers.get('content-security-policy'), html: await page.text() }
    : { error: String(page) };
  report.window = { url: windows[0]?.url, webPreferences: windows[0]?.options.webPreferences };
  report.started = await call('startTraining', { mode: 'fine-tune', epochs: 1 });
  for (let i = 0; i < 1200; i++) {
    report.training = (await call('getTraining', {})).result;
    if (!['running', 'idle'].includes(report.training.state)) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  console.log('REPORT ' + JSON.stringify(report));
  process.exit(0);
});
`;

before(async () => {
  root = await tempDir('birdgate-electron-');
  home = path.join(root, 'home');
  process.env.BIRDGATE_HOME = home;
  bundle = await bundleElectron();
  await activateUntrainedModel();
  const cifar = path.join(home, 'data', 'cifar-10-batches-bin');
  await mkdir(cifar, { recursive: true });
  await writeCifarFolder(cifar, 20, 20);
  await writeFile(path.join(root, 'harness.cjs'), HARNESS);
  await writeFile(path.join(root, 'electron-stub.cjs'), STUB);
});

after(() => rm(root, { recursive: true, force: true }));

test('the preload bundle requires nothing but electron (the sandbox allows no more)', async () => {
  const preload = await readFile(bundle.preload, 'utf8');
  assert.deepEqual(
    [...preload.matchAll(/require\("([^"]+)"\)/g)].map((m) => m[1]),
    ['electron'],
  );
  assert.match(preload, /exposeInMainWorld\("birdgate"/);
});

/** Runs the bundle under the stand-in with BIRDGATE_HOME=`dataDir`; resolves with its output. */
async function runBundle(dataDir: string): Promise<{ code: number | null; output: string }> {
  const child = spawn(process.execPath, [path.join(root, 'harness.cjs'), bundle.main], {
    env: { ...process.env, BIRDGATE_HOME: dataDir },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const code = await new Promise<number | null>((resolve) => child.on('exit', resolve));
  return { code, output };
}

test('a core that cannot start is reported in a dialog, and the app exits', async () => {
  const broken = path.join(root, 'broken-home');
  await mkdir(broken, { recursive: true });
  await writeFile(path.join(broken, 'settings.json'), '{ not json');
  const { code, output } = await runBundle(broken);
  assert.equal(code, 1, output);
  const line = output.split('\n').find((l) => l.startsWith('ERRORBOX '));
  assert.ok(line, output);
  assert.match(JSON.parse(line.slice('ERRORBOX '.length)).message, /settings\.json is not valid JSON/);
});

test('the main bundle starts the core, checks IPC, serves the UI with the CSP and trains in a worker', async () => {
  const { code, output } = await runBundle(home);
  const line = output.split('\n').find((l) => l.startsWith('REPORT '));
  assert.ok(line, `no report (exit ${code}):\n${output}`);
  const report = JSON.parse(line.slice('REPORT '.length));

  assert.equal(report.status.ok, true, JSON.stringify(report.status));
  assert.equal(report.invalid.error.code, 'invalid-input');
  assert.equal(report.foreign.error.code, 'unauthorized');
  if (existsSync(path.join(RENDERER, 'index.html'))) {
    assert.equal(report.page.status, 200, JSON.stringify(report.page));
    assert.match(report.page.csp, /script-src 'self'/);
    assert.match(report.page.html, /<div id="app">/);
  }
  assert.equal(report.window.url, 'birdgate://app/');
  assert.deepEqual(
    {
      contextIsolation: report.window.webPreferences.contextIsolation,
      sandbox: report.window.webPreferences.sandbox,
      nodeIntegration: report.window.webPreferences.nodeIntegration,
    },
    { contextIsolation: true, sandbox: true, nodeIntegration: false },
  );
  assert.equal(report.started.ok, true, JSON.stringify(report.started));
  assert.equal(report.training.state, 'done', JSON.stringify(report.training));
  assert.equal(report.training.candidate.mode, 'fine-tune');
});
