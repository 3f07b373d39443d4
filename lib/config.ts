import path from "node:path";
import { z } from "zod";
import { ConfigError } from "@/lib/failures";
import { STEP_NAMES, type StepName } from "@/lib/step-catalogue";
import {
  DEFAULT_CALL_TIMEOUT_MS,
  DEFAULT_CREATE_TIMEOUT_MS,
  leaseNeededFor,
  MAX_LEASE_MS,
} from "@/lib/time-budget";

/** The only module that reads process.env: env → a typed, validated configuration. */

/** "A few minutes": a watching tab's polls write far more often than this (every check, every retry). */
export const DEFAULT_UNWATCHED_AFTER_S = 180;
/** Vercel Hobby runs cron jobs once a day: what vercel.json declares. */
export const DEFAULT_SWEEP_INTERVAL_S = 86_400;

const optionalString = z
  .string()
  .optional()
  .transform((value) => (value?.trim() ? value.trim() : undefined));

/** An empty variable (as `.env.example` leaves them) means "unset". */
const blankAsUnset = (value: unknown) => (typeof value === "string" && !value.trim() ? undefined : value);

/** "1"/"true" on, "0"/"false"/unset off: anything else is a typo worth an error. */
const flag = z.preprocess(
  blankAsUnset,
  z
    .enum(["1", "0", "true", "false"])
    .optional()
    .transform((value) => value === "1" || value === "true"),
);

const positiveInt = (fallback: number) =>
  z.preprocess(blankAsUnset, z.coerce.number().int().positive().default(fallback));

const envSchema = z.object({
  DATA_DIR: optionalString,
  // A day: a look is made in minutes and downloaded or shared the same day (README: retention).
  JOB_TTL_SECONDS: positiveInt(24 * 60 * 60),
  RETENTION_SWEEP_SECONDS: positiveInt(5 * 60),
  STORE_KEY_PREFIX: optionalString,
  KV_REST_API_URL: optionalString,
  KV_REST_API_TOKEN: optionalString,
  UPSTASH_REDIS_REST_URL: optionalString,
  UPSTASH_REDIS_REST_TOKEN: optionalString,
  REDIS_URL: optionalString,
  BLOB_READ_WRITE_TOKEN: optionalString,
  VERCEL_BLOB_API_URL: z.preprocess(blankAsUnset, z.url().optional()),
  BLOB_ACCESS: z.preprocess(blankAsUnset, z.enum(["private", "public"]).default("private")),
  OPENAI_API_KEY: optionalString,
  OPENAI_BASE_URL: optionalString,
  OPENAI_MODEL: optionalString,
  OPENAI_PLAIN_FALLBACK: flag,
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
  DAILY_LOOK_BUDGET: z.preprocess(blankAsUnset, z.coerce.number().int().nonnegative().default(0)),
  TRUSTED_PROXY_HOPS: z.preprocess(blankAsUnset, z.coerce.number().int().min(0).max(10).default(0)),
  UPLOAD_IDLE_TIMEOUT_MS: positiveInt(10_000),
  UPLOAD_TOTAL_TIMEOUT_MS: positiveInt(60_000),
  CRON_SECRET: optionalString,
  PUBLIC_BASE_URL: z.preprocess(blankAsUnset, z.url().optional()),
  REPLICATE_WEBHOOK_SECRET: optionalString,
  OPENAI_WEBHOOK_SECRET: optionalString,
  CALLBACK_SECRET: optionalString,
  LEASE_MS: z.preprocess(blankAsUnset, z.coerce.number().int().positive().optional()),
  VENDOR_CREATE_TIMEOUT_MS: positiveInt(DEFAULT_CREATE_TIMEOUT_MS),
  VENDOR_CALL_TIMEOUT_MS: positiveInt(DEFAULT_CALL_TIMEOUT_MS),
  SWEEP_INTERVAL_SECONDS: positiveInt(DEFAULT_SWEEP_INTERVAL_S),
  UNWATCHED_AFTER_SECONDS: positiveInt(DEFAULT_UNWATCHED_AFTER_S),
  VERCEL: optionalString,
  /** Set by Next itself: "development" under `next dev`. */
  NODE_ENV: optionalString,
});

export type StoreConfig =
  | { kind: "sqlite"; file: string }
  | { kind: "redis"; url: string }
  | { kind: "upstash"; url: string; token: string };

/**
 * Who writes the client's address: Vercel's proxy (`VERCEL=1`), the operator's own proxies
 * (`TRUSTED_PROXY_HOPS`), or nobody we can trust (`next start` exposed directly).
 */
export type ClientAddressSource =
  | { kind: "vercel" }
  | { kind: "proxy"; hops: number }
  | { kind: "untrusted" };

export interface AppConfig {
  dataDir: string;
  jobTtlSeconds: number;
  /** How often the app deletes the files of expired jobs by itself (RETENTION_SWEEP_SECONDS). */
  retentionSweepSeconds: number;
  keyPrefix: string;
  store: StoreConfig;
  blobs:
    | { kind: "local"; dir: string }
    | {
        kind: "vercel-blob";
        token: string;
        /**
         * BLOB_ACCESS, the store's access as created (default private: photos of people are never at
         * a permanent public address unless the operator says so).
         */
        access: "public" | "private";
        /** VERCEL_BLOB_API_URL: another Blob API (the emulator in tests); @vercel/blob reads it itself too. */
        apiUrl: string | undefined;
      };
  openai: {
    apiKey: string;
    baseURL: string | undefined;
    model: string;
    /** OPENAI_PLAIN_FALLBACK: a server without background mode gets plain calls held in memory. */
    plainFallback: boolean;
  } | null;
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
  /** Looks all clients together may start per UTC day; 0 turns the budget off. */
  dailyLookBudget: number;
  /** Where the client's address comes from, for rate limits: see lib/request.ts. */
  clientAddress: ClientAddressSource;
  /** How long a request body may go without a byte, and how long it may take in all. */
  uploadDeadlines: { idleMs: number; totalMs: number };
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
  /**
   * Signs the callback URLs we hand Kling and Replicate (job, step, expiry). Unset: those vendors are
   * asked for no callbacks and their callback routes are off; polling and the sweep move the jobs.
   */
  callbackSecret: string | null;
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
  /** Under `next dev` (React Refresh needs a looser page policy). */
  devServer: boolean;
}

type Env = z.infer<typeof envSchema>;

/** An HMAC key shorter than this is guessable offline from one callback URL. */
const MIN_CALLBACK_SECRET_CHARS = 32;

function callbackSecretFrom(env: Env): string | null {
  const secret = env.CALLBACK_SECRET;
  if (!secret) return null;
  if (secret.length < MIN_CALLBACK_SECRET_CHARS) {
    throw new ConfigError(
      `CALLBACK_SECRET is too short: use at least ${MIN_CALLBACK_SECRET_CHARS} random characters (openssl rand -base64 32).`,
    );
  }
  return secret;
}

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
 * A vendor base URL in the form our adapters use: no trailing slash, and without the API version when
 * request paths carry it. Operators paste the vendor's own documented form (Replicate's and OpenAI's
 * include `/v1`, Kling's does not), so both spellings are accepted.
 */
function baseUrlWithoutVersion(raw: string): string {
  return raw.replace(/\/+$/, "").replace(/\/v1$/, "");
}

/** OpenAI's SDK wants the base with `/v1`; a bare origin (`https://api.openai.com`) gets it added. */
function openAIBaseUrl(raw: string | undefined): string | undefined {
  if (!raw) return undefined;
  const trimmed = raw.replace(/\/+$/, "");
  return URL.canParse(trimmed) && new URL(trimmed).pathname === "/" ? `${trimmed}/v1` : trimmed;
}

/** Replicate runs a community model only by version (changelog 2025-08-05), so the default names one. */
export const DEFAULT_REPLICATE_FACESWAP_MODEL =
  "codeplugtech/face-swap:278a81e7ebb22db98bcba54de985d22cc1abeead2754eb1f2af717247be69b34";

/**
 * The lease must cover the longest vendor call and its commits, and stay below every route's
 * maxDuration (lib/time-budget.ts); unset, it is exactly what the longest call needs.
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

/**
 * The plain fallback keeps a running call in one process's memory: a poll that reaches another
 * instance cannot see it and the step pays again. In production that is allowed only with the
 * embedded store, whose single process is the one every poll reaches.
 */
function checkPlainFallback(env: Env, store: StoreConfig): void {
  if (!env.OPENAI_PLAIN_FALLBACK || env.NODE_ENV !== "production" || store.kind === "sqlite") return;
  throw new ConfigError(
    "OPENAI_PLAIN_FALLBACK is for development or a single-process server: it holds running calls in " +
      "one process's memory, which other instances cannot see. Unset it, or use an OpenAI-compatible " +
      "server that supports background mode.",
  );
}

/** On Vercel its proxy overwrites the forwarding headers, so proxies in front of it do not count. */
function clientAddressFrom(env: Env): ClientAddressSource {
  if (env.VERCEL === "1") return { kind: "vercel" };
  if (env.TRUSTED_PROXY_HOPS > 0) return { kind: "proxy", hops: env.TRUSTED_PROXY_HOPS };
  return { kind: "untrusted" };
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
  checkPlainFallback(env, store);

  return {
    dataDir,
    jobTtlSeconds: env.JOB_TTL_SECONDS,
    retentionSweepSeconds: env.RETENTION_SWEEP_SECONDS,
    keyPrefix: env.STORE_KEY_PREFIX ?? "style-studio",
    store,
    blobs: env.BLOB_READ_WRITE_TOKEN
      ? {
          kind: "vercel-blob",
          token: env.BLOB_READ_WRITE_TOKEN,
          access: env.BLOB_ACCESS,
          apiUrl: env.VERCEL_BLOB_API_URL,
        }
      : { kind: "local", dir: path.join(dataDir, "blobs") },
    openai: env.OPENAI_API_KEY
      ? {
          apiKey: env.OPENAI_API_KEY,
          baseURL: openAIBaseUrl(env.OPENAI_BASE_URL),
          model: env.OPENAI_MODEL ?? "gpt-4.1-mini",
          plainFallback: env.OPENAI_PLAIN_FALLBACK,
        }
      : null,
    kling: kling
      ? {
          accessKey: kling[0],
          secretKey: kling[1],
          baseUrl: baseUrlWithoutVersion(env.KLING_API_BASE_URL ?? "https://api-singapore.klingai.com"),
          styleModel: env.KLING_STYLE_MODEL ?? "kling-v1-5",
          tryonModel: env.KLING_TRYON_MODEL ?? "kolors-virtual-try-on-v1-5",
        }
      : null,
    replicate: env.REPLICATE_API_TOKEN
      ? {
          token: env.REPLICATE_API_TOKEN,
          baseUrl: baseUrlWithoutVersion(env.REPLICATE_API_BASE_URL ?? "https://api.replicate.com/v1"),
          model: env.REPLICATE_FACESWAP_MODEL ?? DEFAULT_REPLICATE_FACESWAP_MODEL,
          targetField: env.REPLICATE_TARGET_FIELD ?? "input_image",
          faceField: env.REPLICATE_FACE_FIELD ?? "swap_image",
        }
      : null,
    localStudioStepMs: env.LOCAL_STUDIO_STEP_MS,
    localStudioFailStep: env.LOCAL_STUDIO_FAIL_STEP ?? null,
    startRateLimit: { max: env.START_RATE_LIMIT, windowSeconds: env.START_RATE_WINDOW_SECONDS },
    maxActiveJobs: env.MAX_ACTIVE_JOBS,
    dailyLookBudget: env.DAILY_LOOK_BUDGET,
    clientAddress: clientAddressFrom(env),
    uploadDeadlines: { idleMs: env.UPLOAD_IDLE_TIMEOUT_MS, totalMs: env.UPLOAD_TOTAL_TIMEOUT_MS },
    cronSecret: env.CRON_SECRET ?? null,
    publicBaseUrl: env.PUBLIC_BASE_URL?.replace(/\/+$/, "") ?? null,
    replicateWebhookSecret: env.REPLICATE_WEBHOOK_SECRET ?? null,
    openaiWebhookSecret: env.OPENAI_WEBHOOK_SECRET ?? null,
    callbackSecret: callbackSecretFrom(env),
    leaseMs: leaseFrom(env),
    createTimeoutMs: env.VENDOR_CREATE_TIMEOUT_MS,
    callTimeoutMs: env.VENDOR_CALL_TIMEOUT_MS,
    sweepIntervalSeconds: env.SWEEP_INTERVAL_SECONDS,
    unwatchedAfterSeconds: env.UNWATCHED_AFTER_SECONDS,
    onVercelWithoutKv: env.VERCEL === "1" && store.kind === "sqlite",
    devServer: env.NODE_ENV === "development",
  };
}

let cached: AppConfig | undefined;

/** The process's configuration, parsed once. */
export function getConfig(): AppConfig {
  cached ??= parseConfig(process.env);
  return cached;
}
