/**
 * Which model to use: an explicit folder, else the user's active model (set by retraining or
 * `birdgate models activate`), else the default model shipped in the repository.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { appDataDir } from '../config/paths.ts';

export const SHIPPED_MODEL_DIR = fileURLToPath(new URL('../../models/default', import.meta.url));

/** The file naming the active model folder; written by the model registry. */
export function activeModelPointer(): string {
  return path.join(appDataDir(), 'models', 'active');
}

export function resolveModelDir(explicit?: string): string {
  if (explicit) return path.resolve(explicit);
  const pointer = activeModelPointer();
  if (existsSync(pointer)) {
    const dir = readFileSync(pointer, 'utf8').trim();
    if (dir && existsSync(path.join(dir, 'model.json'))) return dir;
  }
  return SHIPPED_MODEL_DIR;
}
