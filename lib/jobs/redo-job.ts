import type { BlobRef, BlobStore } from "@/lib/blobs/types";
import { AppError } from "@/lib/errors";
import type { Artifacts, StoredJob } from "@/lib/jobs/job";
import { ownedJob } from "@/lib/jobs/ownership";
import { PIPELINE } from "@/lib/jobs/pipeline";
import type { StartDeps } from "@/lib/jobs/start-deps";
import {
  type JobSeed,
  type PutFile,
  type StartClient,
  type StartedJob,
  startSeeded,
} from "@/lib/jobs/start-job";
import { fingerprintOf } from "@/lib/jobs/start-request";
import type { StepName } from "@/lib/step-catalogue";

/**
 * Redo from a step (POST …/redo): a new look that reuses the source's inputs and every output before
 * `from`, copied under the new job's own `<jobId>/` prefix (deleting one look never breaks
 * another), and runs only the steps from `from` on. Held to everything a start is held to.
 */

/** What the owner asks for: the step to redo from, and a new occasion (only with `advice`). */
export interface RedoRequest {
  from: StepName;
  /** A new occasion means new advice: the intake refuses one with any other `from`. */
  occasion: string | null;
}

/** Who asks for a redo: as a start's client, but the owner hash is null without a cookie (403). */
export type RedoClient = Omit<StartClient, "ownerHash"> & { ownerHash: string | null };

/** The artifact each step leaves, in pipeline order: what a redo from a later step must copy. */
const ARTIFACT_OF: Record<StepName, keyof Artifacts> = {
  advice: "advice",
  style: "style",
  tryon: "tryon",
  faceswap: "final",
};

const incomplete = (what: string) =>
  new AppError(
    "redo_source_incomplete",
    `This look has no ${what} to reuse, so it cannot be redone from there. Redo it from an earlier step.`,
  );

/** The artifacts a redo from `stepIndex` reuses: those of every step before it, all present. */
function reusedArtifacts(source: StoredJob, stepIndex: number): Array<keyof Artifacts> {
  const names = PIPELINE.slice(0, stepIndex).map((step) => ARTIFACT_OF[step.name]);
  for (const name of names) if (!source.artifacts[name]) throw incomplete(`${name} result`);
  return names;
}

/** Copies one of the source's files into the new job; a file that is gone refuses the redo. */
async function copyFile(blobs: BlobStore, put: PutFile, name: string, ref: BlobRef): Promise<BlobRef> {
  const blob = await blobs.get(ref);
  if (!blob) throw incomplete(`${name} file (it is gone from storage)`);
  return put(name, blob.bytes, blob.contentType);
}

function redoSeed(deps: StartDeps, source: StoredJob, ask: RedoRequest): JobSeed {
  const stepIndex = PIPELINE.findIndex((step) => step.name === ask.from);
  const reused = reusedArtifacts(source, stepIndex);
  return {
    fingerprint: fingerprintOf("redo", [source.id, ask.from, ask.occasion ?? ""]),
    async build(put) {
      const artifacts: Artifacts = {};
      for (const name of reused) {
        if (name === "advice") artifacts.advice = source.artifacts.advice;
        else {
          const ref = source.artifacts[name];
          if (ref) artifacts[name] = await copyFile(deps.blobs, put, name, ref);
        }
      }
      return {
        occasion: ask.occasion ?? source.occasion,
        inputs: {
          person: await copyFile(deps.blobs, put, "person", source.inputs.person),
          garment: await copyFile(deps.blobs, put, "garment", source.inputs.garment),
        },
        artifacts,
        stepIndex,
        consent: source.consent,
        redo: { of: source.id, from: ask.from },
      };
    },
  };
}

/**
 * Starts the redo of the caller's look `sourceId`: 404 for none, 403 not_owner unless the caller
 * made it, 409 redo_source_incomplete when an output it must reuse is missing; then exactly a
 * start's limits and Idempotency-Key (startSeeded). The caller starts the first step.
 */
export async function redoLook(
  deps: StartDeps,
  sourceId: string,
  ask: RedoRequest,
  client: RedoClient,
): Promise<StartedJob> {
  const source = await ownedJob(deps.store, sourceId, client.ownerHash);
  const ownerHash = source.ownerHash ?? ""; // owned, so the caller's own hash
  return startSeeded(deps, redoSeed(deps, source, ask), { ...client, ownerHash });
}
