import { readFileSync } from "node:fs";
import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "@/lib/config";
import { ConfigError } from "@/lib/failures";
import {
  COMMIT_ALLOWANCE_MS,
  DEFAULT_CREATE_TIMEOUT_MS,
  MAX_LEASE_MS,
  POLL_ROUTE_MAX_DURATION_S,
  RENEWAL_ALLOWANCE_MS,
  SHORT_ROUTE_MAX_DURATION_S,
} from "@/lib/time-budget";

const root = path.resolve(import.meta.dirname, "../..");
const vercel = JSON.parse(readFileSync(path.join(root, "vercel.json"), "utf8")) as Record<string, unknown>;

/** Every route that advances jobs, and the maxDuration it must declare. */
const ADVANCING_ROUTES: Record<string, number> = {
  "app/api/generation/status/route.ts": POLL_ROUTE_MAX_DURATION_S,
  "app/api/generation/events/route.ts": POLL_ROUTE_MAX_DURATION_S,
  "app/api/cron/advance/route.ts": POLL_ROUTE_MAX_DURATION_S,
  "app/api/generation/start/route.ts": SHORT_ROUTE_MAX_DURATION_S,
  "app/api/generation/jobs/[jobId]/redo/route.ts": SHORT_ROUTE_MAX_DURATION_S,
  "app/api/generation/callback/kling/route.ts": SHORT_ROUTE_MAX_DURATION_S,
  "app/api/generation/callback/replicate/route.ts": SHORT_ROUTE_MAX_DURATION_S,
  "app/api/generation/callback/openai/route.ts": SHORT_ROUTE_MAX_DURATION_S,
};

function exportedMaxDuration(route: string): number {
  const source = readFileSync(path.join(root, route), "utf8");
  const match = /export const maxDuration = (\d+);/.exec(source);
  if (!match?.[1]) throw new Error(`${route} exports no literal maxDuration`);
  return Number(match[1]);
}

describe("time budgets", () => {
  it("keeps every advancing route's maxDuration above the longest lease", () => {
    for (const [route, seconds] of Object.entries(ADVANCING_ROUTES)) {
      expect(exportedMaxDuration(route), route).toBe(seconds);
      expect(seconds * 1000, route).toBeGreaterThan(MAX_LEASE_MS);
    }
  });

  it("declares maxDuration in the route files only: vercel.json repeats none of them", () => {
    // Vercel takes a Next route's maxDuration from the build output; a second copy could disagree.
    expect(vercel).not.toHaveProperty("functions");
  });

  it("defaults LEASE_MS to the longest call plus its renewal and two commits: 56 s", () => {
    expect(parseConfig({}).leaseMs).toBe(
      RENEWAL_ALLOWANCE_MS + DEFAULT_CREATE_TIMEOUT_MS + 2 * COMMIT_ALLOWANCE_MS,
    );
    expect(parseConfig({}).leaseMs).toBe(56_000);
    expect(parseConfig({}).createTimeoutMs).toBe(45_000);
    expect(parseConfig({}).callTimeoutMs).toBe(20_000);
    // Shorter vendor timeouts (as the emulator tests set) shorten the lease with them.
    expect(parseConfig({ VENDOR_CREATE_TIMEOUT_MS: "3000" }).leaseMs).toBe(31_000);
    expect(parseConfig({ VENDOR_CREATE_TIMEOUT_MS: "3000", VENDOR_CALL_TIMEOUT_MS: "2000" }).leaseMs).toBe(
      14_000,
    );
  });

  it("refuses a lease too short for a create, or longer than the routes may run, naming the variable", () => {
    expect(() => parseConfig({ LEASE_MS: "30000" })).toThrow(ConfigError);
    expect(() => parseConfig({ LEASE_MS: "30000" })).toThrow(/^LEASE_MS is invalid/);
    expect(() => parseConfig({ LEASE_MS: "55000" })).toThrow(/^LEASE_MS is invalid/);
    expect(() => parseConfig({ LEASE_MS: "58000" })).toThrow(/^LEASE_MS is invalid/);
    expect(parseConfig({ LEASE_MS: "57000" }).leaseMs).toBe(57_000);
    expect(() => parseConfig({ VENDOR_CREATE_TIMEOUT_MS: "50000" })).toThrow(
      /^VENDOR_CREATE_TIMEOUT_MS is invalid/,
    );
  });
});
