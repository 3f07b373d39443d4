import { describe, expect, it } from "vitest";
import { AppError } from "@/lib/errors";
import { isOwnedBy, requireOwner } from "@/lib/jobs/ownership";
import { callerOwnerHash, OWNER_COOKIE, ownerHashOf, ownerOf } from "@/lib/owners/owner-cookie";
import { refuseCrossSite } from "@/lib/owners/same-origin";
import { makeStoredJob } from "@/tests/support/job-factory";

const request = (url: string, headers: Record<string, string> = {}) => new Request(url, { headers });

describe("ownership without accounts", () => {
  it("mints a 256-bit HttpOnly, SameSite=Lax cookie, Secure only over https, and keeps only its hash", () => {
    const owner = ownerOf(request("http://localhost:3000/api/generation/start"));
    const token = owner.setCookie.match(new RegExp(`^${OWNER_COOKIE}=([^;]+);`))?.[1] ?? "";
    expect(Buffer.from(token, "base64url")).toHaveLength(32);
    expect(owner.hash).toBe(ownerHashOf(token));
    expect(owner.hash).not.toContain(token);
    expect(owner.setCookie).toMatch(/; Path=\/; Max-Age=\d+; HttpOnly; SameSite=Lax$/);
    expect(ownerOf(request("https://studio.example/api/generation/start")).setCookie).toMatch(/; Secure$/);
  });

  it("keeps a browser's token across starts and ignores a malformed one", () => {
    const first = ownerOf(request("http://localhost/"));
    const cookie = first.setCookie.split(";")[0] ?? "";
    const again = ownerOf(request("http://localhost/", { cookie: `a=b; ${cookie}` }));
    expect(again.hash).toBe(first.hash);
    expect(callerOwnerHash(request("http://localhost/", { cookie }))).toBe(first.hash);
    expect(callerOwnerHash(request("http://localhost/", { cookie: `${OWNER_COOKIE}=short` }))).toBeNull();
    expect(callerOwnerHash(request("http://localhost/"))).toBeNull();
  });

  it("lets only the owner change a job; a job without an owner has none", () => {
    const job = makeStoredJob({ ownerHash: "hash-a" });
    expect(isOwnedBy(job, "hash-a")).toBe(true);
    expect(isOwnedBy(job, "hash-b")).toBe(false);
    expect(isOwnedBy(job, null)).toBe(false);
    expect(isOwnedBy(makeStoredJob({ ownerHash: null }), null)).toBe(false);
    expect(() => requireOwner(job, "hash-b")).toThrow(expect.objectContaining({ code: "not_owner" }));
  });

  it("refuses a state change sent from another site, and lets same-origin and non-browser requests by", () => {
    const url = "http://localhost:3000/api/generation/jobs";
    const refused = (headers: Record<string, string>) => {
      try {
        refuseCrossSite(request(url, { host: "localhost:3000", ...headers }));
        return null;
      } catch (error) {
        return error instanceof AppError ? error.code : "other";
      }
    };
    expect(refused({ origin: "http://localhost:3000" })).toBeNull();
    expect(refused({})).toBeNull();
    expect(refused({ origin: "https://evil.example" })).toBe("cross_site_request");
    expect(refused({ origin: "null" })).toBe("cross_site_request");
    expect(refused({ "sec-fetch-site": "cross-site" })).toBe("cross_site_request");
  });
});
