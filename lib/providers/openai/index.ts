import type { ResponseCreateParamsNonStreaming } from "openai/resources/responses/responses";
import { logEvent } from "@/lib/log";
import { notSentError, taskMissingError } from "@/lib/providers/create-outcome";
import { redactor } from "@/lib/providers/redact";
import { requireSetting } from "@/lib/providers/setting-hint";
import {
  type Advice,
  type AdviceInput,
  type CheckResult,
  ProviderError,
  type TaskProvider,
} from "@/lib/providers/types";
import { DEFAULT_CREATE_TIMEOUT_MS, DEFAULT_TIMEOUT_MS } from "@/lib/providers/vendor-timeouts";
import { buildAdviceRequest } from "./advice-request";
import { createOpenAIClient } from "./client";
import { classifyOpenAIError, classifyResponseFailure, OPENAI_MESSAGES, rejectsBackground } from "./errors";
import { isFallbackTaskId, readFallbackTask, startFallbackTask } from "./fallback";
import { adviceAnswerSchema, findRefusal, type ResponseSnapshot } from "./schemas";

export { createOpenAIResponseKeyReader, type ResponseKey } from "./response-key";

/** Options of the OpenAI advice provider (Responses API, background mode). */
export interface OpenAIAdviceProviderOptions {
  /** `OPENAI_API_KEY`. */
  apiKey: string;
  /** `OPENAI_BASE_URL`, including its `/v1`; the SDK's default (api.openai.com) when unset. */
  baseURL?: string;
  /** `OPENAI_MODEL`: a vision model that supports structured outputs. */
  model: string;
  /**
   * `OPENAI_PLAIN_FALLBACK`: when a server rejects background mode, run the request as a plain call
   * held in this process's memory (fallback.ts). Off by default: another instance (or this one after
   * a restart) cannot see such a task, and the step then pays for a new one. For development and
   * single-process servers only; lib/config.ts refuses it in production on a shared store.
   */
  plainFallback?: boolean;
  /**
   * Keeps the fallback's synchronous call alive after the response (the app passes an `after()`-based
   * runner). Default: a fire-and-forget promise, fine for a long-lived server process.
   */
  runInBackground?: (work: () => Promise<void>) => void;
  /** Timeout of each retrieve or cancel call (default 20 s). */
  timeoutMs?: number;
  /** Timeout of a create (default 45 s): an answer this late leaves the create's outcome unknown. */
  createTimeoutMs?: number;
  /** Timeout of the fallback's synchronous call, which waits for the whole answer (default 150 s). */
  fallbackTimeoutMs?: number;
}

/** A background response typically takes several seconds: no use polling faster. */
const CHECK_HINT_MS = 1_500;

const fireAndForget = (work: () => Promise<void>): void => {
  work().catch((error: unknown) => logEvent("openai.fallback_crashed", { error }));
};

/** A response's state as the pipeline sees it. */
function interpret(response: ResponseSnapshot): CheckResult<Advice> {
  switch (response.status) {
    case "queued":
    case "in_progress":
      return { state: "running", nextCheckInMs: CHECK_HINT_MS };
    case "completed":
      return readAdvice(response);
    default:
      return { state: "failed", error: classifyResponseFailure(response) };
  }
}

function readAdvice(response: ResponseSnapshot): CheckResult<Advice> {
  const noAdvice = (detail: string): CheckResult<Advice> => ({
    state: "failed",
    error: new ProviderError("permanent", OPENAI_MESSAGES.noAdvice, {
      detail: `openai ${response.id}: ${detail}`,
    }),
  });
  const refusal = findRefusal(response.output);
  if (refusal !== null) return noAdvice(`refused: ${refusal.slice(0, 300)}`);
  let json: unknown;
  try {
    json = JSON.parse(response.output_text ?? "");
  } catch {
    return noAdvice(`output_text is not JSON: ${(response.output_text ?? "").slice(0, 200)}`);
  }
  const advice = adviceAnswerSchema.safeParse(json);
  if (!advice.success) return noAdvice(`advice JSON is invalid: ${advice.error.message.slice(0, 300)}`);
  return { state: "succeeded", output: advice.data };
}

/** Styling advice from OpenAI's Responses API: a background response, polled until it completes. */
export function createOpenAIAdviceProvider(
  options: OpenAIAdviceProviderOptions,
): TaskProvider<AdviceInput, Advice> {
  const apiKey = requireSetting("OPENAI_API_KEY", options.apiKey);
  const model = requireSetting("OPENAI_MODEL", options.model);
  const client = createOpenAIClient({
    apiKey,
    baseURL: options.baseURL,
    model,
    timeoutMs: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
  });
  const createTimeoutMs = options.createTimeoutMs ?? DEFAULT_CREATE_TIMEOUT_MS;
  const fallbackTimeoutMs = options.fallbackTimeoutMs ?? 150_000;
  const runInBackground = options.runInBackground ?? fireAndForget;
  const redact = redactor(apiKey);
  const classify = (error: unknown) => classifyOpenAIError(error, redact);
  // Learnt from the first rejected background create; this instance then goes straight to the fallback.
  let backgroundUnsupported = false;

  function submitFallback(body: ResponseCreateParamsNonStreaming, idempotencyKey: string) {
    const taskId = startFallbackTask(async () => {
      try {
        // Not stored: its id never reaches the job, so a stored copy could never be deleted.
        const unstored = { ...body, store: false };
        const snapshot = await client.createResponse(unstored, {
          timeoutMs: fallbackTimeoutMs,
          idempotencyKey,
        });
        const result = interpret(snapshot);
        if (result.state !== "running") return result;
        // A synchronous call answers when done; a "still running" answer would never change.
        const detail = `openai non-background call answered status ${snapshot.status}`;
        return { state: "failed", error: new ProviderError("transient", OPENAI_MESSAGES.hiccup, { detail }) };
      } catch (error) {
        return { state: "failed", error: classify(error) };
      }
    }, runInBackground);
    return { taskId, nextCheckInMs: CHECK_HINT_MS };
  }

  return {
    name: "openai-advice",

    async submit(input, ctx) {
      let body: ResponseCreateParamsNonStreaming;
      try {
        body = await buildAdviceRequest(input, model, ctx.idempotencyKey);
      } catch (error) {
        throw notSentError(error, OPENAI_MESSAGES.hiccup, "openai create");
      }
      if (backgroundUnsupported) return submitFallback(body, ctx.idempotencyKey);
      try {
        // The SDK sends no Idempotency-Key header for OpenAI: `metadata.idempotency_key` names the
        // submit, echoed on the response and in nothing we can query (there is no list endpoint), so
        // a lost create is found again only through the project webhook (the engine's `foundTask`).
        const response = await client.createResponse(
          { ...body, background: true },
          { signal: ctx.signal, timeoutMs: createTimeoutMs, idempotencyKey: ctx.idempotencyKey },
        );
        return { taskId: response.id, nextCheckInMs: CHECK_HINT_MS };
      } catch (error) {
        const failure = classify(error);
        if (!rejectsBackground(failure)) throw failure;
        if (!options.plainFallback) throw backgroundRefused(failure);
        backgroundUnsupported = true;
        logEvent("openai.background_unsupported", { detail: failure.detail });
        return submitFallback(body, ctx.idempotencyKey);
      }
    },

    async check(taskId, ctx) {
      if (isFallbackTaskId(taskId)) {
        const result = readFallbackTask(taskId);
        if (result === undefined) {
          // Not started by this process (a restart, another instance): missing here, checked again.
          const detail = `fallback task ${taskId} is unknown to this process`;
          throw taskMissingError(OPENAI_MESSAGES.hiccup, detail);
        }
        return result ?? { state: "running", nextCheckInMs: CHECK_HINT_MS };
      }
      let response: ResponseSnapshot;
      try {
        response = await client.retrieveResponse(taskId, { signal: ctx.signal });
      } catch (error) {
        // OpenAI does not know the response: checked again before any new (paid) attempt.
        if (error instanceof ProviderError && error.httpStatus === 404)
          throw taskMissingError(OPENAI_MESSAGES.hiccup, error.detail, error);
        throw error;
      }
      return interpret(response);
    },

    async cancel(taskId, ctx) {
      // A plain fallback call cannot be stopped; it ends on its own within its timeout.
      if (isFallbackTaskId(taskId)) return;
      try {
        await client.cancelResponse(taskId, { signal: ctx.signal });
      } catch (error) {
        // Unknown (404), or not cancellable any more (finished, or not a background response): done.
        if (error instanceof ProviderError && [400, 404, 409].includes(error.httpStatus ?? 0)) return;
        throw error;
      }
    },

    async forget(taskId, ctx) {
      // A plain fallback call is created with store: false (nothing kept) and has no id at OpenAI.
      if (isFallbackTaskId(taskId)) return;
      try {
        await client.deleteResponse(taskId, { signal: ctx.signal });
      } catch (error) {
        // Already deleted, or never stored: nothing left to delete.
        if (error instanceof ProviderError && error.httpStatus === 404) return;
        throw error;
      }
    },
  };
}

/** A server without background mode, and the in-memory fallback not enabled: say how to enable it. */
function backgroundRefused(error: ProviderError): ProviderError {
  return new ProviderError("permanent", OPENAI_MESSAGES.unavailable, {
    reason: "unavailable",
    detail:
      `${error.detail}; this OpenAI-compatible server rejects background mode, and ` +
      "OPENAI_PLAIN_FALLBACK is not set (see the README: OpenAI-compatible servers without background mode)",
    outcome: "not_created",
    cause: error,
  });
}
