/**
 * Schema migrations, applied in order; `PRAGMA user_version` is the number applied so far. A released
 * migration is never edited: change the schema by appending one. Status, kind and state lists are spelled
 * out here (not built from the TypeScript constants) so that a migration means the same thing forever.
 */
import type Database from 'better-sqlite3';

export interface Migration {
  name: string;
  sql: string;
}

const NOW = `(strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))`;

export const MIGRATIONS: readonly Migration[] = [
  {
    name: 'initial schema',
    sql: `
      CREATE TABLE images (
        id INTEGER PRIMARY KEY,
        path TEXT NOT NULL,
        original_path TEXT NOT NULL,
        camera TEXT NOT NULL,
        size INTEGER NOT NULL CHECK (size >= 0),
        mtime_ms REAL NOT NULL,
        sha256 TEXT NOT NULL CHECK (length(sha256) = 64),
        capture_time TEXT,
        status TEXT NOT NULL DEFAULT 'pending'
          CHECK (status IN ('pending', 'classified', 'moved', 'uncertain', 'unreadable', 'duplicate')),
        error TEXT,
        duplicate_of INTEGER REFERENCES images (id),
        retired_at TEXT,
        created_at TEXT NOT NULL DEFAULT ${NOW},
        updated_at TEXT NOT NULL DEFAULT ${NOW}
      );
      CREATE UNIQUE INDEX images_live_path ON images (path) WHERE retired_at IS NULL;
      CREATE INDEX images_created ON images (created_at DESC);
      CREATE INDEX images_status ON images (status);
      CREATE INDEX images_camera ON images (camera);
      CREATE INDEX images_sha256 ON images (sha256);

      CREATE TABLE predictions (
        id INTEGER PRIMARY KEY,
        image_id INTEGER NOT NULL REFERENCES images (id),
        model_version TEXT NOT NULL,
        p_bird REAL NOT NULL CHECK (p_bird BETWEEN 0 AND 1),
        label TEXT NOT NULL CHECK (label IN ('airplane', 'bird')),
        created_at TEXT NOT NULL DEFAULT ${NOW}
      );
      CREATE INDEX predictions_image ON predictions (image_id);

      CREATE TABLE labels (
        image_id INTEGER PRIMARY KEY REFERENCES images (id),
        label TEXT NOT NULL CHECK (label IN ('airplane', 'bird')),
        source TEXT NOT NULL DEFAULT 'user' CHECK (source IN ('user')),
        created_at TEXT NOT NULL DEFAULT ${NOW},
        updated_at TEXT NOT NULL DEFAULT ${NOW}
      );

      CREATE TABLE moves (
        id INTEGER PRIMARY KEY,
        image_id INTEGER NOT NULL REFERENCES images (id),
        from_path TEXT NOT NULL,
        to_path TEXT NOT NULL,
        kind TEXT NOT NULL CHECK (kind IN ('move', 'copy', 'undo')),
        state TEXT NOT NULL DEFAULT 'intent' CHECK (state IN ('intent', 'done', 'undone', 'failed')),
        prev_status TEXT NOT NULL
          CHECK (prev_status IN ('pending', 'classified', 'moved', 'uncertain', 'unreadable', 'duplicate')),
        undo_of INTEGER REFERENCES moves (id),
        error TEXT,
        created_at TEXT NOT NULL DEFAULT ${NOW},
        updated_at TEXT NOT NULL DEFAULT ${NOW},
        CHECK ((kind = 'undo') = (undo_of IS NOT NULL))
      );
      CREATE INDEX moves_state ON moves (state);
      CREATE INDEX moves_created ON moves (created_at);
      -- At most one unfinished move per image and per destination name, so concurrent movers never pick
      -- the same name and recovery never has to untangle two intents on one file.
      CREATE UNIQUE INDEX moves_in_flight_image ON moves (image_id) WHERE state = 'intent';
      CREATE UNIQUE INDEX moves_in_flight_target ON moves (to_path) WHERE state = 'intent';

      CREATE TABLE events (
        id INTEGER PRIMARY KEY,
        kind TEXT NOT NULL,
        image_id INTEGER REFERENCES images (id),
        data TEXT NOT NULL DEFAULT 'null' CHECK (json_valid(data)),
        created_at TEXT NOT NULL DEFAULT ${NOW}
      );
      CREATE INDEX events_image ON events (image_id);
    `,
  },
];

export function schemaVersion(db: Database.Database): number {
  return db.pragma('user_version', { simple: true }) as number;
}

/** Applies the migrations not applied yet, each in its own transaction together with its version bump. */
export function applyMigrations(db: Database.Database, migrations: readonly Migration[]): void {
  for (let version = schemaVersion(db); version < migrations.length; version++) {
    db.transaction(() => {
      // Another process may have migrated between our read and this write lock.
      if (schemaVersion(db) !== version) return;
      db.exec(migrations[version]!.sql);
      db.pragma(`user_version = ${version + 1}`);
    }).immediate();
  }
}
