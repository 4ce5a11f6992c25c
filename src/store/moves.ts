/**
 * The move journal. Every file operation is written here as an `intent` and committed before the file is
 * touched, then marked `done` (together with the image's new path) or `failed`; recovery reads the intents
 * left by a crash. See docs/store.md for the protocol.
 */
import type Database from 'better-sqlite3';
import path from 'node:path';
import type { MoveRow, NewMove, Page } from './types.ts';
import { durably } from './durable.ts';

const NOW = `strftime('%Y-%m-%dT%H:%M:%fZ', 'now')`;
const MOVE_COLUMNS = `id, image_id AS imageId, from_path AS fromPath, to_path AS toPath, kind, state,
  prev_status AS prevStatus, undo_of AS undoOf, error, created_at AS createdAt, updated_at AS updatedAt`;
const UNDOABLE = `state = 'done' AND kind IN ('move', 'copy')`;

function prepare(db: Database.Database) {
  return {
    get: db.prepare<[number], MoveRow>(`SELECT ${MOVE_COLUMNS} FROM moves WHERE id = ?`),
    imageInFlight: db.prepare<[number], { id: number }>(
      `SELECT id FROM moves WHERE image_id = ? AND state = 'intent'`,
    ),
    targetInFlight: db.prepare<[string], { id: number }>(
      `SELECT id FROM moves WHERE to_path = ? AND state = 'intent'`,
    ),
    insert: db.prepare<[number, string, string, string, number | null, number], { id: number }>(
      `INSERT INTO moves (image_id, from_path, to_path, kind, undo_of, prev_status)
         SELECT ?, ?, ?, ?, ?, status FROM images WHERE id = ? RETURNING id`,
    ),
    retarget: db.prepare<[string, number]>(
      `UPDATE moves SET to_path = ?, updated_at = ${NOW} WHERE id = ? AND state = 'intent'`,
    ),
    setState: db.prepare<[string, string | null, number]>(
      `UPDATE moves SET state = ?, error = ?, updated_at = ${NOW} WHERE id = ? AND state = 'intent'`,
    ),
    markUndone: db.prepare<[number]>(
      `UPDATE moves SET state = 'undone', updated_at = ${NOW} WHERE id = ? AND state = 'done'`,
    ),
    // The file now at to_path is this image's: a live row still naming that path lost its file earlier.
    retireOthersAt: db.prepare<[string, number]>(
      `UPDATE images SET retired_at = ${NOW}, updated_at = ${NOW}
         WHERE path = ? AND id != ? AND retired_at IS NULL`,
    ),
    moveImage: db.prepare<[string, number]>(
      `UPDATE images SET path = ?, status = 'moved', error = NULL, updated_at = ${NOW} WHERE id = ?`,
    ),
    copyImage: db.prepare<[number]>(
      `UPDATE images SET status = 'moved', error = NULL, updated_at = ${NOW} WHERE id = ?`,
    ),
    restoreImage: db.prepare<[string, number, number]>(
      `UPDATE images SET path = ?, error = NULL, updated_at = ${NOW},
           status = (SELECT prev_status FROM moves WHERE id = ?)
         WHERE id = ?`,
    ),
    inFlight: db.prepare<[], MoveRow>(`SELECT ${MOVE_COLUMNS} FROM moves WHERE state = 'intent' ORDER BY id`),
    unsettledTargets: db.prepare<[], { toPath: string }>(
      `SELECT DISTINCT to_path AS toPath FROM moves WHERE state IN ('intent', 'failed')`,
    ),
    byIds: db.prepare<[string], MoveRow>(
      `SELECT ${MOVE_COLUMNS} FROM moves WHERE id IN (SELECT value FROM json_each(?)) ORDER BY id DESC`,
    ),
    lastUndoable: db.prepare<[number], MoveRow>(
      `SELECT ${MOVE_COLUMNS} FROM moves WHERE ${UNDOABLE} ORDER BY id DESC LIMIT ?`,
    ),
    undoableSince: db.prepare<[string], MoveRow>(
      `SELECT ${MOVE_COLUMNS} FROM moves WHERE ${UNDOABLE} AND created_at >= ? ORDER BY id DESC`,
    ),
    page: db.prepare<[number, number], MoveRow>(
      `SELECT ${MOVE_COLUMNS} FROM moves ORDER BY id DESC LIMIT ? OFFSET ?`,
    ),
    count: db.prepare<[], { n: number }>(`SELECT count(*) AS n FROM moves`),
  };
}

export class MoveJournal {
  private readonly statements: ReturnType<typeof prepare>;

  constructor(private readonly db: Database.Database) {
    this.statements = prepare(db);
  }

  get(id: number): MoveRow | undefined {
    return this.statements.get.get(id);
  }

  /**
   * Journals an intent and commits it. Returns undefined when another unfinished move already targets
   * `toPath` (pick the next name); throws when the image itself has a move in progress.
   */
  begin(move: NewMove): MoveRow | undefined {
    return durably(this.db, () => {
      if (this.statements.imageInFlight.get(move.imageId)) {
        throw new Error(`Image ${move.imageId} already has a move in progress`);
      }
      if (this.statements.targetInFlight.get(move.toPath)) return undefined;
      const row = this.statements.insert.get(
        move.imageId,
        move.fromPath,
        move.toPath,
        move.kind,
        move.undoOf ?? null,
        move.imageId,
      );
      if (!row) throw new Error(`No image ${move.imageId}`);
      return this.get(row.id);
    });
  }

  /** Points an intent at another name (its first choice was taken on disk); undefined if that one is taken too. */
  retarget(id: number, toPath: string): MoveRow | undefined {
    return durably(this.db, () => {
      if (this.statements.targetInFlight.get(toPath)) return undefined;
      this.statements.retarget.run(toPath, id);
      return this.get(id);
    });
  }

  /**
   * Marks the move done and updates the image to match the disk, in one transaction. Not fsync'd: if a
   * power cut loses it, the intent is still on disk and recovery settles it from the disk at the next
   * start, as after a crash between the rename and this commit. The next durable commit flushes it.
   */
  complete(id: number): MoveRow {
    return this.db
      .transaction(() => {
        const move = this.get(id);
        if (move?.state !== 'intent') throw new Error(`Move ${id} is not in progress`);
        this.statements.retireOthersAt.run(move.toPath, move.imageId);
        if (move.kind === 'move') this.statements.moveImage.run(move.toPath, move.imageId);
        else if (move.kind === 'copy') this.statements.copyImage.run(move.imageId);
        else {
          this.statements.restoreImage.run(move.toPath, move.undoOf!, move.imageId);
          this.statements.markUndone.run(move.undoOf!);
        }
        this.statements.setState.run('done', null, id);
        return this.get(id)!;
      })
      .immediate();
  }

  /** Marks the move failed; the image keeps its path and status so the move is retried later. */
  fail(id: number, error: string): MoveRow {
    this.statements.setState.run('failed', error, id);
    return this.get(id)!;
  }

  /** Unfinished moves, oldest first: at start these are what a crash interrupted. */
  inFlight(): MoveRow[] {
    return this.statements.inFlight.all();
  }

  /** Folders where a partial copy may remain: the destinations of unfinished and failed moves. */
  unsettledFolders(): string[] {
    return [...new Set(this.statements.unsettledTargets.all().map((row) => path.dirname(row.toPath)))];
  }

  /** The given moves, newest first; ids with no move are left out. */
  byIds(ids: number[]): MoveRow[] {
    return this.statements.byIds.all(JSON.stringify(ids));
  }

  /** The newest `count` done moves and copies, newest first. */
  lastUndoable(count: number): MoveRow[] {
    return this.statements.lastUndoable.all(count);
  }

  /** Done moves and copies journaled at or after `since`, newest first. */
  undoableSince(since: Date): MoveRow[] {
    return this.statements.undoableSince.all(since.toISOString());
  }

  list({ limit, offset }: { limit: number; offset: number }): Page<MoveRow> {
    return { items: this.statements.page.all(limit, offset), total: this.statements.count.get()!.n };
  }
}
