import { ProviderError } from "@/lib/providers/types";
import { SUBMIT_KEY_FIELD } from "./advice-request";
import { createOpenAIClient, type OpenAIClientOptions } from "./client";

/** A webhook is answered within seconds: its lookup gives up sooner than a check. */
const LOOKUP_TIMEOUT_MS = 10_000;

/**
 * What OpenAI says about a response an event names: unknown to it (a 404: not made with our key),
 * or known, with the idempotency key our create recorded in its metadata (null when it has none).
 */
export type ResponseKey = { known: false } | { known: true; idempotencyKey: string | null };

/**
 * For the project webhook, whose events name a response only: reads the response with our own key
 * (the adapter's client: no SDK retries, key redacted) and returns the submit it belongs to. Other
 * failures throw as ProviderErrors.
 */
export function createOpenAIResponseKeyReader(
  options: Pick<OpenAIClientOptions, "apiKey" | "baseURL">,
): (responseId: string) => Promise<ResponseKey> {
  const client = createOpenAIClient(options);
  return async (responseId) => {
    try {
      const response = await client.retrieveResponse(responseId, { timeoutMs: LOOKUP_TIMEOUT_MS });
      return { known: true, idempotencyKey: response.metadata?.[SUBMIT_KEY_FIELD] ?? null };
    } catch (error) {
      if (error instanceof ProviderError && error.httpStatus === 404) return { known: false };
      throw error;
    }
  };
}
