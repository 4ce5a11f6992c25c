import type { FSWatcher } from 'chokidar';
import { EventEmitter } from 'node:events';
import type { Stats } from 'node:fs';
import { stat } from 'node:fs/promises';
import path from 'node:path';
import type { Camera, Settings } from '../config/settings.ts';
import { isImageName } from '../images/extensions.ts';
import { probeFolder } from './folder-probe.ts';
import { createIgnoreMatcher, type IgnoreMatcher } from './ignore-rules.ts';
import { LeanFSWatcher } from './lean-fs-watcher.ts';
import { findMissedImages } from './missed-files.ts';
import { sameFingerprint, StabilityGate, type Fingerprint } from './stability-gate.ts';

export type WatchSettings = Pick<
  Settings,
  'cameras' | 'airplaneFolder' | 'scanExisting' | 'polling' | 'depth' | 'stabilityMs'
>;

export interface FolderWatcherOptions {
  /** More folders to leave alone, e.g. the app data folder when it sits inside a watched one. */
  ignorePaths?: string[];
  /** How often every camera folder is probed for vanishing, coming back or being replaced. */
  folderCheckMs?: number;
}

export type CameraStatus = 'watching' | 'missing' | 'error';

export interface CameraState {
  camera: string;
  folder: string;
  status: CameraStatus;
  /** Why the status is `error`. */
  detail?: string;
}

interface FolderWatcherEvents {
  /** `file` is a complete image: nobody has written to it for the stability period. */
  ready: [file: string, camera: string];
  status: [state: CameraState];
}

interface CameraWatch {
  camera: Camera;
  ignored: IgnoreMatcher;
  state: CameraState | undefined;
  fsWatcher: FSWatcher | undefined;
  /** What `probeFolder` said the folder was when it was attached. */
  identity: string | undefined;
  /** Until chokidar's initial scan ends its events bypass awaitWriteFinish. */
  scanning: boolean;
  /** Folders with recent events, to search for files chokidar missed once things are quiet. */
  dirtyDirs: Set<string>;
  sweepTimer: NodeJS.Timeout | undefined;
}

/**
 * Watches every enabled camera folder with its own chokidar instance and emits `ready` once per complete
 * image (and again only if its size or mtime changes). A probe every `folderCheckMs` detaches a camera
 * whose folder vanished (status `missing`) and re-attaches it, with a full scan, when the folder is back.
 * See docs/watching.md.
 */
export class FolderWatcher extends EventEmitter<FolderWatcherEvents> {
  readonly #settings: WatchSettings;
  readonly #folderCheckMs: number;
  /** Quiet time after the last event in a folder before it is searched for files chokidar missed. */
  readonly #sweepDelayMs: number;
  readonly #cameras: CameraWatch[];
  readonly #gate: StabilityGate;
  /**
   * Files already emitted and still there, with what they looked like. Chokidar sometimes announces a
   * file twice (paulmillr/chokidar#1465), and a folder that comes back is scanned again; this keeps both
   * from reporting an unchanged file a second time. It holds about one entry per file chokidar tracks.
   */
  readonly #reported = new Map<string, Fingerprint>();
  /** Files that became complete while paused, by path → camera: released by `resume()`. */
  readonly #held = new Map<string, string>();
  #checks: Promise<void> = Promise.resolve();
  #checkTimer: NodeJS.Timeout | undefined;
  #stopWaiting: () => void = () => {};
  /** Resolves on `close()`, so an attach waiting for chokidar's scan gives up. */
  readonly #closing = new Promise<void>((resolve) => (this.#stopWaiting = resolve));
  #started = false;
  #closed = false;
  #paused = false;

  constructor(settings: WatchSettings, options: FolderWatcherOptions = {}) {
    super();
    this.#settings = settings;
    this.#folderCheckMs = options.folderCheckMs ?? 1500;
    this.#sweepDelayMs = Math.max(1000, settings.stabilityMs);
    const excluded = [settings.airplaneFolder, ...(options.ignorePaths ?? [])];
    this.#cameras = settings.cameras
      .filter((camera) => camera.enabled)
      .map((camera) => ({
        camera,
        ignored: createIgnoreMatcher(camera.folder, excluded),
        state: undefined,
        fsWatcher: undefined,
        identity: undefined,
        scanning: false,
        dirtyDirs: new Set(),
        sweepTimer: undefined,
      }));
    this.#gate = new StabilityGate(settings.stabilityMs, (file, camera, seen) =>
      this.#release(file, camera, seen),
    );
  }

  /**
   * Attaches every camera whose folder exists, scanning its existing files when `scanExisting` is set, and
   * resolves once those scans are done and every camera has a status. Files found by the scan are emitted
   * afterwards, once they have proved stable.
   */
  async start(): Promise<void> {
    if (this.#started) throw new Error('FolderWatcher already started');
    this.#started = true;
    await this.#checkAll(this.#settings.scanExisting);
    this.#scheduleCheck();
  }

  statuses(): CameraState[] {
    return this.#cameras.flatMap((cw) => (cw.state ? [{ ...cw.state }] : []));
  }

  get paused(): boolean {
    return this.#paused;
  }

  /** Stops emitting `ready`; watching goes on and files completed meanwhile are emitted on `resume()`. */
  pause(): void {
    this.#paused = true;
  }

  resume(): void {
    this.#paused = false;
    const held = [...this.#held];
    this.#held.clear();
    for (const [file, camera] of held) this.emit('ready', file, camera);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearTimeout(this.#checkTimer);
    this.#stopWaiting();
    await this.#checks;
    this.#gate.clear();
    this.#held.clear();
    this.#reported.clear();
    await Promise.all(this.#cameras.map((cw) => this.#detach(cw)));
  }

  #scheduleCheck(): void {
    if (this.#closed) return;
    this.#checkTimer = setTimeout(
      () => void this.#checkAll().then(() => this.#scheduleCheck()),
      this.#folderCheckMs,
    );
  }

  /**
   * Probes run one round after another, so a timer tick and an `unlinkDir` of a root never race, and
   * `close()` can wait for the round in progress. A folder that comes back is always scanned in full:
   * files may have been added while it was gone.
   */
  #checkAll(scan = true): Promise<void> {
    const round = async () => {
      await Promise.all(this.#cameras.map((cw) => this.#checkCamera(cw, scan)));
    };
    this.#checks = this.#checks.then(round);
    return this.#checks;
  }

  async #checkCamera(cw: CameraWatch, scan: boolean): Promise<void> {
    if (this.#closed) return;
    try {
      const probe = await probeFolder(cw.camera.folder);
      if (this.#closed) return;
      if (probe.state === 'present' && cw.fsWatcher && cw.identity === probe.identity) return;
      if (cw.fsWatcher) {
        await this.#detach(cw);
        // Replaced between two probes: report the gap so the status history matches what happened.
        if (probe.state === 'present') this.#setState(cw, 'missing');
      }
      if (probe.state === 'present') await this.#attach(cw, probe.identity, scan);
      else if (probe.state === 'missing') this.#setState(cw, 'missing');
      else this.#setState(cw, 'error', probe.detail);
    } catch (error) {
      this.#setState(cw, 'error', (error as Error).message);
    }
  }

  async #attach(cw: CameraWatch, identity: string, scan: boolean): Promise<void> {
    const { folder, name } = cw.camera;
    const { polling, depth, stabilityMs } = this.#settings;
    const fsWatcher = new LeanFSWatcher({
      ignored: cw.ignored,
      ignoreInitial: !scan,
      depth,
      usePolling: polling.enabled,
      interval: polling.intervalMs,
      // chokidar polls "binary" files (JPEG, PNG…) at this interval instead of `interval`.
      binaryInterval: polling.intervalMs,
      awaitWriteFinish: { stabilityThreshold: stabilityMs, pollInterval: Math.min(100, stabilityMs / 4) },
      // An unreadable subfolder should not take the whole camera down; unreadable files still reach the
      // consumer, which records why.
      ignorePermissionErrors: true,
    }).add(folder);
    cw.fsWatcher = fsWatcher;
    cw.identity = identity;
    cw.scanning = true;
    let failed = false;
    const current = () => cw.fsWatcher === fsWatcher && !this.#closed;
    const onFile = (file: string, stats?: Stats) => {
      if (!current()) return;
      this.#markDirty(cw, path.dirname(file));
      if (isImageName(file)) this.#gate.observe(file, name, stats, !cw.scanning);
    };
    fsWatcher.on('add', onFile);
    fsWatcher.on('change', onFile);
    fsWatcher.on('addDir', (dir) => {
      if (current()) this.#markDirty(cw, dir);
    });
    fsWatcher.on('unlink', (file) => {
      if (!current()) return;
      this.#markDirty(cw, path.dirname(file));
      void this.#forgetIfGone(file);
    });
    fsWatcher.on('unlinkDir', (dir) => {
      if (!current() || dir !== folder) return;
      // The watch died with the folder, even if a new one already stands in its place.
      this.#setState(cw, 'missing');
      void this.#detach(cw).then(() => this.#checkAll());
    });
    fsWatcher.on('error', (error) => {
      if (!current()) return;
      failed = true;
      this.#setState(cw, 'error', (error as Error).message);
    });
    await Promise.race([
      new Promise<void>((resolve) => fsWatcher.once('ready', () => resolve())),
      this.#closing,
    ]);
    cw.scanning = false;
    if (current() && !failed) this.#setState(cw, 'watching');
  }

  async #detach(cw: CameraWatch): Promise<void> {
    const { fsWatcher } = cw;
    cw.fsWatcher = undefined;
    cw.identity = undefined;
    clearTimeout(cw.sweepTimer);
    cw.dirtyDirs.clear();
    await fsWatcher?.close();
  }

  /** Debounced: a burst keeps pushing the search back until the folder has been quiet for a while. */
  #markDirty(cw: CameraWatch, dir: string): void {
    cw.dirtyDirs.add(dir);
    clearTimeout(cw.sweepTimer);
    cw.sweepTimer = setTimeout(() => void this.#sweep(cw), this.#sweepDelayMs);
  }

  async #sweep(cw: CameraWatch): Promise<void> {
    const { fsWatcher } = cw;
    if (!fsWatcher || this.#closed) return;
    const dirs = [...cw.dirtyDirs];
    cw.dirtyDirs.clear();
    const missed = await findMissedImages(dirs, {
      root: cw.camera.folder,
      depth: this.#settings.depth,
      registered: fsWatcher.getWatched(),
      ignored: cw.ignored,
    });
    if (cw.fsWatcher !== fsWatcher || this.#closed) return;
    for (const file of missed) {
      // No stats and not settled: the gate watches the file for a full stability period itself.
      if (!this.#reported.has(file)) this.#gate.observe(file, cw.camera.name, undefined, false);
    }
  }

  /** Chokidar also emits `unlink` for files that are still there (#1465): only forget what is gone. */
  async #forgetIfGone(file: string): Promise<void> {
    try {
      await stat(file);
    } catch {
      this.#gate.forget(file);
      this.#held.delete(file);
      this.#reported.delete(file);
    }
  }

  #setState(cw: CameraWatch, status: CameraStatus, detail?: string): void {
    if (this.#closed || (cw.state?.status === status && cw.state.detail === detail)) return;
    cw.state = { camera: cw.camera.name, folder: cw.camera.folder, status, ...(detail ? { detail } : {}) };
    this.emit('status', { ...cw.state });
  }

  #release(file: string, camera: string, seen: Fingerprint | undefined): void {
    if (this.#closed) return;
    if (seen) {
      const before = this.#reported.get(file);
      if (before && sameFingerprint(before, seen)) return;
      this.#reported.set(file, seen);
    }
    if (this.#paused) this.#held.set(file, camera);
    else this.emit('ready', file, camera);
  }
}
