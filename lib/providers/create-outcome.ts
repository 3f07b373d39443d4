import { type CreateOutcome, ProviderError } from "./types";

/**
 * How the three vendor adapters sort a failed create into `not_created` and `unknown`
 * (see `CreateOutcome`): the one place that decides which failures prove nothing was paid for.
 */

/**
 * Network errors raised before a single byte of the request could reach the vendor: the connection
 * was refused, the name did not resolve, no route, or TLS refused the peer (the body follows the
 * handshake). Anything else — a reset, a timeout, an abort — may have come after the vendor read it.
 */
const NOT_SENT_CODES = new Set([
  "ECONNREFUSED",
  "ENOTFOUND",
  "EAI_AGAIN",
  "EAI_NONAME",
  "EAI_FAIL",
  "EHOSTUNREACH",
  "ENETUNREACH",
  "UND_ERR_CONNECT_TIMEOUT",
  "CERT_HAS_EXPIRED",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "ERR_TLS_CERT_ALTNAME_INVALID",
]);

const MAX_CAUSE_DEPTH = 6;

/** The error and its causes, outermost first (fetch and the SDKs wrap the socket's error as `cause`). */
function causeChain(error: unknown): object[] {
  const chain: object[] = [];
  let current: unknown = error;
  for (let depth = 0; depth < MAX_CAUSE_DEPTH && current instanceof Object; depth++) {
    chain.push(current);
    current = (current as { cause?: unknown }).cause;
  }
  return chain;
}

function errorCodes(error: unknown): string[] {
  return causeChain(error).flatMap((link) => {
    const code = (link as { code?: unknown }).code;
    return typeof code === "string" ? [code] : [];
  });
}

/** The call was given up by us: its signal aborted, or its timeout (`AbortSignal.timeout`) fired. */
export function wasAbortedOrTimedOut(error: unknown): boolean {
  return causeChain(error).some((link) => {
    const name = (link as { name?: unknown }).name;
    return name === "TimeoutError" || name === "AbortError";
  });
}

/** A create that failed in the network: `not_created` only when the request provably never left. */
export function outcomeOfNetworkError(error: unknown): CreateOutcome {
  return errorCodes(error).some((code) => NOT_SENT_CODES.has(code)) ? "not_created" : "unknown";
}

/** A create the vendor answered with an error status: a 4xx refused it, a 5xx may have made it. */
export function outcomeOfHttpStatus(status: number): CreateOutcome {
  return status >= 400 && status < 500 ? "not_created" : "unknown";
}

/** The same error, marked with what the failed create says about the paid task. */
export function withOutcome(error: ProviderError, outcome: CreateOutcome): ProviderError {
  if (error.outcome === outcome) return error;
  return new ProviderError(error.kind, error.message, {
    detail: error.detail,
    retryAfterMs: error.retryAfterMs,
    taskMissing: error.taskMissing,
    httpStatus: error.httpStatus,
    reason: error.reason,
    outcome,
    cause: error,
  });
}

/** A check answered "no such task" (404): transient, and the engine checks again before a new attempt. */
export function taskMissingError(
  message: string,
  detail: string | undefined,
  cause?: unknown,
): ProviderError {
  return new ProviderError("transient", message, { detail, taskMissing: true, cause });
}

/**
 * A create that failed before its request was sent (reading our own photos, preparing the body):
 * nothing exists at the vendor. A ProviderError keeps its kind; anything else is worth a retry.
 */
export function notSentError(error: unknown, sentence: string, what: string): ProviderError {
  if (error instanceof ProviderError) return withOutcome(error, "not_created");
  return new ProviderError("transient", sentence, {
    detail: `${what}: could not prepare the request: ${String(error)}`,
    outcome: "not_created",
    cause: error,
  });
}
