import { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from "openai";
import { outcomeOfHttpStatus, outcomeOfNetworkError, withOutcome } from "@/lib/providers/create-outcome";
import { retryAfterMs } from "@/lib/providers/retry-after";
import { type CreateOutcome, ProviderError, type ProviderFailureReason } from "@/lib/providers/types";
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

type Extra = { cause?: unknown; retryAfterMs?: number; httpStatus?: number; reason?: ProviderFailureReason };
const permanent = (message: string, detail: string, extra: Extra = {}) =>
  new ProviderError("permanent", message, { detail, ...extra });
const transient = (message: string, detail: string, extra: Extra = {}) =>
  new ProviderError("transient", message, { detail, ...extra });

/** The machine reason of each problem a code names (ProviderError.reason). */
const REASON_OF = { content: "content_policy", badImage: "unusable_photo" } as const;

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
  const answered = { cause: error, httpStatus: status };
  const waited = { ...answered, retryAfterMs: retryAfterMs(error.headers) };
  if (status === 429) {
    // 429 is both "slow down" and "out of credit"; only the first is worth retrying.
    if (code === "insufficient_quota" || type === "insufficient_quota") {
      return permanent(OPENAI_MESSAGES.unavailable, detail, { ...answered, reason: "unavailable" });
    }
    return transient(OPENAI_MESSAGES.busy, detail, waited);
  }
  if (status === 401 || status === 403 || status === 404)
    return permanent(OPENAI_MESSAGES.unavailable, detail, { ...answered, reason: "unavailable" });
  if (status === 408 || status === 409 || status >= 500)
    return transient(OPENAI_MESSAGES.hiccup, detail, waited);
  const problem = codeProblem(code);
  if (!problem) return permanent(OPENAI_MESSAGES.noAdvice, detail, answered);
  return permanent(OPENAI_MESSAGES[problem], detail, { ...answered, reason: REASON_OF[problem] });
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

/** The SDK's error behind a classified one (its cause, perhaps wrapped again by `withOutcome`). */
function apiErrorIn(error: unknown): APIError | undefined {
  for (let current = error, depth = 0; current instanceof Error && depth < 4; depth++) {
    if (current instanceof APIError) return current;
    current = current.cause;
  }
  return undefined;
}

/** Whether a create failed because this server (an OpenAI-compatible one) lacks background mode. */
export function rejectsBackground(error: unknown): boolean {
  const answer = apiErrorIn(error);
  if (!answer) return false;
  if (answer.status === 400 || answer.status === 422) return /background/i.test(answer.message);
  return (answer.status === 404 && answer.code !== "model_not_found") || answer.status === 501;
}

/** The failure of a response that ended `failed`, `incomplete` or `cancelled`. */
export function classifyResponseFailure(response: ResponseSnapshot): ProviderError {
  const code = response.error?.code ?? undefined;
  switch (response.status) {
    case "failed": {
      const detail = `openai response ${response.id} failed: ${code ?? "-"} ${response.error?.message ?? ""}`;
      const problem = codeProblem(code);
      if (problem) return permanent(OPENAI_MESSAGES[problem], detail, { reason: REASON_OF[problem] });
      return transient(
        code === "rate_limit_exceeded" ? OPENAI_MESSAGES.busy : OPENAI_MESSAGES.hiccup,
        // Unknown codes are retried too: the step's attempt cap bounds the cost.
        TRANSIENT_TASK_CODES.has(code ?? "") ? detail : `${detail} (unknown code, retried)`,
      );
    }
    case "incomplete": {
      const reason = response.incomplete_details?.reason ?? "-";
      const detail = `openai response ${response.id} incomplete: ${reason}`;
      if (reason === "content_filter")
        return permanent(OPENAI_MESSAGES.content, detail, { reason: "content_policy" });
      return transient(OPENAI_MESSAGES.hiccup, detail);
    }
    default:
      return transient(OPENAI_MESSAGES.hiccup, `openai response ${response.id} ended ${response.status}`);
  }
}
