import { del, list, put } from "@vercel/blob";
import { BLOB_PREFIX_PATTERN, type BlobRef, type BlobStore, type StoredBlob } from "@/lib/blobs/types";
import { ConfigError } from "@/lib/failures";
import { withDeadline } from "./sdk-deadline";
import { vercelBlobOrigins, vercelBlobStoreId } from "./vercel-blob-origins";
import { createBlobSigner } from "./vercel-blob-signing";

/** Options of the Vercel Blob store. */
export interface VercelBlobStoreOptions {
  /** BLOB_READ_WRITE_TOKEN: `vercel_blob_rw_<storeId>_<secret>`. */
  token: string;
  /**
   * BLOB_ACCESS: what the store was created as (a store's access is fixed at creation, and the service
   * refuses a put of the other kind). Private: every read needs the token or a signed URL.
   */
  access: "public" | "private";
  /**
   * VERCEL_BLOB_API_URL, set only to reach an emulator. @vercel/blob reads that variable itself (it has
   * no option for it); the store needs it to trust the emulator's origin for reads.
   */
  apiUrl?: string;
  /** Largest blob `get` reads into memory (default 10 MB, the upload cap); larger ones throw. */
  maxGetBytes?: number;
  /** Deadline of one operation including the SDK's own retries (default 20 s). */
  timeoutMs?: number;
  /** How long a signed URL given to the browser stays valid (private store; default 15 minutes). */
  viewUrlTtlMs?: number;
  now?: () => number;
}

/** A blob larger than the store will read. */
export class BlobTooLargeError extends Error {
  constructor(
    readonly url: string,
    readonly limitBytes: number,
  ) {
    super(`blob at ${url} is larger than ${limitBytes} bytes`);
    this.name = "BlobTooLargeError";
  }
}

const DEFAULT_MAX_GET_BYTES = 10 * 1024 * 1024;
const DEFAULT_TIMEOUT_MS = 20_000;
/** SCAYLE's bar for try-on results: a page's image URL dies a quarter of an hour after it was shown. */
export const DEFAULT_VIEW_URL_TTL_MS = 15 * 60_000;
/** Browser URLs end on a whole minute, so the polls of one minute show the same URL (one download). */
const VIEW_URL_GRANULARITY_MS = 60_000;

/** Reads a response body, giving up (and cancelling the download) past `limit` bytes. */
async function readCapped(response: Response, url: string, limit: number): Promise<Buffer> {
  if (Number(response.headers.get("content-length") ?? 0) > limit) {
    await response.body?.cancel();
    throw new BlobTooLargeError(url, limit);
  }
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader = response.body?.getReader();
  for (;;) {
    const chunk = await reader?.read();
    if (!chunk || chunk.done) break;
    size += chunk.value.byteLength;
    if (size > limit) {
      await reader?.cancel();
      throw new BlobTooLargeError(url, limit);
    }
    chunks.push(chunk.value);
  }
  return Buffer.concat(chunks);
}

/**
 * Production: blobs under unguessable pathnames (the service appends a random suffix), in a public
 * store (anyone holding a URL reads it, for ever) or a private one (reads need the token; the browser
 * and vendors get signed URLs that expire).
 */
export function createVercelBlobStore(options: VercelBlobStoreOptions): BlobStore {
  if (!vercelBlobStoreId(options.token))
    throw new ConfigError("BLOB_READ_WRITE_TOKEN is not a Vercel Blob read-write token.");
  const { token, access } = options;
  const maxGetBytes = options.maxGetBytes ?? DEFAULT_MAX_GET_BYTES;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  const viewUrlTtlMs = options.viewUrlTtlMs ?? DEFAULT_VIEW_URL_TTL_MS;
  const now = options.now ?? Date.now;
  const trustedOrigins = new Set(vercelBlobOrigins(options));
  const signedGetUrl = createBlobSigner({ token, timeoutMs, now });
  // The SDK's own private read (`get`) sends exactly this; ours also caps size and trusts only our hosts.
  const readHeaders: Record<string, string> =
    access === "private" ? { authorization: `Bearer ${token}` } : {};

  /** A URL anyone can read until `validUntil`: the URL itself when public, a signed one when private. */
  async function shareable(ref: BlobRef, validUntil: number): Promise<string> {
    const url = ownUrl(ref);
    if (!url) throw new Error(`not a blob of this store: ${ref.key}`);
    return access === "public" ? url.href : signedGetUrl(url.href, validUntil);
  }

  /** The URL when it is one of this store's blobs; anything else is never fetched or deleted. */
  function ownUrl(ref: BlobRef): URL | null {
    try {
      const url = new URL(ref.url);
      return trustedOrigins.has(url.origin) && !url.username && !url.password ? url : null;
    } catch {
      return null;
    }
  }

  return {
    access,
    async put(key, bytes, contentType) {
      const blob = await withDeadline(timeoutMs, (abortSignal) =>
        put(key, bytes, { access, contentType, addRandomSuffix: true, token, abortSignal }),
      );
      return { key: blob.pathname, url: blob.url } satisfies BlobRef;
    },
    async get(ref): Promise<StoredBlob | null> {
      const url = ownUrl(ref);
      if (!url) return null;
      // A blob URL never redirects; following one could lead off the store.
      const response = await fetch(url, {
        headers: readHeaders,
        redirect: "error",
        signal: AbortSignal.timeout(timeoutMs),
      });
      if (response.status === 404 || response.status === 410) {
        await response.body?.cancel();
        return null;
      }
      if (!response.ok) {
        await response.body?.cancel();
        throw new Error(`Vercel Blob answered HTTP ${response.status} for ${url.pathname}`);
      }
      return {
        bytes: await readCapped(response, url.href, maxGetBytes),
        contentType: response.headers.get("content-type") ?? "application/octet-stream",
      };
    },
    viewUrl: (ref) => {
      const validUntil =
        Math.ceil((now() + viewUrlTtlMs) / VIEW_URL_GRANULARITY_MS) * VIEW_URL_GRANULARITY_MS;
      return shareable(ref, validUntil);
    },
    fetchUrl: (ref, validUntil) => shareable(ref, validUntil),
    async delete(ref) {
      const url = ownUrl(ref);
      if (url) await withDeadline(timeoutMs, (abortSignal) => del(url.href, { token, abortSignal }));
    },
    async deletePrefix(prefix) {
      if (!BLOB_PREFIX_PATTERN.test(prefix)) throw new Error(`invalid blob prefix: ${prefix}`);
      // Page by page (the API lists at most 1000), each page deleted in one call, until none is left.
      let cursor: string | undefined;
      do {
        const page = await withDeadline(timeoutMs, (abortSignal) =>
          list({ prefix, cursor, limit: 1000, token, abortSignal }),
        );
        const urls = page.blobs.map((blob) => blob.url);
        if (urls.length > 0)
          await withDeadline(timeoutMs, (abortSignal) => del(urls, { token, abortSignal }));
        cursor = page.hasMore ? page.cursor : undefined;
      } while (cursor);
    },
    async deleteStoredBefore(prefix, before) {
      if (!BLOB_PREFIX_PATTERN.test(prefix)) throw new Error(`invalid blob prefix: ${prefix}`);
      // The whole listing first, then the deletes: a cursor is not promised to survive them.
      const stale: string[] = [];
      let cursor: string | undefined;
      do {
        const page = await withDeadline(timeoutMs, (abortSignal) =>
          list({ prefix, cursor, limit: 1000, token, abortSignal }),
        );
        for (const blob of page.blobs) if (blob.uploadedAt.getTime() < before) stale.push(blob.url);
        cursor = page.hasMore ? page.cursor : undefined;
      } while (cursor);
      for (let from = 0; from < stale.length; from += 1000) {
        const urls = stale.slice(from, from + 1000);
        await withDeadline(timeoutMs, (abortSignal) => del(urls, { token, abortSignal }));
      }
      return stale.length;
    },
  };
}
