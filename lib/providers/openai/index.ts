import { APIError, NotFoundError } from "openai";
import type { ResponseCreateParamsNonStreaming } from "openai/resources/responses/responses";
import { logEvent } from "@/lib/log";
import { notSentError, taskMissingError } from "@/lib/providers/create-outcome";
import { logSuspectSetting } from "@/lib/providers/setting-hint";
import {
  type Advice,
  type AdviceInput,
  type CheckResult,
  ProviderError,
  type TaskProvider,
} from "@/lib/providers/types";
import { buildAdviceRequest, lazyOpenAIClient } from "./client";
import {
  classifyCreateError,
  classifyOpenAIError,
  classifyResponseFailure,
  OPENAI_MESSAGES,
  rejectsBackground,
} from "./errors";
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
  const createTimeoutMs = options.createTimeoutMs ?? 45_000;
  const fallbackTimeoutMs = options.fallbackTimeoutMs ?? 150_000;
  const runInBackground = options.runInBackground ?? fireAndForget;
  const redact = (text: string) => text.split(apiKey).join("[redacted]");
  const classify = (error: unknown) => classifyOpenAIError(error, redact);
  const classifyCreate = (error: unknown) => {
    const status = error instanceof APIError ? error.status : undefined;
    const answered = () =>
      `POST /responses answered HTTP ${status}: ${redact(String((error as Error).message))}`;
    if (status === 401 || status === 403) logSuspectSetting("OPENAI_API_KEY", answered());
    if (status === 404) {
      logSuspectSetting("OPENAI_BASE_URL or OPENAI_MODEL", answered(), {
        OPENAI_BASE_URL: options.baseURL ?? "https://api.openai.com/v1",
        OPENAI_MODEL: model,
      });
    }
    return classifyCreateError(error, redact);
  };
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
      let body: ResponseCreateParamsNonStreaming;
      try {
        body = await buildAdviceRequest(input, model, ctx.idempotencyKey);
      } catch (error) {
        throw notSentError(error, OPENAI_MESSAGES.hiccup, "openai create");
      }
      if (backgroundUnsupported) return submitFallback(body, ctx.idempotencyKey);
      let response: unknown;
      try {
        // The SDK sends no Idempotency-Key header for OpenAI: `metadata.idempotency_key` names the
        // submit, echoed on the response and in nothing we can query (there is no list endpoint), so
        // a lost create is found again only through the project webhook (the engine's `foundTask`).
        response = await client().responses.create(
          { ...body, background: true },
          { signal: ctx.signal, timeout: createTimeoutMs, idempotencyKey: ctx.idempotencyKey },
        );
      } catch (error) {
        if (!rejectsBackground(error)) throw classifyCreate(error);
        if (!options.plainFallback) throw backgroundRefused(classifyCreate(error));
        backgroundUnsupported = true;
        logEvent("openai.background_unsupported", { detail: classify(error).detail });
        return submitFallback(body, ctx.idempotencyKey);
      }
      try {
        return { taskId: snapshotOf(response).id, nextCheckInMs: CHECK_HINT_MS };
      } catch (error) {
        throw classifyCreate(error);
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
      let response: unknown;
      try {
        response = await client().responses.retrieve(taskId, undefined, { signal: ctx.signal });
      } catch (error) {
        // OpenAI does not know the response: checked again before any new (paid) attempt.
        if (error instanceof NotFoundError)
          throw taskMissingError(OPENAI_MESSAGES.hiccup, classify(error).detail, error);
        throw classify(error);
      }
      return interpret(snapshotOf(response));
    },

    async cancel(taskId, ctx) {
      // A plain fallback call cannot be stopped; it ends on its own within its timeout.
      if (isFallbackTaskId(taskId)) return;
      try {
        await client().responses.cancel(taskId, { signal: ctx.signal });
      } catch (error) {
        // Unknown (404), or not cancellable any more (finished, or not a background response): done.
        if (error instanceof APIError && [400, 404, 409].includes(error.status ?? 0)) return;
        throw classify(error);
      }
    },
  };
}

/** A server without background mode, and the in-memory fallback not enabled: say how to enable it. */
function backgroundRefused(error: ProviderError): ProviderError {
  return new ProviderError("permanent", OPENAI_MESSAGES.unavailable, {
    detail:
      `${error.detail}; this OpenAI-compatible server rejects background mode, and ` +
      "OPENAI_PLAIN_FALLBACK is not set (see the README: OpenAI-compatible servers without background mode)",
    outcome: "not_created",
    cause: error,
  });
}
