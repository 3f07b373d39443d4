import type { AdvanceDeps } from "@/lib/jobs/advance";
import { isTerminal, type StoredJob } from "@/lib/jobs/job";
import { jobNotFound, ownedJob } from "@/lib/jobs/ownership";
import { type StopReason, stopJob } from "@/lib/jobs/stop-job";

/** What a cancelled look says, to a person and to a machine (the public view's errorCode). */
export const CANCELLED: StopReason = { code: "cancelled", message: "You cancelled this look." };

/**
 * The owner stops a look at once (POST …/cancel): failed with CANCELLED, its running vendor task
 * cancelled where the vendor can, and no later step ever submitted (stopJob). A finished look is
 * answered as it is; 404 for none, 403 not_owner for anyone but its owner.
 */
export async function cancelLook(
  deps: AdvanceDeps,
  jobId: string,
  ownerHash: string | null,
): Promise<StoredJob> {
  const job = await ownedJob(deps.store, jobId, ownerHash);
  if (isTerminal(job.status)) return job;
  const stopped = await stopJob(deps, jobId, CANCELLED);
  if (!stopped) throw jobNotFound(); // deleted meanwhile
  return stopped;
}
