/** BLOB_READ_WRITE_TOKEN: `vercel_blob_rw_<storeId>_<secret>`. */
const TOKEN_PATTERN = /^vercel_blob_rw_([A-Za-z0-9]+)_\S+$/;

/** The store id inside a read-write token, or null for a token of another shape. */
export function vercelBlobStoreId(token: string): string | null {
  return TOKEN_PATTERN.exec(token)?.[1] ?? null;
}

/**
 * The origins this store's blobs are served from: the SDK builds public URLs as
 * https://<storeId>.public.blob.vercel-storage.com; another Blob API (VERCEL_BLOB_API_URL, the tests'
 * emulator) serves its blobs from its own origin. Used to trust reads and in the page's CSP.
 */
export function vercelBlobOrigins(options: { token: string; apiUrl?: string | undefined }): string[] {
  const storeId = vercelBlobStoreId(options.token);
  const origins = storeId ? [`https://${storeId.toLowerCase()}.public.blob.vercel-storage.com`] : [];
  if (options.apiUrl) origins.push(new URL(options.apiUrl).origin);
  return origins;
}
