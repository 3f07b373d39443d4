import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import { outcomeOfHttpStatus, outcomeOfNetworkError, withOutcome } from "@/lib/providers/create-outcome";
import { type CreateOutcome, ProviderError } from "@/lib/providers/types";
import type { ResponseSnapshot } from "./schemas";

/** The sentences a person reads; raw vendor detail goes to the log only. */
export const OPENAI_MESSAGES = {
  unavailable: "The styling service is unavailable right now.",
  noAdvice: "The styling service could not give advice for these photos.",
  content: "The styling service refused these photos under its content rules. Try different photos.",
  badImage: "The styling service could not read one of the photos. Try a different photo.",
  busy: "The styling service is busy right now.",
  hiccup: "The styling service had a temporary problem.",
} as const;

/** Error codes (HTTP body or failed response) meaning one of our photos could not be used. */
const IMAGE_CODES = new Set([
  "invalid_image",
  "invalid_image_format",
  "invalid_base64_image",
  "invalid_image_url",
  "image_too_large",
  "image_too_small",
  "image_parse_error",
  "invalid_image_mode",
  "image_file_too_large",
  "unsupported_image_media_type",
  "empty_image_file",
  "image_file_not_found",
]);
const CONTENT_CODES = new Set(["image_content_policy_violation", "content_policy_violation", "bio_policy"]);
/** Worth another attempt: load, or a download of our (public) photo that may work next time. */
const TRANSIENT_TASK_CODES = new Set([
  "rate_limit_exceeded",
  "server_error",
  "vector_store_timeout",
  "failed_to_download_image",
]);

const permanent = (message: string, detail: string, cause?: unknown) =>
  new ProviderError("permanent", message, { detail, cause });
const transient = (message: string, detail: string, extra: { cause?: unknown; retryAfterMs?: number } = {}) =>
  new ProviderError("transient", message, { detail, ...extra });

/** Reads `retry-after-ms` (OpenAI's own) or `retry-after` (seconds or an HTTP date). */
export function retryAfterMsFrom(headers: Headers | undefined, now = Date.now()): number | undefined {
  const ms = Number.parseFloat(headers?.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers?.get("retry-after");
  if (!raw) return undefined;
  const seconds = Number.parseFloat(raw);
  if (Number.isFinite(seconds) && seconds >= 0) return seconds * 1000;
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}

/** What went wrong with a code that names a photo or content problem, if it does. */
function codeProblem(code: string | null | undefined): "content" | "badImage" | null {
  if (!code) return null;
  if (CONTENT_CODES.has(code)) return "content";
  if (IMAGE_CODES.has(code)) return "badImage";
  return null;
}

/** Sorts anything the SDK threw into a ProviderError; `redact` strips the API key from details. */
export function classifyOpenAIError(error: unknown, redact: (text: string) => string): ProviderError {
  if (error instanceof ProviderError) return error;
  if (error instanceof APIUserAbortError || error instanceof APIConnectionError) {
    return transient(OPENAI_MESSAGES.hiccup, redact(`openai request failed: ${error.message}`), {
      cause: error,
    });
  }
  if (!(error instanceof APIError) || error.status === undefined) {
    // A body that is not JSON, or a shape the SDK could not read: the server misbehaved.
    return transient(OPENAI_MESSAGES.hiccup, redact(`openai call failed: ${String(error)}`), {
      cause: error,
    });
  }
  const { status, code, type } = error;
  const detail = redact(
    `openai HTTP ${status} code=${code ?? "-"} type=${type ?? "-"} request_id=${error.requestID ?? "-"}: ${error.message}`,
  );
  if (status === 429) {
    // 429 is both "slow down" and "out of credit"; only the first is worth retrying.
    if (code === "insufficient_quota" || type === "insufficient_quota") {
      return permanent(OPENAI_MESSAGES.unavailable, detail, error);
    }
    return transient(OPENAI_MESSAGES.busy, detail, {
      cause: error,
      retryAfterMs: retryAfterMsFrom(error.headers),
    });
  }
  if (status === 401 || status === 403 || status === 404)
    return permanent(OPENAI_MESSAGES.unavailable, detail, error);
  if (status === 408 || status === 409 || status >= 500) {
    return transient(OPENAI_MESSAGES.hiccup, detail, {
      cause: error,
      retryAfterMs: retryAfterMsFrom(error.headers),
    });
  }
  const problem = codeProblem(code);
  return permanent(problem ? OPENAI_MESSAGES[problem] : OPENAI_MESSAGES.noAdvice, detail, error);
}

/**
 * What a failed create says about the response: a 4xx or a connection that never opened made
 * nothing; a timeout, an abort, a reset, a 5xx or an answer we could not read may have.
 */
function createOutcomeOf(error: unknown): CreateOutcome {
  if (error instanceof ProviderError && error.outcome) return error.outcome;
  if (error instanceof APIConnectionTimeoutError || error instanceof APIUserAbortError) return "unknown";
  if (error instanceof APIConnectionError) return outcomeOfNetworkError(error);
  if (error instanceof APIError && error.status !== undefined) return outcomeOfHttpStatus(error.status);
  return "unknown";
}

/** A failed create, classified, with its outcome. */
export function classifyCreateError(error: unknown, redact: (text: string) => string): ProviderError {
  return withOutcome(classifyOpenAIError(error, redact), createOutcomeOf(error));
}

/** Whether a create failed because this server (an OpenAI-compatible one) lacks background mode. */
export function rejectsBackground(error: unknown): boolean {
  if (!(error instanceof APIError)) return false;
  if (error.status === 400 || error.status === 422) return /background/i.test(error.message);
  return (error.status === 404 && error.code !== "model_not_found") || error.status === 501;
}

/** The failure of a response that ended `failed`, `incomplete` or `cancelled`. */
export function classifyResponseFailure(response: ResponseSnapshot): ProviderError {
  const code = response.error?.code ?? undefined;
  switch (response.status) {
    case "failed": {
      const detail = `openai response ${response.id} failed: ${code ?? "-"} ${response.error?.message ?? ""}`;
      const problem = codeProblem(code);
      if (problem) return permanent(OPENAI_MESSAGES[problem], detail);
      return transient(
        code === "rate_limit_exceeded" ? OPENAI_MESSAGES.busy : OPENAI_MESSAGES.hiccup,
        // Unknown codes are retried too: the step's attempt cap bounds the cost.
        TRANSIENT_TASK_CODES.has(code ?? "") ? detail : `${detail} (unknown code, retried)`,
      );
    }
    case "incomplete": {
      const reason = response.incomplete_details?.reason ?? "-";
      const detail = `openai response ${response.id} incomplete: ${reason}`;
      if (reason === "content_filter") return permanent(OPENAI_MESSAGES.content, detail);
      return transient(OPENAI_MESSAGES.hiccup, detail);
    }
    default:
      return transient(OPENAI_MESSAGES.hiccup, `openai response ${response.id} ended ${response.status}`);
  }
}
