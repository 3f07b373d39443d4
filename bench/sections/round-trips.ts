import { parseStoredJob, type StoredJob } from "@/lib/jobs/job";
import { keysFor } from "@/lib/store/keys";
import { garmentPhoto, personPhoto, startForm } from "@/tests/support/images";
import { getStatus, startJobOver } from "@/tests/support/poll";
import { APP_BASE_ENV, APP_READY, type BenchContext, type SectionResult } from "../support/context";
import { type RedisCost, RedisCostMeter, total } from "../support/redis-stats";
import type { Row } from "../support/report";
import { startNext } from "../support/servers";
import { sleep } from "../support/stats";

/**
 * 2. Store round trips per poll, on the bench's private Redis: the app's commands are counted between
 * two markers in MONITOR (and in INFO commandstats), for a poll with nothing due, for each poll that
 * moves the job to its next step, and for the start itself.
 */

const SECTION = "2 round trips";

interface Measured {
  what: string;
  polls: number;
  perPoll: number;
  cost: Omit<RedisCost<unknown>, "result">;
}

export async function benchRoundTrips(ctx: BenchContext): Promise<SectionResult> {
  const redisUrl = ctx.redis?.url;
  if (!redisUrl) throw new Error("no Redis");
  const prefix = ctx.prefix();
  // Longer than the idle polls take plus the status route's 1-s wait window (POLL_WAIT_WINDOW_MS):
  // a poll with a check due within the window waits for it, so it would not be an idle poll.
  const stepMs = ctx.smoke ? 2_500 : 4_000;
  const app = await startNext(
    ctx.builds.appDir,
    {
      ...APP_BASE_ENV,
      REDIS_URL: redisUrl,
      STORE_KEY_PREFIX: prefix,
      DATA_DIR: ctx.dir("round-trips"),
      LOCAL_STUDIO_STEP_MS: String(stepMs),
    },
    APP_READY,
  );
  const meter = await RedisCostMeter.open(redisUrl);
  const measured: Measured[] = [];
  const record = (what: string, polls: number, cost: RedisCost<unknown>) => {
    const { result: _, ...counts } = cost;
    measured.push({ what, polls, perPoll: total(cost.roundTrips) / polls, cost: counts });
  };
  const readJob = async (jobId: string): Promise<StoredJob> => {
    const raw = await meter.get(keysFor(prefix).job(jobId));
    if (!raw) throw new Error(`job ${jobId} is not in Redis`);
    return parseStoredJob(raw);
  };
  /** Waits (reading Redis from the bench's own connection, which is not counted) until `ready`. */
  const waitFor = async (jobId: string, ready: (job: StoredJob) => boolean) => {
    const deadline = Date.now() + 30_000;
    for (;;) {
      const job = await readJob(jobId);
      if (ready(job)) return job;
      if (Date.now() > deadline) throw new Error(`job ${jobId} stuck in ${job.status}`);
      await sleep(20);
    }
  };

  try {
    const form = startForm({
      person: await personPhoto(),
      garment: await garmentPhoto(),
      occasion: "Dinner",
    });
    // Warm the app's Redis connection and script cache, so the counts are those of a steady process.
    const warm = await startJobOver(app.url, form);
    await getStatus(app.url, warm);

    let jobId = "";
    const started = await meter.measure(async () => {
      jobId = await startJobOver(app.url, form);
      // The start's after() submits the first step: count it with the start.
      await waitFor(jobId, (job) => job.current?.taskId != null);
    });
    record("start (create + first submit in after())", 1, started);

    const idlePolls = ctx.smoke ? 5 : 50;
    record(
      "poll, nothing due",
      idlePolls,
      await meter.measure(async () => {
        for (let i = 0; i < idlePolls; i++) await getStatus(app.url, jobId);
      }),
    );

    for (const step of ctx.smoke ? ["advice"] : ["advice", "style", "tryon", "faceswap"]) {
      const job = await readJob(jobId);
      await sleep(Math.max(0, job.nextCheckAt - Date.now()) + 50);
      const moved = await meter.measure(() => getStatus(app.url, jobId));
      const last = step === "faceswap";
      record(
        last
          ? `poll that completes the job (${step} done)`
          : `poll that moves on (${step} done → next submitted)`,
        1,
        moved,
      );
    }
    if (!ctx.smoke) {
      const final = await getStatus(app.url, jobId);
      if (final.status !== "completed") throw new Error(`the job ended ${final.status}`);
      record(
        "poll, finished job",
        idlePolls,
        await meter.measure(async () => {
          for (let i = 0; i < idlePolls; i++) await getStatus(app.url, jobId);
        }),
      );
    }
  } finally {
    await meter.close();
    await app.stop();
  }

  const targetFor = (what: string): { bound: number } | null =>
    what === "poll, nothing due" || what === "poll, finished job"
      ? { bound: 1 }
      : what.startsWith("poll that")
        ? { bound: 6 }
        : null;
  const rows: Row[] = measured.map((m) => {
    const target = targetFor(m.what);
    const sent = Object.entries(m.cost.roundTrips).map(([name, n]) => `${name} ${n / m.polls}`);
    return {
      section: SECTION,
      measure: `${m.what} (${sent.join(", ")})`,
      figure: m.perPoll,
      unit: "round trips",
      target: target ? `≤ ${target.bound}` : undefined,
      met: target ? m.perPoll <= target.bound : null,
    };
  });
  return { rows, details: { stepMs, measured } };
}
