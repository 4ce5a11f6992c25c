/**
 * Everything the watcher needs from a camera file's bytes, from one read: its sha256 (duplicates), EXIF
 * capture time and the model input. Runs on the frame thread (frame-reader.ts), so the file is read
 * synchronously: blocking that thread costs nothing, and it saves four round trips through libuv's pool
 * (open, stat, read, close) per file.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { ImageDecodeError, preprocessImage, readCaptureTime } from './preprocess.ts';

export type Frame =
  /** The file could not be read (permission denied, vanished): nothing is known of its content. */
  | { kind: 'unreadable'; error: string }
  /** Read, but not an image the model can see (corrupt, truncated, not an image, too many pixels). */
  | { kind: 'undecodable'; sha256: string; captureTime: string | null; error: string }
  | { kind: 'image'; sha256: string; captureTime: string | null; pixels: Float32Array };

export async function readFrame(file: string): Promise<Frame> {
  let bytes: Buffer;
  try {
    bytes = readFileSync(file);
  } catch (error) {
    return { kind: 'unreadable', error: `${file}: ${(error as Error).message}` };
  }
  const sha256 = createHash('sha256').update(bytes).digest('hex');
  const captureTime = (await readCaptureTime(bytes))?.toISOString() ?? null;
  try {
    return { kind: 'image', sha256, captureTime, pixels: await preprocessImage(bytes, { name: file }) };
  } catch (error) {
    if (!(error instanceof ImageDecodeError)) throw error;
    return { kind: 'undecodable', sha256, captureTime, error: error.message };
  }
}
