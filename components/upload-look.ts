/** What starting a look came to: a job id, or a sentence for the person. */
export type UploadOutcome = { ok: true; jobId: string } | { ok: false; message: string };

export interface UploadRequest {
  person: Blob;
  garment: Blob;
  occasion: string;
  /** Called with the fraction (0–1) of the photos sent so far. */
  onProgress(fraction: number): void;
  signal: AbortSignal;
}

export const UNREACHABLE = "The server could not be reached. Check your connection and try again.";
export const CANCELLED = "The upload was cancelled.";

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
  return { ok: false, message: messageOf(status, body) };
}

/**
 * Posts the start form with the photos in it (local mode) with XMLHttpRequest, the one browser API
 * that reports upload progress. Never rejects: every failure becomes a message.
 */
export function uploadLook(request: UploadRequest): Promise<UploadOutcome> {
  const form = new FormData();
  form.append("human_image", request.person, "photo.jpg");
  form.append("garment_image", request.garment, "garment.jpg");
  form.append("occasion", request.occasion);

  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/generation/start");
    xhr.responseType = "json";
    xhr.upload.onprogress = (event) => {
      if (event.lengthComputable && event.total > 0) request.onProgress(event.loaded / event.total);
    };
    xhr.onload = () => resolve(startOutcomeOf(xhr.status, xhr.response));
    xhr.onerror = () => resolve({ ok: false, message: UNREACHABLE });
    xhr.ontimeout = () => resolve({ ok: false, message: UNREACHABLE });
    xhr.onabort = () => resolve({ ok: false, message: CANCELLED });
    request.signal.addEventListener("abort", () => xhr.abort(), { once: true });
    xhr.send(form);
  });
}
