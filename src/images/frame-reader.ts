/**
 * readFrame on a worker thread. The watcher's JS thread feeds both cores' decodes, keeps chokidar, SQLite
 * and the model going; hashing, EXIF parsing and setting up sharp's pipelines (~1 ms of JS per frame) on
 * a thread of their own leave it that much more free (docs/benchmarks.md, "Watching"). The decodes
 * themselves run in libuv's pool either way.
 */
import type { Worker } from 'node:worker_threads';
import { spawnTsWorker } from '../threads/spawn.ts';
import type { Frame } from './frame.ts';
import type { FrameReply, FrameRequest } from './frame-worker.ts';

interface Pending {
  resolve: (frame: Frame) => void;
  reject: (error: Error) => void;
}

export class FrameReader {
  #worker: Worker | undefined;
  #ready: Promise<void> | undefined;
  #next = 0;
  readonly #pending = new Map<number, Pending>();

  read(file: string): Promise<Frame> {
    const worker = (this.#worker ??= this.#start());
    const id = this.#next++;
    return new Promise<Frame>((resolve, reject) => {
      this.#pending.set(id, { resolve, reject });
      worker.ref(); // only while reads are pending: an idle reader never keeps the process alive
      worker.postMessage({ id, file } satisfies FrameRequest);
    });
  }

  /** Starts the thread ahead of the first read (loading its modules takes a few hundred ms). */
  async start(): Promise<void> {
    this.#worker ??= this.#start();
    await this.#ready;
  }

  async close(): Promise<void> {
    const worker = this.#worker;
    this.#worker = undefined;
    await worker?.terminate();
  }

  #start(): Worker {
    const worker = spawnTsWorker(new URL('./frame-worker.ts', import.meta.url));
    let loaded: () => void = () => {};
    this.#ready = new Promise((resolve) => (loaded = resolve));
    worker.on('message', (reply: FrameReply) => {
      if (!('ready' in reply)) {
        const pending = this.#pending.get(reply.id);
        this.#pending.delete(reply.id);
        if ('frame' in reply) pending?.resolve(reply.frame);
        else pending?.reject(new Error(`reading a frame failed: ${reply.error}`));
      }
      if (!this.#pending.size) worker.unref();
      if ('ready' in reply) loaded();
    });
    // A dead thread fails what it held; the next read starts a new one.
    const fail = (error: Error) => {
      loaded();
      if (this.#worker === worker) this.#worker = undefined;
      for (const { reject } of this.#pending.values()) reject(error);
      this.#pending.clear();
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the frame thread exited (code ${code})`)));
    return worker;
  }
}
