import type { BlobStore } from "@/lib/blobs/types";
import { isPaused, isTerminal, type StoredJob } from "@/lib/jobs/job";
import { isOwnedBy } from "@/lib/jobs/ownership";
import { PIPELINE, TOTAL_STEPS } from "@/lib/jobs/pipeline";
import { clampPollDelay, type PublicJob } from "@/lib/public-job";

const DEFAULT_POLL_MS = 2_000;
/** Aim a little after the next provider check is due, so that poll finds it done. */
const POLL_LEAD_MS = 150;

/** A look nobody watched stops before its next paid step (lib/jobs/unattended.ts). */
export const PAUSED_MESSAGE = "Paused until you open this look again: it carries on from where it stopped.";

function statusMessage(job: StoredJob): string {
  if (job.status === "completed") return "Your look is ready.";
  if (job.status === "failed") return "We couldn't finish your look.";
  if (isPaused(job)) return PAUSED_MESSAGE;
  return PIPELINE[job.stepIndex]?.message ?? "Working on your look…";
}

function pollAfterMs(job: StoredJob, now: number): number | null {
  if (isTerminal(job.status)) return null;
  if (job.nextCheckAt <= now) return DEFAULT_POLL_MS;
  return clampPollDelay(job.nextCheckAt - now + POLL_LEAD_MS);
}

/** The browser addresses of a view's images, from `BlobStore.viewUrl`. */
export interface ViewImages {
  imageUrl: string | null;
  personImageUrl: string | null;
}

const NO_IMAGES: ViewImages = { imageUrl: null, personImageUrl: null };

/**
 * The browser's view of a job. `ownerHash`: the caller's (lib/owners), null without an owner cookie.
 * Image addresses come from the blob store (`viewUrl`), never from the record: a private store's
 * stored URL must not reach a browser, only a signed one that expires. The person's photo is signed
 * for its owner only.
 */
export async function publicJobOf(
  job: StoredJob,
  blobs: Pick<BlobStore, "viewUrl">,
  ownerHash: string | null,
  now = Date.now(),
): Promise<PublicJob> {
  const final = job.status === "completed" ? job.artifacts.final : undefined;
  const person = isOwnedBy(job, ownerHash) ? job.inputs.person : undefined;
  const [imageUrl, personImageUrl] = await Promise.all([
    final ? blobs.viewUrl(final) : null,
    person ? blobs.viewUrl(person) : null,
  ]);
  return toPublicJob(job, now, ownerHash, { imageUrl, personImageUrl });
}

/**
 * The view with the images' browser URLs already resolved (`publicJobOf` resolves them). Without them
 * the view shows no image: the stored URL is never the fallback.
 */
export function toPublicJob(
  job: StoredJob,
  now = Date.now(),
  ownerHash: string | null = null,
  images: ViewImages = NO_IMAGES,
): PublicJob {
  const advice = job.artifacts.advice;
  const owned = isOwnedBy(job, ownerHash);
  return {
    jobId: job.id,
    status: job.status,
    statusMessage: statusMessage(job),
    imageUrl: job.status === "completed" ? images.imageUrl : null,
    // A shared link shows the look, never the photo it was made from.
    personImageUrl: owned ? images.personImageUrl : null,
    error: job.status === "failed" ? job.error : null,
    errorCode: job.status === "failed" ? (job.errorCode ?? "internal") : null,
    owned,
    createdAt: new Date(job.createdAt).toISOString(),
    updatedAt: new Date(job.updatedAt).toISOString(),
    occasion: job.occasion,
    advice: advice ? { summary: advice.summary, pieces: advice.pieces, source: advice.source } : null,
    step: Math.min(job.stepIndex + 1, TOTAL_STEPS),
    totalSteps: TOTAL_STEPS,
    progress: job.status === "completed" ? 1 : Math.min(job.stepIndex, TOTAL_STEPS) / TOTAL_STEPS,
    estimatedReadyAt: null,
    pollAfterMs: pollAfterMs(job, now),
  };
}
