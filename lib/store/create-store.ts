import type { StoreConfig } from "@/lib/config";
import { createRedisStore } from "@/lib/store/redis";
import { createSqliteStore } from "@/lib/store/sqlite";
import type { JobStore } from "@/lib/store/types";
import { createUpstashStore } from "@/lib/store/upstash";

/** Builds the job store the configuration names; nothing connects until the first call. */
export function createJobStore(
  config: StoreConfig,
  opts: { ttlSeconds: number; keyPrefix: string },
): JobStore {
  switch (config.kind) {
    case "sqlite":
      return createSqliteStore({ file: config.file, ttlSeconds: opts.ttlSeconds });
    case "redis":
      return createRedisStore({ url: config.url, ...opts });
    case "upstash":
      return createUpstashStore({ url: config.url, token: config.token, ...opts });
    default: {
      const unknown: never = config;
      throw new Error(`Unknown store kind: ${JSON.stringify(unknown)}`);
    }
  }
}
