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
  file: string;
  /** 1 on the first thread; a read its thread died under is sent once more, to a fresh thread. */
  attempt: number;
  resolve: (frame: Frame) => void;
  reject: (error: Error) => void;
}

/** A thread and the reads it holds. */
interface Thread {
  worker: Worker;
  pending: Map<number, Pending>;
  ready: Promise<void>;
}

export const spawnFrameThread = (): Worker => spawnTsWorker(new URL('./frame-worker.ts', import.meta.url));

export class FrameReader {
  #thread: Thread | undefined;
  #next = 0;

  /** `spawn` starts a frame thread (tests substitute one that dies). */
  constructor(private readonly spawn: () => Worker = spawnFrameThread) {}

  read(file: string): Promise<Frame> {
    return new Promise<Frame>((resolve, reject) => this.#send({ file, attempt: 1, resolve, reject }));
  }

  /** Starts the thread ahead of the first read (loading its modules takes a few hundred ms). */
  async start(): Promise<void> {
    await (this.#thread ??= this.#start()).ready;
  }

  async close(): Promise<void> {
    const thread = this.#thread;
    this.#thread = undefined;
    await thread?.worker.terminate();
  }

  #send(read: Pending): void {
    const { worker, pending } = (this.#thread ??= this.#start());
    const id = this.#next++;
    pending.set(id, read);
    worker.ref(); // only while reads are pending: an idle reader never keeps the process alive
    worker.postMessage({ id, file: read.file } satisfies FrameRequest);
  }

  #start(): Thread {
    const worker = this.spawn();
    const pending = new Map<number, Pending>();
    let loaded: () => void = () => {};
    const thread: Thread = { worker, pending, ready: new Promise((resolve) => (loaded = resolve)) };
    worker.on('message', (reply: FrameReply) => {
      if (!('ready' in reply)) {
        const read = pending.get(reply.id);
        pending.delete(reply.id);
        if ('frame' in reply) read?.resolve(reply.frame);
        else read?.reject(new Error(`reading a frame failed: ${reply.error}`));
      }
      if (!pending.size) worker.unref();
      if ('ready' in reply) loaded();
    });
    // A thread that dies (only a bug or exhausted memory can kill it) hands its reads to a fresh one, once:
    // a long-running watcher must not leave those files unread until its next start.
    const fail = (error: Error) => {
      loaded();
      // close() lets go of a thread before terminating it: one that is no longer current was closed, and
      // what it held fails instead of being retried.
      const closed = this.#thread !== thread;
      if (!closed) this.#thread = undefined;
      const held = [...pending.values()];
      pending.clear();
      for (const read of held) {
        if (closed || read.attempt > 1) read.reject(error);
        else this.#send({ ...read, attempt: read.attempt + 1 });
      }
    };
    worker.on('error', fail);
    worker.on('exit', (code) => fail(new Error(`the frame thread exited (code ${code})`)));
    return thread;
  }
}
