import { upload } from "@vercel/blob/client";
import {
  CANCELLED,
  type StartAnswer,
  sendStart,
  UNREACHABLE,
  type UploadOutcome,
  type UploadRequest,
} from "@/components/upload-look";
import { CONSENT_FIELD } from "@/lib/consent";

/** Names the token route accepts (one image under uploads/); the store appends a random suffix. */
const PATHNAMES = ["uploads/photo.jpg", "uploads/garment.jpg"] as const;
/**
 * The SDK retries a dropped upload with backoff for up to ~17 minutes; after this long without
 * progress, say so. Generous, because Chromium reports a small file as sent once it is buffered and
 * then reports nothing until the store answers, however slow the link.
 */
const STALL_MS = 120_000;

/** Thrown when no progress came for STALL_MS. */
class UploadStalledError extends Error {}

function failureMessage(error: unknown, cancelled: AbortSignal): string {
  if (cancelled.aborted) return CANCELLED;
  if (error instanceof UploadStalledError || error instanceof TypeError) return UNREACHABLE;
  // The SDK's BlobFileTooLargeError; a refused token loses the route's own message inside the SDK.
  if (error instanceof Error && /too large/i.test(error.message))
    return "The photos are too large to upload. Please choose smaller ones.";
  return "Your photos could not be uploaded. Please try again.";
}

/**
 * Puts both photos into Blob; any failure, a stall or the caller's signal stops both. `access`: the
 * store's (a private store refuses public puts); a private photo's URL is only an address, which the
 * server reads with its token.
 */
async function uploadPhotos(
  request: UploadRequest,
  access: "public" | "private",
  stop: AbortController,
): Promise<string[]> {
  const photos = [request.person, request.garment];
  const total = photos.reduce((sum, photo) => sum + photo.size, 0);
  const loaded = photos.map(() => 0);
  let stall: ReturnType<typeof setTimeout> | undefined;
  let stalled = false;
  // A plain abort(): the SDK gives up on an AbortError but would retry an abort with another reason.
  const watch = () => {
    clearTimeout(stall);
    stall = setTimeout(() => {
      stalled = true;
      stop.abort();
    }, STALL_MS);
  };
  watch();
  try {
    return await Promise.all(
      photos.map(async (photo, index) => {
        try {
          const blob = await upload(PATHNAMES[index] ?? PATHNAMES[0], photo, {
            access,
            handleUploadUrl: "/api/uploads",
            contentType: "image/jpeg",
            abortSignal: stop.signal,
            onUploadProgress: (progress) => {
              // A photo still sending after the other failed must not bring the progress bar back.
              if (stop.signal.aborted) return;
              watch();
              loaded[index] = progress.loaded;
              request.onProgress(Math.min(1, loaded.reduce((sum, n) => sum + n, 0) / total));
            },
          });
          return blob.url;
        } catch (error) {
          stop.abort();
          throw stalled ? new UploadStalledError("no upload progress", { cause: error }) : error;
        }
      }),
    );
  } finally {
    clearTimeout(stall);
  }
}

/** One JSON start request naming the uploaded photos. */
async function postUrls(request: UploadRequest, urls: string[]): Promise<StartAnswer> {
  try {
    const response = await fetch("/api/generation/start", {
      method: "POST",
      headers: { "content-type": "application/json", "Idempotency-Key": request.attempt.key },
      body: JSON.stringify({
        human_image_url: urls[0],
        garment_image_url: urls[1],
        occasion: request.occasion,
        // The page starts only once the person ticked the statement (components/consent-field.tsx).
        [CONSENT_FIELD]: true,
      }),
      signal: request.signal,
    });
    const body = await response.json().catch(() => null);
    return { status: response.status, body, retryAfter: response.headers.get("Retry-After") };
  } catch {
    return request.signal.aborted ? "cancelled" : "unreachable";
  }
}

/**
 * Blob mode: puts both photos straight into Vercel Blob with `upload()` (a token from /api/uploads),
 * then starts the look from their URLs, so no photo passes through a function's 4.5 MB body limit.
 * A retry of the same attempt reuses its uploads: the same request, so the same Idempotency-Key holds.
 * Never rejects: every failure becomes a message.
 */
export async function uploadLookDirect(
  request: UploadRequest,
  access: "public" | "private",
): Promise<UploadOutcome> {
  let urls = request.attempt.uploadedUrls;
  if (!urls) {
    const stop = new AbortController();
    const cancel = () => stop.abort();
    request.signal.addEventListener("abort", cancel, { once: true });
    try {
      urls = await uploadPhotos(request, access, stop);
    } catch (error) {
      // Nothing was started yet: a new submit may upload afresh under a new key.
      return { ok: false, message: failureMessage(error, request.signal), mayHaveStarted: false };
    } finally {
      request.signal.removeEventListener("abort", cancel);
    }
    request.attempt.uploadedUrls = urls;
  }
  const uploaded = urls;
  return sendStart(() => postUrls(request, uploaded), request.signal);
}
