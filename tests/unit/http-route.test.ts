import { describe, expect, it } from "vitest";
import { AppError } from "@/lib/errors";
import { route } from "@/lib/http";

const request = (method: string) => new Request("http://127.0.0.1/api/x", { method });

// At module level, as in a route file.
const postOnly = route({ POST: async () => Response.json({ ok: true }, { status: 202 }) });
const failing = route({
  GET: async () => {
    throw new AppError("job_not_found", "This job does not exist or has expired.");
  },
  POST: async () => Promise.reject(new Error("secret internals at /srv/app.ts:12")),
});
const ownCaching = route({
  GET: async () => new Response("x", { headers: { "Cache-Control": "private, no-cache" } }),
});

describe("route(): one wrapper for every API route", () => {
  it("answers the methods a route does not serve with 405 JSON and an Allow header", async () => {
    const response = await postOnly.PUT(request("PUT"), undefined);
    expect(response.status).toBe(405);
    expect(response.headers.get("allow")).toBe("POST");
    expect(response.headers.get("cache-control")).toBe("no-store");
    expect(await response.json()).toEqual({
      error: "This address only accepts POST requests.",
      code: "method_not_allowed",
    });
  });

  it("turns a thrown error into { error, code } through the one table, with no internals", async () => {
    const known = await failing.GET(request("GET"), undefined);
    expect(known.status).toBe(404);
    expect(await known.json()).toEqual({
      error: "This job does not exist or has expired.",
      code: "job_not_found",
    });
    const unknown = await failing.POST(request("POST"), undefined);
    expect(unknown.status).toBe(500);
    expect(await unknown.text()).not.toContain("secret");
  });

  it("marks every answer no-store unless the handler chose its own caching", async () => {
    const posted = await postOnly.POST(request("POST"), undefined);
    expect(posted.status).toBe(202);
    expect(posted.headers.get("cache-control")).toBe("no-store");
    const own = await ownCaching.GET(request("GET"), undefined);
    expect(own.headers.get("cache-control")).toBe("private, no-cache");
  });
});
