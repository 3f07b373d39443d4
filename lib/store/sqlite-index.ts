import type Database from "better-sqlite3";
import {
  RETENTION_MARGIN_MS,
  type RecordCodec,
  type RecordStore,
  type StoredRecord,
} from "@/lib/store/types";

/**
 * The embedded store's owner and retention index: one row per record, written with it, naming its
 * owner, when it was created and when it expires. The row outlives its record (by RETENTION_MARGIN_MS),
 * so a sweep can delete the record's files after the record is gone; `delete` removes both.
 */
export const INDEX_SCHEMA = `
  CREATE TABLE IF NOT EXISTS record_index (id TEXT PRIMARY KEY, owner TEXT, created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL);
  CREATE INDEX IF NOT EXISTS record_index_owner ON record_index (owner, created_at) WHERE owner IS NOT NULL;
  CREATE INDEX IF NOT EXISTS record_index_expires_at ON record_index (expires_at);
`;

const SQL = {
  // A create keeps the first creation time of an id (a retracted start's row may linger).
  put: `INSERT INTO record_index (id, owner, created_at, expires_at) VALUES (?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET owner = excluded.owner, expires_at = excluded.expires_at`,
  listByOwner: `SELECT jobs.data FROM record_index JOIN jobs ON jobs.id = record_index.id
    WHERE record_index.owner = ? AND jobs.expires_at > ? ORDER BY record_index.created_at DESC LIMIT ?`,
  listExpired: `SELECT id FROM record_index WHERE expires_at <= ?
    AND NOT EXISTS (SELECT 1 FROM jobs WHERE jobs.id = record_index.id AND jobs.expires_at > ?)
    ORDER BY expires_at LIMIT ?`,
  deleteJob: "DELETE FROM jobs WHERE id = ? RETURNING expires_at",
  deleteLease: "DELETE FROM leases WHERE job_id = ?",
  deleteIndex: "DELETE FROM record_index WHERE id = ?",
  sweep: "DELETE FROM record_index WHERE expires_at < ?",
} as const;

export function prepareIndex(db: Database.Database) {
  return {
    db,
    put: db.prepare<[string, string | null, number, number]>(SQL.put),
    listByOwner: db.prepare<[string, number, number], { data: string }>(SQL.listByOwner),
    listExpired: db.prepare<[number, number, number], { id: string }>(SQL.listExpired),
    deleteJob: db.prepare<[string], { expires_at: number }>(SQL.deleteJob),
    deleteLease: db.prepare<[string]>(SQL.deleteLease),
    deleteIndex: db.prepare<[string]>(SQL.deleteIndex),
    sweep: db.prepare<[number]>(SQL.sweep),
  };
}

export type IndexStatements = ReturnType<typeof prepareIndex>;

/** Indexes a record as it is written (inside the write's transaction). */
export function indexRecord<R extends StoredRecord>(
  sql: IndexStatements,
  codec: RecordCodec<R>,
  record: R,
  expiresAt: number,
): void {
  sql.put.run(record.id, codec.ownerOf(record), record.updatedAt, expiresAt);
}

/** Drops index rows whose record expired longer than the margin ago: the index's own end. */
export function sweepIndex(sql: IndexStatements, now: number): void {
  sql.sweep.run(now - RETENTION_MARGIN_MS);
}

type Use = <V>(work: (sql: IndexStatements, now: number) => V) => Promise<V>;

export function sqliteIndexMethods<R extends StoredRecord>(
  use: Use,
  codec: RecordCodec<R>,
): Pick<RecordStore<R>, "listByOwner" | "delete" | "listExpired"> {
  return {
    listByOwner: (owner, limit) =>
      use((sql, now) => sql.listByOwner.all(owner, now, limit).map((row) => codec.parse(row.data))),

    delete: (id) =>
      use((sql, now) =>
        sql.db
          .transaction(() => {
            // An expired row still on disk (until the next sweep) counts as absent.
            const existed = (sql.deleteJob.get(id)?.expires_at ?? 0) > now;
            sql.deleteLease.run(id);
            sql.deleteIndex.run(id);
            return existed;
          })
          .immediate(),
      ),

    listExpired: (now, limit) => use((sql) => sql.listExpired.all(now, now, limit).map((row) => row.id)),
  };
}
