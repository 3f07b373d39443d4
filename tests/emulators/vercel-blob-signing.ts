import { createHmac, timingSafeEqual } from "node:crypto";

/**
 * A private Blob store's signed reads, as @vercel/blob 2.8 builds them (`issueSignedToken`, then
 * `presignUrl`) and the service documents them:
 * - `POST /signed-token` `{ pathname?, operations?, validUntil? }` (server token) answers
 *   `{ delegationToken, clientSigningToken, validUntil }`. The delegation token is
 *   `<base64url JSON scope>.<store HMAC of it>` (scope: storeId, pathname or "*", operations, validUntil,
 *   default "get" for an hour, at most 7 days); the client signing token is
 *   `HMAC-SHA256(store secret, delegationToken)` in base64url, which the CDN re-derives.
 * - A presigned GET carries `vercel-blob-delegation`, `vercel-blob-signature` and, when shorter than
 *   the delegation, `vercel-blob-valid-until`; the signature is the base64url HMAC, keyed with the
 *   client signing token, of the sorted lines `operation=get`, `pathname=<pathname>` and each signed
 *   `vercel-blob-*` query parameter. It reads one pathname, with one operation, until it expires.
 */

const MAX_DELEGATION_MS = 7 * 24 * 60 * 60_000;
const DEFAULT_DELEGATION_MS = 60 * 60_000;
const OPERATIONS = ["get", "head", "put", "delete"] as const;
/** The query parameters the SDK signs (its PRESIGN_CANONICAL_QUERY_KEYS). */
const SIGNED_QUERY_KEYS = [
  "vercel-blob-add-random-suffix",
  "vercel-blob-allow-overwrite",
  "vercel-blob-allowed-content-types",
  "vercel-blob-cache-control-max-age",
  "vercel-blob-callback-token-payload",
  "vercel-blob-callback-url",
  "vercel-blob-if-match",
  "vercel-blob-maximum-size-in-bytes",
  "vercel-blob-valid-until",
];

interface DelegationScope {
  storeId: string;
  pathname: string;
  operations: string[];
  validUntil: number;
}

/** Why a signed read was refused (the emulator answers 403 for each; tests read the reason). */
export type SignedReadRefusal =
  | "unsigned"
  | "bad_delegation"
  | "wrong_store"
  | "wrong_operation"
  | "wrong_pathname"
  | "bad_signature"
  | "expired";

export class SignedTokenRequestError extends Error {}

const hmac = (key: string, data: string) => createHmac("sha256", key).update(data).digest("base64url");

function sameText(a: string, b: string): boolean {
  const [x, y] = [Buffer.from(a), Buffer.from(b)];
  return x.length === y.length && timingSafeEqual(x, y);
}

export function createDelegationAuthority(options: { storeId: string; secret: string; now: () => number }) {
  const { storeId, secret, now } = options;

  /** `POST /signed-token`: the body as the SDK sends it; throws SignedTokenRequestError on a bad one. */
  function issue(body: Record<string, unknown>) {
    const operations = body.operations ?? ["get"];
    if (
      !Array.isArray(operations) ||
      operations.length === 0 ||
      !operations.every((op) => (OPERATIONS as readonly unknown[]).includes(op))
    )
      throw new SignedTokenRequestError("operations must be a non-empty list of get, head, put, delete");
    const validUntil = body.validUntil ?? now() + DEFAULT_DELEGATION_MS;
    if (typeof validUntil !== "number" || !Number.isInteger(validUntil) || validUntil <= now())
      throw new SignedTokenRequestError("validUntil must be a future timestamp in milliseconds");
    if (validUntil > now() + MAX_DELEGATION_MS)
      throw new SignedTokenRequestError("validUntil must be at most 7 days from now");
    const pathname = body.pathname ?? "*";
    if (typeof pathname !== "string" || !pathname) throw new SignedTokenRequestError("invalid pathname");
    const scope: DelegationScope = { storeId, pathname, operations, validUntil };
    const payload = Buffer.from(JSON.stringify(scope)).toString("base64url");
    const delegationToken = `${payload}.${hmac(secret, payload)}`;
    return { delegationToken, clientSigningToken: hmac(secret, delegationToken), validUntil };
  }

  function scopeOf(delegationToken: string): DelegationScope | null {
    const [payload = "", seal = "", ...rest] = delegationToken.split(".");
    if (rest.length || !sameText(seal, hmac(secret, payload))) return null;
    try {
      return JSON.parse(Buffer.from(payload, "base64url").toString()) as DelegationScope;
    } catch {
      return null;
    }
  }

  /** Checks a presigned read of `pathname` (decoded, as the SDK signed it); null when it may be served. */
  function refusalOf(
    pathname: string,
    query: URLSearchParams,
    operation: "get" | "head",
  ): SignedReadRefusal | null {
    const delegationToken = query.get("vercel-blob-delegation");
    const signature = query.get("vercel-blob-signature");
    if (!delegationToken || !signature) return "unsigned";
    const scope = scopeOf(delegationToken);
    if (!scope) return "bad_delegation";
    if (scope.storeId !== storeId) return "wrong_store";
    if (!scope.operations.includes(operation)) return "wrong_operation";
    if (scope.pathname !== "*" && scope.pathname !== pathname) return "wrong_pathname";
    const lines = [`operation=${operation}`, `pathname=${pathname}`];
    for (const key of SIGNED_QUERY_KEYS) {
      const value = query.get(key);
      if (value) lines.push(`${key}=${value}`);
    }
    lines.sort((a, b) => Buffer.compare(Buffer.from(a), Buffer.from(b)));
    if (!sameText(signature, hmac(hmac(secret, delegationToken), lines.join("\n")))) return "bad_signature";
    const urlUntil = Number(query.get("vercel-blob-valid-until") ?? Number.POSITIVE_INFINITY);
    if (now() > Math.min(scope.validUntil, urlUntil)) return "expired";
    return null;
  }

  return { issue, refusalOf };
}
