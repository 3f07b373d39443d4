import { isPaused, isTerminal, parseStoredJob, type StoredJob } from "@/lib/jobs/job";
import type { RecordCodec, RecordStore } from "@/lib/store/types";

/** The store of jobs: the versioned-record store holding StoredJob records. */
export type JobStore = RecordStore<StoredJob>;

/**
 * Where an unfinished job stands in the active-jobs index: when it is next due, and never before its
 * last write (a job due "at 0" is still recent). Null for a finished job and for a paused one (it
 * waits for a person, not for the sweep, and holds no place under the in-progress cap): both leave
 * the index.
 */
export function activeAt(job: StoredJob): number | null {
  return isTerminal(job.status) || isPaused(job) ? null : Math.max(job.nextCheckAt, job.updatedAt);
}

/** What the wiring hands the store so it can read and index jobs. */
export const jobCodec: RecordCodec<StoredJob> = {
  parse: parseStoredJob,
  activeAt,
  ownerOf: (job) => job.ownerHash,
};
