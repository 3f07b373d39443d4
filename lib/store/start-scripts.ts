import { z } from "zod";
import type { Keys } from "@/lib/store/keys";
import type { LuaScript, ScriptRunner } from "@/lib/store/lua";
import type {
  RecordStore,
  SettleOutcome,
  StartGuards,
  StartReservation,
  StoredRecord,
} from "@/lib/store/types";

/**
 * The scripts of a start's reservation (see RecordStore.reserveStart), shared by both Redis stores.
 * A reservation is a hash: `token` and `fp` (the request's fingerprint) while pending; `job` once
 * the create made its job; `replayed` once a retry was answered with that job.
 */
export function startScripts(lua: (source: string) => LuaScript) {
  return {
    /** KEYS: reservation. ARGV: token, fingerprint, windowMs. → {'reserved'} | {'busy'} | {'mismatch'} | {'done', jobId}. */
    reserveStart: lua(`
if redis.call('EXISTS', KEYS[1]) == 0 then
  redis.call('HSET', KEYS[1], 'token', ARGV[1], 'fp', ARGV[2])
  redis.call('PEXPIRE', KEYS[1], ARGV[3])
  return {'reserved'}
end
if redis.call('HGET', KEYS[1], 'fp') ~= ARGV[2] then return {'mismatch'} end
local job = redis.call('HGET', KEYS[1], 'job')
if not job then return {'busy'} end
redis.call('HSET', KEYS[1], 'replayed', '1')
return {'done', job}`),
    /** KEYS: reservation. ARGV: token. Drops it while pending and ours. → 0. */
    releaseStart: lua(`
if redis.call('HGET', KEYS[1], 'token') == ARGV[1] and not redis.call('HGET', KEYS[1], 'job') then
  redis.call('DEL', KEYS[1])
end
return 0`),
    /**
     * KEYS: job, active, reservation, budget counter. ARGV: id, token, mode ('confirm' | 'retract'),
     * budgeted ('1' = the create counted on the budget). → 'created' | 'voided' | 'retracted' | 'kept'.
     */
    settleStart: lua(`
local raw = redis.call('GET', KEYS[1])
if not raw then
  if redis.call('HGET', KEYS[3], 'token') == ARGV[2] then redis.call('DEL', KEYS[3]) end
  return 'voided'
end
if ARGV[3] == 'confirm' then return 'created' end
if redis.call('HGET', KEYS[3], 'replayed') or cjson.decode(raw).version ~= 0 then return 'kept' end
redis.call('DEL', KEYS[1])
redis.call('ZREM', KEYS[2], ARGV[1])
if redis.call('HGET', KEYS[3], 'token') == ARGV[2] then redis.call('DEL', KEYS[3]) end
if ARGV[4] == '1' and tonumber(redis.call('GET', KEYS[4]) or '0') > 0 then redis.call('DECR', KEYS[4]) end
return 'retracted'`),
  };
}

const reservationReply = z.union([
  z.tuple([z.enum(["reserved", "busy", "mismatch"])]).transform(([state]) => ({ state })),
  z.tuple([z.literal("done"), z.string()]).transform(([, jobId]) => ({ state: "done" as const, jobId })),
]);
const settleReply = z.enum(["created", "voided", "retracted", "kept"]);
const counterReply = z
  .string()
  .regex(/^-?\d+$/)
  .nullable();

/** A name for the unused key slots of a script whose guard is absent; never written. */
const UNUSED = "-";

/** The KEYS a start's guards add to the create and settle scripts: reservation, budget counter. */
export function guardKeys(keys: Keys, guards: StartGuards | undefined): [string, string] {
  return [
    keys.startReservation(guards?.reservation?.id ?? UNUSED),
    keys.counter(guards?.budget?.counter ?? UNUSED),
  ];
}

/** The ARGV the guards add to the create script (after the cap's). */
export function guardArgs(guards: StartGuards | undefined): string[] {
  const { reservation, budget } = guards ?? {};
  return [
    reservation?.token ?? "",
    String(reservation?.keepMs ?? 0),
    budget ? String(budget.max) : "",
    String(budget?.windowMs ?? 0),
  ];
}

type StartMethods = Pick<
  RecordStore<StoredRecord>,
  "reserveStart" | "releaseStart" | "settleStart" | "readCounter"
>;

/** The store's start methods on a script runner. */
export function scriptedStartMethods(
  runner: ScriptRunner,
  keys: Keys,
  scripts: ReturnType<typeof startScripts>,
): StartMethods {
  return {
    async reserveStart(id, token, fingerprint, windowMs): Promise<StartReservation> {
      const reply = await runner.run(
        scripts.reserveStart,
        [keys.startReservation(id)],
        [token, fingerprint, String(windowMs)],
      );
      return reservationReply.parse(reply);
    },

    async releaseStart(id, token) {
      await runner.run(scripts.releaseStart, [keys.startReservation(id)], [token]);
    },

    async settleStart(jobId, guards, mode): Promise<SettleOutcome> {
      if (!guards.reservation) throw new Error("settleStart needs the start's reservation");
      const reply = await runner.run(
        scripts.settleStart,
        [keys.job(jobId), keys.active(), ...guardKeys(keys, guards)],
        [jobId, guards.reservation.token, mode, guards.budget ? "1" : "0"],
      );
      return settleReply.parse(reply);
    },

    async readCounter(counter) {
      const raw = counterReply.parse(await runner.get(keys.counter(counter)));
      return raw === null ? 0 : Number(raw);
    },
  };
}
