/** BLOB_READ_WRITE_TOKEN: `vercel_blob_rw_<storeId>_<secret>`. */
const TOKEN_PATTERN = /^vercel_blob_rw_([A-Za-z0-9]+)_\S+$/;

/** The store id inside a read-write token, or null for a token of another shape. */
export function vercelBlobStoreId(token: string): string | null {
  return TOKEN_PATTERN.exec(token)?.[1] ?? null;
}

/**
 * The origins this store's blobs are served from: the service answers a put with
 * https://<storeId>.<public|private>.blob.vercel-storage.com/… (the store's access names the host);
 * another Blob API (VERCEL_BLOB_API_URL, the tests' emulator) serves its blobs from its own origin.
 * Used to trust reads (and, for a private store, where the token may be sent) and in the page's CSP.
 */
export function vercelBlobOrigins(options: {
  token: string;
  access: "public" | "private";
  apiUrl?: string | undefined;
}): string[] {
  const storeId = vercelBlobStoreId(options.token);
  const origins = storeId
    ? [`https://${storeId.toLowerCase()}.${options.access}.blob.vercel-storage.com`]
    : [];
  if (options.apiUrl) origins.push(new URL(options.apiUrl).origin);
  return origins;
}
