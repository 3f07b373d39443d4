import { AppError } from "@/lib/errors";
import type { StoredJob } from "@/lib/jobs/job";
import type { JobStore } from "@/lib/jobs/job-store";

/** True when the caller (its owner hash, or null without a cookie) owns the job. */
export function isOwnedBy(job: StoredJob, ownerHash: string | null): boolean {
  return ownerHash !== null && job.ownerHash !== null && job.ownerHash === ownerHash;
}

/** Only the browser that made a look may change it; anyone with its id may view it. */
export function requireOwner(job: StoredJob, ownerHash: string | null): void {
  if (!isOwnedBy(job, ownerHash)) {
    throw new AppError("not_owner", "Only the browser that made this look can change it.");
  }
}

export const jobNotFound = () => new AppError("job_not_found", "This job does not exist or has expired.");

/** The caller's own job, to change: 404 job_not_found when there is none, 403 not_owner when not theirs. */
export async function ownedJob(store: JobStore, jobId: string, ownerHash: string | null): Promise<StoredJob> {
  const job = await store.get(jobId);
  if (!job) throw jobNotFound();
  requireOwner(job, ownerHash);
  return job;
}
