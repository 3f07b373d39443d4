import { AppError } from "@/lib/errors";
import type { StoredJob } from "@/lib/jobs/job";

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
