/**
 * Birdgate's database: images, predictions, user labels, events, and the move journal (`store.moves`).
 * better-sqlite3 is synchronous, so every method is one short statement or transaction.
 */
import Database from 'better-sqlite3';
import { mkdir } from 'node:fs/promises';
import path from 'node:path';
import { z } from 'zod';
import { appDataDir } from '../config/paths.ts';
import { CLASS_NAMES, type ClassName } from '../data/labels.ts';
import { backupDatabase, backupIfDue } from './backup.ts';
import { durably } from './durable.ts';
import { MoveJournal } from './moves.ts';
import { applyMigrations, MIGRATIONS, schemaVersion, type Migration } from './schema.ts';
import {
  IMAGE_STATUSES,
  type Counts,
  type ExportRow,
  type ImageListItem,
  type ImageRow,
  type ImageStatus,
  type ImageWithPrediction,
  type LabeledImage,
  type NewImage,
  type NewPrediction,
  type Page,
  type PredictionRow,
} from './types.ts';

const NOW = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;
const IMAGE_COLUMNS = `i.id, i.path, i.original_path AS originalPath, i.camera, i.size, i.mtime_ms AS mtimeMs,
  i.sha256, i.capture_time AS captureTime, i.status, i.error, i.duplicate_of AS duplicateOf,
  i.retired_at AS retiredAt, i.created_at AS createdAt, i.updated_at AS updatedAt`;
const PREDICTION_COLUMNS = `p.p_bird AS pBird, p.label AS predictedLabel, p.model_version AS modelVersion`;
const LATEST_PREDICTION = `LEFT JOIN predictions p
  ON p.id = (SELECT max(id) FROM predictions WHERE image_id = i.id)`;
const USER_LABEL = `LEFT JOIN labels l ON l.image_id = i.id`;
const LIVE = `i.retired_at IS NULL`;
const EXPORT_PAGE = 1000;

const isoTime = z
  .union([z.date(), z.iso.datetime({ offset: true })])
  .transform((value) => new Date(value).toISOString());

/** Filters of the review list; validated because they arrive from the UI and the command line. */
export const imageQuerySchema = z
  .object({
    limit: z.number().int().min(1).max(1000).default(100),
    offset: z.number().int().min(0).default(0),
    /** The effective label: the user's when there is one, else the newest prediction's. */
    label: z.enum(CLASS_NAMES).optional(),
    status: z.enum(IMAGE_STATUSES).optional(),
    camera: z.string().optional(),
    /** true: the user's label differs from the prediction; false: it does not (or there is none). */
    corrected: z.boolean().optional(),
    /** When Birdgate recorded the image: since ≤ created_at < until. */
    since: isoTime.optional(),
    until: isoTime.optional(),
  })
  .strict();
export type ImageQuery = z.input<typeof imageQuerySchema>;

function prepare(db: Database.Database) {
  return {
    get: db.prepare<[number], ImageRow>(`SELECT ${IMAGE_COLUMNS} FROM images i WHERE i.id = ?`),
    byPath: db.prepare<[string], ImageRow>(
      `SELECT ${IMAGE_COLUMNS} FROM images i WHERE i.path = ? AND ${LIVE}`,
    ),
    // The first image seen with these bytes that is not itself a duplicate: the one whose result is reused.
    bySha256: db.prepare<[string], ImageWithPrediction>(
      `SELECT ${IMAGE_COLUMNS}, ${PREDICTION_COLUMNS} FROM images i ${LATEST_PREDICTION}
       WHERE i.sha256 = ? AND i.duplicate_of IS NULL ORDER BY i.id LIMIT 1`,
    ),
    listItem: db.prepare<[number], ImageListItem>(
      `SELECT ${IMAGE_COLUMNS}, ${PREDICTION_COLUMNS}, l.label AS userLabel
       FROM images i ${LATEST_PREDICTION} ${USER_LABEL} WHERE i.id = ?`,
    ),
    clearLabel: db.prepare<[number]>(`DELETE FROM labels WHERE image_id = ?`),
    agreementByCamera: db.prepare<[string], { camera: string; n: number; correct: number }>(
      `SELECT i.camera, count(*) AS n, sum(p.label = l.label) AS correct
       FROM images i ${USER_LABEL} JOIN predictions p ON p.id = (
         SELECT max(id) FROM predictions WHERE image_id = i.id AND model_version = ?)
       WHERE ${LIVE} AND l.label IS NOT NULL GROUP BY i.camera ORDER BY i.camera`,
    ),
    labeled: db.prepare<[], LabeledImage>(
      `SELECT i.id AS imageId, i.path, i.sha256, l.label FROM images i ${USER_LABEL}
       WHERE ${LIVE} AND l.label IS NOT NULL ORDER BY i.id`,
    ),
    // A classified image carries an error only while its move is pending or failed. Selected by that, not
    // by the predicted label: with a threshold other than 0.5 an airplane decision can have p(bird) > 0.5.
    unsortedAirplanes: db.prepare<[], ImageRow>(
      `SELECT ${IMAGE_COLUMNS} FROM images i ${USER_LABEL}
       WHERE ${LIVE} AND i.status = 'classified' AND i.error IS NOT NULL
         AND coalesce(l.label, 'airplane') = 'airplane' ORDER BY i.id`,
    ),
    retireAt: db.prepare<[string], { id: number }>(
      `UPDATE images SET retired_at = ${NOW}, updated_at = ${NOW} WHERE path = ? AND retired_at IS NULL
       RETURNING id`,
    ),
    insert: db.prepare<[string, string, string, number, number, string, string | null], { id: number }>(
      `INSERT INTO images (path, original_path, camera, size, mtime_ms, sha256, capture_time)
       VALUES (?, ?, ?, ?, ?, ?, ?) RETURNING id`,
    ),
    setStatus: db.prepare<[string, string | null, number]>(
      `UPDATE images SET status = ?, error = ?, updated_at = ${NOW} WHERE id = ?`,
    ),
    markDuplicate: db.prepare<[number, number]>(
      `UPDATE images SET status = 'duplicate', error = NULL, duplicate_of = ?, updated_at = ${NOW} WHERE id = ?`,
    ),
    addPrediction: db.prepare<[number, string, number, string], PredictionRow>(
      `INSERT INTO predictions (image_id, model_version, p_bird, label) VALUES (?, ?, ?, ?)
       RETURNING id, image_id AS imageId, model_version AS modelVersion, p_bird AS pBird, label,
         created_at AS createdAt`,
    ),
    setLabel: db.prepare<[number, string]>(
      `INSERT INTO labels (image_id, label) VALUES (?, ?)
       ON CONFLICT (image_id) DO UPDATE SET label = excluded.label, updated_at = ${NOW}`,
    ),
    addEvent: db.prepare<[string, number | null, string], { id: number }>(
      `INSERT INTO events (kind, image_id, data) VALUES (?, ?, ?) RETURNING id`,
    ),
    counts: db.prepare<[], { camera: string; status: ImageStatus; n: number }>(
      `SELECT i.camera, i.status, count(*) AS n FROM images i WHERE ${LIVE} GROUP BY i.camera, i.status`,
    ),
    exportPage: db.prepare<[number, number], ExportRow & { id: number }>(
      `SELECT i.id, i.path, i.camera, i.capture_time AS captureTime, p.label, p.p_bird AS pBird,
         l.label AS correctedLabel
       FROM images i ${LATEST_PREDICTION} ${USER_LABEL}
       WHERE ${LIVE} AND i.id > ? ORDER BY i.id LIMIT ?`,
    ),
  };
}

export class Store {
  readonly moves: MoveJournal;
  private readonly statements: ReturnType<typeof prepare>;

  constructor(private readonly db: Database.Database) {
    this.moves = new MoveJournal(db);
    this.statements = prepare(db);
  }

  close(): void {
    this.db.close();
  }

  /** Runs `fn` (several of these methods) as one transaction: all of it is recorded, or none. */
  transaction<T>(fn: () => T): T {
    return this.db.transaction(fn)();
  }

  getImage(id: number): ImageRow | undefined {
    return this.statements.get.get(id);
  }

  /** The live image at `path`. */
  findByPath(filePath: string): ImageRow | undefined {
    return this.statements.byPath.get(filePath);
  }

  /**
   * The original image with these bytes, with its newest prediction: a new file with the same sha256 can
   * reuse its result. Call it before recording the new file (or it finds itself).
   */
  findBySha256(sha256: string): ImageWithPrediction | undefined {
    return this.statements.bySha256.get(sha256);
  }

  /**
   * Records a newly seen file as `pending`. A live row at the same path belongs to a file that has since
   * been replaced there (cameras reuse names): it is retired, kept as history, in the same transaction.
   */
  recordImage(image: NewImage): ImageRow {
    return this.db.transaction(() => {
      for (const { id } of this.statements.retireAt.all(image.path)) {
        this.addEvent('image-replaced', { path: image.path }, id);
      }
      const row = this.statements.insert.get(
        image.path,
        image.path,
        image.camera,
        image.size,
        image.mtimeMs,
        image.sha256,
        image.captureTime ?? null,
      )!;
      return this.getImage(row.id)!;
    })();
  }

  /** Sets the status; the error is cleared unless one is given. */
  setStatus(id: number, status: ImageStatus, error: string | null = null): void {
    if (this.statements.setStatus.run(status, error, id).changes === 0) throw new Error(`No image ${id}`);
  }

  markDuplicate(id: number, originalId: number): void {
    if (this.statements.markDuplicate.run(originalId, id).changes === 0) throw new Error(`No image ${id}`);
  }

  addPrediction(prediction: NewPrediction): PredictionRow {
    const { imageId, modelVersion, pBird, label } = prediction;
    return this.statements.addPrediction.get(imageId, modelVersion, pBird, label)!;
  }

  /** The user's label for an image (a correction or a confirmation); a later one replaces it. */
  setLabel(imageId: number, label: ClassName): void {
    durably(this.db, () => this.statements.setLabel.run(imageId, label));
  }

  addEvent(kind: string, data: unknown, imageId?: number): number {
    return this.statements.addEvent.get(kind, imageId ?? null, JSON.stringify(data ?? null))!.id;
  }

  /** One image with its newest prediction and the user's label. */
  getListItem(id: number): ImageListItem | undefined {
    return this.statements.listItem.get(id);
  }

  /** Takes back the user's label (an undone correction): the image is unverified again. */
  clearLabel(imageId: number): void {
    durably(this.db, () => this.statements.clearLabel.run(imageId));
  }

  /** How often a model version's predictions match the user's labels, per camera. */
  agreementByCamera(modelVersion: string): { camera: string; n: number; correct: number }[] {
    return this.statements.agreementByCamera.all(modelVersion);
  }

  /** Images the user labelled (corrected or confirmed): the local training data. */
  labeledImages(): LabeledImage[] {
    return this.statements.labeled.all();
  }

  /** Airplanes whose move failed (destination unwritable, disk full): to be retried. */
  unsortedAirplanes(): ImageRow[] {
    return this.statements.unsortedAirplanes.all();
  }

  /** Live images counted by status (every status present, zeros included) and by camera. */
  counts(): Counts {
    const byStatus = Object.fromEntries(IMAGE_STATUSES.map((s) => [s, 0])) as Record<ImageStatus, number>;
    const byCamera: Counts['byCamera'] = {};
    let total = 0;
    for (const { camera, status, n } of this.statements.counts.all()) {
      byStatus[status] += n;
      (byCamera[camera] ??= {})[status] = n;
      total += n;
    }
    return { total, byStatus, byCamera };
  }

  /** Live images, newest first, with their newest prediction and the user's label. */
  listImages(query: ImageQuery = {}): Page<ImageListItem> {
    const q = imageQuerySchema.parse(query);
    const where = [LIVE];
    if (q.label) where.push(`coalesce(l.label, p.label) = @label`);
    if (q.status) where.push(`i.status = @status`);
    if (q.camera !== undefined) where.push(`i.camera = @camera`);
    if (q.corrected !== undefined) {
      where.push(`${q.corrected ? '' : 'NOT '}(l.label IS NOT NULL AND l.label IS NOT p.label)`);
    }
    if (q.since) where.push(`i.created_at >= @since`);
    if (q.until) where.push(`i.created_at < @until`);
    const from = `FROM images i ${LATEST_PREDICTION} ${USER_LABEL} WHERE ${where.join(' AND ')}`;
    const items = this.db
      .prepare<[typeof q], ImageListItem>(
        `SELECT ${IMAGE_COLUMNS}, ${PREDICTION_COLUMNS}, l.label AS userLabel ${from}
         ORDER BY i.created_at DESC, i.id DESC LIMIT @limit OFFSET @offset`,
      )
      .all(q);
    const total = this.db.prepare<[typeof q], { n: number }>(`SELECT count(*) AS n ${from}`).get(q)!.n;
    return { items, total };
  }

  /**
   * Every live image for the CSV export, oldest first. Read a page at a time so no statement stays open
   * while the caller awaits its writes (better-sqlite3 refuses other queries on a busy connection).
   */
  *exportRows(): Generator<ExportRow> {
    let after = 0;
    for (;;) {
      const page = this.statements.exportPage.all(after, EXPORT_PAGE);
      for (const { id, ...row } of page) {
        after = id;
        yield row;
      }
      if (page.length < EXPORT_PAGE) return;
    }
  }
}

export interface OpenStoreOptions {
  /** Where backups go; default `backups/` next to the database file. */
  backupDir?: string;
  /** The clock that decides whether the daily backup is due. */
  now?: () => Date;
  /** Test seam: the migration list (default: Birdgate's schema). */
  migrations?: readonly Migration[];
}

export function defaultStoreFile(): string {
  return path.join(appDataDir(), 'birdgate.db');
}

/**
 * Opens (creating if needed) and migrates the database. An existing database is backed up before any
 * migration and once a day. Async only because SQLite's online backup is.
 */
export async function openStore(file = defaultStoreFile(), options: OpenStoreOptions = {}): Promise<Store> {
  const { backupDir = path.join(path.dirname(file), 'backups'), now = () => new Date() } = options;
  const migrations = options.migrations ?? MIGRATIONS;
  await mkdir(path.dirname(file), { recursive: true });
  const db = new Database(file);
  try {
    db.pragma('journal_mode = WAL');
    // In WAL mode NORMAL syncs only at checkpoints: a commit survives any crash of Birdgate but can vanish
    // on power loss. That is fine for what Birdgate would redo (records, predictions, statuses); the move
    // journal and the user's labels commit `durably`, with FULL (docs/store.md).
    db.pragma('synchronous = NORMAL');
    db.pragma('foreign_keys = ON');
    const version = schemaVersion(db);
    if (version > migrations.length) {
      throw new Error(
        `${file} has schema version ${version}, newer than this Birdgate knows (${migrations.length}): update Birdgate`,
      );
    }
    const existing = db.prepare('SELECT 1 FROM sqlite_master LIMIT 1').get() !== undefined;
    if (existing && version < migrations.length) {
      await backupDatabase(db, backupDir, `before-v${version + 1}`, now());
    }
    applyMigrations(db, migrations);
    if (existing) await backupIfDue(db, backupDir, now());
    return new Store(db);
  } catch (error) {
    db.close();
    throw error;
  }
}
