import { createClient, ErrorReply, type RedisClientType } from "redis";
import { StoreUnavailableError } from "@/lib/failures";
import {
  createScriptedStore,
  type LuaScript,
  type ScriptedStoreOptions,
  type ScriptRunner,
} from "@/lib/store/lua";
import type { RecordStore, StoredRecord } from "@/lib/store/types";

/** Options of the Redis (TCP) store. */
export interface RedisStoreOptions<R extends StoredRecord> extends ScriptedStoreOptions<R> {
  /** `redis://…` or `rediss://…`. */
  url: string;
}

const CONNECT_TIMEOUT_MS = 2_000;
// A hung Redis must not hang a request: every operation answers or fails within this.
const OPERATION_TIMEOUT_MS = 3_000;
// A blip must end when Redis is back, not up to 5 s later: an advance may be holding a task id to write.
const MAX_RECONNECT_DELAY_MS = 1_000;
const WARN_EVERY_MS = 30_000;

type RedisClient = RedisClientType;

interface Connection {
  client: RedisClient;
  /** The last connection error since the client was last ready: set means "down, fail fast". */
  down: Error | null;
  /** Settles with the first connection attempt, so early callers wait for it instead of failing. */
  firstAttempt: Promise<void>;
}

function withTimeout<T>(work: Promise<T>, ms: number): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`Redis did not answer within ${ms} ms`)), ms);
  });
  return Promise.race([work, timeout]).finally(() => clearTimeout(timer));
}

/** Waits for the first connection attempt; never waits while Redis is known to be down. */
async function whenReady(connection: Connection): Promise<RedisClient> {
  if (connection.client.isReady) return connection.client;
  if (connection.down) throw connection.down;
  await connection.firstAttempt;
  return connection.client;
}

/**
 * The job store on Redis over TCP. The client connects on first use and reconnects in the
 * background; while Redis is down every call fails fast with StoreUnavailableError.
 */
export function createRedisStore<R extends StoredRecord>(options: RedisStoreOptions<R>): RecordStore<R> {
  let connection: Connection | undefined;
  let lastWarnAt = 0;

  function connect(): Connection {
    if (connection) return connection;
    const client = createClient({
      url: options.url,
      // Queueing commands while offline would turn an outage into hung requests.
      disableOfflineQueue: true,
      commandOptions: { timeout: OPERATION_TIMEOUT_MS },
      socket: {
        connectTimeout: CONNECT_TIMEOUT_MS,
        reconnectStrategy: (retries) => Math.min(100 * 2 ** retries, MAX_RECONNECT_DELAY_MS),
      },
    });
    const firstAttempt = new Promise<void>((resolve, reject) => {
      client.once("ready", resolve);
      client.once("error", reject);
    });
    firstAttempt.catch(() => {});
    const current: Connection = { client, down: null, firstAttempt };
    // An unhandled 'error' event would crash the process; an outage is logged, not fatal.
    client.on("error", (error: Error) => {
      current.down = error;
      if (Date.now() - lastWarnAt < WARN_EVERY_MS) return;
      lastWarnAt = Date.now();
      console.warn(`[store] Redis connection problem (retrying in the background): ${error.message}`);
    });
    client.on("ready", () => {
      current.down = null;
    });
    // connect() settles only on success or close(); failures arrive as 'error' events above.
    client.connect().catch(() => {});
    connection = current;
    return current;
  }

  async function command<T>(work: (client: RedisClient) => Promise<T>): Promise<T> {
    try {
      return await withTimeout(
        whenReady(connect()).then((client) => work(client)),
        OPERATION_TIMEOUT_MS,
      );
    } catch (error) {
      throw new StoreUnavailableError(error);
    }
  }

  async function runScript(client: RedisClient, script: LuaScript, keys: string[], args: string[]) {
    const options = { keys, arguments: args };
    try {
      return await client.evalSha(script.sha1, options);
    } catch (error) {
      // The script cache is empty after a Redis restart: send the source once, EVALSHA again after.
      if (!(error instanceof ErrorReply && error.message.startsWith("NOSCRIPT"))) throw error;
      return client.eval(script.source, options);
    }
  }

  const runner: ScriptRunner = {
    get: (key) => command((client) => client.get(key)),
    run: (script, keys, args) => command((client) => runScript(client, script, keys, args)),
    async close() {
      const closing = connection;
      connection = undefined;
      if (!closing) return;
      if (closing.client.isReady) await closing.client.close();
      else closing.client.destroy();
    },
  };
  return createScriptedStore(runner, options);
}
