import OpenAI, { APIError } from "openai";
import type { ResponseCreateParamsNonStreaming } from "openai/resources/responses/responses";
import { redactor } from "@/lib/providers/redact";
import { logSuspectSetting } from "@/lib/providers/setting-hint";
import { ProviderError } from "@/lib/providers/types";
import { DEFAULT_TIMEOUT_MS } from "@/lib/providers/vendor-timeouts";
import { classifyCreateError, classifyOpenAIError, OPENAI_MESSAGES } from "./errors";
import { type ResponseSnapshot, responseSchema } from "./schemas";

/** Options of the Responses API client: the key, where the API lives, the default timeout. */
export interface OpenAIClientOptions {
  apiKey: string;
  /** `OPENAI_BASE_URL`, including its `/v1`; the SDK's default (api.openai.com) when unset. */
  baseURL?: string;
  /** `OPENAI_MODEL`, named in the log when a create's 404 points at it. */
  model?: string;
  /** Timeout of a call that names none (default 20 s). */
  timeoutMs?: number;
}

interface CallOptions {
  signal?: AbortSignal;
  /** This call's own timeout, instead of the client's. */
  timeoutMs?: number;
}

/** OpenAI's Responses API through its SDK; every failure is a ProviderError (`httpStatus` set when it answered one). */
export interface OpenAIClient {
  /** A create: its failures carry their outcome (a 4xx or a connection that never opened made nothing). */
  createResponse(
    body: ResponseCreateParamsNonStreaming,
    options: CallOptions & { idempotencyKey: string },
  ): Promise<ResponseSnapshot>;
  retrieveResponse(responseId: string, options?: CallOptions): Promise<ResponseSnapshot>;
  cancelResponse(responseId: string, options?: CallOptions): Promise<void>;
  /** `DELETE /v1/responses/{id}`: the stored response (the photos it was sent, the advice) is gone. */
  deleteResponse(responseId: string, options?: CallOptions): Promise<void>;
}

/** Reads the fields we use from an SDK answer, which the SDK does not validate at run time. */
function snapshotOf(response: unknown): ResponseSnapshot {
  const parsed = responseSchema.safeParse(response);
  if (parsed.success) return parsed.data;
  throw new ProviderError("transient", OPENAI_MESSAGES.hiccup, {
    detail: `openai answered an unexpected shape: ${parsed.error.message.slice(0, 300)}`,
  });
}

/** The SDK client, created on first use (building the providers never touches the network), with our errors. */
export function createOpenAIClient(options: OpenAIClientOptions): OpenAIClient {
  const redact = redactor(options.apiKey);
  let client: OpenAI | undefined;
  // The pipeline owns retries and backoff; SDK retries would multiply them and overrun the lease.
  const sdk = () => {
    client ??= new OpenAI({
      apiKey: options.apiKey,
      baseURL: options.baseURL,
      maxRetries: 0,
      timeout: options.timeoutMs ?? DEFAULT_TIMEOUT_MS,
    });
    return client;
  };
  const requestOptions = ({ signal, timeoutMs }: CallOptions = {}) => ({
    ...(signal ? { signal } : {}),
    ...(timeoutMs === undefined ? {} : { timeout: timeoutMs }),
  });

  /** One log line when a create's answer points at our configuration (a wrong key, base URL or model). */
  function logSuspectCreate(error: unknown): void {
    const status = error instanceof APIError ? error.status : undefined;
    const answered = () =>
      `POST /responses answered HTTP ${status}: ${redact(String((error as Error).message))}`;
    if (status === 401 || status === 403) logSuspectSetting("OPENAI_API_KEY", answered());
    if (status === 404) {
      logSuspectSetting("OPENAI_BASE_URL or OPENAI_MODEL", answered(), {
        OPENAI_BASE_URL: options.baseURL ?? "https://api.openai.com/v1",
        OPENAI_MODEL: options.model,
      });
    }
  }

  return {
    async createResponse(body, { idempotencyKey, ...call }) {
      let response: unknown;
      try {
        response = await sdk().responses.create(body, { ...requestOptions(call), idempotencyKey });
      } catch (error) {
        logSuspectCreate(error);
        throw classifyCreateError(error, redact);
      }
      try {
        return snapshotOf(response);
      } catch (error) {
        throw classifyCreateError(error, redact);
      }
    },

    async retrieveResponse(responseId, call) {
      try {
        return snapshotOf(await sdk().responses.retrieve(responseId, undefined, requestOptions(call)));
      } catch (error) {
        throw classifyOpenAIError(error, redact);
      }
    },

    async cancelResponse(responseId, call) {
      try {
        await sdk().responses.cancel(responseId, requestOptions(call));
      } catch (error) {
        throw classifyOpenAIError(error, redact);
      }
    },

    async deleteResponse(responseId, call) {
      try {
        await sdk().responses.delete(responseId, requestOptions(call));
      } catch (error) {
        throw classifyOpenAIError(error, redact);
      }
    },
  };
}
