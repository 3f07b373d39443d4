import { createHash, randomBytes } from "node:crypto";

/**
 * Ownership without accounts: the first start from a browser gives it a random owner token in an
 * HttpOnly cookie, and a job keeps only the token's hash. Knowing a job id lets anyone view the look;
 * only the browser holding the token may change or delete it.
 */
export const OWNER_COOKIE = "ss_owner";
/** 32 random bytes (256 bits), base64url: anything else in the cookie is ignored, not trusted. */
const TOKEN_PATTERN = /^[A-Za-z0-9_-]{43}$/;
/** Browsers cap a cookie's lifetime at 400 days (RFC 6265bis); each start renews it. */
const OWNER_COOKIE_MAX_AGE_S = 400 * 24 * 60 * 60;

/** Who asks, as an owner: the hash jobs are stamped with, and the cookie to send when one was minted. */
export interface Owner {
  hash: string;
  /** A `Set-Cookie` value, present when this request minted or renews the token. */
  setCookie: string;
}

export function ownerHashOf(token: string): string {
  return createHash("sha256").update(token).digest("base64url");
}

function readOwnerToken(request: Request): string | null {
  const header = request.headers.get("cookie") ?? "";
  for (const part of header.split(";")) {
    const [name, ...value] = part.trim().split("=");
    if (name === OWNER_COOKIE) {
      const token = value.join("=");
      return TOKEN_PATTERN.test(token) ? token : null;
    }
  }
  return null;
}

/** The caller's owner hash, or null for a browser that never started a look here. */
export function callerOwnerHash(request: Request): string | null {
  const token = readOwnerToken(request);
  return token ? ownerHashOf(token) : null;
}

/** `Secure` when the request came over https, so the cookie never travels in the clear. */
export function ownerCookie(token: string, request: Request): string {
  const secure = new URL(request.url).protocol === "https:" ? "; Secure" : "";
  return `${OWNER_COOKIE}=${token}; Path=/; Max-Age=${OWNER_COOKIE_MAX_AGE_S}; HttpOnly; SameSite=Lax${secure}`;
}

/** The caller as an owner, minting a token for a browser that has none (a start does this). */
export function ownerOf(request: Request): Owner {
  const token = readOwnerToken(request) ?? randomBytes(32).toString("base64url");
  return { hash: ownerHashOf(token), setCookie: ownerCookie(token, request) };
}
