/**
 * Electron main process, kept thin: a hardened window over the same UI and core as `birdgate serve`.
 * The core (watching, store, classifier) runs here through createApp; training runs in worker threads,
 * so neither the window nor this process's IPC ever waits on it.
 */
import {
  app,
  BrowserWindow,
  dialog,
  ipcMain,
  Menu,
  Notification,
  net,
  protocol,
  session,
  Tray,
} from 'electron';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { ApiError, parseCall, type Envelope } from '../src/api/contract.ts';
import { createApp, type App } from '../src/app/app.ts';
import { CONTENT_SECURITY_POLICY } from '../src/server/http.ts';

const RENDERER_DIR = path.join(__dirname, '..', 'renderer');
const ORIGIN = 'birdgate://app';
const NOTIFY_AFTER_MS = 10_000;

/**
 * Whether a URL is one of our pages. Not by `URL.origin`: Node's URL parser does not know that Electron
 * registered birdgate: as a standard scheme, so the origin of every birdgate:// URL reads as "null".
 */
function isOurs(url: string | undefined): boolean {
  if (!url) return false;
  try {
    const parsed = new URL(url);
    return parsed.protocol === 'birdgate:' && parsed.host === 'app';
  } catch {
    return false;
  }
}

protocol.registerSchemesAsPrivileged([{ scheme: 'birdgate', privileges: { standard: true, secure: true } }]);

let window: BrowserWindow | undefined;
let tray: Tray | undefined;
let core: App;

if (!app.requestSingleInstanceLock()) app.quit();
app.on('second-instance', () => showWindow());

/** Serves the UI and images from birdgate://app/ with the strict CSP, nothing from the network. */
function registerProtocol() {
  protocol.handle('birdgate', async (request) => {
    const url = new URL(request.url);
    const image = url.pathname.match(/^\/api\/(thumbnails|images)\/(\d+)$/);
    if (image) {
      const { file } = await core.service.imageFile(
        Number(image[2]),
        image[1] === 'thumbnails' ? 'thumbnail' : 'full',
      );
      return net.fetch(pathToFileURL(file).toString());
    }
    const file = path.resolve(RENDERER_DIR, `.${url.pathname === '/' ? '/index.html' : url.pathname}`);
    if (!file.startsWith(RENDERER_DIR + path.sep)) return new Response('Not found', { status: 404 });
    const response = await net.fetch(pathToFileURL(file).toString());
    const headers = new Headers(response.headers);
    headers.set('content-security-policy', CONTENT_SECURITY_POLICY);
    return new Response(response.body, { status: response.status, headers });
  });
}

/** Every IPC call: from our own page only, validated by the same schemas as the HTTP server. */
function registerIpc() {
  ipcMain.handle(
    'birdgate:call',
    async (event, method: unknown, input: unknown): Promise<Envelope<unknown>> => {
      try {
        if (!isOurs(event.senderFrame?.url)) {
          throw new ApiError('unauthorized', 'IPC from an unexpected frame');
        }
        const parsed = parseCall(String(method), input);
        return { ok: true, result: await core.service.call(parsed.method, parsed.input) };
      } catch (error) {
        const e = error instanceof ApiError ? error : new ApiError('internal', (error as Error).message);
        return { ok: false, error: { code: e.code, message: e.message } };
      }
    },
  );
  ipcMain.handle('birdgate:pick-folder', async () => {
    const result = await dialog.showOpenDialog(window!, { properties: ['openDirectory', 'createDirectory'] });
    return result.canceled ? undefined : result.filePaths[0];
  });
}

function showWindow() {
  if (window) {
    if (window.isMinimized()) window.restore();
    window.show();
    window.focus();
    return;
  }
  window = new BrowserWindow({
    width: 1280,
    height: 800,
    minWidth: 960,
    minHeight: 600,
    title: 'Birdgate',
    webPreferences: {
      preload: path.join(__dirname, 'preload.cjs'),
      contextIsolation: true,
      sandbox: true,
      nodeIntegration: false,
      webSecurity: true,
      spellcheck: false,
    },
  });
  window.loadURL(`${ORIGIN}/`);
  window.on('closed', () => (window = undefined));
}

/** Pages never navigate away or open windows: links to elsewhere are refused. */
function lockDownNavigation() {
  app.on('web-contents-created', (_event, contents) => {
    contents.on('will-navigate', (event, url) => {
      if (!isOurs(url)) event.preventDefault();
    });
    contents.setWindowOpenHandler(() => ({ action: 'deny' }));
  });
  session.defaultSession.setPermissionRequestHandler((_contents, _permission, callback) => callback(false));
}

function buildTray() {
  tray = new Tray(path.join(__dirname, '..', '..', 'build', 'tray.png'));
  const refresh = (paused: boolean) =>
    tray!.setContextMenu(
      Menu.buildFromTemplate([
        { label: 'Open Birdgate', click: () => showWindow() },
        {
          label: paused ? 'Resume watching' : 'Pause watching',
          click: async () => {
            await core.service.call('setWatching', { paused: !paused });
            refresh(!paused);
          },
        },
        {
          label: 'Start at login',
          type: 'checkbox',
          checked: app.getLoginItemSettings().openAtLogin,
          click: (item) => app.setLoginItemSettings({ openAtLogin: item.checked }),
        },
        { type: 'separator' },
        { label: 'Quit', click: () => app.quit() },
      ]),
    );
  tray.setToolTip('Birdgate');
  refresh(false);
}

/** Forwards live events to the window and batches "airplanes moved" into one notification. */
function forwardEvents() {
  let moved = 0;
  let timer: NodeJS.Timeout | undefined;
  core.service.subscribe((event) => {
    window?.webContents.send('birdgate:event', event);
    if (event.type !== 'moved' || event.move.kind !== 'move') return;
    moved++;
    timer ??= setTimeout(() => {
      new Notification({
        title: 'Birdgate',
        body: `${moved} airplane picture${moved === 1 ? '' : 's'} moved`,
      }).show();
      moved = 0;
      timer = undefined;
    }, NOTIFY_AFTER_MS);
  });
}

app
  .whenReady()
  .then(async () => {
    core = await createApp();
    lockDownNavigation();
    registerProtocol();
    registerIpc();
    forwardEvents();
    buildTray();
    showWindow();
  })
  .catch((error: Error) => {
    // E.g. unreadable settings or no model: say why instead of leaving a process with no window.
    dialog.showErrorBox('Birdgate could not start', error.message);
    app.exit(1);
  });

app.on('window-all-closed', () => {
  // Keep watching from the tray; quitting is explicit.
});
app.on('before-quit', () => void core?.close());
