import Replicate from "replicate";
import { outcomeOfNetworkError, wasAbortedOrTimedOut } from "@/lib/providers/create-outcome";
import { withDeadline } from "@/lib/providers/deadline";
import { redactor } from "@/lib/providers/redact";
import { logSuspectSetting } from "@/lib/providers/setting-hint";
import { ProviderError } from "@/lib/providers/types";
import { DEFAULT_CREATE_TIMEOUT_MS, DEFAULT_TIMEOUT_MS } from "@/lib/providers/vendor-timeouts";
import { classifyHttpFailure, REPLICATE_MESSAGES } from "./errors";
import {
  type Prediction,
  type PredictionPage,
  type PredictionTarget,
  predictionPageSchema,
  predictionSchema,
} from "./schemas";

/** Options of the predictions client: credentials, where Replicate lives, timeouts, an injectable fetch. */
export interface ReplicateClientOptions {
  token: string;
  /** `REPLICATE_API_BASE_URL` as configured, without `/v1` (named in the operator's log lines). */
  baseUrl: string;
  /** `REPLICATE_FACESWAP_MODEL`, named in the log when a create's 404 points at it. */
  model: string;
  fetch?: typeof fetch;
  /** Timeout of a get, list or cancel call (default 20 s). */
  timeoutMs?: number;
  /** Timeout of a create, which may legitimately take longer to answer (default 45 s). */
  createTimeoutMs?: number;
}

/** What a create sends besides the model: the inputs and the webhook. */
export interface PredictionRequest {
  input: Record<string, string>;
  webhook?: string;
  webhook_events_filter?: Array<"start" | "output" | "logs" | "completed">;
}

/** Replicate's predictions API; every failure is a ProviderError (`httpStatus` set when it answered one). */
export interface ReplicateClient {
  /** A create: its failures carry their outcome (a 4xx or a refused connection made nothing). */
  createPrediction(
    target: PredictionTarget,
    request: PredictionRequest,
    signal: AbortSignal,
  ): Promise<Prediction>;
  getPrediction(predictionId: string, signal: AbortSignal): Promise<Prediction>;
  cancelPrediction(predictionId: string, signal: AbortSignal): Promise<void>;
  /** One page of `GET /v1/predictions?{query}`, or null when the answer is not a prediction list. */
  listPredictions(query: string, signal: AbortSignal): Promise<PredictionPage | null>;
}

/** The client's ApiError (not exported at run time): the request it made and the answer it got. */
interface ApiError extends Error {
  request: Request;
  response: Response;
}

const isApiError = (error: unknown): error is ApiError =>
  error instanceof Error && error.name === "ApiError" && (error as ApiError).response instanceof Response;

/** The answer's body, which the client has read into its message: "Request to … failed with status …: {body}." */
const bodyOf = (error: ApiError) => error.message.slice(error.message.indexOf(": ") + 2, -1);

/** One HTTP request per call: the client retries 429, 5xx and network errors itself, creates included. */
function answeringOnce(doFetch: typeof fetch): typeof fetch {
  const answers = new WeakMap<object, Promise<Response>>();
  // The client reuses one `init` for a request's repeats: each repeat gets the first answer.
  return (url, init) => {
    if (!init) return doFetch(url, init);
    const answer = answers.get(init) ?? doFetch(url, init);
    answers.set(init, answer);
    return answer;
  };
}

/** Replicate's own client (`replicate` npm), with our timeouts, error classification and redaction. */
export function createReplicateClient(options: ReplicateClientOptions): ReplicateClient {
  const redact = redactor(options.token);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const createTimeoutMs = options.createTimeoutMs ?? DEFAULT_CREATE_TIMEOUT_MS;
  let client: Replicate | undefined;
  // Created on first use; the client wants the base with `/v1`, as Replicate documents it.
  const replicate = () => {
    client ??= new Replicate({
      auth: options.token,
      baseUrl: `${options.baseUrl.replace(/\/+$/, "")}/v1`,
      fetch: answeringOnce(options.fetch ?? fetch),
    });
    return client;
  };
  const hiccup = (detail: string, outcome: "not_created" | "unknown", cause?: unknown) =>
    new ProviderError("transient", REPLICATE_MESSAGES.hiccup, { detail: redact(detail), cause, outcome });

  /** Sorts what the client threw: an error answer by its status, anything else as a network failure. */
  function failure(error: unknown, operation: string, create: boolean): ProviderError {
    if (!isApiError(error)) {
      const why =
        error instanceof SyntaxError
          ? `answered malformed JSON (${error.message})`
          : wasAbortedOrTimedOut(error)
            ? "aborted or timed out"
            : `failed: ${String(error)}`;
      return hiccup(`replicate ${operation} ${why}`, outcomeOfNetworkError(error), error);
    }
    const { status, headers } = error.response;
    const url = error.request.url.split("?")[0] ?? "";
    const request = `${error.request.method} ${new URL(url).pathname}`;
    const body = redact(bodyOf(error));
    const answered = `${error.request.method} ${url} answered HTTP ${status}: ${body.slice(0, 200)}`;
    if (status === 401 || status === 403) logSuspectSetting("REPLICATE_API_TOKEN", answered);
    // A check's 404 is a missing prediction; a create's 404 is a wrong base URL or model.
    if (status === 404 && create) {
      logSuspectSetting("REPLICATE_API_BASE_URL or REPLICATE_FACESWAP_MODEL", answered, {
        REPLICATE_API_BASE_URL: options.baseUrl,
        REPLICATE_FACESWAP_MODEL: options.model,
      });
    }
    return classifyHttpFailure({
      status,
      headers,
      request,
      bodyExcerpt: body.slice(0, 300),
      model: options.model,
      cause: error,
    });
  }

  /** Runs one client call under its own timeout; every failure comes out classified. */
  async function call<T>(
    operation: string,
    signal: AbortSignal,
    run: (client: Replicate, signal: AbortSignal) => Promise<T>,
    create = false,
  ): Promise<T> {
    try {
      return await withDeadline(signal, create ? createTimeoutMs : timeoutMs, (signal) =>
        run(replicate(), signal),
      );
    } catch (error) {
      throw failure(error, operation, create);
    }
  }

  function validPrediction(json: unknown, operation: string): Prediction {
    const prediction = predictionSchema.safeParse(json);
    if (prediction.success) return prediction.data;
    const excerpt = JSON.stringify(json)?.slice(0, 200);
    throw hiccup(`replicate ${operation} answered an unexpected shape: ${excerpt}`, "unknown");
  }

  return {
    async createPrediction(target, request, signal) {
      const operation = `POST ${"model" in target ? `/v1/models/${target.model}/predictions` : "/v1/predictions"}`;
      const json = await call(
        operation,
        signal,
        (client, signal) => client.predictions.create({ ...target, ...request, signal }),
        true,
      );
      return validPrediction(json, operation);
    },

    async getPrediction(predictionId, signal) {
      const operation = "GET /v1/predictions/{id}";
      const json = await call(operation, signal, (client, signal) =>
        client.predictions.get(encodeURIComponent(predictionId), { signal }),
      );
      return validPrediction(json, operation);
    },

    async cancelPrediction(predictionId, signal) {
      await call("POST /v1/predictions/{id}/cancel", signal, (client, signal) =>
        client.predictions.cancel(encodeURIComponent(predictionId), { signal }),
      );
    },

    async listPredictions(query, signal) {
      // predictions.list() takes no filter and paginate() follows `next` to any host: the page's own request.
      const json = await call("GET /v1/predictions", signal, async (client, signal) =>
        (await client.request(`/predictions?${query}`, { method: "GET", signal })).json(),
      );
      const page = predictionPageSchema.safeParse(json);
      return page.success ? page.data : null;
    },
  };
}
