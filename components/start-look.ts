import { attemptFor, closeAttempt } from "@/components/start-attempt";
import { UNREACHABLE, type UploadOutcome, type UploadRequest, uploadLook } from "@/components/upload-look";

/** The access of the server's Vercel Blob store, which direct uploads must use; null: no direct uploads. */
export type DirectUploads = "public" | "private" | null;

/** The Blob SDK is ~120 KB of script: only pages whose uploads go to Blob load it. */
const loadDirectUploads = () => import("@/components/upload-look-direct");

/** Fetches the direct-upload code ahead of the first submit. */
export function preloadDirectUploads(): void {
  loadDirectUploads().catch(() => {
    // The submit tries again, and says so if it cannot.
  });
}

async function sendLook(request: UploadRequest, directUploads: DirectUploads): Promise<UploadOutcome> {
  if (!directUploads) return uploadLook(request);
  let direct: Awaited<ReturnType<typeof loadDirectUploads>>;
  try {
    direct = await loadDirectUploads();
  } catch {
    return { ok: false, message: UNREACHABLE, mayHaveStarted: false };
  }
  return direct.uploadLookDirect(request, directUploads);
}

/**
 * Starts a look: photos straight to Vercel Blob when the server stores images there, else in the
 * multipart start form. Submitting the same photos and occasion again after an answer that may have
 * started a look is the same attempt (the same Idempotency-Key): one look, however often it is tried.
 * Never rejects: every failure becomes a message.
 */
export async function startLook(
  request: Omit<UploadRequest, "attempt">,
  directUploads: DirectUploads,
): Promise<UploadOutcome> {
  const attempt = attemptFor(request);
  const outcome = await sendLook({ ...request, attempt }, directUploads);
  if (outcome.ok || !outcome.mayHaveStarted) closeAttempt(attempt);
  return outcome;
}
