import { AppError } from "@/lib/errors";
import type { AdvanceDeps } from "@/lib/jobs/advance";
import { eraseJob } from "@/lib/jobs/erase-job";
import { requireOwner } from "@/lib/jobs/ownership";
import { publicJobOf } from "@/lib/jobs/public-view";
import type { PublicJob } from "@/lib/public-job";

/** The most looks one owner's list shows (and one "delete all" round takes). */
export const MAX_LISTED_LOOKS = 100;
/** Rounds of "delete all": an owner with more looks than this many lists' worth is unlikely. */
const MAX_DELETE_ROUNDS = 20;
/**
 * Looks "delete all" erases at once: each erase waits on the blob store and a vendor, so one at a
 * time would spend the route's 60 s on a few dozen looks; a few at once stay gentle with both.
 */
export const ERASE_CONCURRENCY = 4;

/** The caller's looks, newest first, as the status view shows them; none without an owner cookie. */
export async function listOwnedLooks(deps: AdvanceDeps, ownerHash: string | null): Promise<PublicJob[]> {
  if (!ownerHash) return [];
  const jobs = await deps.store.listByOwner(ownerHash, MAX_LISTED_LOOKS);
  const now = Date.now();
  // Image addresses from the blob store, as in the status view (signed for a private store).
  return Promise.all(jobs.map((job) => publicJobOf(job, deps.blobs, ownerHash, now)));
}

/** Deletes one look of the caller's: 404 when there is none (any more), 403 when it is someone else's. */
export async function deleteOwnedLook(
  deps: AdvanceDeps,
  jobId: string,
  ownerHash: string | null,
): Promise<void> {
  const job = await deps.store.get(jobId);
  if (!job) throw new AppError("job_not_found", "This look does not exist, has expired or was deleted.");
  requireOwner(job, ownerHash);
  await eraseJob(deps, jobId);
}

/** Deletes every look of the caller's; returns how many. Nothing for a browser without an owner cookie. */
export async function deleteAllOwnedLooks(deps: AdvanceDeps, ownerHash: string | null): Promise<number> {
  if (!ownerHash) return 0;
  let deleted = 0;
  for (let round = 0; round < MAX_DELETE_ROUNDS; round++) {
    const jobs = await deps.store.listByOwner(ownerHash, MAX_LISTED_LOOKS);
    if (jobs.length === 0) break;
    for (let from = 0; from < jobs.length; from += ERASE_CONCURRENCY) {
      const batch = jobs.slice(from, from + ERASE_CONCURRENCY);
      await Promise.all(batch.map((job) => eraseJob(deps, job.id)));
    }
    deleted += jobs.length;
  }
  return deleted;
}
