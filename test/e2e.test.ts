/**
 * End to end, as a new user would: a real `birdgate serve` on a temp data folder, driven through Debian's
 * Chromium (playwright-core, no browser download). Adds a camera folder, drops bird and airplane JPEGs,
 * sees them classified and the airplanes moved on disk, corrects one with the keyboard and undoes it,
 * retrains, accepts the new model and finds it on the Accuracy page; a request without the token is refused.
 * Saves a screenshot of every page to docs/screenshots/ (shown in the README).
 *
 * Everything it needs is made here: the renderer is built if dist/renderer is missing, the active model is
 * a small MLP trained on generated images, and CIFAR is a generated folder in the CIFAR binary layout.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { mkdir, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { after, before, test } from 'node:test';
import { fileURLToPath } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import sharp from 'sharp';
import type { ImageSummary, MethodName, MethodResults } from '../src/api/contract.ts';
import { buildModel } from '../src/model/architectures.ts';
import { loadCifar } from '../src/data/cifar.ts';
import { selectBackend } from '../src/model/backend.ts';
import { saveModel } from '../src/model/model-files.ts';
import { activateVersion, nextVersionDir } from '../src/model/registry.ts';
import { isHoldout } from '../src/retrain/local-set.ts';
import { metadataOfRun } from '../src/train/run-metadata.ts';
import { train } from '../src/train/trainer.ts';
import { seededRandom } from '../src/data/batches.ts';
import type { LabeledImages } from '../src/data/labels.ts';
import { PIXELS_PER_IMAGE } from '../src/images/normalize.ts';
import { tempDir, writeCifarBatch, writeJpeg } from './helpers/fixtures.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CHROMIUM = process.env.BIRDGATE_CHROMIUM ?? '/usr/bin/chromium';
const SCREENSHOTS = path.join(ROOT, 'docs', 'screenshots');
const VIEWPORT = { width: 1280, height: 800 };
const CAMERA = 'Pond';
/** Pictures of each class dropped into the camera folder; all are confirmed, so retraining uses them. */
const PER_CLASS = 12;

let root: string;
let home: string;
let cameraDir: string;
let server: ChildProcess | undefined;
let serverLog = '';
let browser: Browser | undefined;
let baseUrl: string;
let token: string;

/**
 * Like the fixtures' syntheticImages ("airplanes" bright on top), but "birds" are a bright vertical band in
 * the middle: both survive the horizontal flips retraining augments with, so a fine-tune stays meaningful.
 */
function pictures(count: number, seed: number): LabeledImages {
  const random = seededRandom(seed);
  const pixels = new Uint8Array(count * PIXELS_PER_IMAGE);
  const labels = new Uint8Array(count);
  for (let i = 0; i < count; i++) {
    const label = i % 2; // 0 airplane, 1 bird
    labels[i] = label;
    for (let p = 0; p < 1024; p++) {
      const [x, y] = [p % 32, Math.floor(p / 32)];
      const bright = label === 0 ? y < 16 : x >= 8 && x < 24;
      // Grey noise (one value for all three channels): as learnable, and the screenshots stay small.
      const value = Math.round((bright ? 140 : 110) + (random() - 0.5) * 160);
      pixels.fill(value, i * PIXELS_PER_IMAGE + p * 3, i * PIXELS_PER_IMAGE + p * 3 + 3);
    }
  }
  return { count, pixels, labels };
}

/** Polls until `check` returns something truthy; fails with `what` (and the server's log) otherwise. */
async function waitFor<T>(
  what: string,
  check: () => Promise<T | undefined | null | false> | T | undefined | null | false,
  timeoutMs = 30_000,
): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value;
    if (Date.now() > deadline)
      throw new Error(`Timed out waiting for ${what}\n--- server log ---\n${serverLog}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}

/** The API as the test sees it (with the token), to check what the UI claims against the server's state. */
async function api<M extends MethodName>(method: M, input: object = {}): Promise<MethodResults[M]> {
  const response = await fetch(`${baseUrl}/api/call/${method}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify(input),
  });
  const body = (await response.json()) as { ok: boolean; result: MethodResults[M]; error?: unknown };
  assert.ok(body.ok, `${method} failed: ${JSON.stringify(body.error)}`);
  return body.result;
}

/** Saves a page at 1280×800 as a small (palette) PNG for the README. */
async function screenshot(page: Page, name: string) {
  // Information toasts fade after a few seconds; dismiss them so they do not cover the page.
  for (const dismiss of await page.locator('[data-testid="notice"].info button').all()) await dismiss.click();
  // Thumbnails load lazily: wait until every image in view has arrived so the shot has no holes.
  // (Browser code as strings: the test's TypeScript has no DOM types.)
  await page.waitForFunction('[...document.images].every((img) => img.complete && img.naturalWidth > 0)');
  const png = await page.screenshot({ type: 'png' });
  await mkdir(SCREENSHOTS, { recursive: true });
  await sharp(png)
    .png({ palette: true, compressionLevel: 9, effort: 10 })
    .toFile(path.join(SCREENSHOTS, `${name}.png`));
}

/** The active model: a small MLP trained on the CIFAR fixture, measured on its validation batch. */
async function trainSmallModel(cifar: string) {
  await selectBackend('wasm');
  const model = buildModel('mlp');
  const [trainSet, validationSet] = await Promise.all([loadCifar(cifar, 'train'), loadCifar(cifar, 'test')]);
  const result = await train(model, trainSet, validationSet, {
    epochs: 4,
    augment: false,
    learningRate: 1e-3,
  });
  const { id, dir } = await nextVersionDir();
  await saveModel(
    model,
    dir,
    metadataOfRun(result, {
      architecture: 'mlp',
      training: {
        data: 'generated (e2e test)',
        trainImages: trainSet.count,
        validationImages: validationSet.count,
        seed: 1,
        backend: 'wasm',
        optimizer: 'adam',
        mode: 'scratch',
      },
    }),
  );
  await activateVersion(id);
  model.dispose();
}

/** dist/renderer is missing or older than a file it is built from (renderer/, the API types). */
function rendererNeedsBuild(): boolean {
  const built = path.join(ROOT, 'dist', 'renderer', 'index.html');
  if (!existsSync(built)) return true;
  const builtAt = statSync(built).mtimeMs;
  const sources = ['renderer', path.join('src', 'api')].flatMap((dir) =>
    readdirSync(path.join(ROOT, dir), { recursive: true, withFileTypes: true })
      .filter((entry) => entry.isFile())
      .map((entry) => path.join(entry.parentPath, entry.name)),
  );
  return sources.some((file) => statSync(file).mtimeMs > builtAt);
}

/** Starts `birdgate serve --port 0` and reads the URL it prints. */
async function startServer(): Promise<string> {
  const child = spawn(path.join(ROOT, 'bin', 'birdgate'), ['serve', '--port', '0'], {
    cwd: ROOT,
    env: { ...process.env, BIRDGATE_HOME: home },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  server = child;
  child.stdout.on('data', (chunk: Buffer) => (serverLog += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (serverLog += chunk.toString()));
  const exited = new Promise<never>((_, reject) =>
    child.once('exit', (code) => reject(new Error(`birdgate serve exited (${code}):\n${serverLog}`))),
  );
  const url = waitFor(
    'the URL birdgate serve prints',
    () => serverLog.match(/Birdgate is running at (http:\/\/\S+#token=\S+)/)?.[1],
  );
  return Promise.race([url, exited]);
}

/** Writes a picture of each class until there are `PER_CLASS` and some of both land in the local holdout. */
async function dropPictures(): Promise<{ birds: string[]; airplanes: string[] }> {
  const incoming = path.join(root, 'incoming');
  await mkdir(incoming, { recursive: true });
  const images = pictures(200, 21); // even index: airplane, odd: bird
  const written = { airplanes: [] as string[], birds: [] as string[] };
  const holdout = { airplanes: 0, birds: 0 };
  for (let i = 0; i < images.count; i++) {
    const kind = i % 2 === 0 ? 'airplanes' : 'birds';
    const list = written[kind];
    if (list.length >= PER_CLASS) continue;
    const name = `${kind === 'airplanes' ? 'plane' : 'bird'}-${String(i).padStart(3, '0')}.jpg`;
    const staged = path.join(incoming, name);
    await writeJpeg(staged, images, i);
    const held = isHoldout(
      createHash('sha256')
        .update(await readFile(staged))
        .digest('hex'),
    );
    // Keep the last slot for a holdout image so local accuracy is measured on both classes.
    if (list.length === PER_CLASS - 1 && holdout[kind] === 0 && !held) continue;
    if (held) holdout[kind]++;
    list.push(name);
  }
  assert.equal(written.birds.length, PER_CLASS);
  assert.equal(written.airplanes.length, PER_CLASS);
  // Into the camera folder in one go, birds and airplanes mixed, as a camera's uploads would arrive.
  for (const name of written.birds.flatMap((bird, i) => [bird, written.airplanes[i]!]))
    await writeFile(path.join(cameraDir, name), await readFile(path.join(incoming, name)));
  return written;
}

before(async () => {
  root = await tempDir('birdgate-e2e-');
  home = path.join(root, 'home');
  cameraDir = path.join(root, 'cameras', 'pond');
  await mkdir(cameraDir, { recursive: true });
  process.env.BIRDGATE_HOME = home; // the registry calls below write into it

  if (rendererNeedsBuild()) {
    const build = spawnSync('npx', ['vite', 'build', '--config', 'renderer/vite.config.ts'], {
      cwd: ROOT,
      encoding: 'utf8',
    });
    assert.equal(build.status, 0, `renderer build failed:\n${build.stdout}\n${build.stderr}`);
  }
  const cifar = path.join(home, 'data', 'cifar-10-batches-bin');
  await mkdir(cifar, { recursive: true });
  for (let b = 1; b <= 5; b++)
    await writeCifarBatch(path.join(cifar, `data_batch_${b}.bin`), pictures(100, b));
  await writeCifarBatch(path.join(cifar, 'test_batch.bin'), pictures(100, 99));
  await trainSmallModel(cifar);
  // New files count as complete after 300 ms of unchanged size instead of the default 2 s.
  await writeFile(path.join(home, 'settings.json'), JSON.stringify({ stabilityMs: 300 }));

  const url = await startServer();
  baseUrl = new URL(url).origin;
  token = new URL(url).hash.replace(/^#token=/, '');
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      '--no-first-run',
    ],
  });
});

after(async () => {
  await browser?.close();
  if (server && server.exitCode === null) {
    const exited = new Promise((resolve) => server!.once('exit', resolve));
    server.kill('SIGTERM');
    await Promise.race([exited, new Promise((resolve) => setTimeout(resolve, 10_000))]);
    if (server.exitCode === null) server.kill('SIGKILL');
  }
  await rm(root, { recursive: true, force: true });
});

test(
  'review → correct → undo → train → accept, in Chromium against birdgate serve',
  {
    skip: existsSync(CHROMIUM) ? false : `no browser at ${CHROMIUM} (apt-get install chromium)`,
    timeout: 170_000,
  },
  async () => {
    const context = await browser!.newContext({ viewport: VIEWPORT, colorScheme: 'light' });
    const page = await context.newPage();
    const problems: string[] = [];
    page.on('pageerror', (error) => problems.push(`page error: ${error.message}`));
    page.on('console', (message) => {
      if (message.type() === 'error') problems.push(`console error: ${message.text()}`);
    });
    // CSP violations are also logged to the console, but this catches those reported only as events.
    await page.addInitScript({
      content: `document.addEventListener('securitypolicyviolation', (event) =>
      console.error('CSP violation: ' + event.violatedDirective + ' ' + event.blockedURI));`,
    });

    // First visit: nothing configured, the page says what to do.
    await page.goto(`${baseUrl}/#token=${token}`);
    const empty = page.getByTestId('empty-state');
    await empty.waitFor();
    assert.match(await empty.innerText(), /No camera folders yet/);
    assert.doesNotMatch(page.url(), /token=/, 'the token is removed from the address bar');

    // Folders: add the camera through the form.
    await page.getByTestId('nav-folders').click();
    await page.getByTestId('camera-name').fill(CAMERA);
    await page.getByTestId('camera-folder').fill(cameraDir);
    await page.getByTestId('add-camera').click();
    await page.locator(`[data-testid="camera-row"][data-name="${CAMERA}"][data-state="watching"]`).waitFor();
    await screenshot(page, 'folders');

    // Review: the pictures appear, classified; the airplanes are moved out of the camera folder.
    await page.getByTestId('nav-review').click();
    const { birds, airplanes } = await dropPictures();
    const total = birds.length + airplanes.length;
    const thumbs = page.getByTestId('thumb');
    await waitFor(
      `${total} classified thumbnails`,
      async () =>
        (await thumbs.count()) === total &&
        (await page.locator('[data-testid="thumb"][data-status="pending"]').count()) === 0,
      60_000,
    );
    assert.ok((await page.locator('[data-testid="thumb"][data-label="airplane"]').count()) > 0);
    assert.ok((await page.locator('[data-testid="thumb"][data-label="bird"]').count()) > 0);
    const airplaneDir = path.join(home, 'airplanes', CAMERA);
    const sorted = await waitFor('airplanes moved to the airplane folder', async () => {
      const moved = existsSync(airplaneDir) ? await readdir(airplaneDir) : [];
      return moved.filter((name) => airplanes.includes(name)).length > 0 && moved;
    });
    for (const name of sorted) assert.ok(!existsSync(path.join(cameraDir, name)), `${name} left the camera`);

    // Correct a bird the model got right into an airplane with the keyboard: the file moves on disk…
    const birdThumb = page
      .locator('[data-testid="thumb"][data-label="bird"][data-status="classified"]')
      .first();
    const id = Number(await birdThumb.getAttribute('data-id'));
    const bird: ImageSummary = await api('getImage', { id });
    assert.ok(birds.includes(path.basename(bird.path)), `${bird.path} is one of the birds`);
    await birdThumb.click();
    await page.locator(`[data-testid="detail"][data-id="${id}"]`).waitFor();
    await page.keyboard.press('a');
    await page.locator(`[data-testid="thumb"][data-id="${id}"][data-label="airplane"]`).waitFor();
    const moved = await waitFor('the corrected bird moved to the airplane folder', async () => {
      const now = await api('getImage', { id });
      return now.path.startsWith(airplaneDir + path.sep) && existsSync(now.path) && now.path;
    });
    assert.ok(!existsSync(bird.path), 'the file left the camera folder');

    // …and Ctrl+Z puts it back where the camera saved it, with no label of the user's. The move can be on
    // disk before the page has the server's answer, and only then is there something to undo.
    await page.locator('[data-testid="detail"] button:enabled').filter({ hasText: 'Undo' }).waitFor();
    await page.keyboard.press('Control+z');
    await page.locator(`[data-testid="thumb"][data-id="${id}"][data-label="bird"]`).waitFor();
    await waitFor(
      'the undone file back in the camera folder',
      () => existsSync(bird.path) && !existsSync(moved),
    );
    assert.equal((await api('getImage', { id })).userLabel, null);

    // Confirm every picture (Enter = "the label is right", then the next one): they become training data.
    await thumbs.first().click();
    await page.keyboard.press('Home');
    for (let i = 0; i < total; i++) await page.keyboard.press('Enter');
    await waitFor('every picture confirmed', async () => {
      const { perCamera } = await api('getAccuracy');
      return perCamera.find((row) => row.camera === CAMERA)?.n === total;
    });
    await page.keyboard.press('Home');
    await screenshot(page, 'review');

    // Training: a one-epoch fine-tune shows progress, then the comparison with Accept.
    await page.getByTestId('nav-training').click();
    await page.getByRole('spinbutton', { name: 'Epochs' }).fill('1');
    await page.getByTestId('start-training').click();
    const progress = page.getByTestId('training-progress');
    await progress.waitFor();
    assert.ok(['running', 'done'].includes((await progress.getAttribute('data-state'))!));
    await page.locator('[data-testid="training-progress"][data-state="done"]').waitFor({ timeout: 90_000 });
    assert.match(await progress.innerText(), /Epoch 1: loss/);
    await page.getByTestId('model-compare').waitFor();
    await screenshot(page, 'training');
    await page.getByTestId('accept-model').click();
    await page.getByTestId('model-compare').waitFor({ state: 'detached' });
    const activeModel = await waitFor('the new model active', async () =>
      (await api('listModels')).find((m) => m.active && m.mode === 'fine-tune'),
    );
    assert.ok(activeModel.localHoldoutSize > 0, 'the local holdout is not empty');

    // Accuracy: the new version, active, with its CIFAR and local-holdout accuracy.
    await page.getByTestId('nav-accuracy').click();
    await page
      .locator(`[data-testid="model-row"][data-id="${activeModel.id}"][data-active="true"]`)
      .waitFor();
    assert.equal(await page.getByTestId('model-row').count(), (await api('listModels')).length);
    assert.match(await page.getByTestId('accuracy-cifar').innerText(), /^\d+\.\d %$/);
    assert.match(await page.getByTestId('accuracy-local').innerText(), /^\d+\.\d %$/);
    await screenshot(page, 'accuracy');

    // Activity: the moves, including the corrected bird and its undo.
    await page.getByTestId('nav-activity').click();
    // The page's first rows come from the live events (the refetch follows): the undo made on the Review
    // page must already show there as undone.
    await page.locator('[data-testid="move-row"]').first().waitFor();
    assert.ok((await page.locator('[data-testid="move-row"][data-state="undone"]').count()) >= 1);
    await screenshot(page, 'activity');

    // Without the right token every API request is refused.
    for (const auth of [{}, { authorization: 'Bearer wrong' }] as Record<string, string>[]) {
      const refused = await fetch(`${baseUrl}/api/call/getStatus`, { method: 'POST', headers: auth });
      assert.equal(refused.status, 401);
    }
    assert.equal((await fetch(`${baseUrl}/api/events`)).status, 401);
    assert.equal((await fetch(`${baseUrl}/api/thumbnails/${id}`)).status, 401);

    const notices = await page.locator('[data-testid="notice"].error').allInnerTexts();
    assert.deepEqual(notices, [], 'no error toasts');
    assert.deepEqual(problems, [], 'no page errors, console errors or CSP violations');
    await context.close();
  },
);
