import { createHash } from "node:crypto";
import { z } from "zod";
import { keysFor } from "@/lib/store/keys";
import {
  indexScripts,
  RETAIN_HELPER,
  retainArgs,
  retainKeys,
  scriptedIndexMethods,
} from "@/lib/store/record-index-scripts";
import { guardArgs, guardKeys, scriptedStartMethods, startScripts } from "@/lib/store/start-scripts";
import {
  ActiveJobCapError,
  DailyBudgetError,
  heldActiveAt,
  type RecordCodec,
  type RecordStore,
  ReservationLostError,
  type StoredRecord,
} from "@/lib/store/types";

/** A Lua script and its SHA-1, so drivers can try EVALSHA before sending the source. */
export interface LuaScript {
  source: string;
  sha1: string;
}

function lua(source: string): LuaScript {
  return { source, sha1: createHash("sha1").update(source).digest("hex") };
}

/**
 * Helpers shared by the scripts that touch the active-jobs index (KEYS: active, activeExpiry). Every
 * entry is in both sorted sets: by when the job is due, and by when its record expires.
 */
const INDEX_HELPERS = `
local function index_job(active, expiry, ttl, at, id, expires_at)
  if at == '' then
    redis.call('ZREM', active, id)
    redis.call('ZREM', expiry, id)
  else
    redis.call('ZADD', active, at, id)
    redis.call('ZADD', expiry, expires_at, id)
    redis.call('EXPIRE', active, ttl)
    redis.call('EXPIRE', expiry, ttl)
  end
end
local function drop(active, expiry, id)
  redis.call('ZREM', active, id)
  redis.call('ZREM', expiry, id)
end
local function prune_expired(active, expiry, now)
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', expiry, '-inf', now, 'LIMIT', 0, 500)) do
    drop(active, expiry, id)
  end
end
local function count_existing(active, expiry, since, job_prefix)
  local n = 0
  for _, id in ipairs(redis.call('ZRANGEBYSCORE', active, since, '+inf')) do
    if redis.call('EXISTS', job_prefix .. id) == 1 then n = n + 1 else drop(active, expiry, id) end
  end
  return n
end`;

// Scripts return nil, never false: on a RESP3 connection Lua false becomes a boolean reply.
/**
 * Every write both Redis stores make, each one atomic script (one round trip). A job is a JSON
 * string with an expiry; its `version` field is what compare-and-set compares.
 */
export const SCRIPTS = {
  /**
   * KEYS: job, active, start reservation, budget counter, activeExpiry. ARGV: json, ttlSeconds,
   * activeAt ('' = off the index), id, capMax ('' = none), capSince, reservation token ('' = none),
   * reservation keepMs (0 = drop it), budgetMax ('' = none), budget windowMs, expiresAt, now, job key
   * prefix; then KEYS 6–8 and ARGV 14–16 of `retain` (record-index-scripts.ts). → 1 created, 0 exists, -1 the in-progress cap is reached (counting only jobs whose
   * record still exists), -2 the budget is spent, -3 the reservation is not (or no longer) ours.
   */
  create: lua(`${INDEX_HELPERS}${RETAIN_HELPER}
if ARGV[7] ~= '' and (redis.call('HGET', KEYS[3], 'token') ~= ARGV[7] or redis.call('HGET', KEYS[3], 'job')) then return -3 end
if ARGV[9] ~= '' and tonumber(redis.call('GET', KEYS[4]) or '0') >= tonumber(ARGV[9]) then return -2 end
if ARGV[5] ~= '' then
  prune_expired(KEYS[2], KEYS[5], ARGV[12])
  local cap = tonumber(ARGV[5])
  if redis.call('ZCOUNT', KEYS[2], ARGV[6], '+inf') >= cap and count_existing(KEYS[2], KEYS[5], ARGV[6], ARGV[13]) >= cap then
    return -1
  end
end
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'EX', ARGV[2]) then return 0 end
index_job(KEYS[2], KEYS[5], ARGV[2], ARGV[3], ARGV[4], ARGV[11])
retain(KEYS[6], KEYS[7], KEYS[8], ARGV[4], ARGV[11], ARGV[14], ARGV[15], ARGV[16])
if ARGV[9] ~= '' then
  redis.call('INCR', KEYS[4])
  if redis.call('PTTL', KEYS[4]) < 0 then redis.call('PEXPIRE', KEYS[4], ARGV[10]) end
end
if ARGV[7] ~= '' then
  if ARGV[8] == '0' then redis.call('DEL', KEYS[3]) else
    redis.call('HSET', KEYS[3], 'job', ARGV[4])
    redis.call('PEXPIRE', KEYS[3], ARGV[8])
  end
end
return 1`),
  /**
   * KEYS: job, active, activeExpiry, then `retain`'s. ARGV: json, ttlSeconds, activeAt ('' = off the
   * index), id, expectedVersion, expiresAt, then `retain`'s. → 1 written, 0 lost.
   */
  compareAndSet: lua(`${INDEX_HELPERS}${RETAIN_HELPER}
local raw = redis.call('GET', KEYS[1])
if not raw then return 0 end
if cjson.decode(raw).version ~= tonumber(ARGV[5]) then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
index_job(KEYS[2], KEYS[3], ARGV[2], ARGV[3], ARGV[4], ARGV[6])
retain(KEYS[4], KEYS[5], KEYS[6], ARGV[4], ARGV[6], ARGV[7], ARGV[8], ARGV[9])
return 1`),
  /**
   * KEYS: active, activeExpiry. ARGV: now, limit, job key prefix. → due ids; ids whose job expired or
   * vanished leave the index.
   */
  listDue: lua(`${INDEX_HELPERS}
prune_expired(KEYS[1], KEYS[2], ARGV[1])
local due = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])) do
  if redis.call('EXISTS', ARGV[3] .. id) == 1 then table.insert(due, id) else drop(KEYS[1], KEYS[2], id) end
end
return due`),
  /**
   * KEYS: active, activeExpiry. ARGV: since, now, job key prefix. → the number of unfinished jobs
   * active since then whose record exists; the others leave the index.
   */
  countActive: lua(`${INDEX_HELPERS}
prune_expired(KEYS[1], KEYS[2], ARGV[2])
return count_existing(KEYS[1], KEYS[2], ARGV[1], ARGV[3])`),
  /** KEYS: lease, job. ARGV: token, ttlMs. → the job JSON, or nil when leased elsewhere or gone. */
  acquireLease: lua(`
if not redis.call('SET', KEYS[1], ARGV[1], 'NX', 'PX', ARGV[2]) then return nil end
local job = redis.call('GET', KEYS[2])
if job then return job end
redis.call('DEL', KEYS[1])
return nil`),
  /** KEYS: lease. ARGV: token, ttlMs. → 1 renewed, 0 not ours (expired or another's). */
  renewLease: lua(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0`),
  /** KEYS: lease. ARGV: token. → 1 released, 0 not ours. */
  releaseLease: lua(`
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0`),
  /** KEYS: counter. ARGV: windowMs. → {count, pttl}. A counter that lost its expiry gets one back. */
  ...startScripts(lua),
  ...indexScripts(lua),
  hit: lua(`
local count = redis.call('INCR', KEYS[1])
local ttl = redis.call('PTTL', KEYS[1])
if ttl < 0 then
  redis.call('PEXPIRE', KEYS[1], ARGV[1])
  ttl = tonumber(ARGV[1])
end
return {count, ttl}`),
} as const;

/**
 * What a Redis driver gives the shared store: a GET and a script call (EVALSHA, falling back to
 * EVAL). Drivers turn transport failures into StoreUnavailableError.
 */
export interface ScriptRunner {
  get(key: string): Promise<string | null>;
  run(script: LuaScript, keys: string[], args: string[]): Promise<unknown>;
  close(): Promise<void>;
}

const flagReply = z.union([z.literal(0), z.literal(1)]);
const createReply = z.union([z.literal(-3), z.literal(-2), z.literal(-1), z.literal(0), z.literal(1)]);
const jobReply = z.string().nullable();
const hitReply = z.tuple([z.number().int(), z.number().int()]);
const idsReply = z.array(z.string());
const countReply = z.number().int();

/** What both Redis drivers take: the record codec, the retention and the key prefix. */
export interface ScriptedStoreOptions<R extends StoredRecord> {
  /** How records are read and indexed (the engine's jobCodec). */
  codec: RecordCodec<R>;
  /** Retention of a record, refreshed on every write. */
  ttlSeconds: number;
  /** Prepended to every key (see keys.ts), so several apps or tests can share one Redis. */
  keyPrefix: string;
}

/** The RecordStore both Redis drivers share: keys from keys.ts, every key with a TTL. */
export function createScriptedStore<R extends StoredRecord>(
  runner: ScriptRunner,
  options: ScriptedStoreOptions<R>,
): RecordStore<R> {
  const { codec } = options;
  const keys = keysFor(options.keyPrefix);
  const ttl = String(options.ttlSeconds);
  const jobKeys = (jobId: string) => [keys.job(jobId), keys.active(), keys.activeExpiry()];
  const indexKeys = [keys.active(), keys.activeExpiry()];
  const jobKeyPrefix = keys.job("");
  const indexArgs = (job: R) => [ttl, String(codec.activeAt(job) ?? ""), job.id];
  const expiresAt = () => String(Date.now() + options.ttlSeconds * 1000);
  const retention = { keys, codec, ttlSeconds: options.ttlSeconds };

  return {
    async create(job, cap, guards) {
      const capArgs = cap ? [String(cap.max), String(cap.since)] : ["", ""];
      const indexAt = String(heldActiveAt(codec, job, guards?.indexHoldMs) ?? "");
      const created = createReply.parse(
        await runner.run(
          SCRIPTS.create,
          [
            keys.job(job.id),
            keys.active(),
            ...guardKeys(keys, guards),
            keys.activeExpiry(),
            ...retainKeys(retention, job),
          ],
          [
            JSON.stringify(job),
            ttl,
            indexAt,
            job.id,
            ...capArgs,
            ...guardArgs(guards),
            expiresAt(),
            String(Date.now()),
            jobKeyPrefix,
            ...retainArgs(retention, job),
          ],
        ),
      );
      if (created === -3) throw new ReservationLostError();
      if (created === -2) throw new DailyBudgetError();
      if (created === -1) throw new ActiveJobCapError();
      if (created === 0) throw new Error(`Job ${job.id} already exists`);
    },

    async get(jobId) {
      const raw = await runner.get(keys.job(jobId));
      return raw === null ? null : codec.parse(raw);
    },

    async compareAndSet(job, expectedVersion) {
      const next: R = { ...job, version: expectedVersion + 1 };
      const args = [
        JSON.stringify(next),
        ...indexArgs(next),
        String(expectedVersion),
        expiresAt(),
        ...retainArgs(retention, next),
      ];
      const casKeys = [...jobKeys(job.id), ...retainKeys(retention, next)];
      const written = flagReply.parse(await runner.run(SCRIPTS.compareAndSet, casKeys, args));
      return written === 1 ? next : null;
    },

    async acquireLease(jobId, token, ttlMs) {
      const leaseKeys = [keys.lease(jobId), keys.job(jobId)];
      const raw = jobReply.parse(await runner.run(SCRIPTS.acquireLease, leaseKeys, [token, String(ttlMs)]));
      return raw === null ? null : codec.parse(raw);
    },

    async renewLease(jobId, token, ttlMs) {
      const reply = await runner.run(SCRIPTS.renewLease, [keys.lease(jobId)], [token, String(ttlMs)]);
      return flagReply.parse(reply) === 1;
    },

    async releaseLease(jobId, token) {
      await runner.run(SCRIPTS.releaseLease, [keys.lease(jobId)], [token]);
    },

    async listDue(now, limit) {
      const args = [String(now), String(limit), jobKeyPrefix];
      return idsReply.parse(await runner.run(SCRIPTS.listDue, indexKeys, args));
    },

    async countActive(since) {
      const args = [String(since), String(Date.now()), jobKeyPrefix];
      return countReply.parse(await runner.run(SCRIPTS.countActive, indexKeys, args));
    },

    async hit(counter, windowMs) {
      const reply = await runner.run(SCRIPTS.hit, [keys.counter(counter)], [String(windowMs)]);
      const [count, resetInMs] = hitReply.parse(reply);
      return { count, resetInMs };
    },

    ...scriptedStartMethods(runner, keys, SCRIPTS),
    ...scriptedIndexMethods(runner, retention, SCRIPTS),

    close: () => runner.close(),
  };
}
