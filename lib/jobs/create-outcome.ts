import { type CreateOutcome, ProviderError } from "@/lib/providers/types";

/** Socket errors raised before a request could leave: the vendor never saw it. */
const NEVER_SENT = new Set(["ECONNREFUSED", "ENOTFOUND", "EAI_AGAIN", "ENETUNREACH", "EHOSTUNREACH"]);
/** How far down a chain of causes to look (fetch wraps the socket error once or twice). */
const MAX_CAUSE_DEPTH = 5;

/**
 * What a failed submit says about the paid task (lib/providers/types.ts, CreateOutcome). A provider's
 * own verdict wins, and a ProviderError without one counts as unknown; anything else thrown is
 * `not_created` only when the connection was refused or the name did not resolve.
 */
export function createOutcomeOf(error: unknown): CreateOutcome {
  if (error instanceof ProviderError) return error.outcome ?? "unknown";
  let cause: unknown = error;
  for (let depth = 0; cause instanceof Object && depth < MAX_CAUSE_DEPTH; depth++) {
    const code = (cause as { code?: unknown }).code;
    if (typeof code === "string" && NEVER_SENT.has(code)) return "not_created";
    cause = (cause as { cause?: unknown }).cause;
  }
  return "unknown";
}
