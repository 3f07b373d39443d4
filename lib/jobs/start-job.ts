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

/** The fields of a new job that its seed decides; the rest is the same for every new job. */
export interface SeedFields {
  occasion: string;
  inputs: StoredJob["inputs"];
  /** Outputs of the steps before `stepIndex` (a redo's copies); empty for a fresh start. */
  artifacts: StoredJob["artifacts"];
  /** The first step to run. */
  stepIndex: number;
  consent: StoredJob["consent"];
  redo: StoredJob["redo"];
}

/** Stores one file of the new job, under `<jobId>/`; every file it stores is undone if the start is refused. */
export type PutFile = (name: string, bytes: Buffer, contentType: string) => Promise<BlobRef>;

/**
 * What a new look is made from: the photos of a start, or a source look's inputs and outputs (a
 * redo, lib/jobs/redo-job.ts). `build` runs only once the start is allowed (limits passed).
 */
export interface JobSeed {
  /** Equal requests have equal fingerprints: what a reused Idempotency-Key is compared on. */
  fingerprint: string;
  build(put: PutFile): Promise<SeedFields>;
}

function newJob(jobId: string, fields: SeedFields, ownerHash: string): StoredJob {
  const now = Date.now();
  return {
    id: jobId,
    version: 0,
    status: PIPELINE[fields.stepIndex]?.status ?? "pending",
    stepIndex: fields.stepIndex,
    current: freshStep(now),
    occasion: fields.occasion,
    inputs: fields.inputs,
    artifacts: fields.artifacts,
    error: null,
    nextCheckAt: 0,
    creates: 0,
    watchedAt: now,
    ownerHash,
    consent: fields.consent,
    errorCode: null,
    redo: fields.redo,
    createdAt: now,
    updatedAt: now,
  };
}

/** The seed of a start: its photos, normalised and stored as the new job's inputs. */
export function photoSeed(start: StartRequest): JobSeed {
  return {
    fingerprint: start.fingerprint,
    async build(put) {
      const photos = await normalizePhotos(await start.photos());
      return {
        occasion: start.occasion,
        inputs: {
          person: await put("person", photos.person, "image/jpeg"),
          garment: await put("garment", photos.garment, "image/jpeg"),
        },
        artifacts: {},
        stepIndex: 0,
        // The statement the intake checked the start agreed to (lib/consent.ts), and when.
        consent: { version: start.consentVersion, at: Date.now() },
        redo: null,
      };
    },
  };
}

const EXTENSION_BY_TYPE: Record<string, string> = { "image/png": "png", "image/webp": "webp" };

/** Builds the seed's record (its files under `<jobId>/`), then creates the job under the start's guards. */
async function createJob(
  deps: StartDeps,
  jobId: string,
  seed: JobSeed,
  reservation: Reservation,
  ownerHash: string,
): Promise<void> {
  const suffix = randomBytes(6).toString("hex");
  const stored: BlobRef[] = [];
  const put: PutFile = async (name, bytes, contentType) => {
    const extension = EXTENSION_BY_TYPE[contentType] ?? "jpg";
    const ref = await deps.blobs.put(`${jobId}/${name}-${suffix}.${extension}`, bytes, contentType);
    stored.push(ref);
    return ref;
  };
  try {
    const fields = await seed.build(put);
    const guards: StartGuards = { reservation, budget: dailyBudget(deps), indexHoldMs: INDEX_HOLD_MS };
    await createConfirmed(deps, newJob(jobId, fields, ownerHash), activeJobCap(deps), guards, stored);
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
export function startJob(deps: StartDeps, start: StartRequest, client: StartClient): Promise<StartedJob> {
  return startSeeded(deps, photoSeed(start), client);
}

/**
 * Starts a look from any seed, held to exactly what a start is held to (Idempotency-Key, rate
 * limit, daily budget, in-progress cap), all before the seed builds anything.
 */
export async function startSeeded(deps: StartDeps, seed: JobSeed, client: StartClient): Promise<StartedJob> {
  refuseWithoutStore(deps);
  const jobId = randomUUID();
  const reserved = await reserveStart(deps, jobId, client.idempotencyKey, seed.fingerprint);
  if ("replayOf" in reserved) {
    logEvent("start.replayed", { jobId: reserved.replayOf });
    return { jobId: reserved.replayOf, replayed: true };
  }
  const { reservation } = reserved;
  try {
    await enforceStartRateLimit(deps, client.key);
    await refuseWhenFull(deps);
    await createJob(deps, jobId, seed, reservation, client.ownerHash);
  } catch (error) {
    if (!(error instanceof CreateOutcomeUnknownError)) {
      await deps.store.releaseStart(reservation.id, reservation.token).catch(() => undefined);
    }
    throw error;
  }
  logEvent("job.created", { jobId });
  return { jobId, replayed: false };
}
