import type Database from 'better-sqlite3';

/**
 * Runs `fn` in an IMMEDIATE transaction whose commit is fsync'd (synchronous=FULL): on disk when this
 * returns, power cut or not, and with it every commit before it (the WAL is one sequential file). The
 * connection otherwise commits with NORMAL, which survives any crash of Birdgate but may lose the last
 * commits on power loss. Kept for what must never be lost: the move journal and the user's labels
 * (docs/store.md).
 */
export function durably<T>(db: Database.Database, fn: () => T): T {
  db.pragma('synchronous = FULL');
  try {
    return db.transaction(fn).immediate();
  } finally {
    db.pragma('synchronous = NORMAL');
  }
}
