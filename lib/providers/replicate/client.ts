import { outcomeOfHttpStatus, outcomeOfNetworkError, withOutcome } from "@/lib/providers/create-outcome";
import { logSuspectSetting } from "@/lib/providers/setting-hint";
import { ProviderError } from "@/lib/providers/types";
import { classifyHttpFailure, REPLICATE_MESSAGES } from "./errors";
import { type Prediction, predictionSchema } from "./schemas";

export interface ReplicateClientOptions {
  token: string;
  /** Without `/v1`: request paths carry it. */
  baseUrl: string;
  model: string;
  fetch: typeof fetch;
  /** Timeout of a get, list or cancel call. */
  timeoutMs: number;
  /** Timeout of a create, which may legitimately take longer to answer. */
  createTimeoutMs: number;
}

/** An HTTP answer that is not 2xx: the caller decides what a 404 means for its request. */
export class ReplicateHttpError extends Error {
  constructor(
    readonly status: number,
    readonly providerError: ProviderError,
  ) {
    super(providerError.detail);
    this.name = "ReplicateHttpError";
  }
}

export interface ReplicateRequest {
  method: "GET" | "POST";
  /** Path and query, e.g. `/v1/predictions?created_after=…`. */
  path: string;
  body?: unknown;
  signal: AbortSignal;
  /** A create: its own timeout, and its failures say whether the prediction may exist. */
  create?: boolean;
}

/**
 * A thin fetch client for the predictions API: JSON in, JSON out, ProviderErrors. A create's errors
 * carry their outcome: a 4xx or a refused connection made nothing, anything else may have.
 */
export function createReplicateClient(options: ReplicateClientOptions) {
  const base = options.baseUrl.replace(/\/+$/, "");
  const redact = (text: string) => text.split(options.token).join("[redacted]");
  const hiccup = (detail: string, outcome: "not_created" | "unknown", cause?: unknown) =>
    new ProviderError("transient", REPLICATE_MESSAGES.hiccup, { detail: redact(detail), cause, outcome });

  async function requestJson({ method, path, body, signal, create }: ReplicateRequest): Promise<unknown> {
    const request = `${method} ${path.split("?")[0]}`;
    const timeoutMs = create ? options.createTimeoutMs : options.timeoutMs;
    let response: Response;
    let text: string;
    try {
      response = await options.fetch(`${base}${path}`, {
        method,
        headers: {
          Authorization: `Bearer ${options.token}`,
          ...(body === undefined ? {} : { "Content-Type": "application/json" }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      });
      text = await response.text();
    } catch (error) {
      throw hiccup(`replicate ${request} failed: ${String(error)}`, outcomeOfNetworkError(error), error);
    }
    if (!response.ok) {
      const answered = `${method} ${base}${path.split("?")[0]} answered HTTP ${response.status}: ${redact(text.slice(0, 200))}`;
      if (response.status === 401 || response.status === 403)
        logSuspectSetting("REPLICATE_API_TOKEN", answered);
      // A check's 404 is a missing prediction; a create's 404 is a wrong base URL or model.
      if (response.status === 404 && create) {
        logSuspectSetting("REPLICATE_API_BASE_URL or REPLICATE_FACESWAP_MODEL", answered, {
          REPLICATE_API_BASE_URL: options.baseUrl,
          REPLICATE_FACESWAP_MODEL: options.model,
        });
      }
      const failure = classifyHttpFailure({
        status: response.status,
        headers: response.headers,
        request,
        bodyExcerpt: redact(text.slice(0, 300)),
        model: options.model,
      });
      throw new ReplicateHttpError(
        response.status,
        withOutcome(failure, outcomeOfHttpStatus(response.status)),
      );
    }
    try {
      return JSON.parse(text);
    } catch (error) {
      throw hiccup(`replicate ${request} answered malformed JSON: ${text.slice(0, 200)}`, "unknown", error);
    }
  }

  return {
    requestJson,
    /** A request whose answer is one prediction, validated. */
    async requestPrediction(request: ReplicateRequest): Promise<Prediction> {
      const json = await requestJson(request);
      const prediction = predictionSchema.safeParse(json);
      if (prediction.success) return prediction.data;
      const excerpt = JSON.stringify(json)?.slice(0, 200);
      throw hiccup(
        `replicate ${request.method} ${request.path} answered an unexpected shape: ${excerpt}`,
        "unknown",
      );
    },
  };
}

export type ReplicateClient = ReturnType<typeof createReplicateClient>;
