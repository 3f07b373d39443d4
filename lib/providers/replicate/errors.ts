import { outcomeOfHttpStatus } from "@/lib/providers/create-outcome";
import { retryAfterMs } from "@/lib/providers/retry-after";
import { ProviderError } from "@/lib/providers/types";

/** The sentences a person reads; raw vendor detail goes to the log only. */
export const REPLICATE_MESSAGES = {
  unavailable: "The face service is unavailable right now.",
  content: "The face service refused this photo under its content rules. Try a different photo.",
  noFace: "We could not find a face in your photo. Try a clearer photo of your face.",
  badInput: "The face service could not use these photos.",
  noImage: "The face service finished without an image.",
  busy: "The face service is busy right now.",
  hiccup: "The face service had a temporary problem.",
} as const;

const CONTENT_WORDS = /nsfw|safety|unsafe|content polic|inappropriate|explicit|sensitive content/i;
const NO_FACE_WORDS =
  /no faces?\b|face (was |is )?not (detected|found)|(could not|couldn't|cannot|can't|unable to|failed to) (find|detect) (a |any )?face/i;

export interface HttpFailure {
  status: number;
  headers: Headers;
  /** The request, e.g. "POST /v1/predictions", for the log. */
  request: string;
  bodyExcerpt: string;
  model: string;
  /** The client's error, kept as the cause. */
  cause?: unknown;
}

/**
 * Sorts a non-2xx answer into a ProviderError, with the status and what it says about a create:
 * a 4xx refused it (nothing was made), a 5xx may have made it.
 */
export function classifyHttpFailure({
  status,
  headers,
  request,
  bodyExcerpt,
  model,
  cause,
}: HttpFailure): ProviderError {
  const answered = {
    detail: `replicate HTTP ${status} on ${request}: ${bodyExcerpt}`,
    outcome: outcomeOfHttpStatus(status),
    httpStatus: status,
    cause,
  };
  if (status === 429) {
    return new ProviderError("transient", REPLICATE_MESSAGES.busy, {
      ...answered,
      retryAfterMs: retryAfterMs(headers),
    });
  }
  // 401/403: a bad token; 402: no credit on the account. Neither gets better by retrying.
  if (status === 401 || status === 402 || status === 403) {
    return new ProviderError("permanent", REPLICATE_MESSAGES.unavailable, {
      ...answered,
      reason: "unavailable",
    });
  }
  if (status === 404) {
    return new ProviderError("permanent", REPLICATE_MESSAGES.unavailable, {
      ...answered,
      reason: "unavailable",
      detail: `${answered.detail} (model "${model}" not found, or not runnable without a version id)`,
    });
  }
  if (status === 400 || status === 413 || status === 422) {
    return new ProviderError("permanent", REPLICATE_MESSAGES.badInput, answered);
  }
  return new ProviderError("transient", REPLICATE_MESSAGES.hiccup, answered);
}

/** Sorts a prediction that ended `failed` by its error text; unknown errors are retried. */
export function classifyPredictionError(predictionId: string, errorText: string): ProviderError {
  const detail = `replicate prediction ${predictionId} failed: ${errorText.slice(0, 500)}`;
  if (CONTENT_WORDS.test(errorText))
    return new ProviderError("permanent", REPLICATE_MESSAGES.content, { detail, reason: "content_policy" });
  if (NO_FACE_WORDS.test(errorText))
    return new ProviderError("permanent", REPLICATE_MESSAGES.noFace, { detail, reason: "unusable_photo" });
  return new ProviderError("transient", REPLICATE_MESSAGES.hiccup, { detail });
}
