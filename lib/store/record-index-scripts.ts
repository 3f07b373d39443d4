import { z } from "zod";
import type { Keys } from "@/lib/store/keys";
import type { LuaScript, ScriptRunner } from "@/lib/store/lua";
import {
  RETENTION_MARGIN_MS,
  type RecordCodec,
  type RecordStore,
  type StoredRecord,
} from "@/lib/store/types";

/**
 * The owner and retention indexes of both Redis stores (keys.ts: owner, retention, retentionOwners):
 * every write keeps a record's id in them, `delete` takes it out of every one.
 */

/**
 * Called by create and compareAndSet. KEYS: retention, retentionOwners, owner index. ARGV (after the
 * script's own): owner ('' = nobody), createdAt, keepMs (the record's TTL plus the margin).
 */
export const RETAIN_HELPER = `
local function retain(retention, owners, owner_key, id, expires_at, owner, created_at, keep_ms)
  redis.call('ZADD', retention, expires_at, id)
  redis.call('PEXPIRE', retention, keep_ms)
  if owner ~= '' then
    redis.call('HSET', owners, id, owner)
    redis.call('PEXPIRE', owners, keep_ms)
    redis.call('ZADD', owner_key, 'NX', created_at, id)
    redis.call('PEXPIRE', owner_key, keep_ms)
  end
end`;

/** What the index methods need: the keys, the codec (who owns a record) and the record TTL. */
export interface RetentionContext<R extends StoredRecord> {
  keys: Keys;
  codec: RecordCodec<R>;
  ttlSeconds: number;
}

export function retainKeys<R extends StoredRecord>(context: RetentionContext<R>, record: R): string[] {
  const { keys, codec } = context;
  // A record without an owner names a key it never touches: the script's key list stays fixed.
  return [keys.retention(), keys.retentionOwners(), keys.owner(codec.ownerOf(record) ?? "-")];
}

export function retainArgs<R extends StoredRecord>(context: RetentionContext<R>, record: R): string[] {
  const keepMs = context.ttlSeconds * 1000 + RETENTION_MARGIN_MS;
  return [context.codec.ownerOf(record) ?? "", String(record.updatedAt), String(keepMs)];
}

export function indexScripts(lua: (source: string) => LuaScript) {
  return {
    /** KEYS: owner index. ARGV: job key prefix, limit. → the JSON of the owner's live records, newest first. */
    listByOwner: lua(`
local out = {}
local limit = tonumber(ARGV[2])
for _, id in ipairs(redis.call('ZREVRANGE', KEYS[1], 0, -1)) do
  if #out >= limit then break end
  local raw = redis.call('GET', ARGV[1] .. id)
  if raw then table.insert(out, raw) end
end
return out`),
    /**
     * KEYS: job, lease, active, activeExpiry, retention, retentionOwners. ARGV: id, owner key prefix.
     * → 1 a record was there, 0 not. Every index entry naming the id goes.
     */
    deleteRecord: lua(`
local existed = redis.call('DEL', KEYS[1])
redis.call('DEL', KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
local owner = redis.call('HGET', KEYS[6], ARGV[1])
if owner then
  redis.call('ZREM', ARGV[2] .. owner, ARGV[1])
  redis.call('HDEL', KEYS[6], ARGV[1])
end
return existed`),
    /**
     * KEYS: retention, retentionOwners. ARGV: now, limit, job key prefix, forgetBefore, owner key prefix.
     * → ids whose record expired, oldest first. Entries older than forgetBefore leave every index.
     */
    listExpired: lua(`
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', '(' .. ARGV[4], 'LIMIT', 0, 500)) do
  local owner = redis.call('HGET', KEYS[2], id)
  if owner then redis.call('ZREM', ARGV[5] .. owner, id) end
  redis.call('HDEL', KEYS[2], id)
  redis.call('ZREM', KEYS[1], id)
end
local out = {}
for _, id in ipairs(redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])) do
  if redis.call('EXISTS', ARGV[3] .. id) == 0 then table.insert(out, id) end
end
return out`),
  };
}

const stringsReply = z.array(z.string());
const flagReply = z.union([z.literal(0), z.literal(1)]);

type IndexMethods<R extends StoredRecord> = Pick<RecordStore<R>, "listByOwner" | "delete" | "listExpired">;

export function scriptedIndexMethods<R extends StoredRecord>(
  runner: ScriptRunner,
  { keys, codec }: RetentionContext<R>,
  scripts: ReturnType<typeof indexScripts>,
): IndexMethods<R> {
  const jobPrefix = keys.job("");
  const ownerPrefix = keys.owner("");
  return {
    async listByOwner(owner, limit) {
      const reply = await runner.run(scripts.listByOwner, [keys.owner(owner)], [jobPrefix, String(limit)]);
      return stringsReply.parse(reply).map((raw) => codec.parse(raw));
    },

    async delete(id) {
      const recordKeys = [
        keys.job(id),
        keys.lease(id),
        keys.active(),
        keys.activeExpiry(),
        keys.retention(),
        keys.retentionOwners(),
      ];
      return flagReply.parse(await runner.run(scripts.deleteRecord, recordKeys, [id, ownerPrefix])) === 1;
    },

    async listExpired(now, limit) {
      const args = [String(now), String(limit), jobPrefix, String(now - RETENTION_MARGIN_MS), ownerPrefix];
      const reply = await runner.run(scripts.listExpired, [keys.retention(), keys.retentionOwners()], args);
      return stringsReply.parse(reply);
    },
  };
}
