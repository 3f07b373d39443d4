import type Database from "better-sqlite3";
import {
  DailyBudgetError,
  type RecordStore,
  ReservationLostError,
  type SettleOutcome,
  type StartGuards,
  type StartReservation,
  type StoredRecord,
} from "@/lib/store/types";

/** The embedded store's start reservations (see RecordStore.reserveStart); `job_id` null = pending. */
export const STARTS_SCHEMA = `
  CREATE TABLE IF NOT EXISTS start_reservations (id TEXT PRIMARY KEY, token TEXT NOT NULL,
    fingerprint TEXT NOT NULL, job_id TEXT, replayed INTEGER NOT NULL DEFAULT 0, expires_at INTEGER NOT NULL);
`;

const SQL = {
  get: `SELECT token, fingerprint, job_id, replayed FROM start_reservations WHERE id = ? AND expires_at > ?`,
  // An expired row with the same id is replaced: expired rows behave as absent.
  put: `INSERT INTO start_reservations (id, token, fingerprint, job_id, replayed, expires_at)
    VALUES (?, ?, ?, NULL, 0, ?) ON CONFLICT (id) DO UPDATE SET token = excluded.token,
    fingerprint = excluded.fingerprint, job_id = NULL, replayed = 0, expires_at = excluded.expires_at`,
  markReplayed: "UPDATE start_reservations SET replayed = 1 WHERE id = ?",
  complete: "UPDATE start_reservations SET job_id = ?, expires_at = ? WHERE id = ?",
  drop: "DELETE FROM start_reservations WHERE id = ? AND token = ?",
  readCounter: "SELECT count FROM counters WHERE name = ? AND expires_at > ?",
  countUp: `INSERT INTO counters (name, count, expires_at) VALUES (?, 1, ?)
    ON CONFLICT (name) DO UPDATE SET
      count = CASE WHEN counters.expires_at <= ? THEN 1 ELSE counters.count + 1 END,
      expires_at = CASE WHEN counters.expires_at <= ? THEN excluded.expires_at ELSE counters.expires_at END`,
  countDown: "UPDATE counters SET count = count - 1 WHERE name = ? AND expires_at > ? AND count > 0",
  jobVersion: "SELECT version FROM jobs WHERE id = ? AND expires_at > ?",
  deleteJob: "DELETE FROM jobs WHERE id = ?",
  sweep: "DELETE FROM start_reservations WHERE expires_at <= ?",
} as const;

interface ReservationRow {
  token: string;
  fingerprint: string;
  job_id: string | null;
  replayed: number;
}

export function prepareStarts(db: Database.Database) {
  return {
    db,
    get: db.prepare<[string, number], ReservationRow>(SQL.get),
    put: db.prepare<[string, string, string, number]>(SQL.put),
    markReplayed: db.prepare<[string]>(SQL.markReplayed),
    complete: db.prepare<[string, number, string]>(SQL.complete),
    drop: db.prepare<[string, string]>(SQL.drop),
    readCounter: db.prepare<[string, number], { count: number }>(SQL.readCounter),
    countUp: db.prepare<[string, number, number, number]>(SQL.countUp),
    countDown: db.prepare<[string, number]>(SQL.countDown),
    jobVersion: db.prepare<[string, number], { version: number }>(SQL.jobVersion),
    deleteJob: db.prepare<[string]>(SQL.deleteJob),
    sweep: db.prepare<[number]>(SQL.sweep),
  };
}

export type StartStatements = ReturnType<typeof prepareStarts>;

/** Inside create's transaction, before the insert: throws when a guard refuses. */
export function checkStartGuards(sql: StartStatements, guards: StartGuards | undefined, now: number): void {
  const { reservation, budget } = guards ?? {};
  if (reservation) {
    const row = sql.get.get(reservation.id, now);
    if (!row || row.token !== reservation.token || row.job_id !== null) throw new ReservationLostError();
  }
  if (budget && (sql.readCounter.get(budget.counter, now)?.count ?? 0) >= budget.max) {
    throw new DailyBudgetError();
  }
}

/** Inside create's transaction, after the insert: counts the budget and completes the reservation. */
export function applyStartGuards(
  sql: StartStatements,
  job: StoredRecord,
  guards: StartGuards | undefined,
  now: number,
): void {
  const { reservation, budget } = guards ?? {};
  if (budget) sql.countUp.run(budget.counter, now + budget.windowMs, now, now);
  if (!reservation) return;
  if (reservation.keepMs === 0) sql.drop.run(reservation.id, reservation.token);
  else sql.complete.run(job.id, now + reservation.keepMs, reservation.id);
}

type StartMethods = Pick<
  RecordStore<StoredRecord>,
  "reserveStart" | "releaseStart" | "settleStart" | "readCounter"
>;

/** The store's start methods on SQLite; `use` opens the database and maps its errors. */
export function sqliteStartMethods(
  use: <T>(work: (sql: StartStatements, now: number) => T) => Promise<T>,
): StartMethods {
  return {
    reserveStart: (id, token, fingerprint, windowMs) =>
      use((sql, now) =>
        sql.db
          .transaction((): StartReservation => {
            const row = sql.get.get(id, now);
            if (!row) {
              sql.put.run(id, token, fingerprint, now + windowMs);
              return { state: "reserved" };
            }
            if (row.fingerprint !== fingerprint) return { state: "mismatch" };
            if (row.job_id === null) return { state: "busy" };
            sql.markReplayed.run(id);
            return { state: "done", jobId: row.job_id };
          })
          .immediate(),
      ),

    releaseStart: (id, token) =>
      use((sql, now) => {
        const row = sql.get.get(id, now);
        if (row && row.token === token && row.job_id === null) sql.drop.run(id, token);
      }),

    settleStart: (jobId, guards, mode) =>
      use((sql, now) =>
        sql.db
          .transaction((): SettleOutcome => {
            const { reservation, budget } = guards;
            if (!reservation) throw new Error("settleStart needs the start's reservation");
            const job = sql.jobVersion.get(jobId, now);
            if (!job) {
              sql.drop.run(reservation.id, reservation.token);
              return "voided";
            }
            if (mode === "confirm") return "created";
            if (job.version !== 0 || sql.get.get(reservation.id, now)?.replayed) return "kept";
            sql.deleteJob.run(jobId);
            sql.drop.run(reservation.id, reservation.token);
            if (budget) sql.countDown.run(budget.counter, now);
            return "retracted";
          })
          .immediate(),
      ),

    readCounter: (counter) => use((sql, now) => sql.readCounter.get(counter, now)?.count ?? 0),
  };
}
