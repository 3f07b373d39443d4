import { createHmac, timingSafeEqual } from "node:crypto";
import { AppError } from "@/lib/errors";
import { parseJobId } from "@/lib/jobs/job-id";
import { logEvent } from "@/lib/log";
import { STEP_NAMES, type StepName } from "@/lib/step-catalogue";
import { CLOSE_CONNECTION } from "./callback-body";

/**
 * The callback URLs we hand Kling and Replicate carry their own proof: `jobId`, `step`, `expires`
 * (seconds) and `token` = base64url HMAC-SHA256 under CALLBACK_SECRET of the vendor, job, step and
 * expiry. A URL cannot be moved to another job, step or vendor, and is refused once expired.
 */

export type CallbackVendor = "kling" | "replicate";

/**
 * How long a callback URL is honoured after its submit: past the slowest step's deadline (6 min),
 * with room for a vendor's late retries. Later news is the poll's and the sweep's.
 */
export const CALLBACK_TOKEN_TTL_SECONDS = 60 * 60;

export interface CallbackClaims {
  vendor: CallbackVendor;
  jobId: string;
  step: StepName;
}

export type CallbackRefusal = "malformed" | "bad_token" | "expired";

export type CallbackTokenCheck =
  | { ok: true; jobId: string; step: StepName }
  | { ok: false; reason: CallbackRefusal };

function signatureOf(secret: string, claims: CallbackClaims, expires: number): Buffer {
  const { vendor, jobId, step } = claims;
  return createHmac("sha256", secret)
    .update(`callback.v1\n${vendor}\n${jobId}\n${step}\n${expires}`)
    .digest();
}

/** The query parameters of a callback URL for `claims`, valid for the TTL from `now` (ms epoch). */
export function callbackQuery(secret: string, claims: CallbackClaims, now = Date.now()): URLSearchParams {
  const expires = Math.floor(now / 1000) + CALLBACK_TOKEN_TTL_SECONDS;
  return new URLSearchParams({
    jobId: claims.jobId,
    step: claims.step,
    expires: String(expires),
    token: signatureOf(secret, claims, expires).toString("base64url"),
  });
}

const isStepName = (value: string | null): value is StepName =>
  (STEP_NAMES as readonly (string | null)[]).includes(value);

/**
 * Checks a callback URL's token for `vendor` (signature first, in constant time, then expiry). The
 * job id must already be a valid one (parseJobId); everything else wrong is a refusal.
 */
export function checkCallbackQuery(
  secret: string,
  vendor: CallbackVendor,
  jobId: string,
  query: URLSearchParams,
  now = Date.now(),
): CallbackTokenCheck {
  const step = query.get("step");
  const rawExpires = query.get("expires") ?? "";
  const token = query.get("token") ?? "";
  if (!isStepName(step) || !/^\d{1,12}$/.test(rawExpires) || !/^[\w-]{43}$/.test(token)) {
    return { ok: false, reason: "malformed" };
  }
  const expires = Number(rawExpires);
  const expected = signatureOf(secret, { vendor, jobId, step }, expires);
  const given = Buffer.from(token, "base64url");
  if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
    return { ok: false, reason: "bad_token" };
  }
  if (Math.floor(now / 1000) > expires) return { ok: false, reason: "expired" };
  return { ok: true, jobId, step };
}

/**
 * The job and step a callback is for, from its URL alone (nothing of the body is read yet): 400 for
 * a malformed job id, 401 `unauthorized` for a missing, wrong or expired token.
 */
export function authorizeCallback(
  secret: string,
  vendor: CallbackVendor,
  query: URLSearchParams,
): { jobId: string; step: StepName } {
  const jobId = parseJobId(query.get("jobId"));
  const check = checkCallbackQuery(secret, vendor, jobId, query);
  if (!check.ok) {
    logEvent("callback.refused", { source: vendor, jobId, reason: check.reason });
    throw new AppError("unauthorized", "This callback could not be verified.", {
      headers: CLOSE_CONNECTION,
    });
  }
  return { jobId, step: check.step };
}
