import { mkdirSync } from "node:fs";
import path from "node:path";
import Database from "better-sqlite3";
import { StoreUnavailableError } from "@/lib/failures";
import {
  INDEX_SCHEMA,
  indexRecord,
  prepareIndex,
  sqliteIndexMethods,
  sweepIndex,
} from "@/lib/store/sqlite-index";
import {
  applyStartGuards,
  checkStartGuards,
  prepareStarts,
  STARTS_SCHEMA,
  sqliteStartMethods,
} from "@/lib/store/sqlite-starts";
import {
  ActiveJobCapError,
  heldActiveAt,
  type RecordCodec,
  type RecordStore,
  type StoredRecord,
} from "@/lib/store/types";

/** Options of the embedded store. */
export interface SqliteStoreOptions<R extends StoredRecord> {
  /** How records are read and indexed (the engine's jobCodec). */
  codec: RecordCodec<R>;
  /** The database file; its directory is created if missing. */
  file: string;
  /** Retention of a job, refreshed on every write. */
  ttlSeconds: number;
}

const SCHEMA = `
  CREATE TABLE IF NOT EXISTS jobs (id TEXT PRIMARY KEY, version INTEGER NOT NULL, data TEXT NOT NULL,
    expires_at INTEGER NOT NULL, active_at INTEGER);
  CREATE INDEX IF NOT EXISTS jobs_expires_at ON jobs (expires_at);
  CREATE TABLE IF NOT EXISTS leases (job_id TEXT PRIMARY KEY, token TEXT NOT NULL, expires_at INTEGER NOT NULL);
  CREATE TABLE IF NOT EXISTS counters (name TEXT PRIMARY KEY, count INTEGER NOT NULL,
    expires_at INTEGER NOT NULL);
`;

const SQL = {
  // An expired row with the same id is replaced: expired rows behave as absent.
  create: `INSERT INTO jobs (id, version, data, expires_at, active_at) VALUES (?, ?, ?, ?, ?)
    ON CONFLICT (id) DO UPDATE SET version = excluded.version, data = excluded.data,
      expires_at = excluded.expires_at, active_at = excluded.active_at WHERE jobs.expires_at <= ?`,
  get: "SELECT data FROM jobs WHERE id = ? AND expires_at > ?",
  compareAndSet: `UPDATE jobs SET version = ?, data = ?, expires_at = ?, active_at = ?
    WHERE id = ? AND version = ? AND expires_at > ?`,
  listDue: `SELECT id FROM jobs WHERE active_at IS NOT NULL AND active_at <= ? AND expires_at > ?
    ORDER BY active_at LIMIT ?`,
  countActive: "SELECT COUNT(*) AS count FROM jobs WHERE active_at >= ? AND expires_at > ?",
  takeLease: `INSERT INTO leases (job_id, token, expires_at) VALUES (?, ?, ?)
    ON CONFLICT (job_id) DO UPDATE SET token = excluded.token, expires_at = excluded.expires_at
      WHERE leases.expires_at <= ?`,
  // An expired lease is not renewed: someone else may already have started on the job.
  renewLease: "UPDATE leases SET expires_at = ? WHERE job_id = ? AND token = ? AND expires_at > ?",
  releaseLease: "DELETE FROM leases WHERE job_id = ? AND token = ?",
  hit: `INSERT INTO counters (name, count, expires_at) VALUES (?, 1, ?)
    ON CONFLICT (name) DO UPDATE SET
      count = CASE WHEN counters.expires_at <= ? THEN 1 ELSE counters.count + 1 END,
      expires_at = CASE WHEN counters.expires_at <= ? THEN excluded.expires_at ELSE counters.expires_at END
    RETURNING count, expires_at`,
  sweep: [
    "DELETE FROM jobs WHERE expires_at <= ?",
    "DELETE FROM leases WHERE expires_at <= ?",
    "DELETE FROM counters WHERE expires_at <= ?",
  ],
} as const;

const SWEEP_EVERY_MS = 60_000;
// Two processes (next start + a test runner, say) may share the file: wait for the lock, don't fail.
const BUSY_TIMEOUT_MS = 5_000;

/** Errors that mean "the database cannot be used right now" rather than a bug. */
function isUnavailable(error: unknown): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" && /^SQLITE_(BUSY|LOCKED|CANTOPEN|IOERR|FULL)/.test(code);
}

/** The open database and its prepared statements, made once per open. */
function prepare(db: Database.Database) {
  return {
    db,
    create: db.prepare<[string, number, string, number, number | null, number]>(SQL.create),
    get: db.prepare<[string, number], { data: string }>(SQL.get),
    compareAndSet: db.prepare<[number, string, number, number | null, string, number, number]>(
      SQL.compareAndSet,
    ),
    listDue: db.prepare<[number, number, number], { id: string }>(SQL.listDue),
    countActive: db.prepare<[number, number], { count: number }>(SQL.countActive),
    takeLease: db.prepare<[string, string, number, number]>(SQL.takeLease),
    renewLease: db.prepare<[number, string, string, number]>(SQL.renewLease),
    releaseLease: db.prepare<[string, string]>(SQL.releaseLease),
    hit: db.prepare<[string, number, number, number], { count: number; expires_at: number }>(SQL.hit),
    sweep: SQL.sweep.map((sql) => db.prepare<[number]>(sql)),
    starts: prepareStarts(db),
    index: prepareIndex(db),
  };
}

type Statements = ReturnType<typeof prepare>;

/**
 * The embedded job store: one SQLite file (WAL mode), opened on first use. Expired rows read as
 * absent and are swept at most once a minute.
 */
export function createSqliteStore<R extends StoredRecord>(options: SqliteStoreOptions<R>): RecordStore<R> {
  const { codec } = options;
  const jobTtlMs = options.ttlSeconds * 1000;
  let open: Statements | undefined;
  let lastSweep = 0;

  function openOnce(): Statements {
    if (open) return open;
    mkdirSync(path.dirname(options.file), { recursive: true });
    const db = new Database(options.file);
    try {
      db.pragma("journal_mode = WAL");
      db.pragma(`busy_timeout = ${BUSY_TIMEOUT_MS}`);
      db.exec(SCHEMA);
      db.exec(STARTS_SCHEMA);
      db.exec(INDEX_SCHEMA);
      // Databases made before the active-jobs index lack its column.
      const columns = db.prepare<[], { name: string }>("PRAGMA table_info(jobs)").all();
      if (!columns.some((column) => column.name === "active_at"))
        db.exec("ALTER TABLE jobs ADD COLUMN active_at INTEGER");
      db.exec("CREATE INDEX IF NOT EXISTS jobs_active_at ON jobs (active_at) WHERE active_at IS NOT NULL");
      open = prepare(db);
    } catch (error) {
      db.close();
      throw error;
    }
    return open;
  }

  function use<T>(work: (sql: Statements, now: number) => T): Promise<T> {
    try {
      return Promise.resolve(work(openOnce(), Date.now()));
    } catch (error) {
      return Promise.reject(isUnavailable(error) ? new StoreUnavailableError(error) : error);
    }
  }

  function sweepIfDue(sql: Statements, now: number): void {
    if (now - lastSweep < SWEEP_EVERY_MS) return;
    lastSweep = now;
    for (const statement of sql.sweep) statement.run(now);
    sql.starts.sweep.run(now);
    sweepIndex(sql.index, now);
  }

  function readJob(sql: Statements, jobId: string, now: number): R | null {
    const row = sql.get.get(jobId, now);
    return row ? codec.parse(row.data) : null;
  }

  return {
    create: (job, cap, guards) =>
      use((sql, now) => {
        sweepIfDue(sql, now);
        // IMMEDIATE: the guards' checks and the insert happen under one write lock, across processes.
        sql.db
          .transaction(() => {
            checkStartGuards(sql.starts, guards, now);
            if (cap && (sql.countActive.get(cap.since, now)?.count ?? 0) >= cap.max)
              throw new ActiveJobCapError();
            const data = JSON.stringify(job);
            const indexAt = heldActiveAt(codec, job, guards?.indexHoldMs);
            const result = sql.create.run(job.id, job.version, data, now + jobTtlMs, indexAt, now);
            if (result.changes === 0) throw new Error(`Job ${job.id} already exists`);
            indexRecord(sql.index, codec, job, now + jobTtlMs);
            applyStartGuards(sql.starts, job, guards, now);
          })
          .immediate();
      }),

    get: (jobId) => use((sql, now) => readJob(sql, jobId, now)),

    compareAndSet: (job, expectedVersion) =>
      use((sql, now) => {
        const next: R = { ...job, version: expectedVersion + 1 };
        // The record and its index row are one write: the retention sweep must never miss a record.
        return sql.db
          .transaction(() => {
            const written = sql.compareAndSet.run(
              next.version,
              JSON.stringify(next),
              now + jobTtlMs,
              codec.activeAt(next),
              job.id,
              expectedVersion,
              now,
            );
            if (written.changes !== 1) return null;
            indexRecord(sql.index, codec, next, now + jobTtlMs);
            return next;
          })
          .immediate();
      }),

    acquireLease: (jobId, token, ttlMs) =>
      use((sql, now) =>
        // IMMEDIATE takes the write lock up front, so two processes cannot both read "free".
        sql.db
          .transaction(() => {
            if (sql.takeLease.run(jobId, token, now + ttlMs, now).changes === 0) return null;
            const job = readJob(sql, jobId, now);
            // No job, no lease: a lease on nothing would only block whoever creates the job later.
            if (!job) sql.releaseLease.run(jobId, token);
            return job;
          })
          .immediate(),
      ),

    renewLease: (jobId, token, ttlMs) =>
      use((sql, now) => sql.renewLease.run(now + ttlMs, jobId, token, now).changes === 1),

    releaseLease: (jobId, token) =>
      use((sql) => {
        sql.releaseLease.run(jobId, token);
      }),

    listDue: (now, limit) => use((sql, at) => sql.listDue.all(now, at, limit).map((row) => row.id)),

    countActive: (since) => use((sql, now) => sql.countActive.get(since, now)?.count ?? 0),

    hit: (counter, windowMs) =>
      use((sql, now) => {
        const row = sql.hit.get(counter, now + windowMs, now, now);
        if (!row) throw new Error("The counter upsert returned no row");
        return { count: row.count, resetInMs: Math.max(0, row.expires_at - now) };
      }),

    ...sqliteStartMethods((work) => use((sql, now) => work(sql.starts, now))),
    ...sqliteIndexMethods((work) => use((sql, now) => work(sql.index, now)), codec),

    close: async () => {
      open?.db.close();
      open = undefined;
    },
  };
}
