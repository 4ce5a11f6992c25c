/** Copies of the database in `backups/`: before every migration and once a day, newest few kept. */
import type Database from 'better-sqlite3';
import { mkdir, readdir, rename, unlink } from 'node:fs/promises';
import path from 'node:path';

export const BACKUPS_KEPT = 5;
const DAY_MS = 24 * 60 * 60 * 1000;
// birdgate-2024-05-01T12-00-00-000Z-daily.db: ISO time with ':' and '.' replaced (Windows forbids ':'),
// fixed width, so names sort by time.
const BACKUP_NAME = /^birdgate-(\d{4}-\d\d-\d\dT\d\d-\d\d-\d\d-\d{3}Z)-[a-z0-9-]+\.db$/;

/** Backup files in `dir`, oldest first. Only names Birdgate writes count; anything else there is left alone. */
export async function listBackups(dir: string): Promise<string[]> {
  const names = await readdir(dir).catch((error: NodeJS.ErrnoException) => {
    if (error.code === 'ENOENT') return [];
    throw error;
  });
  return names.filter((name) => BACKUP_NAME.test(name)).sort();
}

function backupTime(name: string): Date {
  const stamp = BACKUP_NAME.exec(name)?.[1] ?? '';
  return new Date(stamp.replace(/T(\d\d)-(\d\d)-(\d\d)-(\d{3})Z$/, 'T$1:$2:$3.$4Z'));
}

/**
 * Writes a consistent copy of the open database (SQLite's online backup, safe while other connections write)
 * under a temporary name first, so a crash mid-backup never leaves a truncated file that looks like a backup.
 * Then deletes all but the newest BACKUPS_KEPT.
 */
export async function backupDatabase(
  db: Database.Database,
  dir: string,
  reason: string,
  now: Date,
): Promise<string> {
  await mkdir(dir, { recursive: true });
  const file = path.join(dir, `birdgate-${now.toISOString().replace(/[:.]/g, '-')}-${reason}.db`);
  const partial = `${file}.partial`;
  await db.backup(partial);
  await rename(partial, file);
  const backups = await listBackups(dir);
  for (const old of backups.slice(0, -BACKUPS_KEPT)) await unlink(path.join(dir, old));
  return file;
}

/** A daily backup when the newest one is more than a day old (or there is none). */
export async function backupIfDue(
  db: Database.Database,
  dir: string,
  now: Date,
): Promise<string | undefined> {
  const newest = (await listBackups(dir)).at(-1);
  if (newest && now.getTime() - backupTime(newest).getTime() < DAY_MS) return undefined;
  return backupDatabase(db, dir, 'daily', now);
}
