import { type AdvanceDeps, type AdvanceOptions, advance } from "@/lib/jobs/advance";
import { isPaused, isTerminal, type StoredJob } from "@/lib/jobs/job";
import { POLL_WAIT_WINDOW_MS } from "@/lib/public-job";

/**
 * A status poll's advance that answers late rather than twice: when the job's next check falls
 * within POLL_WAIT_WINDOW_MS, the poll waits for it, advances again and answers the fresh state —
 * one wait per request (a job leased elsewhere, whose record has not changed, is looked at again).
 * docs/architecture.md, "A poll that waits". An idle poll (nothing due soon) is still one store read.
 */

/** All the waiting one poll may do, whatever it waits for. */
export const POLL_MAX_WAIT_MS = 2 * POLL_WAIT_WINDOW_MS;
/** Due, but another advance holds the job (its create in flight): look again after this. */
const BUSY_RECHECK_MS = 400;
/** Wake just after the check is due, so the advance finds it due. */
const WAKE_LATE_MS = 5;

const realSleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * `answerBy` (ms epoch): no wait starts that would end after it (the poll's own time budget).
 * Returns the job as it now is, or null when it does not exist.
 */
export async function advanceForPoll(
  jobId: string,
  deps: AdvanceDeps,
  options: AdvanceOptions,
  answerBy: number,
): Promise<StoredJob | null> {
  const now = deps.now ?? Date.now;
  const sleep = deps.sleep ?? realSleep;
  let job = await advance(jobId, deps, options);
  let waited = 0;
  while (job && !isTerminal(job.status) && !isPaused(job)) {
    const dueInMs = job.nextCheckAt - now();
    if (dueInMs > POLL_WAIT_WINDOW_MS) break;
    const waitMs = dueInMs > 0 ? dueInMs + WAKE_LATE_MS : BUSY_RECHECK_MS;
    if (waited + waitMs > POLL_MAX_WAIT_MS || now() + waitMs > answerBy) break;
    const seen = job.version;
    await sleep(waitMs);
    waited += waitMs;
    job = await advance(jobId, deps, options);
    // The awaited check (or another writer) moved the job: answer that, so a person sees every step.
    if (job && job.version !== seen) break;
  }
  return job;
}
