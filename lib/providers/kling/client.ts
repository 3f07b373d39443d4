import { outcomeOfNetworkError } from "@/lib/providers/create-outcome";
import { logSuspectSetting } from "@/lib/providers/setting-hint";
import { errorFromAnswer, KLING_SENTENCES, KlingApiError, parseRetryAfter, transientError } from "./errors";
import { klingEnvelopeSchema } from "./schemas";
import { createKlingSkewMeter } from "./skew";
import { createKlingTokenSource } from "./token";

/** Options of the HTTP client: credentials, where Kling lives, timeouts, and an injectable fetch. */
export interface KlingClientOptions {
  accessKey: string;
  secretKey: string;
  /** e.g. `https://api-singapore.klingai.com`; a trailing slash is ignored. */
  baseUrl: string;
  fetch?: typeof fetch;
  /** The clock for the JWT (ms epoch); tests pass a fake one. */
  now?: () => number;
  /** Timeout of each query or list call (default 20 s). */
  timeoutMs?: number;
  /** Timeout of a create, which may legitimately take longer to answer (default 45 s). */
  createTimeoutMs?: number;
}

export interface KlingRequest {
  method: "GET" | "POST";
  /** Path and query, e.g. `/v1/images/generations/123`. */
  path: string;
  body?: unknown;
  signal: AbortSignal;
}

export interface KlingClient {
  /** Sends one request and returns the envelope's `data`; every failure is a ProviderError. */
  request(request: KlingRequest): Promise<unknown>;
}

const MAX_DETAIL_BODY_CHARS = 200;
export const DEFAULT_TIMEOUT_MS = 20_000;
export const DEFAULT_CREATE_TIMEOUT_MS = 45_000;

/** Fetches and reads the body, turning network failures and timeouts into transient errors. */
async function exchange(
  doFetch: typeof fetch,
  url: string,
  init: RequestInit,
  operation: string,
): Promise<{ response: Response; text: string }> {
  try {
    const response = await doFetch(url, init);
    return { response, text: await response.text() };
  } catch (error) {
    const timedOut = error instanceof Error && (error.name === "TimeoutError" || error.name === "AbortError");
    const sentence = timedOut ? KLING_SENTENCES.timeout : KLING_SENTENCES.trouble;
    throw transientError(
      sentence,
      `Kling ${operation}: ${timedOut ? "aborted or timed out" : String(error)}`,
      error,
      outcomeOfNetworkError(error),
    );
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Kling's HTTP layer: JWT auth, the `{code, message, request_id, data}` envelope and its errors. */
export function createKlingClient(options: KlingClientOptions): KlingClient {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const tokens = createKlingTokenSource({ ...options, now });
  const skew = createKlingSkewMeter(now);

  async function send({ method, path, body, signal }: KlingRequest): Promise<unknown> {
    const operation = `${method} ${path.split("?")[0]}`;
    const timeoutMs =
      method === "POST"
        ? (options.createTimeoutMs ?? DEFAULT_CREATE_TIMEOUT_MS)
        : (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const jwt = await tokens.token();
    const { response, text } = await exchange(
      doFetch,
      `${baseUrl}${path}`,
      {
        method,
        headers: { Authorization: `Bearer ${jwt}`, "Content-Type": "application/json" },
        body: body === undefined ? undefined : JSON.stringify(body),
        signal: AbortSignal.any([signal, AbortSignal.timeout(timeoutMs)]),
      },
      operation,
    );
    const offsetMs = skew.observe(response.headers.get("date"));
    const envelope = klingEnvelopeSchema.safeParse(parseJson(text));
    const answer = {
      operation,
      httpStatus: response.status,
      retryAfterMs: parseRetryAfter(response.headers.get("retry-after")),
    };
    if (!envelope.success) {
      // A gateway's HTML error page still says whether to retry through its status.
      if (response.status !== 200) {
        // Kling answers in its envelope; a bare 404 page means the requests go to the wrong host.
        if (response.status === 404) {
          logSuspectSetting("KLING_API_BASE_URL", `${operation} on ${baseUrl} answered HTTP 404: ${text}`, {
            KLING_API_BASE_URL: baseUrl,
          });
        }
        throw errorFromAnswer({
          ...answer,
          code: undefined,
          message: text.slice(0, MAX_DETAIL_BODY_CHARS),
          requestId: undefined,
        });
      }
      throw transientError(
        KLING_SENTENCES.unreadable,
        `Kling ${operation}: HTTP 200 with an unreadable body: ${JSON.stringify(text.slice(0, MAX_DETAIL_BODY_CHARS))}`,
      );
    }
    const { code, message, request_id: requestId, data } = envelope.data;
    if (response.status !== 200 || code !== 0) {
      const error = errorFromAnswer({
        ...answer,
        code,
        message: message ?? "",
        requestId: requestId ?? undefined,
        note:
          offsetMs === undefined ? undefined : `our clock minus Kling's: ${Math.round(offsetMs / 1_000)} s`,
      });
      if (error.isClockRejection && offsetMs !== undefined) tokens.setClockOffset(skew.correctionMs());
      // A rejected token is signed afresh next time (e.g. after the clock was corrected).
      if (error.isAuthFailure) tokens.invalidate();
      if (error.isAuthFailure && !error.isClockRejection) {
        logSuspectSetting(
          "KLING_ACCESS_KEY and KLING_SECRET_KEY",
          `${operation}: code ${code} ${message ?? ""}`,
        );
      }
      throw error;
    }
    return data;
  }

  return {
    async request(request) {
      try {
        return await send(request);
      } catch (error) {
        if (!(error instanceof KlingApiError) || !error.isClockRejection) throw error;
        // The token's window was refused (a refusal creates nothing): once more, signed by Kling's clock.
        return send(request);
      }
    },
  };
}
