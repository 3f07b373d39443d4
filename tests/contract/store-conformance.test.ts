import { randomUUID } from "node:crypto";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import os from "node:os";
import path from "node:path";
import { setTimeout as sleep } from "node:timers/promises";
import { Redis } from "@upstash/redis";
import { createClient } from "redis";
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it, vi } from "vitest";
import { StoreUnavailableError } from "@/lib/failures";
import type { StoredJob } from "@/lib/jobs/job";
import { type JobStore, jobCodec } from "@/lib/jobs/job-store";
import { keysFor } from "@/lib/store/keys";
import { createRedisStore } from "@/lib/store/redis";
import { createSqliteStore } from "@/lib/store/sqlite";
import {
  ActiveJobCapError,
  DailyBudgetError,
  RETENTION_MARGIN_MS,
  ReservationLostError,
} from "@/lib/store/types";
import { createUpstashStore } from "@/lib/store/upstash";
import { makeStoredJob } from "@/tests/support/job-factory";
import { type PrivateRedis, startPrivateRedis } from "@/tests/support/private-redis";
import { requireRedis, TEST_REDIS_URL } from "@/tests/support/redis";
import { startUpstashProxy, type UpstashProxy } from "@/tests/support/upstash-proxy";

/** One test's storage location (a file, a key prefix); every store opened on it shares the data. */
interface Backend {
  open(options?: { ttlSeconds?: number }): JobStore;
  /** Redis-backed drivers: the PTTL of a raw key, to prove every key expires. */
  pttl?(key: string): Promise<number>;
  /** Redis-backed drivers: deletes a raw key (a record vanishing behind the store's back). */
  del?(key: string): Promise<unknown>;
  /** Redis-backed drivers: a member's score in a sorted set, or null. */
  zscore?(key: string, member: string): Promise<number | null>;
  keyPrefix?: string;
  dispose(): Promise<void>;
}

const HOUR_S = 3600;

/** `rawKeys`: the driver keeps Redis keys whose TTLs the suite can read directly. */
function describeJobStoreConformance(name: string, makeBackend: () => Backend, { rawKeys = false } = {}) {
  describe(`JobStore conformance: ${name}`, () => {
    let backend: Backend;
    let opened: JobStore[];
    const open = (options?: { ttlSeconds?: number }) => {
      const store = backend.open(options);
      opened.push(store);
      return store;
    };

    beforeEach(() => {
      backend = makeBackend();
      opened = [];
    });
    afterEach(async () => {
      await Promise.all(opened.map((store) => store.close()));
      await backend.dispose();
    });

    it("round-trips a created job exactly", async () => {
      const store = open();
      const job = makeStoredJob({
        occasion: "Garden party ☀️ — “quotes” and ünïcode",
        current: {
          attempt: 2,
          startedAt: 1,
          submittingAt: 2,
          taskId: "task-1",
          failures: 1,
          lastError: "429",
          creates: 2,
          unknownOutcomes: 1,
          missingChecks: 1,
          pausedAt: null,
        },
        creates: 3,
        watchedAt: 5,
        artifacts: { advice: { summary: "s", pieces: ["a", "b"], stylePrompt: "p", source: "offline" } },
      });
      await store.create(job);
      expect(await store.get(job.id)).toStrictEqual(job);
    });

    it("answers null for an unknown job", async () => {
      expect(await open().get(randomUUID())).toBeNull();
    });

    it("refuses to create a job whose id exists, and keeps the first", async () => {
      const store = open();
      const job = makeStoredJob();
      await store.create(job);
      await expect(store.create({ ...job, occasion: "other" })).rejects.toThrow();
      expect(await store.get(job.id)).toStrictEqual(job);
    });

    it("compare-and-set writes with the right version and bumps it, and refuses a stale one", async () => {
      const store = open();
      const job = makeStoredJob();
      await store.create(job);
      const written = await store.compareAndSet({ ...job, status: "processing-style" }, 0);
      expect(written).toStrictEqual({ ...job, status: "processing-style", version: 1 });
      expect(await store.get(job.id)).toStrictEqual(written);
      expect(await store.compareAndSet({ ...job, status: "failed" }, 0)).toBeNull();
      expect(await store.get(job.id)).toStrictEqual(written);
      expect(await store.compareAndSet(makeStoredJob(), 0)).toBeNull();
    });

    it("lets exactly one of 20 concurrent compare-and-sets win, across two store instances", async () => {
      const [first, second] = [open(), open()];
      const job = makeStoredJob();
      await first.create(job);
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          (i % 2 ? first : second).compareAndSet({ ...job, occasion: `writer ${i}` }, 0),
        ),
      );
      const winners = results.filter((result) => result !== null);
      expect(winners).toHaveLength(1);
      expect(await second.get(job.id)).toStrictEqual(winners[0]);
    });

    it("leases a job to one token at a time and releases only for that token", async () => {
      const store = open();
      const job = makeStoredJob();
      await store.create(job);
      expect(await store.acquireLease(job.id, "a", 60_000)).toStrictEqual(job);
      expect(await store.acquireLease(job.id, "b", 60_000)).toBeNull();
      await store.releaseLease(job.id, "b");
      expect(await store.acquireLease(job.id, "b", 60_000)).toBeNull();
      await store.releaseLease(job.id, "a");
      expect(await store.acquireLease(job.id, "b", 60_000)).toStrictEqual(job);
    });

    it("lets a lease expire after its ttl", async () => {
      const store = open();
      const job = makeStoredJob();
      await store.create(job);
      expect(await store.acquireLease(job.id, "a", 150)).not.toBeNull();
      expect(await store.acquireLease(job.id, "b", 150)).toBeNull();
      await sleep(250);
      expect(await store.acquireLease(job.id, "b", 150)).toStrictEqual(job);
    });

    it("renews a lease only for the token that holds it", async () => {
      const store = open();
      const job = makeStoredJob();
      await store.create(job);
      expect(await store.acquireLease(job.id, "a", 200)).not.toBeNull();
      expect(await store.renewLease(job.id, "b", 60_000)).toBe(false);
      expect(await store.renewLease(job.id, "a", 60_000)).toBe(true);
      await sleep(300);
      // Renewed past its first term: still a's, and b's renewal did not take it.
      expect(await store.acquireLease(job.id, "b", 60_000)).toBeNull();
      await store.releaseLease(job.id, "a");
      expect(await store.renewLease(job.id, "a", 60_000)).toBe(false);
      expect(await store.acquireLease(job.id, "b", 60_000)).toStrictEqual(job);
    });

    it("does not renew an expired lease, nor one another token took after it expired", async () => {
      const store = open();
      const job = makeStoredJob();
      await store.create(job);
      expect(await store.acquireLease(job.id, "a", 100)).not.toBeNull();
      await sleep(200);
      expect(await store.renewLease(job.id, "a", 60_000)).toBe(false);
      expect(await store.acquireLease(job.id, "b", 150)).not.toBeNull();
      expect(await store.renewLease(job.id, "a", 60_000)).toBe(false);
      await sleep(250);
      // b's lease kept its own short term: a's failed renewal changed nothing.
      expect(await store.acquireLease(job.id, "c", 60_000)).toStrictEqual(job);
    });

    it("answers null when leasing an unknown job, and leaves no lease behind", async () => {
      const store = open();
      const job = makeStoredJob();
      expect(await store.acquireLease(job.id, "a", 60_000)).toBeNull();
      await store.create(job);
      expect(await store.acquireLease(job.id, "b", 60_000)).toStrictEqual(job);
    });

    it("forgets a job after ttlSeconds, and a write restarts the clock", async () => {
      const store = open({ ttlSeconds: 1 });
      const kept = makeStoredJob();
      const forgotten = makeStoredJob();
      await Promise.all([store.create(kept), store.create(forgotten)]);
      await sleep(600);
      expect(await store.compareAndSet(kept, 0)).not.toBeNull();
      await sleep(550);
      expect(await store.get(forgotten.id)).toBeNull();
      expect(await store.get(kept.id)).not.toBeNull();
      await sleep(550);
      expect(await store.get(kept.id)).toBeNull();
      // Expired reads as absent: the id can be created again.
      await store.create(forgotten);
      expect(await store.get(forgotten.id)).toStrictEqual(forgotten);
    });

    // SQLite has no raw keys; its expiry is proven by the "forgets a job" case above.
    const itWithRawKeys = rawKeys ? it : () => undefined;
    itWithRawKeys("gives every Redis key a TTL", async () => {
      if (!backend.pttl || !backend.keyPrefix) throw new Error(`${name} backend lacks raw-key access`);
      const store = open({ ttlSeconds: HOUR_S });
      const keys = keysFor(backend.keyPrefix);
      const job = makeStoredJob();
      await store.create(job);
      await store.acquireLease(job.id, "a", 60_000);
      await store.hit("c", 30_000);
      expect(await backend.pttl(keys.job(job.id))).toBeGreaterThan(HOUR_S * 1000 - 5_000);
      expect(await backend.pttl(keys.active())).toBeGreaterThan(HOUR_S * 1000 - 5_000);
      expect(await backend.pttl(keys.activeExpiry())).toBeGreaterThan(HOUR_S * 1000 - 5_000);
      expect(await backend.pttl(keys.lease(job.id))).toBeGreaterThan(55_000);
      expect(await backend.pttl(keys.counter("c"))).toBeGreaterThan(25_000);
      await store.compareAndSet(job, 0);
      const ttls = await Promise.all(
        [keys.job(job.id), keys.lease(job.id), keys.counter("c")].map(backend.pttl),
      );
      for (const ttl of ttls) expect(ttl).toBeGreaterThan(0);
    });

    itWithRawKeys(
      "drops index entries whose record vanished, and bounds each entry by its record's expiry",
      async () => {
        if (!backend.pttl || !backend.keyPrefix || !backend.del || !backend.zscore)
          throw new Error(`${name} backend lacks raw-key access`);
        const store = open({ ttlSeconds: HOUR_S });
        const keys = keysFor(backend.keyPrefix);
        const now = Date.now();
        const gone = makeStoredJob({ nextCheckAt: now + 86_400_000, updatedAt: now });
        const kept = makeStoredJob({ updatedAt: now });
        await store.create(gone);
        await store.create(kept);
        const expiry = await backend.zscore(keys.activeExpiry(), gone.id);
        expect(expiry).toBeGreaterThan(now + HOUR_S * 1000 - 5_000);
        expect(expiry).toBeLessThan(now + HOUR_S * 1000 + 5_000);
        expect(await backend.pttl(keys.activeExpiry())).toBeGreaterThan(0);
        await backend.del(keys.job(gone.id));
        expect(await store.countActive(now - 1_000)).toBe(1);
        expect(await backend.zscore(keys.active(), gone.id)).toBeNull();
        expect(await backend.zscore(keys.activeExpiry(), gone.id)).toBeNull();
        expect(await store.create(makeStoredJob(), { max: 2, since: now - 1_000 })).toBeUndefined();
      },
    );

    it("indexes unfinished jobs by when they are due, and drops finished ones", async () => {
      const store = open();
      const now = Date.now();
      const dueSoon = makeStoredJob({ nextCheckAt: now - 2_000, updatedAt: now - 5_000 });
      const dueLater = makeStoredJob({ nextCheckAt: now + 60_000, updatedAt: now - 5_000 });
      const dueFirst = makeStoredJob({ nextCheckAt: 0, updatedAt: now - 3_000 });
      const finished = makeStoredJob({ status: "completed", updatedAt: now - 9_000 });
      for (const job of [dueSoon, dueLater, dueFirst, finished]) await store.create(job);

      expect(await store.listDue(now, 10)).toEqual([dueFirst.id, dueSoon.id]);
      expect(await store.listDue(now, 1)).toEqual([dueFirst.id]);
      expect(await store.countActive(now - 10_000)).toBe(3);
      expect(await store.countActive(now - 2_500)).toBe(2);

      const written = await store.compareAndSet({ ...dueFirst, status: "failed", updatedAt: now }, 0);
      expect(written).not.toBeNull();
      expect(await store.listDue(now, 10)).toEqual([dueSoon.id]);
      expect(await store.countActive(0)).toBe(2);
      // A lost compare-and-set leaves the index alone too.
      expect(await store.compareAndSet({ ...dueSoon, status: "completed" }, 7)).toBeNull();
      expect(await store.listDue(now, 10)).toEqual([dueSoon.id]);
    });

    it("keeps paused jobs out of the due list and the in-progress count", async () => {
      const store = open();
      const now = Date.now();
      const paused = makeStoredJob({ updatedAt: now - 5_000 });
      await store.create(paused);
      expect(await store.listDue(now, 10)).toEqual([paused.id]);
      const current = paused.current && { ...paused.current, pausedAt: now };
      expect(await store.compareAndSet({ ...paused, current, updatedAt: now }, 0)).not.toBeNull();
      expect(await store.listDue(now + 60_000, 10)).toEqual([]);
      expect(await store.countActive(0)).toBe(0);
    });

    it("neither lists nor counts a job whose record expired, however far ahead it was due", async () => {
      const store = open({ ttlSeconds: 1 });
      const now = Date.now();
      const parked = makeStoredJob({ nextCheckAt: now + 86_400_000, updatedAt: now });
      const due = makeStoredJob({ nextCheckAt: 0, updatedAt: now });
      await store.create(parked);
      await store.create(due);
      expect(await store.countActive(now - 1_000)).toBe(2);
      await sleep(1_200);
      expect(await store.countActive(now - 1_000)).toBe(0);
      expect(await store.listDue(now + 86_400_000, 10)).toEqual([]);
      // The in-progress cap no longer sees them either.
      await expect(store.create(makeStoredJob(), { max: 1, since: now - 1_000 })).resolves.toBeUndefined();
    });

    it("creates at most cap.max active jobs when a burst races for the last places", async () => {
      const store = open();
      const since = Date.now() - 60_000;
      await store.create(makeStoredJob({ status: "completed" }), { max: 3, since });
      const results = await Promise.allSettled(
        Array.from({ length: 10 }, () => store.create(makeStoredJob(), { max: 3, since })),
      );
      expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(3);
      for (const result of results) {
        if (result.status === "rejected") expect(result.reason).toBeInstanceOf(ActiveJobCapError);
      }
      expect(await store.countActive(since)).toBe(3);
      // Old activity does not count against the cap.
      await expect(
        store.create(makeStoredJob(), { max: 3, since: Date.now() + 60_000 }),
      ).resolves.toBeUndefined();
    });

    it("counts hits in a fixed window and starts again after it", async () => {
      const store = open();
      expect(await store.hit("ip-1", 300)).toMatchObject({ count: 1 });
      expect(await store.hit("ip-2", 300)).toMatchObject({ count: 1 });
      const third = await store.hit("ip-1", 300);
      expect(third.count).toBe(2);
      expect(third.resetInMs).toBeGreaterThan(0);
      expect(third.resetInMs).toBeLessThanOrEqual(300);
      await sleep(400);
      expect(await store.hit("ip-1", 300)).toMatchObject({ count: 1 });
    });

    describe("start reservations (idempotent starts)", () => {
      const reservationOf = (id: string, token: string, keepMs = 60_000) => ({ id, token, keepMs });

      it("reserves once, then tells a running request, another body and a finished one apart", async () => {
        const store = open();
        const id = `key-${randomUUID()}`;
        expect(await store.reserveStart(id, "t1", "fp", 60_000)).toEqual({ state: "reserved" });
        expect(await store.reserveStart(id, "t2", "fp", 60_000)).toEqual({ state: "busy" });
        expect(await store.reserveStart(id, "t2", "other", 60_000)).toEqual({ state: "mismatch" });
        const job = makeStoredJob();
        await store.create(job, undefined, { reservation: reservationOf(id, "t1") });
        expect(await store.reserveStart(id, "t3", "fp", 60_000)).toEqual({ state: "done", jobId: job.id });
        expect(await store.reserveStart(id, "t3", "other", 60_000)).toEqual({ state: "mismatch" });
      });

      it("releases only a pending reservation, and only for its token", async () => {
        const store = open();
        const id = `key-${randomUUID()}`;
        await store.reserveStart(id, "t1", "fp", 60_000);
        await store.releaseStart(id, "not-mine");
        expect(await store.reserveStart(id, "t2", "fp", 60_000)).toEqual({ state: "busy" });
        await store.releaseStart(id, "t1");
        expect(await store.reserveStart(id, "t2", "fp", 60_000)).toEqual({ state: "reserved" });
        const job = makeStoredJob();
        await store.create(job, undefined, { reservation: reservationOf(id, "t2") });
        await store.releaseStart(id, "t2");
        expect(await store.reserveStart(id, "t4", "fp", 60_000)).toMatchObject({ state: "done" });
      });

      it("drops a reservation with keepMs 0 when its create succeeds", async () => {
        const store = open();
        const id = `job-${randomUUID()}`;
        await store.reserveStart(id, "t1", "fp", 60_000);
        await store.create(makeStoredJob(), undefined, { reservation: reservationOf(id, "t1", 0) });
        expect(await store.reserveStart(id, "t2", "fp", 60_000)).toEqual({ state: "reserved" });
      });

      it("refuses a create whose reservation expired or is not its own, writing nothing", async () => {
        const store = open();
        const id = `key-${randomUUID()}`;
        const job = makeStoredJob();
        await store.reserveStart(id, "t1", "fp", 150);
        await expect(
          store.create(job, undefined, { reservation: reservationOf(id, "someone-else") }),
        ).rejects.toBeInstanceOf(ReservationLostError);
        await sleep(250);
        await expect(
          store.create(job, undefined, { reservation: reservationOf(id, "t1") }),
        ).rejects.toBeInstanceOf(ReservationLostError);
        expect(await store.get(job.id)).toBeNull();
        expect(await store.countActive(0)).toBe(0);
      });

      it("settles a lost create: 'created' when it landed, 'voided' (and never landing later) when not", async () => {
        const store = open();
        const landed = makeStoredJob();
        const landedGuards = { reservation: reservationOf(`key-${randomUUID()}`, "t1") };
        await store.reserveStart(landedGuards.reservation.id, "t1", "fp", 60_000);
        await store.create(landed, undefined, landedGuards);
        expect(await store.settleStart(landed.id, landedGuards, "confirm")).toBe("created");
        expect(await store.get(landed.id)).toStrictEqual(landed);

        const lost = makeStoredJob();
        const lostGuards = { reservation: reservationOf(`key-${randomUUID()}`, "t1") };
        await store.reserveStart(lostGuards.reservation.id, "t1", "fp", 60_000);
        expect(await store.settleStart(lost.id, lostGuards, "confirm")).toBe("voided");
        // The create arriving after the settle (a script delivered late) writes nothing.
        await expect(store.create(lost, undefined, lostGuards)).rejects.toBeInstanceOf(ReservationLostError);
        expect(await store.get(lost.id)).toBeNull();
        // The key is free again for the client's retry.
        expect(await store.reserveStart(lostGuards.reservation.id, "t2", "fp", 60_000)).toEqual({
          state: "reserved",
        });
      });

      it("retracts a job its start denied, unless a replay handed it out or it moved on", async () => {
        const store = open();
        const budget = { counter: `looks-${randomUUID()}`, max: 10, windowMs: 60_000 };
        const startWith = async (job: StoredJob) => {
          const guards = { reservation: reservationOf(`key-${randomUUID()}`, "t1"), budget };
          await store.reserveStart(guards.reservation.id, "t1", "fp", 60_000);
          await store.create(job, undefined, { ...guards, indexHoldMs: 0 });
          return guards;
        };
        const denied = makeStoredJob({ nextCheckAt: Date.now() - 1_000 });
        const deniedGuards = await startWith(denied);
        expect(await store.readCounter(budget.counter)).toBe(1);
        expect(await store.settleStart(denied.id, deniedGuards, "retract")).toBe("retracted");
        expect(await store.get(denied.id)).toBeNull();
        expect(await store.listDue(Date.now() + 60_000, 10)).not.toContain(denied.id);
        expect(await store.readCounter(budget.counter)).toBe(0);
        expect(await store.reserveStart(deniedGuards.reservation.id, "t2", "fp", 60_000)).toEqual({
          state: "reserved",
        });

        const replayed = makeStoredJob();
        const replayedGuards = await startWith(replayed);
        await store.reserveStart(replayedGuards.reservation.id, "t9", "fp", 60_000);
        expect(await store.settleStart(replayed.id, replayedGuards, "retract")).toBe("kept");
        expect(await store.get(replayed.id)).not.toBeNull();

        const advanced = makeStoredJob();
        const advancedGuards = await startWith(advanced);
        await store.compareAndSet({ ...advanced, status: "processing-style" }, 0);
        expect(await store.settleStart(advanced.id, advancedGuards, "retract")).toBe("kept");
        expect(await store.get(advanced.id)).not.toBeNull();
      });

      it("counts a budget in create, refusing past its max with DailyBudgetError, even in a burst", async () => {
        const store = open();
        const budget = { counter: `looks-${randomUUID()}`, max: 3, windowMs: 60_000 };
        expect(await store.readCounter(budget.counter)).toBe(0);
        const results = await Promise.allSettled(
          Array.from({ length: 10 }, () => store.create(makeStoredJob(), undefined, { budget })),
        );
        expect(results.filter((result) => result.status === "fulfilled")).toHaveLength(3);
        for (const result of results) {
          if (result.status === "rejected") expect(result.reason).toBeInstanceOf(DailyBudgetError);
        }
        expect(await store.readCounter(budget.counter)).toBe(3);
        expect(await store.countActive(0)).toBe(3);
      });

      it("keeps a held job out of the sweep's due list, but counts it as active", async () => {
        const store = open();
        const job = makeStoredJob({ nextCheckAt: 0 });
        await store.create(job, undefined, { indexHoldMs: 60_000 });
        expect(await store.listDue(Date.now(), 10)).toEqual([]);
        expect(await store.listDue(Date.now() + 61_000, 10)).toEqual([job.id]);
        expect(await store.countActive(Date.now() - 1_000)).toBe(1);
      });
    });

    describe("owner and retention indexes (issue 14)", () => {
      it("lists an owner's live records newest first, up to the limit, and nobody else's", async () => {
        const store = open();
        const base = Date.now();
        const mine = [0, 1, 2].map((i) =>
          makeStoredJob({ ownerHash: "me", updatedAt: base + i, createdAt: base + i }),
        );
        for (const job of mine) await store.create(job);
        await store.create(makeStoredJob({ ownerHash: "someone-else" }));
        await store.create(makeStoredJob({ ownerHash: null }));
        const written = await store.compareAndSet({ ...mine[0], status: "processing-style" } as StoredJob, 0);
        expect((await store.listByOwner("me", 10)).map((job) => job.id)).toEqual(
          [mine[2], mine[1], mine[0]].map((job) => job?.id),
        );
        expect((await store.listByOwner("me", 10))[2]).toStrictEqual(written);
        expect((await store.listByOwner("me", 2)).map((job) => job.id)).toEqual([mine[2]?.id, mine[1]?.id]);
        expect(await store.listByOwner("nobody", 10)).toEqual([]);
      });

      it("deletes a record with its lease and every index entry; a repeat is harmless", async () => {
        const store = open();
        const job = makeStoredJob({ ownerHash: "me", nextCheckAt: 0 });
        await store.create(job);
        expect(await store.acquireLease(job.id, "a", 60_000)).not.toBeNull();
        expect(await store.delete(job.id)).toBe(true);
        expect(await store.get(job.id)).toBeNull();
        expect(await store.listByOwner("me", 10)).toEqual([]);
        expect(await store.listDue(Date.now() + 1_000, 10)).toEqual([]);
        expect(await store.countActive(0)).toBe(0);
        expect(await store.listExpired(Date.now() + 10 * HOUR_S * 1000, 10)).toEqual([]);
        expect(await store.delete(job.id)).toBe(false);
        // The lease went with it: a new record of that id is not blocked.
        await store.create(job);
        expect(await store.acquireLease(job.id, "b", 60_000)).toStrictEqual(job);
      });

      it("keeps an expired record's id for the retention sweep until it is deleted", async () => {
        const store = open({ ttlSeconds: 1 });
        const job = makeStoredJob({ ownerHash: "me" });
        const living = makeStoredJob({ ownerHash: "me" });
        await store.create(job);
        expect(await store.listExpired(Date.now(), 10)).toEqual([]);
        await sleep(1_200);
        await store.create(living);
        expect(await store.get(job.id)).toBeNull();
        expect(await store.listExpired(Date.now(), 10)).toEqual([job.id]);
        expect((await store.listByOwner("me", 10)).map((record) => record.id)).toEqual([living.id]);
        expect(await store.delete(job.id)).toBe(false);
        expect(await store.listExpired(Date.now(), 10)).toEqual([]);
      });
    });

    itWithRawKeys(
      "gives the owner and retention indexes TTLs and leaves no entry after a delete",
      async () => {
        if (!backend.pttl || !backend.zscore || !backend.keyPrefix) {
          throw new Error(`${name} backend lacks raw-key access`);
        }
        const store = open({ ttlSeconds: HOUR_S });
        const keys = keysFor(backend.keyPrefix);
        const job = makeStoredJob({ ownerHash: "me" });
        await store.create(job);
        await store.compareAndSet(job, 0);
        for (const key of [keys.owner("me"), keys.retention(), keys.retentionOwners()]) {
          const pttl = await backend.pttl(key);
          expect(pttl, key).toBeGreaterThan(HOUR_S * 1000);
          expect(pttl, key).toBeLessThanOrEqual(HOUR_S * 1000 + RETENTION_MARGIN_MS);
        }
        expect(await backend.zscore(keys.retention(), job.id)).toBeGreaterThan(Date.now());
        await store.delete(job.id);
        expect(await backend.zscore(keys.retention(), job.id)).toBeNull();
        expect(await backend.zscore(keys.owner("me"), job.id)).toBeNull();
        expect(await backend.pttl(keys.job(job.id))).toBe(-2);
        expect(await backend.pttl(keys.retentionOwners())).toBe(-2);
      },
    );

    itWithRawKeys("gives a start reservation a TTL: its window while pending, keepMs once done", async () => {
      if (!backend.pttl || !backend.keyPrefix) throw new Error(`${name} backend lacks raw-key access`);
      const store = open({ ttlSeconds: HOUR_S });
      const keys = keysFor(backend.keyPrefix);
      const id = `key-${randomUUID()}`;
      await store.reserveStart(id, "t1", "fp", 30_000);
      const pending = await backend.pttl(keys.startReservation(id));
      expect(pending).toBeGreaterThan(25_000);
      expect(pending).toBeLessThanOrEqual(30_000);
      await store.create(makeStoredJob(), undefined, { reservation: { id, token: "t1", keepMs: 600_000 } });
      expect(await backend.pttl(keys.startReservation(id))).toBeGreaterThan(590_000);
      const budget = { counter: "looks-day", max: 5, windowMs: 40_000 };
      await store.create(makeStoredJob(), undefined, { budget });
      expect(await backend.pttl(keys.counter(budget.counter))).toBeGreaterThan(35_000);
    });
  });
}

describeJobStoreConformance("sqlite", () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), "store-conformance-"));
  return {
    open: ({ ttlSeconds = HOUR_S } = {}) =>
      createSqliteStore({ codec: jobCodec, file: path.join(dir, "jobs.db"), ttlSeconds }),
    dispose: async () => rmSync(dir, { recursive: true, force: true }),
  };
});

const hasRedis = await requireRedis("JobStore conformance (Redis, Upstash)");

describe.skipIf(!hasRedis)("Redis-backed stores", () => {
  const admin = createClient({ url: TEST_REDIS_URL });
  const token = `token-${randomUUID()}`;
  let proxy: UpstashProxy;

  beforeAll(async () => {
    await admin.connect();
    proxy = await startUpstashProxy({ redisUrl: TEST_REDIS_URL, token });
  });
  afterAll(async () => {
    await proxy?.close();
    await admin.close();
  });

  const onFreshPrefix = (open: (keyPrefix: string, ttlSeconds: number) => JobStore) => (): Backend => {
    const keyPrefix = `test-store-${randomUUID()}`;
    return {
      keyPrefix,
      open: ({ ttlSeconds = HOUR_S } = {}) => open(keyPrefix, ttlSeconds),
      pttl: (key) => admin.pTTL(key),
      del: (key) => admin.del(key),
      zscore: (key, member) => admin.zScore(key, member),
      async dispose() {
        for await (const keys of admin.scanIterator({ MATCH: `${keyPrefix}:*`, COUNT: 100 })) {
          if (keys.length > 0) await admin.del(keys);
        }
      },
    };
  };

  it("the REST proxy speaks Upstash: single commands, transactions, errors, auth, base64", async () => {
    const key = `test-proxy-${randomUUID()}`;
    const plain = new Redis({ url: proxy.url, token, enableAutoPipelining: false, enableTelemetry: false });
    try {
      expect(await plain.set(key, "ü ✓", { ex: 60 })).toBe("OK");
      expect(await plain.get(key)).toBe("ü ✓");
      expect(await plain.multi().incr(`${key}:n`).expire(`${key}:n`, 60).get(key).exec()).toEqual([
        1,
        1,
        "ü ✓",
      ]);
      await expect(plain.eval("return redis.call('NOPE')", [], [])).rejects.toThrow(/Unknown Redis command/i);
      const wrongToken = new Redis({ url: proxy.url, token: "wrong", retry: false, enableTelemetry: false });
      await expect(wrongToken.get(key)).rejects.toThrow(/Unauthorized/);
    } finally {
      await admin.del([key, `${key}:n`]);
    }
  });

  describeJobStoreConformance(
    "redis",
    onFreshPrefix((keyPrefix, ttlSeconds) =>
      createRedisStore({ codec: jobCodec, url: TEST_REDIS_URL, keyPrefix, ttlSeconds }),
    ),
    { rawKeys: true },
  );
  describeJobStoreConformance(
    "upstash (REST proxy → Redis)",
    onFreshPrefix((keyPrefix, ttlSeconds) =>
      createUpstashStore({ codec: jobCodec, url: proxy.url, token, keyPrefix, ttlSeconds }),
    ),
    { rawKeys: true },
  );
});

/** A TCP server that accepts connections and never answers: a hung Redis or REST endpoint. */
async function startSilentServer(): Promise<{ port: number; close(): Promise<void> }> {
  const sockets = new Set<net.Socket>();
  const server = net.createServer((socket) => sockets.add(socket));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    port,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

async function expectUnavailableWithin(store: JobStore, ms: number, calls = 1): Promise<void> {
  try {
    for (let call = 0; call < calls; call++) {
      const started = Date.now();
      await expect(store.get(randomUUID())).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(ms);
    }
  } finally {
    await store.close();
  }
}

describe("an unreachable store fails fast with StoreUnavailableError", () => {
  const options = { keyPrefix: "unreachable", ttlSeconds: 60 };

  it("redis on a closed port, now and on the next call", () =>
    expectUnavailableWithin(
      createRedisStore({ codec: jobCodec, url: "redis://127.0.0.1:1", ...options }),
      3_000,
      2,
    ));

  it("upstash on a closed port, now and on the next call", () =>
    expectUnavailableWithin(
      createUpstashStore({ codec: jobCodec, url: "http://127.0.0.1:1", token: "t", ...options }),
      3_000,
      2,
    ));

  it("redis that accepts connections and never answers", async () => {
    const hung = await startSilentServer();
    const store = createRedisStore({ codec: jobCodec, url: `redis://127.0.0.1:${hung.port}`, ...options });
    await expectUnavailableWithin(store, 4_000).finally(() => hung.close());
  });

  it("upstash that accepts connections and never answers", async () => {
    const hung = await startSilentServer();
    const store = createUpstashStore({
      codec: jobCodec,
      url: `http://127.0.0.1:${hung.port}`,
      token: "t",
      ...options,
    });
    await expectUnavailableWithin(store, 4_000).finally(() => hung.close());
  });
});

describe.skipIf(!hasRedis)("a Redis that goes away and comes back", () => {
  // A private redis-server (never the shared one) that a test may stop and start again.
  let redis: PrivateRedis;
  beforeEach(async () => {
    redis = await startPrivateRedis();
  });
  afterEach(() => redis.stop());

  it("fails fast while it is down and reconnects by itself (scripts reloaded after the restart)", async () => {
    const store = createRedisStore({ codec: jobCodec, url: redis.url, keyPrefix: "p", ttlSeconds: 60 });
    try {
      const job = makeStoredJob();
      await store.create(job);
      await redis.stop();
      const started = Date.now();
      await expect(store.get(job.id)).rejects.toBeInstanceOf(StoreUnavailableError);
      expect(Date.now() - started).toBeLessThan(1_000);
      await redis.start();
      await vi.waitFor(async () => expect(await store.get(job.id)).toBeNull(), {
        timeout: 10_000,
        interval: 200,
      });
      await store.create(job);
      expect(await store.acquireLease(job.id, "a", 1_000)).toStrictEqual(job);
    } finally {
      await store.close();
    }
  });

  it("upstash runs its scripts on a server that has never seen them", async () => {
    const proxy = await startUpstashProxy({ redisUrl: redis.url, token: "t" });
    const store = createUpstashStore({
      codec: jobCodec,
      url: proxy.url,
      token: "t",
      keyPrefix: "p",
      ttlSeconds: 60,
    });
    try {
      const job = makeStoredJob();
      await store.create(job);
      expect(await store.acquireLease(job.id, "a", 1_000)).toStrictEqual(job);
    } finally {
      await store.close();
      await proxy.close();
    }
  });
});
