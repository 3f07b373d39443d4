import { outcomeOfHttpStatus } from "@/lib/providers/create-outcome";
import {
  type CreateOutcome,
  ProviderError,
  type ProviderErrorKind,
  type ProviderFailureReason,
} from "@/lib/providers/types";

/** The sentences a person reads; the vendor's own words only ever go to `detail`. */
export const KLING_MESSAGES = {
  contentPolicy: "The image service refused this photo under its content rules. Try a different photo.",
  unavailable: "The image service is unavailable right now.",
  badInput: "The image service could not use these photos.",
  generic: "The image service could not handle this request.",
  busy: "The image service is busy right now.",
  trouble: "The image service is having trouble right now.",
  unreadable: "The image service sent an answer we could not read.",
  timeout: "The image service did not answer in time.",
  unfinished: "The image service could not finish this image.",
  noImage: "The image service finished without an image.",
} as const;

/** Transient failures wait at least this long: Kling asks for ≥ 1 s between retries after a 429. */
export const MIN_RETRY_AFTER_MS = 1_000;

interface CodeRule {
  kind: ProviderErrorKind;
  sentence: string;
  /** What the code means, for the operator reading the log. */
  reason: string;
  /** What it means for the person (ProviderError.reason), where the code says. */
  failure?: ProviderFailureReason;
}

const rule = (
  kind: ProviderErrorKind,
  sentence: string,
  reason: string,
  failure?: ProviderFailureReason,
): CodeRule => ({ kind, sentence, reason, failure });

/**
 * Kling's business codes, from its documented error table, as inclusive ranges; the first match wins
 * (errors.ts of each vendor folder: docs/architecture.md, "The parts").
 */
const RULES_BY_CODE_RANGE: ReadonlyArray<readonly [number, number, CodeRule]> = [
  // 1003/1004 are first retried once with a token signed by Kling's clock (client.ts); 1000–1002 never.
  [1003, 1003, rule("permanent", KLING_MESSAGES.unavailable, "auth token not yet valid", "unavailable")],
  [1004, 1004, rule("permanent", KLING_MESSAGES.unavailable, "auth token expired", "unavailable")],
  [1000, 1002, rule("permanent", KLING_MESSAGES.unavailable, "auth failed", "unavailable")],
  [1100, 1100, rule("permanent", KLING_MESSAGES.unavailable, "account problem", "unavailable")],
  [
    1101,
    1102,
    rule("permanent", KLING_MESSAGES.unavailable, "no balance or resource pack used up", "unavailable"),
  ],
  [
    1103,
    1103,
    rule("permanent", KLING_MESSAGES.unavailable, "model not enabled for this account", "unavailable"),
  ],
  [1200, 1201, rule("permanent", KLING_MESSAGES.badInput, "bad request parameters")],
  [1202, 1202, rule("permanent", KLING_MESSAGES.generic, "invalid request method")],
  [1203, 1203, rule("permanent", KLING_MESSAGES.badInput, "unknown model or resource")],
  [1300, 1301, rule("permanent", KLING_MESSAGES.contentPolicy, "content policy", "content_policy")],
  [1302, 1302, rule("transient", KLING_MESSAGES.busy, "rate limited")],
  [1303, 1303, rule("transient", KLING_MESSAGES.busy, "concurrency limit of the pack reached")],
  [5000, 5999, rule("transient", KLING_MESSAGES.trouble, "server error")],
];

/** A Kling error answer: a ProviderError that also keeps Kling's business code, to branch on. */
export class KlingApiError extends ProviderError {
  constructor(
    kind: ProviderErrorKind,
    message: string,
    readonly code: number | undefined,
    options: {
      detail: string;
      retryAfterMs?: number;
      outcome: CreateOutcome;
      httpStatus: number;
      reason?: ProviderFailureReason;
    },
  ) {
    super(kind, message, options);
    this.name = "KlingApiError";
  }

  get isAuthFailure(): boolean {
    return this.code !== undefined && this.code >= 1000 && this.code <= 1004;
  }

  /** The token's time window was refused (not yet valid, or expired): a clock problem, not a bad key. */
  get isClockRejection(): boolean {
    return this.code === 1003 || this.code === 1004;
  }
}

export interface KlingErrorAnswer {
  /** e.g. "POST /v1/images/generations": names the call in the log, never the host. */
  operation: string;
  httpStatus: number;
  code: number | undefined;
  message: string | undefined;
  requestId: string | undefined;
  /** From the Retry-After header, when Kling sent one. */
  retryAfterMs: number | undefined;
  /** Appended to the log detail, e.g. the measured clock skew. */
  note?: string;
}

/**
 * What an error answer says about a create: Kling's 1xxx codes are refusals (nothing was made),
 * 5xxx codes are its own failures (the task may exist); without a code the HTTP status decides.
 */
function outcomeOf(code: number | undefined, httpStatus: number): CreateOutcome {
  if (code !== undefined && code >= 1000 && code < 2000) return "not_created";
  if (code !== undefined && code >= 5000) return "unknown";
  return outcomeOfHttpStatus(httpStatus);
}

function ruleFor(code: number | undefined, httpStatus: number): CodeRule {
  const known = RULES_BY_CODE_RANGE.find(([from, to]) => code !== undefined && code >= from && code <= to);
  if (known) return known[2];
  // Unknown code: a 429 or 5xx is worth retrying (capped by the step's retry policy), the rest is not.
  if (httpStatus >= 500 || httpStatus === 429) return rule("transient", KLING_MESSAGES.trouble, "unknown");
  if (httpStatus === 401 || httpStatus === 403)
    return rule("permanent", KLING_MESSAGES.unavailable, "unknown", "unavailable");
  return rule("permanent", KLING_MESSAGES.generic, "unknown");
}

/** Turns an error answer (HTTP ≠ 200 or code ≠ 0) into the ProviderError the pipeline acts on. */
export function errorFromAnswer(answer: KlingErrorAnswer): KlingApiError {
  const { operation, httpStatus, code, message = "", requestId } = answer;
  const { kind, sentence, reason, failure } = ruleFor(code, httpStatus);
  const detail =
    `Kling ${operation}: HTTP ${httpStatus}, code ${code ?? "none"} (${reason}), ` +
    `message ${JSON.stringify(message)}, request_id ${requestId ?? "none"}` +
    (answer.note ? `; ${answer.note}` : "");
  const retryAfterMs =
    kind === "transient" ? Math.max(MIN_RETRY_AFTER_MS, answer.retryAfterMs ?? 0) : undefined;
  const outcome = outcomeOf(code, httpStatus);
  return new KlingApiError(kind, sentence, code, {
    detail,
    retryAfterMs,
    outcome,
    httpStatus,
    reason: failure,
  });
}

/**
 * A transient failure that never reached a readable Kling answer: network, timeout, unreadable body.
 * `outcome` (for a create): `unknown` unless the request provably never left.
 */
export function transientError(
  sentence: string,
  detail: string,
  cause?: unknown,
  outcome: CreateOutcome = "unknown",
): ProviderError {
  return new ProviderError("transient", sentence, {
    detail,
    cause,
    retryAfterMs: MIN_RETRY_AFTER_MS,
    outcome,
  });
}

/** Words Kling uses in `task_status_msg` when a task is stopped by its moderation. */
const CONTENT_POLICY_WORDS = /content|polic|sensitive|risk|safety|violat|inappropriate|nsfw|moderat/i;

/** Classifies a task that ended `failed`: moderation is final, anything else may work on a new attempt. */
export function errorFromTaskFailure(
  taskId: string,
  statusMessage: string | null | undefined,
): ProviderError {
  const text = statusMessage ?? "";
  const detail = `Kling task ${taskId} failed: ${JSON.stringify(text)}`;
  if (CONTENT_POLICY_WORDS.test(text)) {
    return new ProviderError("permanent", KLING_MESSAGES.contentPolicy, { detail, reason: "content_policy" });
  }
  return new ProviderError("transient", KLING_MESSAGES.unfinished, {
    detail,
    retryAfterMs: MIN_RETRY_AFTER_MS,
  });
}
