import { Redis } from "@upstash/redis";
import { StoreUnavailableError } from "@/lib/failures";
import {
  createScriptedStore,
  type LuaScript,
  type ScriptedStoreOptions,
  type ScriptRunner,
} from "@/lib/store/lua";
import type { RecordStore, StoredRecord } from "@/lib/store/types";

/** Options of the Upstash (Vercel KV) store, spoken over HTTPS. */
export interface UpstashStoreOptions<R extends StoredRecord> extends ScriptedStoreOptions<R> {
  /** `KV_REST_API_URL` / `UPSTASH_REDIS_REST_URL`. */
  url: string;
  /** `KV_REST_API_TOKEN` / `UPSTASH_REDIS_REST_TOKEN`. */
  token: string;
}

// A hung endpoint must not hang a request: each HTTP call is aborted after this.
const REQUEST_TIMEOUT_MS = 3_000;

function isNoScript(error: unknown): boolean {
  return error instanceof Error && error.message.includes("NOSCRIPT");
}

/**
 * The job store on Upstash Redis over REST (what Vercel KV provides). Same scripts as the TCP
 * store; the HTTP client is created on first use.
 */
export function createUpstashStore<R extends StoredRecord>(options: UpstashStoreOptions<R>): RecordStore<R> {
  let client: Redis | undefined;

  function redis(): Redis {
    client ??= new Redis({
      url: options.url,
      token: options.token,
      // We want the raw JSON string back, to validate it with parseStoredJob.
      automaticDeserialization: false,
      // One quick retry for a dropped connection; an outage must answer fast, not after 5 backoffs.
      retry: { retries: 1, backoff: () => 100 },
      // A function, so each request gets a fresh timer (and a timeout throws instead of resolving).
      signal: () => AbortSignal.timeout(REQUEST_TIMEOUT_MS),
      enableTelemetry: false,
    });
    return client;
  }

  async function command<T>(work: (redis: Redis) => Promise<T>): Promise<T> {
    try {
      return await work(redis());
    } catch (error) {
      throw new StoreUnavailableError(error);
    }
  }

  async function runScript(script: LuaScript, keys: string[], args: string[]): Promise<unknown> {
    try {
      return await redis().evalsha(script.sha1, keys, args);
    } catch (error) {
      // Scripts are cached per server: the first call after a flush or restart sends the source.
      if (!isNoScript(error)) throw error;
      return redis().eval(script.source, keys, args);
    }
  }

  const runner: ScriptRunner = {
    get: (key) => command((redis) => redis.get<string>(key)),
    run: (script, keys, args) => command(() => runScript(script, keys, args)),
    // HTTP holds no connection to close.
    close: async () => {
      client = undefined;
    },
  };
  return createScriptedStore(runner, options);
}
