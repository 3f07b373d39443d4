import type { StartAttempt } from "@/components/start-attempt";
import { CONSENT_FIELD } from "@/lib/consent";

/**
 * What starting a look came to: a job id, or a sentence for the person. `mayHaveStarted`: the
 * answer was lost, or the server could not say, so a retry must be the same attempt.
 */
export type UploadOutcome =
  | { ok: true; jobId: string }
  | { ok: false; message: string; mayHaveStarted: boolean };

export interface UploadRequest {
  person: Blob;
  garment: Blob;
  occasion: string;
  /** The submit attempt: its Idempotency-Key (and, in Blob mode, its uploaded photos). */
  attempt: StartAttempt;
  /** Called with the fraction (0–1) of the photos sent so far. */
  onProgress(fraction: number): void;
  signal: AbortSignal;
}

/** A start request's answer, or why there was none. */
export type StartAnswer =
  | { status: number; body: unknown; retryAfter: string | null }
  | "unreachable"
  | "cancelled";

export const UNREACHABLE = "The server could not be reached. Check your connection and try again.";
export const CANCELLED = "The upload was cancelled.";
/** Waits between resending one attempt's start (same key) after a lost answer or a 409. */
const RETRY_DELAYS_MS = [1_000, 3_000];

function messageOf(status: number, body: unknown): string {
  if (body && typeof body === "object" && "error" in body && typeof body.error === "string")
    return body.error;
  if (status === 413) return "The photos are too large to upload. Please choose smaller ones.";
  return "Your look could not be started. Please try again.";
}

/** The start route's answer as an outcome: 202 with a job id, or its error sentence. */
export function startOutcomeOf(status: number, body: unknown): UploadOutcome {
  if (status === 202 && body && typeof body === "object" && "jobId" in body) {
    return { ok: true, jobId: String(body.jobId) };
  }
  // 409: the attempt's first request still runs; 5xx: the server may not know whether it started.
  return { ok: false, message: messageOf(status, body), mayHaveStarted: status === 409 || status >= 500 };
}

function pause(ms: number, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener(
      "abort",
      () => {
        clearTimeout(timer);
        resolve();
      },
      { once: true },
    );
  });
}

/**
 * Sends one attempt's start request, resending it (same Idempotency-Key, so at most one look) when
 * the answer was lost or is a 409 for the attempt's earlier request. Never rejects.
 */
export async function sendStart(
  send: () => Promise<StartAnswer>,
  signal: AbortSignal,
): Promise<UploadOutcome> {
  for (let retry = 0; ; retry++) {
    const answer = await send();
    if (answer === "cancelled" || signal.aborted)
      return { ok: false, message: CANCELLED, mayHaveStarted: true };
    const delay = RETRY_DELAYS_MS[retry];
    if (answer === "unreachable") {
      if (delay === undefined) return { ok: false, message: UNREACHABLE, mayHaveStarted: true };
      await pause(delay, signal);
      continue;
    }
    if (answer.status !== 409 || delay === undefined) return startOutcomeOf(answer.status, answer.body);
    await pause(Math.min(5_000, Number(answer.retryAfter) * 1000 || delay), signal);
  }
}

/** One multipart POST with XMLHttpRequest, the one browser API that reports upload progress. */
function postForm(request: UploadRequest, form: FormData): Promise<StartAnswer> {
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/generation/start");
    xhr.setRequestHeader("Idempotency-Key", request.attempt.key);
    xhr.responseType = "json";
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) request.onProgress(event.loaded / event.total);
    };
    xhr.onload = () =>
      resolve({ status: xhr.status, body: xhr.response, retryAfter: xhr.getResponseHeader("Retry-After") });
    xhr.onerror = () => resolve("unreachable");
    xhr.ontimeout = () => resolve("unreachable");
    xhr.onabort = () => resolve("cancelled");
    const abort = () => xhr.abort();
    request.signal.addEventListener("abort", abort, { once: true });
    xhr.onloadend = () => request.signal.removeEventListener("abort", abort);
    xhr.send(form);
  });
}

/** Posts the start form with the photos in it (local mode). Never rejects. */
export function uploadLook(request: UploadRequest): Promise<UploadOutcome> {
  const form = new FormData();
  form.append("human_image", request.person, "photo.jpg");
  form.append("garment_image", request.garment, "garment.jpg");
  form.append("occasion", request.occasion);
  // The page starts only once the person ticked the statement (components/consent-field.tsx).
  form.append(CONSENT_FIELD, "true");
  return sendStart(() => postForm(request, form), request.signal);
}
