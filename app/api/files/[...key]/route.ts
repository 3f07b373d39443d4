// GET /api/files/<key>: the local blob store's files (embedded mode), one exact key at a time.
import { createHash } from "node:crypto";
import { isValidBlobKey, LOCAL_BLOB_ROUTE } from "@/lib/blobs/local";
import { AppError } from "@/lib/errors";
import { route } from "@/lib/http";
import { getParts } from "@/lib/wiring/parts";

export const runtime = "nodejs";

/**
 * Photos of people: kept out of shared caches, and revalidated on every use so that a deleted look
 * stops showing (a 304 costs no bytes). Never `immutable`.
 */
const CACHE_CONTROL = "private, no-cache";

/** Serves local blobs (embedded mode): one file per exact key, never a listing, never outside its folder. */
async function serveFile(request: Request, { params }: { params: Promise<{ key: string[] }> }) {
  const key = (await params).key.join("/");
  if (!isValidBlobKey(key)) throw new AppError("invalid_file_key", "This file address is not valid.");
  const blob = await getParts().blobs.get({ key, url: `${LOCAL_BLOB_ROUTE}${key}` });
  if (!blob) throw new AppError("file_not_found", "This file does not exist.");
  const etag = `"${createHash("sha256").update(blob.bytes).digest("base64url").slice(0, 27)}"`;
  const headers = { "Cache-Control": CACHE_CONTROL, ETag: etag, "X-Content-Type-Options": "nosniff" };
  if (request.headers.get("if-none-match") === etag) return new Response(null, { status: 304, headers });
  return new Response(new Uint8Array(blob.bytes), {
    headers: { ...headers, "Content-Type": blob.contentType, "Content-Length": String(blob.bytes.length) },
  });
}

export const { GET, POST, PUT, PATCH, DELETE } = route({ GET: serveFile });
