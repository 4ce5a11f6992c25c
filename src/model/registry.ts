/**
 * Model versions: every trained model is a folder under `<appData>/models/` (`v1`, `v2`, …, each with the
 * usual model files and metadata), plus the shipped default as version 0. Exactly one version is active;
 * the pointer file written here is what `resolveModelDir` reads, so the watcher, CLI and app all follow it.
 * A new model is never activated by training itself: the user accepts it (or runs `models activate`).
 */
import { existsSync } from 'node:fs';
import { mkdir, readdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { appDataDir } from '../config/paths.ts';
import { activeModelPointer, resolveModelDir, SHIPPED_MODEL_DIR } from './locate.ts';
import { metadataSchema, type ModelMetadata } from './model-files.ts';

export interface VersionInfo {
  id: number;
  name: string;
  dir: string;
  active: boolean;
  metadata: ModelMetadata;
}

export function modelsDir(): string {
  return path.join(appDataDir(), 'models');
}

const VERSION_DIR = /^v(\d+)$/;

async function readMetadata(dir: string): Promise<ModelMetadata | undefined> {
  try {
    return metadataSchema.parse(JSON.parse(await readFile(path.join(dir, 'metadata.json'), 'utf8')));
  } catch {
    return undefined; // a half-written or foreign folder is not a version
  }
}

/** All versions, oldest first; the shipped model is version 0. */
export async function listVersions(): Promise<VersionInfo[]> {
  const activeDir = resolveModelDir();
  const found: { id: number; dir: string }[] = [{ id: 0, dir: SHIPPED_MODEL_DIR }];
  if (existsSync(modelsDir())) {
    for (const entry of await readdir(modelsDir(), { withFileTypes: true })) {
      const match = entry.isDirectory() ? VERSION_DIR.exec(entry.name) : null;
      if (match) found.push({ id: Number(match[1]), dir: path.join(modelsDir(), entry.name) });
    }
  }
  const versions: VersionInfo[] = [];
  for (const { id, dir } of found.sort((a, b) => a.id - b.id)) {
    const metadata = await readMetadata(dir);
    if (metadata)
      versions.push({ id, name: id === 0 ? 'shipped' : `v${id}`, dir, active: dir === activeDir, metadata });
  }
  return versions;
}

/** The folder a new version will be saved to (saveModel writes it atomically). */
export async function nextVersionDir(): Promise<{ id: number; dir: string }> {
  const versions = await listVersions();
  const id = Math.max(0, ...versions.map((v) => v.id)) + 1;
  await mkdir(modelsDir(), { recursive: true });
  return { id, dir: path.join(modelsDir(), `v${id}`) };
}

export async function activateVersion(id: number): Promise<VersionInfo> {
  const version = (await listVersions()).find((v) => v.id === id);
  if (!version) throw new Error(`There is no model version ${id}`);
  const pointer = activeModelPointer();
  await mkdir(path.dirname(pointer), { recursive: true });
  const tmp = `${pointer}.tmp`;
  await writeFile(tmp, version.dir);
  await rename(tmp, pointer); // atomic: readers see the old or the new version, never a torn file
  return { ...version, active: true };
}

/** Activates the newest version older than the active one. */
export async function rollback(): Promise<VersionInfo> {
  const versions = await listVersions();
  const active = versions.find((v) => v.active);
  const previous = versions.filter((v) => active && v.id < active.id).at(-1);
  if (!previous) throw new Error('There is no earlier model version to roll back to');
  return activateVersion(previous.id);
}
