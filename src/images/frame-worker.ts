/** The frame thread (see FrameReader): reads files as the watcher asks, replies with their frames. */
import { parentPort } from 'node:worker_threads';
import { readFrame, type Frame } from './frame.ts';

export interface FrameRequest {
  id: number;
  file: string;
}

export type FrameReply =
  | { ready: true } // sent once, when the modules are loaded
  | ({ id: number } & (
      | { frame: Frame }
      | { error: string } // an unexpected failure (a bug), re-thrown on the main thread
    ));

parentPort!.on('message', ({ id, file }: FrameRequest) => {
  readFrame(file).then(
    (frame) =>
      parentPort!.postMessage(
        { id, frame } satisfies FrameReply,
        frame.kind === 'image' ? [frame.pixels.buffer as ArrayBuffer] : [],
      ),
    (error: Error) =>
      parentPort!.postMessage({ id, error: error.stack ?? error.message } satisfies FrameReply),
  );
});
parentPort!.postMessage({ ready: true } satisfies FrameReply);
