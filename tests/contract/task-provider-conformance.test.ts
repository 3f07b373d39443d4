import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type CheckResult, ProviderError } from "@/lib/providers/types";
import {
  type AnyProvider,
  CONFORMANCE_CASES,
  type ConformanceCase,
  type LiveHarness,
  PROVIDER_HARNESSES,
  type ProviderHarness,
} from "@/tests/support/provider-harnesses";

/**
 * The TaskProvider contract (lib/providers/types.ts), once, for every adapter: each real adapter
 * against its HTTP emulator, and the offline studio. Faults come from the emulators' `faults` queues
 * (tests/support/provider-harnesses.ts); a case an adapter cannot have is skipped with its reason in
 * the test's name, and asserted where the reason can be (no `findTask`, no `cancel`).
 */

/** The provider's own deadline in the hang case, and how long the emulator keeps it waiting. */
const SHORT_TIMEOUT_MS = 200;
const HANG_MS = 1_500;

let keys = 0;
const submitCtx = () => ({
  idempotencyKey: `3f0c5d1e-2b7a-4c9d-8e6f-1a2b3c4d5e6f-conformance-${++keys}`,
  signal: AbortSignal.timeout(10_000),
});
const checkCtx = () => ({ signal: AbortSignal.timeout(5_000) });

/** Checks until the task leaves "running", as the pipeline's polls would; every running answer is well-formed. */
async function settle(provider: AnyProvider, taskId: string): Promise<CheckResult<unknown>> {
  for (let polls = 0; polls < 200; polls++) {
    const result = await provider.check(taskId, checkCtx());
    if (result.state !== "running") return result;
    expect(result.nextCheckInMs ?? 0).toBeGreaterThanOrEqual(0);
    if (result.progress !== undefined) expect(result.progress).toBeGreaterThanOrEqual(0);
    await sleep(30);
  }
  throw new Error(`task ${taskId} never left "running"`);
}

/** A closed port on 127.0.0.1: connecting to it is refused. */
async function closedOrigin(): Promise<string> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  await new Promise((resolve) => server.close(resolve));
  return `http://127.0.0.1:${port}`;
}

function describeConformance(harness: ProviderHarness) {
  describe(`TaskProvider conformance: ${harness.name}`, () => {
    let live: LiveHarness;

    beforeAll(async () => {
      live = await harness.start();
    });
    afterAll(() => live?.close());
    beforeEach(() => live.reset());

    /** The ProviderError a promise rejects with, after checking it leaks no key, token or endpoint. */
    async function rejection(promise: Promise<unknown>): Promise<ProviderError> {
      const error = await promise.then(
        () => expect.fail("expected a rejection"),
        (reason: unknown) => reason,
      );
      expect(error).toBeInstanceOf(ProviderError);
      const failure = error as ProviderError;
      for (const secret of [...live.secrets, ...live.addresses])
        expect(failure.message).not.toContain(secret);
      for (const secret of live.secrets) expect(failure.detail ?? "").not.toContain(secret);
      return failure;
    }

    /**
     * Runs the case; a case the adapter cannot have is asserted absent where it can be, and otherwise
     * not registered at all (so nothing skips under CI), its reason printed instead.
     */
    function conformance(name: ConformanceCase, body: () => Promise<void>) {
      const notApplicable = harness.notApplicable[name];
      if (!notApplicable) return it(name, body);
      const { reason, proof } = notApplicable;
      if (proof) return it(`${name}: not offered, ${reason}`, () => proof(live.provider()));
      process.stdout.write(`[conformance] ${harness.name} › ${name}: does not apply, ${reason}\n`);
    }

    conformance("submit and check to success", async () => {
      const provider = live.provider();
      const { taskId, nextCheckInMs } = await provider.submit(live.input, submitCtx());
      expect(taskId).toMatch(/\S/);
      expect(nextCheckInMs ?? 0).toBeGreaterThanOrEqual(0);
      const result = await settle(provider, taskId);
      if (result.state !== "succeeded") throw new Error(`expected success, got ${JSON.stringify(result)}`);
      await live.expectOutput(result.output);
    });

    conformance("findTask", async () => {
      const provider = live.provider();
      const since = Date.now() - 1_000;
      const ctx = submitCtx();
      const { taskId } = await provider.submit(live.input, ctx);
      const find = (key: string) =>
        provider.findTask?.(key, { ...checkCtx(), since }) ?? expect.fail("no findTask");
      expect(await find(ctx.idempotencyKey)).toEqual({ taskId });
      expect(await find(`${ctx.idempotencyKey}-never-submitted`)).toBeNull();
    });

    conformance("malformed answer", async () => {
      const provider = live.provider();
      live.fault("create", "malformed");
      // The vendor may have made the task before its answer broke: never called not_created.
      expect(await rejection(provider.submit(live.input, submitCtx()))).toMatchObject({
        kind: "transient",
        outcome: "unknown",
      });
      const { taskId } = await provider.submit(live.input, submitCtx());
      live.fault("check", "malformed");
      expect(await rejection(provider.check(taskId, checkCtx()))).toMatchObject({ kind: "transient" });
    });

    conformance("hang", async () => {
      const provider = live.provider({ timeoutMs: SHORT_TIMEOUT_MS });
      live.fault("create", { hangMs: HANG_MS });
      const started = Date.now();
      expect(await rejection(provider.submit(live.input, submitCtx()))).toMatchObject({
        kind: "transient",
        outcome: "unknown",
      });
      // The provider's own deadline ended the call, not the vendor's late answer.
      expect(Date.now() - started).toBeLessThan(HANG_MS);
      const { taskId } = await live.provider().submit(live.input, submitCtx());
      live.fault("check", { hangMs: HANG_MS });
      expect(await rejection(provider.check(taskId, checkCtx()))).toMatchObject({ kind: "transient" });
    });

    conformance("refused connection", async () => {
      const provider = live.provider({ origin: await closedOrigin() });
      // Nothing reached the vendor, so nothing was paid for: safe to submit again.
      expect(await rejection(provider.submit(live.input, submitCtx()))).toMatchObject({
        kind: "transient",
        outcome: "not_created",
      });
      expect(await rejection(provider.check("task-1", checkCtx()))).toMatchObject({ kind: "transient" });
    });

    conformance("wrong key", async () => {
      const failure = await rejection(live.provider({ wrongKey: true }).submit(live.input, submitCtx()));
      // Retrying cannot fix a key; the vendor refused, so nothing was made.
      expect(failure).toMatchObject({ kind: "permanent", outcome: "not_created" });
    });

    conformance("cancelled task", async () => {
      const provider = live.stuckProvider();
      const { taskId } = await provider.submit(live.input, submitCtx());
      await provider.cancel?.(taskId, checkCtx());
      // Ended by a cancel, not by the work: a new attempt may well succeed.
      expect(await settle(provider, taskId)).toMatchObject({ state: "failed", error: { kind: "transient" } });
    });

    conformance("stuck task", async () => {
      const provider = live.stuckProvider();
      const { taskId } = await provider.submit(live.input, submitCtx());
      await sleep(harness.taskMs + 100);
      // Still running past its usual time: the step's deadline, not the provider, ends it.
      const result = await provider.check(taskId, checkCtx());
      expect(result.state).toBe("running");
      expect(result.state === "running" && (result.nextCheckInMs ?? 0) > 0).toBe(true);
    });
  });
}

describe("the suite covers every case for every harness", () => {
  it("names each harness's cases it skips after the suite's own", () => {
    for (const harness of PROVIDER_HARNESSES) {
      for (const name of Object.keys(harness.notApplicable)) expect(CONFORMANCE_CASES).toContain(name);
    }
  });
});

for (const harness of PROVIDER_HARNESSES) describeConformance(harness);
