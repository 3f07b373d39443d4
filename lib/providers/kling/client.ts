import { outcomeOfNetworkError, wasAbortedOrTimedOut } from "@/lib/providers/create-outcome";
import { withDeadline } from "@/lib/providers/deadline";
import { redactor } from "@/lib/providers/redact";
import { retryAfterMs } from "@/lib/providers/retry-after";
import { logSuspectSetting } from "@/lib/providers/setting-hint";
import { DEFAULT_CREATE_TIMEOUT_MS, DEFAULT_TIMEOUT_MS } from "@/lib/providers/vendor-timeouts";
import { errorFromAnswer, KLING_MESSAGES, KlingApiError, transientError } from "./errors";
import {
  type KlingTask,
  klingEnvelopeSchema,
  klingTaskSchema,
  parseTaskListPage,
  type TaskListPage,
} from "./schemas";
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

/** Kling's task API for one kind (`path`, e.g. `/v1/images/generations`); every failure is a ProviderError. */
export interface KlingClient {
  /** A create: its failures carry their outcome (Kling's 1xxx refusals and a refused connection made nothing). */
  createTask(path: string, body: Record<string, unknown>, signal: AbortSignal): Promise<KlingTask>;
  getTask(path: string, taskId: string, signal: AbortSignal): Promise<KlingTask>;
  /** One page of the kind's task list, newest first, or null when the answer is not a list. */
  listTasks(
    path: string,
    page: { pageNum: number; pageSize: number },
    signal: AbortSignal,
  ): Promise<TaskListPage | null>;
}

interface KlingRequest {
  method: "GET" | "POST";
  /** Path and query, e.g. `/v1/images/generations/123`. */
  path: string;
  body?: unknown;
  signal: AbortSignal;
}

const MAX_DETAIL_BODY_CHARS = 200;

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

function parseTask(data: unknown, what: string): KlingTask {
  const parsed = klingTaskSchema.safeParse(data);
  if (parsed.success) return parsed.data;
  const issues = parsed.error.issues.map((issue) => `${issue.path.join(".")}: ${issue.message}`).join("; ");
  throw transientError(KLING_MESSAGES.unreadable, `Kling ${what}: unexpected task data (${issues})`);
}

/** Kling's HTTP layer: JWT auth, the `{code, message, request_id, data}` envelope and its errors. */
export function createKlingClient(options: KlingClientOptions): KlingClient {
  const doFetch = options.fetch ?? fetch;
  const now = options.now ?? Date.now;
  const baseUrl = options.baseUrl.replace(/\/+$/, "");
  const redact = redactor(options.secretKey);
  const tokens = createKlingTokenSource({ ...options, now });
  const skew = createKlingSkewMeter(now);

  /** Fetches and reads the body, turning network failures and timeouts into transient errors. */
  async function exchange(url: string, init: RequestInit, operation: string) {
    try {
      const response = await doFetch(url, init);
      return { response, text: await response.text() };
    } catch (error) {
      const timedOut = wasAbortedOrTimedOut(error);
      throw transientError(
        timedOut ? KLING_MESSAGES.timeout : KLING_MESSAGES.trouble,
        redact(`Kling ${operation}: ${timedOut ? "aborted or timed out" : String(error)}`),
        error,
        outcomeOfNetworkError(error),
      );
    }
  }

  async function send({ method, path, body, signal }: KlingRequest): Promise<unknown> {
    const operation = `${method} ${path.split("?")[0]}`;
    const timeoutMs =
      method === "POST"
        ? (options.createTimeoutMs ?? DEFAULT_CREATE_TIMEOUT_MS)
        : (options.timeoutMs ?? DEFAULT_TIMEOUT_MS);
    const jwt = await tokens.token();
    const { response, text } = await withDeadline(signal, timeoutMs, (signal) =>
      exchange(
        `${baseUrl}${path}`,
        {
          method,
          headers: { Authorization: `Bearer ${jwt}`, "Content-Type": "application/json" },
          body: body === undefined ? undefined : JSON.stringify(body),
          signal,
        },
        operation,
      ),
    );
    const offsetMs = skew.observe(response.headers.get("date"));
    const envelope = klingEnvelopeSchema.safeParse(parseJson(text));
    const answer = {
      operation,
      httpStatus: response.status,
      retryAfterMs: retryAfterMs(response.headers),
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
          message: redact(text.slice(0, MAX_DETAIL_BODY_CHARS)),
          requestId: undefined,
        });
      }
      throw transientError(
        KLING_MESSAGES.unreadable,
        redact(
          `Kling ${operation}: HTTP 200 with an unreadable body: ${JSON.stringify(text.slice(0, MAX_DETAIL_BODY_CHARS))}`,
        ),
      );
    }
    const { code, message, request_id: requestId, data } = envelope.data;
    if (response.status !== 200 || code !== 0) {
      const error = errorFromAnswer({
        ...answer,
        code,
        message: redact(message ?? ""),
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

  async function request(request: KlingRequest): Promise<unknown> {
    try {
      return await send(request);
    } catch (error) {
      if (!(error instanceof KlingApiError) || !error.isClockRejection) throw error;
      // The token's window was refused (a refusal creates nothing): once more, signed by Kling's clock.
      return send(request);
    }
  }

  return {
    async createTask(path, body, signal) {
      return parseTask(await request({ method: "POST", path, body, signal }), `POST ${path}`);
    },
    async getTask(path, taskId, signal) {
      const data = await request({ method: "GET", path: `${path}/${encodeURIComponent(taskId)}`, signal });
      return parseTask(data, `GET ${path}/{task_id}`);
    },
    async listTasks(path, { pageNum, pageSize }, signal) {
      const query = `pageNum=${pageNum}&pageSize=${pageSize}`;
      return parseTaskListPage(await request({ method: "GET", path: `${path}?${query}`, signal }));
    },
  };
}
