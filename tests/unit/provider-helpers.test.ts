import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { describe, expect, it } from "vitest";
import { outcomeOfNetworkError, wasAbortedOrTimedOut, withOutcome } from "@/lib/providers/create-outcome";
import { withDeadline } from "@/lib/providers/deadline";
import { redactor } from "@/lib/providers/redact";
import { retryAfterMs } from "@/lib/providers/retry-after";
import { requireSetting } from "@/lib/providers/setting-hint";
import { ProviderError } from "@/lib/providers/types";

/** The helpers every vendor folder shares (lib/providers/*.ts), written once. */

describe("retryAfterMs", () => {
  const now = Date.UTC(2026, 10, 27, 10);
  const headers = (pairs: Record<string, string>) => new Headers(pairs);

  it("reads seconds, an HTTP date, and OpenAI's retry-after-ms first", () => {
    expect(retryAfterMs(headers({ "retry-after": "7" }), now)).toBe(7_000);
    expect(retryAfterMs(headers({ "retry-after": "1.5" }), now)).toBe(1_500);
    const inTenSeconds = new Date(now + 10_000).toUTCString();
    expect(retryAfterMs(headers({ "retry-after": inTenSeconds }), now)).toBe(10_000);
    expect(retryAfterMs(headers({ "retry-after-ms": "250", "retry-after": "7" }), now)).toBe(250);
  });

  it("never answers a negative wait, and nothing for a header it cannot read", () => {
    expect(retryAfterMs(headers({ "retry-after": new Date(now - 60_000).toUTCString() }), now)).toBe(0);
    expect(retryAfterMs(headers({ "retry-after": "-3" }), now)).toBe(0);
    expect(retryAfterMs(headers({ "retry-after": "soon" }), now)).toBeUndefined();
    expect(retryAfterMs(headers({}), now)).toBeUndefined();
    expect(retryAfterMs(undefined, now)).toBeUndefined();
  });
});

describe("redactor", () => {
  it("blanks every secret, every time it appears, and ignores empty ones", () => {
    const redact = redactor("sk-1", undefined, "", "r8_2");
    expect(redact("key sk-1 then r8_2 and sk-1 again")).toBe(
      "key [redacted] then [redacted] and [redacted] again",
    );
    expect(redact("nothing secret")).toBe("nothing secret");
  });
});

describe("wasAbortedOrTimedOut", () => {
  it("recognises an abort or a timeout, also as the cause of a wrapped error", async () => {
    // A server that takes the request and never answers it.
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    const timeout = await fetch(url, { signal: AbortSignal.timeout(50) }).catch((e) => e);
    silent.closeAllConnections();
    await new Promise((resolve) => silent.close(resolve));
    expect(wasAbortedOrTimedOut(timeout)).toBe(true);
    const aborted = new DOMException("stopped", "AbortError");
    expect(wasAbortedOrTimedOut(new Error("wrapped", { cause: aborted }))).toBe(true);
    const refused = await fetch(url).catch((e) => e);
    expect(wasAbortedOrTimedOut(refused)).toBe(false);
    expect(outcomeOfNetworkError(refused)).toBe("not_created");
  });
});

describe("requireSetting and withOutcome", () => {
  it("names the missing setting", () => {
    expect(() => requireSetting("KLING_SECRET_KEY", "")).toThrow("KLING_SECRET_KEY is not set");
    expect(requireSetting("KLING_SECRET_KEY", "s")).toBe("s");
  });

  it("keeps the vendor's HTTP status when it marks a create's outcome", () => {
    const refused = new ProviderError("permanent", "No.", { httpStatus: 401, detail: "HTTP 401" });
    expect(withOutcome(refused, "not_created")).toMatchObject({ httpStatus: 401, outcome: "not_created" });
  });
});

describe("withDeadline", () => {
  it("ends a call that gets no answer at its deadline, garbage collection or not", async () => {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as () => void;
    const silent = createServer(() => {});
    await new Promise<void>((resolve) => silent.listen(0, "127.0.0.1", resolve));
    const url = `http://127.0.0.1:${(silent.address() as AddressInfo).port}`;
    try {
      const started = Date.now();
      const call = withDeadline(new AbortController().signal, 200, (signal) => fetch(url, { signal })).catch(
        (error: unknown) => error,
      );
      for (let round = 0; round < 5; round++) {
        await new Promise((resolve) => setTimeout(resolve, 20));
        gc();
      }
      const outcome = await Promise.race([
        call,
        new Promise((resolve) => setTimeout(resolve, 3_000, "pending")),
      ]);
      expect(wasAbortedOrTimedOut(outcome)).toBe(true);
      expect((outcome as Error).name).toBe("TimeoutError");
      expect(Date.now() - started).toBeLessThan(2_000);
    } finally {
      silent.closeAllConnections();
      await new Promise((resolve) => silent.close(resolve));
    }
  });

  it("follows the caller's signal too", async () => {
    const caller = new AbortController();
    const seen = withDeadline(
      caller.signal,
      60_000,
      (signal) =>
        new Promise((_, reject) => {
          signal.addEventListener("abort", () => reject(signal.reason));
        }),
    ).catch((error: unknown) => error);
    caller.abort(new DOMException("stopped", "AbortError"));
    expect(((await seen) as Error).name).toBe("AbortError");
    expect(await withDeadline(caller.signal, 60_000, async () => "done")).toBe("done");
  });
});
