import { SignJWT } from "jose";

const TOKEN_LIFETIME_SECONDS = 1_800;
/** Kling rejects a token whose nbf is ahead of its clock, so it starts a little in the past. */
const NOT_BEFORE_SKEW_SECONDS = 5;
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
}

/** Signs Kling's HS256 JWT (iss = access key) and reuses it across requests. */
export function createKlingTokenSource({
  accessKey,
  secretKey,
  now = Date.now,
}: KlingTokenOptions): KlingTokenSource {
  const key = new TextEncoder().encode(secretKey);
  let cached: { jwt: Promise<string>; expiresAtMs: number } | null = null;

  return {
    token() {
      const nowMs = now();
      if (cached && cached.expiresAtMs - nowMs > MIN_REMAINING_MS) return cached.jwt;
      const nowSeconds = Math.floor(nowMs / 1_000);
      const exp = nowSeconds + TOKEN_LIFETIME_SECONDS;
      // The promise is cached, so concurrent callers share one signing.
      const jwt = new SignJWT({})
        .setProtectedHeader({ alg: "HS256", typ: "JWT" })
        .setIssuer(accessKey)
        .setExpirationTime(exp)
        .setNotBefore(nowSeconds - NOT_BEFORE_SKEW_SECONDS)
        .sign(key);
      const entry = { jwt, expiresAtMs: exp * 1_000 };
      cached = entry;
      jwt.catch(() => {
        if (cached === entry) cached = null;
      });
      return jwt;
    },
    invalidate() {
      cached = null;
    },
  };
}
