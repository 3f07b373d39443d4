import { createHash } from "node:crypto";

/** The two photos of a start, as uploaded (not yet validated or normalised). */
export interface StartPhotos {
  person: Buffer;
  garment: Buffer;
}

/**
 * A start request as read from the wire: its fields, and a way to its photos that costs nothing
 * until the start is allowed (for direct uploads it downloads them from Blob).
 */
export interface StartRequest {
  occasion: string;
  /** Equal requests have equal fingerprints: what a reused Idempotency-Key is compared on. */
  fingerprint: string;
  /** The consent statement's version the request agreed to (lib/consent.ts); intake refuses a start without. */
  consentVersion: string;
  photos(): Promise<StartPhotos>;
}

/** A digest of a request's parts; `kind` keeps a form and a JSON body with equal text apart. */
export function fingerprintOf(kind: string, parts: Array<string | Buffer>): string {
  const hash = createHash("sha256").update(kind);
  for (const part of parts) {
    // Each part's own digest, so no two part lists can run together into the same bytes.
    hash.update(createHash("sha256").update(part).digest());
  }
  return hash.digest("hex");
}
