import { type IssuedSignedToken, issueSignedToken, presignUrl } from "@vercel/blob";
import { withDeadline } from "./sdk-deadline";

/**
 * How long one delegation token lives. It stays in this process's memory (only the URLs signed with
 * it leave), and one token signs every URL until then: one API call an hour, not one per image.
 */
const TOKEN_LIFETIME_MS = 60 * 60_000;
/** A token is renewed this long before its end, so no URL is cut short by its token. */
const TOKEN_RENEW_MARGIN_MS = 60_000;

export interface BlobSignerOptions {
  /** BLOB_READ_WRITE_TOKEN: it asks the Blob API for delegation tokens (`POST /signed-token`). */
  token: string;
  timeoutMs: number;
  now?: () => number;
}

/**
 * Signed GET URLs of a private store (@vercel/blob ≥ 2.3): `issueSignedToken({ operations: ["get"] })`
 * once, then `presignUrl` per blob, an HMAC over the operation, the blob's pathname and the URL's
 * expiry: a URL reads exactly one blob, only with GET, and only until its `validUntil`.
 */
export function createBlobSigner(options: BlobSignerOptions) {
  const now = options.now ?? Date.now;
  let current: { issued: Promise<IssuedSignedToken>; validUntil: number } | null = null;

  function tokenLasting(until: number): Promise<IssuedSignedToken> {
    if (current && current.validUntil - TOKEN_RENEW_MARGIN_MS >= until) return current.issued;
    const validUntil = Math.max(until + TOKEN_RENEW_MARGIN_MS, now() + TOKEN_LIFETIME_MS);
    const issued = withDeadline(options.timeoutMs, (abortSignal) =>
      issueSignedToken({ token: options.token, operations: ["get"], validUntil, abortSignal }),
    );
    const entry = { issued, validUntil };
    current = entry;
    // A failed issue is not kept: the next URL asks again.
    issued.catch(() => {
      if (current === entry) current = null;
    });
    return issued;
  }

  /** `blobUrl`: the blob's own address (as `put` answered it); the signature goes on its query. */
  return async function signedGetUrl(blobUrl: string, validUntil: number): Promise<string> {
    const url = new URL(blobUrl);
    // The CDN checks the signature against the path it is asked for: sign exactly that pathname.
    const pathname = decodeURIComponent(url.pathname.slice(1));
    const signed = await tokenLasting(validUntil);
    const { presignedUrl } = await presignUrl(signed, {
      operation: "get",
      pathname,
      validUntil,
      access: "private",
      // Straight from storage, never a CDN copy: a deleted look stops being served at once.
      useCache: false,
    });
    // The SDK puts the query on the store's canonical host, which is `blobUrl`'s own (or, in tests,
    // the emulator's): the blob's address with the signed query.
    for (const [name, value] of new URL(presignedUrl).searchParams) url.searchParams.set(name, value);
    return url.href;
  };
}
