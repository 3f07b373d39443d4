/** What the store needs of a record: its id, its `version` (the compare-and-set) and its last write. */
export interface StoredRecord {
  id: string;
  version: number;
  updatedAt: number;
}

/**
 * How the store reads and indexes its records, handed in by their owner (the engine's jobCodec), so
 * the store knows none of their rules.
 */
export interface RecordCodec<R extends StoredRecord> {
  /** Parses a stored value, so a corrupt or foreign one fails loudly instead of deep in its reader. */
  parse(raw: string): R;
  /** Where the record stands in the active index (when it is next due), or null to leave the index. */
  activeAt(record: R): number | null;
  /** Who owns the record (an opaque key, e.g. a cookie's hash) for `listByOwner`; null: nobody. */
  ownerOf(record: R): string | null;
}

/**
 * How long the retention index keeps an id after its record expired, so a sweep that was late (a
 * deploy, an outage, a deployment nobody visited for weeks, a backlog) still finds the files to
 * delete; every sweep drains what is due. Then the entry itself expires: every key ends.
 */
export const RETENTION_MARGIN_MS = 30 * 24 * 3600 * 1000;

/**
 * A versioned-record store. Every write is a compare-and-set on the record's `version`; the lease
 * keeps two advancers from calling a provider for the same record at once. Every key carries a TTL.
 */
export interface RecordStore<R extends StoredRecord> {
  /**
   * Stores a new job (version 0). Throws if the id exists, and throws ActiveJobCapError — writing
   * nothing — when `cap` is given and `cap.max` unfinished jobs were active since `cap.since`: the
   * count and the write are one atomic step, so a burst of starts cannot overshoot the cap.
   * `guards` are a start's further conditions, checked and applied in the same step (StartGuards).
   */
  create(job: R, cap?: ActiveJobCap, guards?: StartGuards): Promise<void>;
  /** One round trip. Null for an unknown or expired job. */
  get(jobId: string): Promise<R | null>;
  /**
   * Writes `job` with `version` = expectedVersion + 1 if the stored version still equals
   * `expectedVersion`. Returns the written job, or null when another write won (nothing changed).
   */
  compareAndSet(job: R, expectedVersion: number): Promise<R | null>;
  /**
   * Takes the job's lease for `ttlMs` unless someone else holds it, and reads the job in the same
   * round trip. Null when the lease is taken (or the job is gone).
   */
  acquireLease(jobId: string, token: string, ttlMs: number): Promise<R | null>;
  /**
   * Extends the lease to `ttlMs` from now if `token` still holds it. False when it does not (the
   * lease expired, or another token holds it): the caller must stop before its next vendor call.
   */
  renewLease(jobId: string, token: string, ttlMs: number): Promise<boolean>;
  /** Releases the lease if `token` still holds it (an expired lease taken by another is left alone). */
  releaseLease(jobId: string, token: string): Promise<void>;
  /**
   * Ids of unfinished jobs whose next check is due (`activeAt` ≤ now), oldest first: what a sweep
   * advances when nobody polls. Never an id whose record expired or vanished.
   */
  listDue(now: number, limit: number): Promise<string[]>;
  /**
   * How many unfinished jobs were active (`activeAt`) at or after `since`: the in-progress cap.
   * Jobs whose record expired or vanished are not counted.
   */
  countActive(since: number): Promise<number>;
  /**
   * Adds one hit to a fixed window counter and returns the count in the window and the time left.
   * Used for rate limits.
   */
  hit(counter: string, windowMs: number): Promise<{ count: number; resetInMs: number }>;
  /** The count of a `hit` or budget counter in its window; 0 when it is absent or expired. */
  readCounter(counter: string): Promise<number>;
  /**
   * Reserves a start (`id` names its Idempotency-Key, or its job when it has none) for `windowMs`:
   * the create must hold this reservation, so a create delivered after the window does nothing.
   * When the id is reserved already, says whether its request differs (`fingerprint`), is still
   * running, or made a job (which it then marks as handed out again: a replay).
   */
  reserveStart(id: string, token: string, fingerprint: string, windowMs: number): Promise<StartReservation>;
  /** Drops a pending reservation that `token` holds (a refused start), so a retry may run at once. */
  releaseStart(id: string, token: string): Promise<void>;
  /**
   * Resolves a create whose answer was lost (StartGuards.reservation must be given). A job that
   * exists is "created" (`confirm`), or deleted (`retract`: "retracted") unless it was handed out
   * by a replay or has moved on ("kept"). No job: the reservation is dropped, so the lost create
   * can never land: "voided". Every outcome is final.
   */
  settleStart(jobId: string, guards: StartGuards, mode: "confirm" | "retract"): Promise<SettleOutcome>;
  /**
   * Appends one measurement to a capped series shared by every instance (learned step times): the
   * series keeps only its `keep` newest values, and expires `ttlMs` after its last addition.
   */
  addSample(series: string, value: number, options: SampleOptions): Promise<void>;
  /** A series' values, newest first; empty when it is absent or expired. One round trip. */
  readSamples(series: string): Promise<number[]>;
  /**
   * The owner's records (codec.ownerOf), newest created first, at most `limit`. Never a record that
   * expired or was deleted.
   */
  listByOwner(owner: string, limit: number): Promise<R[]>;
  /**
   * Removes the record, its lease and every index entry that names it (owner, active, retention).
   * True when a record was there; deleting an absent one is harmless.
   */
  delete(id: string): Promise<boolean>;
  /**
   * Ids whose record expired by its TTL at or before `now`, oldest first: the retention index keeps
   * each id (every write refreshes its expiry) until `delete(id)`, or RETENTION_MARGIN_MS after it
   * expired, so a sweep can delete what lives outside the store (files) after the record is gone.
   */
  listExpired(now: number, limit: number): Promise<string[]>;
  close(): Promise<void>;
}

/** How a sample series is capped: its newest `keep` values, for `ttlMs` after the last addition. */
export interface SampleOptions {
  keep: number;
  ttlMs: number;
}

/** The in-progress cap `create` enforces: at most `max` unfinished jobs active since `since`. */
export interface ActiveJobCap {
  max: number;
  since: number;
}

/** What `reserveStart` found. */
export type StartReservation =
  | { state: "reserved" }
  | { state: "busy" }
  | { state: "mismatch" }
  | { state: "done"; jobId: string };

export type SettleOutcome = "created" | "voided" | "retracted" | "kept";

/** A start's conditions on its `create`, all optional, checked and applied in the same atomic step. */
export interface StartGuards {
  /**
   * The reservation the create must still hold (pending, under `token`), else ReservationLostError.
   * The create completes it: kept `keepMs` for replays (24 h for an Idempotency-Key), or dropped (0).
   */
  reservation?: { id: string; token: string; keepMs: number };
  /** A budget counter the create counts itself on; at `max` it throws DailyBudgetError instead. */
  budget?: { counter: string; max: number; windowMs: number };
  /** The sweep leaves the new job alone this long: a start that lost its answer may retract it. */
  indexHoldMs?: number;
}

/** Where a new job enters the active-jobs index: no earlier than `holdMs` after its creation. */
export function heldActiveAt<R extends StoredRecord>(
  codec: RecordCodec<R>,
  record: R,
  holdMs = 0,
): number | null {
  const at = codec.activeAt(record);
  return at === null ? null : Math.max(at, record.updatedAt + holdMs);
}

/** Thrown by `create` when the in-progress cap is reached. */
export class ActiveJobCapError extends Error {
  constructor() {
    super("The cap on jobs in progress is reached");
    this.name = "ActiveJobCapError";
  }
}

/** Thrown by `create` when its budget counter is at its maximum. */
export class DailyBudgetError extends Error {
  constructor() {
    super("The daily look budget is spent");
    this.name = "DailyBudgetError";
  }
}

/** Thrown by `create` when its start reservation expired or was voided: nothing was written. */
export class ReservationLostError extends Error {
  constructor() {
    super("The start reservation is no longer held");
    this.name = "ReservationLostError";
  }
}
