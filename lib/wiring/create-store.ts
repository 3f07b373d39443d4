import type { StoreConfig } from "@/lib/config";
import { type JobStore, jobCodec } from "@/lib/jobs/job-store";
import { createRedisStore } from "@/lib/store/redis";
import { createSqliteStore } from "@/lib/store/sqlite";
import { createUpstashStore } from "@/lib/store/upstash";

/**
 * Builds the job store the configuration names, reading and indexing jobs with the engine's codec.
 * Nothing connects until the first call.
 */
export function createJobStore(
  config: StoreConfig,
  opts: { ttlSeconds: number; keyPrefix: string },
): JobStore {
  switch (config.kind) {
    case "sqlite":
      return createSqliteStore({ codec: jobCodec, file: config.file, ttlSeconds: opts.ttlSeconds });
    case "redis":
      return createRedisStore({ codec: jobCodec, url: config.url, ...opts });
    case "upstash":
      return createUpstashStore({ codec: jobCodec, url: config.url, token: config.token, ...opts });
    default: {
      const unknown: never = config;
      throw new Error(`Unknown store kind: ${JSON.stringify(unknown)}`);
    }
  }
}
