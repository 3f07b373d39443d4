import { NotFoundError } from "openai";
import type { ResponseCreateParamsNonStreaming } from "openai/resources/responses/responses";
import { logEvent } from "@/lib/log";
import {
  type Advice,
  type AdviceInput,
  type CheckResult,
  ProviderError,
  type TaskProvider,
} from "@/lib/providers/types";
import { buildAdviceRequest, lazyOpenAIClient } from "./client";
import { classifyOpenAIError, classifyResponseFailure, OPENAI_MESSAGES, rejectsBackground } from "./errors";
import { isFallbackTaskId, readFallbackTask, startFallbackTask } from "./fallback";
import { adviceAnswerSchema, findRefusal, type ResponseSnapshot, responseSchema } from "./schemas";

/** Options of the OpenAI advice provider (Responses API, background mode). */
export interface OpenAIAdviceProviderOptions {
  /** `OPENAI_API_KEY`. */
  apiKey: string;
  /** `OPENAI_BASE_URL`, including its `/v1`; the SDK's default (api.openai.com) when unset. */
  baseURL?: string;
  /** `OPENAI_MODEL`: a vision model that supports structured outputs. */
  model: string;
  /**
   * Keeps the fallback's synchronous call alive after the response (the app passes an `after()`-based
   * runner). Default: a fire-and-forget promise, fine for a long-lived server process.
   */
  runInBackground?: (work: () => Promise<void>) => void;
  /** Timeout of each create/retrieve call (default 20 s). */
  timeoutMs?: number;
  /** Timeout of the fallback's synchronous call, which waits for the whole answer (default 150 s). */
  fallbackTimeoutMs?: number;
}

/** A background response typically takes several seconds: no use polling faster. */
const CHECK_HINT_MS = 1_500;

const fireAndForget = (work: () => Promise<void>): void => {
  work().catch((error: unknown) => logEvent("openai.fallback_crashed", { error: String(error) }));
};

/** Reads the fields we use from an SDK answer, which the SDK does not validate at run time. */
function snapshotOf(response: unknown): ResponseSnapshot {
  const parsed = responseSchema.safeParse(response);
  if (parsed.success) return parsed.data;
  throw new ProviderError("transient", OPENAI_MESSAGES.hiccup, {
    detail: `openai answered an unexpected shape: ${parsed.error.message.slice(0, 300)}`,
  });
}

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
  if (!options.apiKey) throw new Error("OPENAI_API_KEY is not set");
  if (!options.model) throw new Error("OPENAI_MODEL is not set");
  const { apiKey, model } = options;
  const client = lazyOpenAIClient({
    apiKey,
    baseURL: options.baseURL,
    timeoutMs: options.timeoutMs ?? 20_000,
  });
  const fallbackTimeoutMs = options.fallbackTimeoutMs ?? 150_000;
  const runInBackground = options.runInBackground ?? fireAndForget;
  const redact = (text: string) => text.split(apiKey).join("[redacted]");
  const classify = (error: unknown) => classifyOpenAIError(error, redact);
  // Learnt from the first rejected background create; this instance then goes straight to the fallback.
  let backgroundUnsupported = false;

  function submitFallback(body: ResponseCreateParamsNonStreaming, idempotencyKey: string) {
    const taskId = startFallbackTask(async () => {
      try {
        const response = await client().responses.create(body, {
          timeout: fallbackTimeoutMs,
          idempotencyKey,
        });
        const snapshot = snapshotOf(response);
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
      const body = await buildAdviceRequest(input, model, ctx.idempotencyKey);
      if (backgroundUnsupported) return submitFallback(body, ctx.idempotencyKey);
      let response: unknown;
      try {
        // The SDK accepts idempotencyKey but sends no header for OpenAI; metadata records the key.
        response = await client().responses.create(
          { ...body, background: true },
          { signal: ctx.signal, idempotencyKey: ctx.idempotencyKey },
        );
      } catch (error) {
        if (!rejectsBackground(error)) throw classify(error);
        backgroundUnsupported = true;
        logEvent("openai.background_unsupported", { detail: classify(error).detail });
        return submitFallback(body, ctx.idempotencyKey);
      }
      return { taskId: snapshotOf(response).id, nextCheckInMs: CHECK_HINT_MS };
    },

    async check(taskId, ctx) {
      if (isFallbackTaskId(taskId)) {
        const result = readFallbackTask(taskId);
        if (result === undefined) {
          // Not started by this process (a restart, another instance): a failed task makes the step resubmit.
          const detail = `fallback task ${taskId} is unknown to this process`;
          return {
            state: "failed",
            error: new ProviderError("transient", OPENAI_MESSAGES.hiccup, { detail }),
          };
        }
        return result ?? { state: "running", nextCheckInMs: CHECK_HINT_MS };
      }
      let response: unknown;
      try {
        response = await client().responses.retrieve(taskId, undefined, { signal: ctx.signal });
      } catch (error) {
        // A response OpenAI no longer has can never finish: fail the task so the step submits afresh.
        if (error instanceof NotFoundError) return { state: "failed", error: transientFrom(classify(error)) };
        throw classify(error);
      }
      return interpret(snapshotOf(response));
    },
  };
}

function transientFrom(error: ProviderError): ProviderError {
  return new ProviderError("transient", OPENAI_MESSAGES.hiccup, { detail: error.detail, cause: error });
}
