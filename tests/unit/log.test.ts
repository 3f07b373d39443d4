import { afterEach, describe, expect, it, vi } from "vitest";
import { errorResponse } from "@/lib/errors";
import { StoreUnavailableError } from "@/lib/failures";
import { describeError, logEvent } from "@/lib/log";

describe("errors in the log", () => {
  afterEach(() => vi.restoreAllMocks());

  it("are written with their chain of causes, codes and the errors inside an AggregateError", () => {
    const refused = Object.assign(new AggregateError([new Error("connect ECONNREFUSED ::1:6379")], ""), {
      code: "ECONNREFUSED",
    });
    expect(describeError(new StoreUnavailableError(refused))).toBe(
      "StoreUnavailableError: The job store cannot be reached ← AggregateError ECONNREFUSED [Error: connect ECONNREFUSED ::1:6379]",
    );
    const command = new Error("NOPERM this user has no permissions to run the 'get' command");
    expect(describeError(new StoreUnavailableError(command))).toMatch(/← Error: NOPERM this user/);
    expect(describeError("a string")).toBe("a string");
  });

  it("stop following a cycle of causes", () => {
    const looped = new Error("again");
    looped.cause = looped;
    expect(describeError(looped).split(" ← ")).toHaveLength(6);
  });

  it("are rendered by logEvent wherever a field holds one", () => {
    const print = vi.spyOn(console, "log").mockImplementation(() => {});
    logEvent("test.failed", { jobId: "j1", error: new Error("outer", { cause: new Error("inner") }) });
    const line = JSON.parse(String(print.mock.calls[0]?.[0]));
    expect(line).toMatchObject({ event: "test.failed", jobId: "j1", error: "Error: outer ← Error: inner" });
  });

  it("include a store outage's cause when a route answers 503 for it", async () => {
    const print = vi.spyOn(console, "log").mockImplementation(() => {});
    const timeout = new Error("Redis did not answer within 3000 ms");
    const response = errorResponse(new StoreUnavailableError(timeout));
    expect(response.status).toBe(503);
    const body = await response.json();
    expect(JSON.stringify(body)).not.toContain("3000 ms");
    const logged = print.mock.calls.map(([line]) => JSON.parse(String(line)));
    expect(logged).toEqual([
      expect.objectContaining({
        event: "store.unavailable",
        error:
          "StoreUnavailableError: The job store cannot be reached ← Error: Redis did not answer within 3000 ms",
      }),
    ]);
  });
});
