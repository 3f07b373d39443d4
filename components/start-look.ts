import { UNREACHABLE, type UploadOutcome, type UploadRequest, uploadLook } from "@/components/upload-look";

/** The Blob SDK is ~120 KB of script: only pages whose uploads go to Blob load it. */
const loadDirectUploads = () => import("@/components/upload-look-direct");

/** Fetches the direct-upload code ahead of the first submit. */
export function preloadDirectUploads(): void {
  loadDirectUploads().catch(() => {
    // The submit tries again, and says so if it cannot.
  });
}

/**
 * Starts a look: photos straight to Vercel Blob when the server stores images there, else in the
 * multipart start form. Never rejects: every failure becomes a message.
 */
export async function startLook(request: UploadRequest, directUploads: boolean): Promise<UploadOutcome> {
  if (!directUploads) return uploadLook(request);
  let direct: Awaited<ReturnType<typeof loadDirectUploads>>;
  try {
    direct = await loadDirectUploads();
  } catch {
    return { ok: false, message: UNREACHABLE };
  }
  return direct.uploadLookDirect(request);
}
