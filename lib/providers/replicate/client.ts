import { ProviderError } from "@/lib/providers/types";
import { classifyHttpFailure, REPLICATE_MESSAGES } from "./errors";
import { type Prediction, predictionSchema } from "./schemas";

export interface ReplicateClientOptions {
  token: string;
  /** Without `/v1`: request paths carry it. */
  baseUrl: string;
  model: string;
  fetch: typeof fetch;
  timeoutMs: number;
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

/** A thin fetch client for the predictions API: JSON in, a validated prediction out, ProviderErrors. */
export function createReplicateClient(options: ReplicateClientOptions) {
  const base = options.baseUrl.replace(/\/+$/, "");
  const redact = (text: string) => text.split(options.token).join("[redacted]");
  const hiccup = (detail: string, cause?: unknown) =>
    new ProviderError("transient", REPLICATE_MESSAGES.hiccup, { detail: redact(detail), cause });

  return async function requestPrediction(
    method: "GET" | "POST",
    path: string,
    body: unknown,
    signal: AbortSignal,
  ): Promise<Prediction> {
    const request = `${method} ${path}`;
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
        signal: AbortSignal.any([signal, AbortSignal.timeout(options.timeoutMs)]),
      });
      text = await response.text();
    } catch (error) {
      throw hiccup(`replicate ${request} failed: ${String(error)}`, error);
    }
    if (!response.ok) {
      const failure = classifyHttpFailure({
        status: response.status,
        headers: response.headers,
        request,
        bodyExcerpt: redact(text.slice(0, 300)),
        model: options.model,
      });
      throw new ReplicateHttpError(response.status, failure);
    }
    let json: unknown;
    try {
      json = JSON.parse(text);
    } catch (error) {
      throw hiccup(`replicate ${request} answered malformed JSON: ${text.slice(0, 200)}`, error);
    }
    const prediction = predictionSchema.safeParse(json);
    if (!prediction.success) {
      throw hiccup(`replicate ${request} answered an unexpected shape: ${text.slice(0, 200)}`);
    }
    return prediction.data;
  };
}
