import { randomBytes, randomUUID } from "node:crypto";
import type { BlobRef } from "@/lib/blobs/types";
import { AppError } from "@/lib/errors";
import { normalizeUpload } from "@/lib/images/normalize-image";
import type { StoredJob } from "@/lib/jobs/job";
import { PIPELINE } from "@/lib/jobs/pipeline";
import type { StartForm } from "@/lib/jobs/read-start-form";
import { freshStep } from "@/lib/jobs/transitions";
import { logEvent } from "@/lib/log";
import type { Runtime } from "@/lib/runtime";
import { type ActiveJobCap, ActiveJobCapError } from "@/lib/store/types";

/** Refuses a client that started too many jobs in the current window. */
async function enforceStartRateLimit(rt: Runtime, clientKey: string): Promise<void> {
  const { max, windowSeconds } = rt.config.startRateLimit;
  if (max === 0) return;
  const { count, resetInMs } = await rt.store.hit(`start:${clientKey}`, windowSeconds * 1000);
  if (count > max) {
    throw new AppError(
      "rate_limited",
      "You have started many looks in a short time. Please wait a few minutes.",
      {
        headers: { "Retry-After": String(Math.max(1, Math.ceil(resetInMs / 1000))) },
      },
    );
  }
}

/** A job untouched for this long counts as abandoned, not in progress (its tab is gone). */
const ACTIVE_WINDOW_MS = 15 * 60_000;

const capReached = () =>
  new AppError("too_many_active_jobs", "Many looks are being made right now. Please try again in a minute.", {
    headers: { "Retry-After": "60" },
  });

/** The in-progress cap, or none: provider spend stays bounded. */
function activeJobCap(rt: Runtime): ActiveJobCap | undefined {
  const max = rt.config.maxActiveJobs;
  return max === 0 ? undefined : { max, since: Date.now() - ACTIVE_WINDOW_MS };
}

/** A cheap early refusal before any image is stored; the store's create enforces the cap atomically. */
async function refuseWhenCapReached(rt: Runtime): Promise<void> {
  const cap = activeJobCap(rt);
  if (cap && (await rt.store.countActive(cap.since)) >= cap.max) throw capReached();
}

/**
 * Validates and normalises the photos, stores them, and creates the job in `pending`. Nothing is
 * written for a refused request; the caller starts the first step.
 */
export async function startJob(rt: Runtime, form: StartForm, clientKey: string): Promise<StoredJob> {
  if (rt.config.onVercelWithoutKv) {
    throw new AppError(
      "misconfigured",
      "This deployment has no job store: connect Upstash Redis (Vercel KV) so jobs survive between requests.",
    );
  }
  const [person, garment] = await Promise.all([
    normalizeUpload(form.person, "human_image"),
    normalizeUpload(form.garment, "garment_image"),
  ]);
  await enforceStartRateLimit(rt, clientKey);
  await refuseWhenCapReached(rt);

  const jobId = randomUUID();
  const suffix = randomBytes(6).toString("hex");
  const stored: BlobRef[] = [];
  const storeImage = async (name: string, bytes: Buffer) => {
    const ref = await rt.blobs.put(`${jobId}/${name}-${suffix}.jpg`, bytes, "image/jpeg");
    stored.push(ref);
    return ref;
  };
  try {
    const inputs = {
      person: await storeImage("person", person),
      garment: await storeImage("garment", garment),
    };
    const now = Date.now();
    const job: StoredJob = {
      id: jobId,
      version: 0,
      status: PIPELINE[0]?.status ?? "pending",
      stepIndex: 0,
      current: freshStep(now),
      occasion: form.occasion,
      inputs,
      artifacts: {},
      error: null,
      nextCheckAt: 0,
      creates: 0,
      watchedAt: now,
      createdAt: now,
      updatedAt: now,
    };
    await rt.store.create(job, activeJobCap(rt)).catch((error: unknown) => {
      throw error instanceof ActiveJobCapError ? capReached() : error;
    });
    logEvent("job.created", { jobId });
    return job;
  } catch (error) {
    // Undo the stored photos, so a refused start leaves nothing behind.
    await Promise.all(stored.map((ref) => rt.blobs.delete(ref).catch(() => undefined)));
    throw error;
  }
}
