import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { appDataDir } from './paths.ts';

/** Where the settings live unless a caller (e.g. `--config FILE`) says otherwise. */
export function settingsPath(): string {
  return path.join(appDataDir(), 'settings.json');
}

const absolutePath = z
  .string()
  .trim()
  .min(1)
  .refine((p) => path.isAbsolute(p), 'must be an absolute path')
  .transform((p) => path.resolve(p));

const cameraSchema = z.strictObject({
  name: z.string().trim().min(1),
  folder: absolutePath,
  enabled: z.boolean().default(true),
});

/** Whether absolute path `child` is `parent` or somewhere below it. */
export function isSameOrInside(child: string, parent: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (rel !== '..' && !rel.startsWith(`..${path.sep}`) && !path.isAbsolute(rel));
}

/**
 * Strict, so a typo in a hand-edited file ("treshold") is an error instead of a silently ignored key.
 * Folder rules that would make the watcher misbehave are checked here, once, rather than in every caller.
 */
export const settingsSchema = z
  .strictObject({
    cameras: z.array(cameraSchema).default([]),
    airplaneFolder: absolutePath.default(() => path.join(appDataDir(), 'airplanes')),
    action: z.enum(['move', 'copy', 'tag']).default('move'),
    /** On p(airplane): above it an image is an airplane. */
    threshold: z.number().gt(0).lt(1).default(0.5),
    /** p(airplane) within threshold ± band stays in place, flagged for review. */
    uncertainBand: z.number().min(0).lt(0.5).default(0.15),
    scanExisting: z.boolean().default(true),
    /** Network shares send no change events, so they have to be polled. */
    polling: z
      .strictObject({
        enabled: z.boolean().default(false),
        intervalMs: z.int().min(100).max(3_600_000).default(2000),
      })
      .prefault({}),
    depth: z.int().min(0).max(64).default(8),
    /** How long a file's size must stay unchanged before it counts as completely written. */
    stabilityMs: z.int().min(50).max(600_000).default(2000),
  })
  .superRefine((s, ctx) => {
    s.cameras.forEach((camera, i) => {
      const issue = (message: string, field: 'name' | 'folder') =>
        ctx.addIssue({ code: 'custom', path: ['cameras', i, field], message });
      if (s.cameras.findIndex((c) => c.name === camera.name) !== i) issue('duplicate camera name', 'name');
      // Nested watched folders would report every file in the inner one twice.
      const overlap = s.cameras.findIndex(
        (c, j) =>
          j !== i && (isSameOrInside(camera.folder, c.folder) || isSameOrInside(c.folder, camera.folder)),
      );
      if (overlap >= 0 && overlap < i)
        issue(`overlaps the folder of camera "${s.cameras[overlap]?.name}"`, 'folder');
      // The airplane folder is ignored while watching, so a camera inside it would never be seen.
      if (isSameOrInside(camera.folder, s.airplaneFolder))
        issue('is the airplane folder or inside it', 'folder');
    });
  });

export type SettingsInput = z.input<typeof settingsSchema>;
export type Settings = z.output<typeof settingsSchema>;
export type Camera = Settings['cameras'][number];
export type Action = Settings['action'];
export type Decision = 'airplane' | 'bird' | 'uncertain';

/** The settings file is unreadable, not JSON, or fails validation; the message names the file. */
export class SettingsError extends Error {
  override name = 'SettingsError';
}

function describeIssues(error: z.ZodError): string {
  return error.issues.map((i) => `${i.path.length ? i.path.join('.') : '(root)'}: ${i.message}`).join('; ');
}

/** Validates untrusted settings (a file, a form, a request); `source` names where they came from. */
export function parseSettings(value: unknown, source = 'settings'): Settings {
  const result = settingsSchema.safeParse(value);
  if (!result.success) throw new SettingsError(`Invalid ${source}: ${describeIssues(result.error)}`);
  return result.data;
}

export function defaultSettings(): Settings {
  return settingsSchema.parse({});
}

/** Reads settings; a missing file gives the defaults, anything else wrong with it a `SettingsError`. */
export async function loadSettings(file = settingsPath()): Promise<Settings> {
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return defaultSettings();
    throw new SettingsError(`Cannot read settings file ${file}: ${(error as Error).message}`, {
      cause: error,
    });
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch (error) {
    throw new SettingsError(`Settings file ${file} is not valid JSON (${(error as Error).message})`, {
      cause: error,
    });
  }
  return parseSettings(json, `settings file ${file}`);
}

/**
 * Validates, then writes through a temp file that is fsynced and renamed over the old one, so a crash
 * leaves either the old or the new settings, never half a file. Returns what was written.
 */
export async function saveSettings(settings: SettingsInput, file = settingsPath()): Promise<Settings> {
  const valid = parseSettings(settings);
  await mkdir(path.dirname(file), { recursive: true });
  const temp = `${file}.${randomBytes(6).toString('hex')}.tmp`;
  try {
    const handle = await open(temp, 'wx');
    try {
      await handle.writeFile(`${JSON.stringify(valid, null, 2)}\n`);
      await handle.sync();
    } finally {
      await handle.close();
    }
    await rename(temp, file);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
  return valid;
}

// p(airplane) is a float from a softmax: an edge like 0.5 + 0.15 must count as inside the band.
const BAND_EPSILON = 1e-9;

/**
 * Airplane above `threshold`, bird below, uncertain within `threshold ± uncertainBand` (edges included).
 * A probability outside [0, 1] (e.g. NaN from a broken model) throws rather than moving a file.
 */
export function decideAction(
  pAirplane: number,
  settings: Pick<Settings, 'threshold' | 'uncertainBand'>,
): Decision {
  if (!(pAirplane >= 0 && pAirplane <= 1))
    throw new RangeError(`p(airplane) must be in [0, 1], got ${pAirplane}`);
  const distance = pAirplane - settings.threshold;
  if (Math.abs(distance) <= settings.uncertainBand + BAND_EPSILON) return 'uncertain';
  return distance > 0 ? 'airplane' : 'bird';
}
