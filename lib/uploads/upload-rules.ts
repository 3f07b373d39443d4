import type { AppConfig } from "@/lib/config";
import { AppError } from "@/lib/errors";
import { MAX_IMAGE_BYTES } from "@/lib/start-rules";

/** The rules every direct browser upload follows, shared by the token route and the start request. */

/** The folder direct uploads land in; start only accepts blobs from here. */
export const UPLOAD_FOLDER = "uploads/";
/** The same cap as a multipart photo. */
export const MAX_UPLOAD_BYTES = MAX_IMAGE_BYTES;
/** How long an upload token may be used: one slow phone upload, not a day. */
export const UPLOAD_TOKEN_TTL_MS = 10 * 60_000;
/**
 * A direct upload still under uploads/ after this long was never claimed by a start (a start copies
 * its uploads into the job's folder and deletes them at once): the retention sweep deletes it.
 */
export const UNCLAIMED_UPLOAD_MAX_AGE_MS = 60 * 60_000;

/** `uploads/<name>.<image extension>`, one safe segment (the service adds its random suffix to it). */
const UPLOAD_PATHNAME = /^uploads\/[A-Za-z0-9_-]{1,200}\.(?:jpe?g|png|webp)$/i;

export function isUploadPathname(pathname: string): boolean {
  return UPLOAD_PATHNAME.test(pathname);
}

/** Direct uploads need Vercel Blob: local files cannot be written by the browser. */
export function directUploadsEnabled(deps: { config: Pick<AppConfig, "blobs"> }): boolean {
  return deps.config.blobs.kind === "vercel-blob";
}

export function directUploadsDisabled(): AppError {
  return new AppError(
    "direct_uploads_disabled",
    "Direct uploads are not enabled on this server: send the photos with the form instead.",
  );
}
