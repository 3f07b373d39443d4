import { SignJWT } from "jose";

/** `exp` = now + 30 minutes, as Kling documents. */
const TOKEN_LIFETIME_SECONDS = 1_800;
/**
 * Kling rejects a token whose `nbf` is ahead of its clock (1003), so `nbf` is put a minute in the past:
 * a host clock up to a minute fast still signs tokens Kling accepts.
 */
const NOT_BEFORE_SKEW_SECONDS = 60;
/** A cached token is replaced once it has less than this left (i.e. after 25 of its 30 minutes). */
const MIN_REMAINING_MS = 5 * 60_000;

/** Options of the JWT source. */
export interface KlingTokenOptions {
  accessKey: string;
  secretKey: string;
  /** The clock (ms epoch); tests pass a fake one. */
  now?: () => number;
}

export interface KlingTokenSource {
  /** A valid JWT: the cached one while it has more than 5 minutes left, else a fresh one. */
  token(): Promise<string>;
  /** Drops the cached token, e.g. after Kling rejected it. */
  invalidate(): void;
  /**
   * Signs later tokens by Kling's clock rather than ours: `offsetMs` = our clock minus Kling's
   * (measured from its `Date` header). Drops the cached token when the offset changes.
   */
  setClockOffset(offsetMs: number): void;
}

/** Signs Kling's HS256 JWT (iss = access key) and reuses it across requests. */
export function createKlingTokenSource({
  accessKey,
  secretKey,
  now = Date.now,
}: KlingTokenOptions): KlingTokenSource {
  const key = new TextEncoder().encode(secretKey);
  let offsetMs = 0;
  let cached: { jwt: Promise<string>; expiresAtMs: number } | null = null;

  return {
    token() {
      const nowMs = now();
      if (cached && cached.expiresAtMs - nowMs > MIN_REMAINING_MS) return cached.jwt;
      const klingSeconds = Math.floor((nowMs - offsetMs) / 1_000);
      const exp = klingSeconds + TOKEN_LIFETIME_SECONDS;
      // The promise is cached, so concurrent callers share one signing.
      const jwt = new SignJWT({})
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setIssuer(accessKey)
        .setExpirationTime(exp)
        .setNotBefore(klingSeconds - NOT_BEFORE_SKEW_SECONDS)
        .sign(key);
      // Expiry in our own clock's terms, so the cache renews it on time whatever the offset.
      const entry = { jwt, expiresAtMs: exp * 1_000 + offsetMs };
      cached = entry;
      jwt.catch(() => {
        if (cached === entry) cached = null;
      });
      return jwt;
    },
    invalidate() {
      cached = null;
    },
    setClockOffset(next) {
      if (next === offsetMs) return;
      offsetMs = next;
      cached = null;
    },
  };
}
