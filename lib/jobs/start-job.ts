import { randomBytes, randomUUID } from "node:crypto";
import type { BlobRef } from "@/lib/blobs/types";
import { AppError } from "@/lib/errors";
import { normalizeUpload } from "@/lib/images/normalize-image";
import { CreateOutcomeUnknownError, createConfirmed, INDEX_HOLD_MS } from "@/lib/jobs/confirm-create";
import type { StoredJob } from "@/lib/jobs/job";
import { PIPELINE } from "@/lib/jobs/pipeline";
import type { StartDeps } from "@/lib/jobs/start-deps";
import { type Reservation, reserveStart } from "@/lib/jobs/start-idempotency";
import {
  activeJobCap,
  budgetReached,
  capReached,
  dailyBudget,
  enforceStartRateLimit,
  refuseWhenFull,
} from "@/lib/jobs/start-limits";
import type { StartPhotos, StartRequest } from "@/lib/jobs/start-request";
import { freshStep } from "@/lib/jobs/transitions";
import { logEvent } from "@/lib/log";
import {
  ActiveJobCapError,
  DailyBudgetError,
  ReservationLostError,
  type StartGuards,
} from "@/lib/store/types";

/**
 * Who asks: the rate limit's key (lib/request.ts), the request's Idempotency-Key if any, and the
 * owner hash the new job is stamped with (lib/owners).
 */
export interface StartClient {
  key: string;
  idempotencyKey: string | null;
  ownerHash: string;
}

/** A started look: its job id, and whether an earlier request with the same key made it. */
export interface StartedJob {
  jobId: string;
  replayed: boolean;
}

function refuseWithoutStore(deps: StartDeps): void {
  if (deps.config.onVercelWithoutKv) {
    throw new AppError(
      "misconfigured",
      "This deployment has no job store: connect Upstash Redis (Vercel KV) so jobs survive between requests.",
    );
  }
}

/** The create's definite refusals, as the answers a person reads. */
function refusalOf(error: unknown): unknown {
  if (error instanceof ActiveJobCapError) return capReached();
  if (error instanceof DailyBudgetError) return budgetReached();
  if (error instanceof ReservationLostError) {
    return new AppError("store_unavailable", "Starting your look took too long. Please try again.", {
      cause: error,
      headers: { "Retry-After": "1" },
    });
  }
  return error;
}

async function normalizePhotos(photos: StartPhotos): Promise<StartPhotos> {
  const started = Date.now();
  const [person, garment] = await Promise.all([
    normalizeUpload(photos.person, "human_image"),
    normalizeUpload(photos.garment, "garment_image"),
  ]);
  // The proof, in the log, that a refused start decodes nothing: this line comes after the limits.
  logEvent("start.photos_decoded", { ms: Date.now() - started });
  return { person, garment };
}

function newJob(
  jobId: string,
  start: StartRequest,
  inputs: StoredJob["inputs"],
  ownerHash: string,
): StoredJob {
  const now = Date.now();
  const occasion = start.occasion;
  return {
    id: jobId,
    version: 0,
    status: PIPELINE[0]?.status ?? "pending",
    stepIndex: 0,
    current: freshStep(now),
    occasion,
    inputs,
    artifacts: {},
    error: null,
    nextCheckAt: 0,
    creates: 0,
    watchedAt: now,
    ownerHash,
    consent: { version: start.consentVersion, at: now },
    errorCode: null,
    redo: null,
    createdAt: now,
    updatedAt: now,
  };
}

/** Normalises and stores the photos, then creates the job under the start's guards. */
async function createJob(
  deps: StartDeps,
  jobId: string,
  start: StartRequest,
  reservation: Reservation,
  ownerHash: string,
): Promise<void> {
  const photos = await normalizePhotos(await start.photos());
  const suffix = randomBytes(6).toString("hex");
  const stored: BlobRef[] = [];
  const storeImage = async (name: string, bytes: Buffer) => {
    const ref = await deps.blobs.put(`${jobId}/${name}-${suffix}.jpg`, bytes, "image/jpeg");
    stored.push(ref);
    return ref;
  };
  try {
    const inputs = {
      person: await storeImage("person", photos.person),
      garment: await storeImage("garment", photos.garment),
    };
    const guards: StartGuards = { reservation, budget: dailyBudget(deps), indexHoldMs: INDEX_HOLD_MS };
    await createConfirmed(deps, newJob(jobId, start, inputs, ownerHash), activeJobCap(deps), guards, stored);
  } catch (error) {
    // A refused start leaves nothing behind, but the photos of a job that may exist stay.
    if (!(error instanceof CreateOutcomeUnknownError)) {
      await Promise.all(stored.map((ref) => deps.blobs.delete(ref).catch(() => undefined)));
    }
    throw refusalOf(error);
  }
}

/**
 * Starts a look: replays the job of a reused Idempotency-Key, else holds the request to the rate
 * limit, the daily budget and the in-progress cap — all before any photo is decoded — then
 * normalises and stores the photos and creates the job in `pending`. A refused start writes
 * nothing (and frees its key for a retry); the caller starts the first step.
 */
export async function startJob(
  deps: StartDeps,
  start: StartRequest,
  client: StartClient,
): Promise<StartedJob> {
  refuseWithoutStore(deps);
  const jobId = randomUUID();
  const reserved = await reserveStart(deps, jobId, client.idempotencyKey, start.fingerprint);
  if ("replayOf" in reserved) {
    logEvent("start.replayed", { jobId: reserved.replayOf });
    return { jobId: reserved.replayOf, replayed: true };
  }
  const { reservation } = reserved;
  try {
    await enforceStartRateLimit(deps, client.key);
    await refuseWhenFull(deps);
    await createJob(deps, jobId, start, reservation, client.ownerHash);
  } catch (error) {
    if (!(error instanceof CreateOutcomeUnknownError)) {
      await deps.store.releaseStart(reservation.id, reservation.token).catch(() => undefined);
    }
    throw error;
  }
  logEvent("job.created", { jobId });
  return { jobId, replayed: false };
}
