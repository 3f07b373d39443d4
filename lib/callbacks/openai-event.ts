import { z } from "zod";
import type { AppConfig } from "@/lib/config";
import { logEvent } from "@/lib/log";
import { createOpenAIResponseKeyReader, type ResponseKey } from "@/lib/providers/openai";
import { jobIdOfIdempotencyKey } from "./callback-urls";

type OpenAIConfig = NonNullable<AppConfig["openai"]>;

/** `response.completed`, `.failed`, `.cancelled`, `.incomplete`: the events that concern a response. */
const responseEventSchema = z.object({
  type: z.string().startsWith("response."),
  data: z.object({ id: z.string().min(1) }),
});

/** The response an event is about, or null for events of other kinds (batches, evals, …). */
export function responseIdOfEvent(payload: unknown): string | null {
  const parsed = responseEventSchema.safeParse(payload);
  return parsed.success ? parsed.data.data.id : null;
}

let cached: { config: OpenAIConfig; readKey: (responseId: string) => Promise<ResponseKey> } | undefined;

/**
 * The job a response belongs to, read from the response itself with our own key through the advice
 * adapter (the event only names it). Null for a response that is not ours: the project webhook sees
 * every response.
 */
export async function jobIdOfResponse(config: OpenAIConfig, responseId: string): Promise<string | null> {
  return (await taskOfResponse(config, responseId))?.jobId ?? null;
}

/**
 * The job and the create a response answers (its metadata carries our idempotency key), so a create
 * whose answer was lost is adopted instead of repeated.
 */
export async function taskOfResponse(
  config: OpenAIConfig,
  responseId: string,
): Promise<{ jobId: string; foundTask: { idempotencyKey: string; taskId: string } } | null> {
  if (cached?.config !== config) cached = { config, readKey: createOpenAIResponseKeyReader(config) };
  const response = await cached.readKey(responseId);
  if (!response.known) {
    logEvent("callback.unknown_response", { source: "openai", responseId });
    return null;
  }
  const key = response.idempotencyKey;
  const jobId = key ? jobIdOfIdempotencyKey(key) : null;
  return key && jobId ? { jobId, foundTask: { idempotencyKey: key, taskId: responseId } } : null;
}
