import { isValidBlobKey, LOCAL_BLOB_ROUTE } from "@/lib/blobs/local";
import { AppError, errorResponse } from "@/lib/errors";
import { otherMethods } from "@/lib/http";
import { getRuntime } from "@/lib/runtime";

export const runtime = "nodejs";
export const { POST, PUT, PATCH, DELETE } = otherMethods("GET");

/** Serves local blobs (embedded mode): one file per exact key, never a listing, never outside its folder. */
export async function GET(_request: Request, { params }: { params: Promise<{ key: string[] }> }) {
  try {
    const key = (await params).key.join("/");
    if (!isValidBlobKey(key)) throw new AppError("invalid_file_key", "This file address is not valid.");
    const blob = await getRuntime().blobs.get({ key, url: `${LOCAL_BLOB_ROUTE}${key}` });
    if (!blob) throw new AppError("file_not_found", "This file does not exist.");
    return new Response(new Uint8Array(blob.bytes), {
      headers: {
        "Content-Type": blob.contentType,
        "Content-Length": String(blob.bytes.length),
        // Keys carry random parts and are never rewritten.
        "Cache-Control": "public, max-age=31536000, immutable",
        "X-Content-Type-Options": "nosniff",
      },
    });
  } catch (error) {
    return errorResponse(error);
  }
}
