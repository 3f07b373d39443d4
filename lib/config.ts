import path from "node:path";
import { z } from "zod";
import { STEP_NAMES, type StepName } from "@/lib/jobs/job";
import {
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_CREATE_TIMEOUT_MS,
  leaseNeededFor,
  MAX_LEASE_MS,
} from "@/lib/jobs/time-budget";
import { DEFAULT_SWEEP_INTERVAL_S, DEFAULT_UNWATCHED_AFTER_S } from "@/lib/jobs/unattended";

/** The only module that reads process.env: env → a typed, validated configuration. */

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value?.trim() ? value.trim() : undefined));

/** An empty variable (as `.env.example` leaves them) means "unset". */
const blankAsUnset = (value: unknown) => (typeof value === "string" && !value.trim() ? undefined : value);

const positiveInt = (fallback: number) =>
  z.preprocess(blankAsUnset, z.coerce.number().int().positive().default(fallback));

const envSchema = z.object({
  DATA_DIR: optionalString,
  JOB_TTL_SECONDS: positiveInt(7 * 24 * 60 * 60),
  STORE_KEY_PREFIX: optionalString,
  KV_REST_API_URL: optionalString,
  KV_REST_API_TOKEN: optionalString,
  UPSTASH_REDIS_REST_URL: optionalString,
  UPSTASH_REDIS_REST_TOKEN: optionalString,
  REDIS_URL: optionalString,
  BLOB_READ_WRITE_TOKEN: optionalString,
  VERCEL_BLOB_API_URL: z.preprocess(blankAsUnset, z.url().optional()),
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalString,
  OPENAI_MODEL: optionalString,
  KLING_ACCESS_KEY: optionalString,
  KLING_SECRET_KEY: optionalString,
  KLING_API_BASE_URL: optionalString,
  KLING_STYLE_MODEL: optionalString,
  KLING_TRYON_MODEL: optionalString,
  REPLICATE_API_TOKEN: optionalString,
  REPLICATE_API_BASE_URL: optionalString,
  REPLICATE_FACESWAP_MODEL: optionalString,
  REPLICATE_TARGET_FIELD: optionalString,
  REPLICATE_FACE_FIELD: optionalString,
  LOCAL_STUDIO_STEP_MS: positiveInt(3000),
  LOCAL_STUDIO_FAIL_STEP: z.preprocess(blankAsUnset, z.enum(STEP_NAMES).optional()),
  START_RATE_LIMIT: z.preprocess(blankAsUnset, z.coerce.number().int().nonnegative().default(10)),
  START_RATE_WINDOW_SECONDS: positiveInt(600),
  MAX_ACTIVE_JOBS: z.preprocess(blankAsUnset, z.coerce.number().int().nonnegative().default(50)),
  CRON_SECRET: optionalString,
  PUBLIC_BASE_URL: z.preprocess(blankAsUnset, z.url().optional()),
  REPLICATE_WEBHOOK_SECRET: optionalString,
  OPENAI_WEBHOOK_SECRET: optionalString,
  LEASE_MS: z.preprocess(blankAsUnset, z.coerce.number().int().positive().optional()),
  VENDOR_CREATE_TIMEOUT_MS: positiveInt(DEFAULT_CREATE_TIMEOUT_MS),
  VENDOR_CALL_TIMEOUT_MS: positiveInt(DEFAULT_CALL_TIMEOUT_MS),
  SWEEP_INTERVAL_SECONDS: positiveInt(DEFAULT_SWEEP_INTERVAL_S),
  UNWATCHED_AFTER_SECONDS: positiveInt(DEFAULT_UNWATCHED_AFTER_S),
  VERCEL: optionalString,
});

export type StoreConfig =
  | { kind: "sqlite"; file: string }
  | { kind: "redis"; url: string }
  | { kind: "upstash"; url: string; token: string };

export interface AppConfig {
  dataDir: string;
  jobTtlSeconds: number;
  keyPrefix: string;
  store: StoreConfig;
  blobs:
    | { kind: "local"; dir: string }
    | {
        kind: "vercel-blob";
        token: string;
        /** VERCEL_BLOB_API_URL: another Blob API (the emulator in tests); @vercel/blob reads it itself too. */
        apiUrl: string | undefined;
      };
  openai: { apiKey: string; baseURL: string | undefined; model: string } | null;
  kling: {
    accessKey: string;
    secretKey: string;
    baseUrl: string;
    styleModel: string;
    tryonModel: string;
  } | null;
  replicate: {
    token: string;
    baseUrl: string;
    model: string;
    targetField: string;
    faceField: string;
  } | null;
  localStudioStepMs: number;
  /** Makes the offline studio fail this step, to see and test the failure path. */
  localStudioFailStep: StepName | null;
  /** Jobs one client may start per window; 0 turns the limit off. */
  startRateLimit: { max: number; windowSeconds: number };
  /** Jobs in progress at once before start refuses new ones; 0 turns the cap off. */
  maxActiveJobs: number;
  /** The bearer token the cron sweep must present; the sweep is refused when unset. */
  cronSecret: string | null;
  /**
   * The app's public origin (e.g. https://style.example.com). Provider callbacks are requested only
   * when it is set, since a vendor must be able to reach it.
   */
  publicBaseUrl: string | null;
  /** Replicate's webhook signing secret (`whsec_…`), to verify its callbacks. */
  replicateWebhookSecret: string | null;
  /** OpenAI's webhook signing secret (`whsec_…`), to verify its callbacks. */
  openaiWebhookSecret: string | null;
  /** How long an advance's lease on a job lives (renewed before each vendor call). */
  leaseMs: number;
  /** The signal a paid create gets; checks, lookups and downloads get `callTimeoutMs`. */
  createTimeoutMs: number;
  callTimeoutMs: number;
  /** How often the operator's cron calls the sweep: whether the sweep carries unwatched jobs. */
  sweepIntervalSeconds: number;
  /** A job no person's poll moved for this long is unwatched: nothing uncarried submits its next step. */
  unwatchedAfterSeconds: number;
  /** On Vercel an embedded store would lose jobs between function instances. */
  onVercelWithoutKv: boolean;
}

/** Thrown at start-up for a configuration that cannot work; the message names the variable. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ConfigError";
  }
}

type Env = z.infer<typeof envSchema>;

/** Both or neither: half a pair is an error naming the missing half. */
function pair(env: Env, a: keyof Env, b: keyof Env): [string, string] | null {
  const first = env[a];
  const second = env[b];
  if (first && second) return [String(first), String(second)];
  if (first) throw new ConfigError(`${b} is not set (${a} is): set both or neither.`);
  if (second) throw new ConfigError(`${a} is not set (${b} is): set both or neither.`);
  return null;
}

/**
 * The lease must cover the longest vendor call and its commits, and stay below every route's
 * maxDuration (lib/jobs/time-budget.ts); unset, it is exactly what the longest call needs.
 */
function leaseFrom(env: Env): number {
  const needed = leaseNeededFor(Math.max(env.VENDOR_CREATE_TIMEOUT_MS, env.VENDOR_CALL_TIMEOUT_MS));
  if (needed > MAX_LEASE_MS) {
    throw new ConfigError(
      `VENDOR_CREATE_TIMEOUT_MS is invalid: with its commits it needs a ${needed} ms lease, and leases end within ${MAX_LEASE_MS} ms (the routes' maxDuration).`,
    );
  }
  const lease = env.LEASE_MS ?? needed;
  if (lease < needed || lease > MAX_LEASE_MS) {
    throw new ConfigError(`LEASE_MS is invalid: it must be between ${needed} and ${MAX_LEASE_MS} ms.`);
  }
  return lease;
}

function storeFrom(env: Env, dataDir: string): StoreConfig {
  const kv =
    pair(env, "KV_REST_API_URL", "KV_REST_API_TOKEN") ??
    pair(env, "UPSTASH_REDIS_REST_URL", "UPSTASH_REDIS_REST_TOKEN");
  if (kv) return { kind: "upstash", url: kv[0], token: kv[1] };
  if (env.REDIS_URL) return { kind: "redis", url: env.REDIS_URL };
  return { kind: "sqlite", file: path.join(dataDir, "jobs.db") };
}

export function parseConfig(rawEnv: Record<string, string | undefined>): AppConfig {
  const parsed = envSchema.safeParse(rawEnv);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new ConfigError(`${issue?.path.join(".")} is invalid: ${issue?.message}`);
  }
  const env = parsed.data;
  // Decided at run time, never traced into the build output.
  const dataDir = path.resolve(/*turbopackIgnore: true*/ env.DATA_DIR ?? ".data");
  const store = storeFrom(env, dataDir);
  const kling = pair(env, "KLING_ACCESS_KEY", "KLING_SECRET_KEY");

  return {
    dataDir,
    jobTtlSeconds: env.JOB_TTL_SECONDS,
    keyPrefix: env.STORE_KEY_PREFIX ?? "style-studio",
    store,
    blobs: env.BLOB_READ_WRITE_TOKEN
      ? { kind: "vercel-blob", token: env.BLOB_READ_WRITE_TOKEN, apiUrl: env.VERCEL_BLOB_API_URL }
      : { kind: "local", dir: path.join(dataDir, "blobs") },
    openai: env.OPENAI_API_KEY
      ? {
          apiKey: env.OPENAI_API_KEY,
          baseURL: env.OPENAI_BASE_URL,
          model: env.OPENAI_MODEL ?? "gpt-4.1-mini",
        }
      : null,
    kling: kling
      ? {
          accessKey: kling[0],
          secretKey: kling[1],
          baseUrl: env.KLING_API_BASE_URL ?? "https://api-singapore.klingai.com",
          styleModel: env.KLING_STYLE_MODEL ?? "kling-v1-5",
          tryonModel: env.KLING_TRYON_MODEL ?? "kolors-virtual-try-on-v1-5",
        }
      : null,
    replicate: env.REPLICATE_API_TOKEN
      ? {
          token: env.REPLICATE_API_TOKEN,
          baseUrl: env.REPLICATE_API_BASE_URL ?? "https://api.replicate.com",
          model: env.REPLICATE_FACESWAP_MODEL ?? "codeplugtech/face-swap",
          targetField: env.REPLICATE_TARGET_FIELD ?? "input_image",
          faceField: env.REPLICATE_FACE_FIELD ?? "swap_image",
        }
      : null,
    localStudioStepMs: env.LOCAL_STUDIO_STEP_MS,
    localStudioFailStep: env.LOCAL_STUDIO_FAIL_STEP ?? null,
    startRateLimit: { max: env.START_RATE_LIMIT, windowSeconds: env.START_RATE_WINDOW_SECONDS },
    maxActiveJobs: env.MAX_ACTIVE_JOBS,
    cronSecret: env.CRON_SECRET ?? null,
    publicBaseUrl: env.PUBLIC_BASE_URL?.replace(/\/+$/, "") ?? null,
    replicateWebhookSecret: env.REPLICATE_WEBHOOK_SECRET ?? null,
    openaiWebhookSecret: env.OPENAI_WEBHOOK_SECRET ?? null,
    leaseMs: leaseFrom(env),
    createTimeoutMs: env.VENDOR_CREATE_TIMEOUT_MS,
    callTimeoutMs: env.VENDOR_CALL_TIMEOUT_MS,
    sweepIntervalSeconds: env.SWEEP_INTERVAL_SECONDS,
    unwatchedAfterSeconds: env.UNWATCHED_AFTER_SECONDS,
    onVercelWithoutKv: env.VERCEL === "1" && store.kind === "sqlite",
  };
}

let cached: AppConfig | undefined;

/** The process's configuration, parsed once. */
export function getConfig(): AppConfig {
  cached ??= parseConfig(process.env);
  return cached;
}
