/**
 * The application behind the UI: one store, one sorter (watching), one classifier, one training runner,
 * and the API methods of contract.ts over them. `birdgate serve` and Electron's main process both call
 * createApp; neither holds logic of its own.
 */
import { EventEmitter } from 'node:events';
import { existsSync } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import {
  ApiError,
  type ApiEvent,
  type MethodName,
  type MethodResults,
  type ParsedInput,
} from '../api/contract.ts';
import { Classifier } from '../classify/classifier.ts';
import { appDataDir } from '../config/paths.ts';
import { isSameOrInside, loadSettings, saveSettings, type Settings } from '../config/settings.ts';
import type { BackendChoice } from '../model/backend.ts';
import { activateVersion, listVersions, rollback, type VersionInfo } from '../model/registry.ts';
import { airplaneDir, modelVersionOf } from '../pipeline/ingest.ts';
import { Sorter } from '../pipeline/sorter.ts';
import type { ApiService } from '../server/http.ts';
import { moveFile } from '../sort/move.ts';
import { undoMoves } from '../sort/undo.ts';
import { openStore } from '../store/store.ts';
import type { MoveRow } from '../store/types.ts';
import { toImageSummary, toModelVersion, toMoveRecord } from './mapping.ts';
import { thumbnailFor } from './thumbnails.ts';
import { TrainingRunner } from './training-runner.ts';

export interface App {
  service: ApiService;
  close(): Promise<void>;
}

export interface AppOptions {
  backend?: BackendChoice;
  /** Test seam: how often camera folders are checked for vanishing. */
  folderCheckMs?: number;
}

/** Where retraining finds CIFAR-10: an unpacked folder or the archive `birdgate data download` fetched. */
export function cifarSource(): string {
  const dataDir = path.join(appDataDir(), 'data');
  for (const candidate of ['cifar-10-batches-bin', 'cifar-10-binary.tar.gz']) {
    if (existsSync(path.join(dataDir, candidate))) return path.join(dataDir, candidate);
  }
  throw new ApiError('no-data', 'CIFAR-10 is not downloaded yet: run `birdgate data download` first');
}

const IMAGE_TYPES: Record<string, string> = {
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
  '.png': 'image/png',
  '.webp': 'image/webp',
  '.gif': 'image/gif',
  '.avif': 'image/avif',
  '.tif': 'image/tiff',
  '.tiff': 'image/tiff',
};
const imageType = (file: string) =>
  IMAGE_TYPES[path.extname(file).toLowerCase()] ?? 'application/octet-stream';

type Handlers = { [M in MethodName]: (input: ParsedInput<M>) => Promise<MethodResults[M]> };

export async function createApp(options: AppOptions = {}): Promise<App> {
  const events = new EventEmitter<{ event: [ApiEvent] }>();
  const emit = (event: ApiEvent) => events.emit('event', event);
  const store = await openStore();
  let settings = await loadSettings();
  let classifier = await Classifier.load({ backend: options.backend });
  const sorter = new Sorter(store, classifier, settings, { folderCheckMs: options.folderCheckMs });
  const training = new TrainingRunner();

  const summary = (id: number) => toImageSummary(store.getListItem(id)!);
  const emitImage = (id: number) => emit({ type: 'image', image: summary(id) });
  const emitMove = (move: MoveRow) => emit({ type: 'moved', move: toMoveRecord(move) });
  const cameraStatuses = () => {
    const counts = store.counts().byCamera;
    const live = new Map(sorter.statuses().map((s) => [s.camera, s]));
    return settings.cameras.map((camera) => {
      const state = live.get(camera.name);
      return {
        name: camera.name,
        folder: camera.folder,
        state: !camera.enabled || sorter.paused ? ('paused' as const) : (state?.status ?? 'missing'),
        ...(state?.detail ? { error: state.detail } : {}),
        counts: counts[camera.name] ?? {},
      };
    });
  };

  sorter.on('outcome', (outcome) => {
    if ('image' in outcome) emitImage(outcome.image.id);
    if (outcome.kind === 'classified' && outcome.move) emitMove(outcome.move);
    if (outcome.kind === 'classified' && outcome.error) emit({ type: 'error', message: outcome.error });
  });
  sorter.on('retried', emitMove);
  sorter.on('status', () => emit({ type: 'status', cameras: cameraStatuses() }));
  sorter.on('error', (error) => emit({ type: 'error', message: error.message }));
  training.on('status', (status) => emit({ type: 'training', status }));

  const applySettings = async (next: Settings) => {
    settings = await saveSettings(next);
    await sorter.reconfigure(settings);
    emit({ type: 'status', cameras: cameraStatuses() });
    return settings;
  };

  /** Files are only ever served or moved inside the configured folders. */
  const insideConfigured = (file: string) =>
    [settings.airplaneFolder, ...settings.cameras.map((c) => c.folder)].some((dir) =>
      isSameOrInside(file, dir),
    );

  /** Puts an image's file where its label says: airplanes in the destination, birds where the camera put them. */
  const placeFor = async (id: number, label: 'airplane' | 'bird'): Promise<MoveRow | undefined> => {
    const image = store.getImage(id)!;
    const inDestination = isSameOrInside(image.path, settings.airplaneFolder);
    if (label === 'airplane' && !inDestination && settings.action === 'move') {
      return moveFile(store, {
        imageId: id,
        from: image.path,
        toDir: airplaneDir(settings, image.camera),
        kind: 'move',
      });
    }
    if (label === 'bird' && inDestination && image.path !== image.originalPath) {
      return moveFile(store, {
        imageId: id,
        from: image.path,
        toDir: path.dirname(image.originalPath),
        kind: 'move',
      });
    }
    return undefined;
  };

  /** The watcher classifies with the newly active version from the next image on. */
  const switchTo = async (version: VersionInfo) => {
    classifier = await Classifier.load({ modelDir: version.dir, backend: options.backend });
    sorter.useClassifier(classifier);
    return toModelVersion(version);
  };

  const handlers: Handlers = {
    async listImages({ filter, limit, offset }) {
      const page = store.listImages({ ...filter, limit, offset });
      return { items: page.items.map(toImageSummary), total: page.total };
    },
    async getImage({ id }) {
      const item = store.getListItem(id);
      if (!item) throw new ApiError('not-found', `No image ${id}`);
      return toImageSummary(item);
    },
    async getStatus() {
      return { watching: !sorter.paused, cameras: cameraStatuses(), counts: store.counts().byStatus };
    },
    async getSettings() {
      return settings;
    },
    async listMoves({ limit, offset }) {
      const page = store.moves.list({ limit, offset });
      return { items: page.items.map(toMoveRecord), total: page.total };
    },
    async getAccuracy() {
      const history = (await listVersions()).map(toModelVersion);
      const active = history.find((v) => v.active) ?? null;
      const perCamera = store.agreementByCamera(modelVersionOf(classifier)).map(({ camera, n, correct }) => ({
        camera,
        n,
        accuracy: n ? correct / n : null,
      }));
      return { active, perCamera, history };
    },
    async listModels() {
      return (await listVersions()).map(toModelVersion);
    },
    async getTraining() {
      return training.status();
    },
    async relabel({ ids, label }) {
      const moved: MoveRow[] = [];
      for (const id of ids) {
        if (!store.getImage(id)) throw new ApiError('not-found', `No image ${id}`);
        if (label === null) store.clearLabel(id);
        else {
          store.setLabel(id, label);
          const move = await placeFor(id, label);
          if (move) {
            moved.push(move);
            emitMove(move);
          }
        }
        emitImage(id);
      }
      return { updated: ids.length, moved: moved.map(toMoveRecord) };
    },
    async undo(input) {
      const result = await undoMoves(
        store,
        'moveIds' in input ? { ids: input.moveIds } : { last: input.last },
      );
      for (const move of result.undone) {
        // The undone move changed too (state `undone`): lists showing it must not keep offering its undo.
        const [original] = move.undoOf === null ? [] : store.moves.byIds([move.undoOf]);
        if (original) emitMove(original);
        emitMove(move);
        emitImage(move.imageId);
      }
      if (result.failed.length)
        emit({ type: 'error', message: `${result.failed.length} move(s) could not be undone` });
      return { undone: result.undone.map(toMoveRecord) };
    },
    async addCamera({ name, folder }) {
      const resolved = path.resolve(folder);
      const info = await stat(resolved).catch(() => undefined);
      if (!info?.isDirectory())
        throw new ApiError('invalid-input', `${resolved} is not a folder on this computer`);
      return applySettings({
        ...settings,
        cameras: [...settings.cameras, { name, folder: resolved, enabled: true }],
      });
    },
    async removeCamera({ name }) {
      if (!settings.cameras.some((c) => c.name === name))
        throw new ApiError('not-found', `No camera named ${name}`);
      return applySettings({ ...settings, cameras: settings.cameras.filter((c) => c.name !== name) });
    },
    async updateSettings(patch) {
      const airplaneFolder = patch.airplaneFolder
        ? path.resolve(patch.airplaneFolder)
        : settings.airplaneFolder;
      return applySettings({ ...settings, ...patch, airplaneFolder });
    },
    async setWatching({ paused }) {
      if (paused) sorter.pause();
      else sorter.resume();
      emit({ type: 'status', cameras: cameraStatuses() });
      return { watching: !paused };
    },
    async startTraining({ mode, epochs, minutes }) {
      const labeled = store
        .labeledImages()
        .map(({ path: file, sha256, label }) => ({ path: file, sha256, label }));
      return training.start({ mode, epochs, minutes, cifar: cifarSource(), labeled });
    },
    async cancelTraining() {
      return training.cancel();
    },
    async activateModel({ id }) {
      return switchTo(await activateVersion(id));
    },
    async rollbackModel() {
      return switchTo(await rollback());
    },
  };

  await sorter.start();
  const thumbnails = path.join(appDataDir(), 'thumbnails');
  const service: ApiService = {
    call: (method, input) => (handlers[method as MethodName] as (i: unknown) => Promise<unknown>)(input),
    subscribe(listener) {
      events.on('event', listener);
      return () => events.off('event', listener);
    },
    async imageFile(id, kind) {
      const image = store.getImage(id);
      if (!image) throw new ApiError('not-found', `No image ${id}`);
      if (!insideConfigured(image.path)) {
        throw new ApiError('outside-folders', `${image.path} is outside the configured folders`);
      }
      if (kind === 'full') return { file: image.path, type: imageType(image.path) };
      return { file: await thumbnailFor(image.path, image.sha256, thumbnails), type: 'image/webp' };
    },
  };
  return {
    service,
    async close() {
      await training.close();
      await sorter.close();
      store.close();
    },
  };
}
