import type { PublicJob } from "@/lib/public-job";

const MINUTE = 60_000;
const HOUR = 60 * MINUTE;
const DAY = 24 * HOUR;

/** "just now", "5 min ago", "3 h ago", "2 days ago": how long ago a look was made, short enough for a card. */
export function describeAge(ms: number): string {
  if (!Number.isFinite(ms) || ms < MINUTE) return "just now";
  if (ms < HOUR) return `${Math.floor(ms / MINUTE)} min ago`;
  if (ms < DAY) return `${Math.floor(ms / HOUR)} h ago`;
  const days = Math.floor(ms / DAY);
  return days === 1 ? "yesterday" : `${days} days ago`;
}

/** A look's state in two or three words, for its card in My looks. */
export function statusLabelOf(job: Pick<PublicJob, "status" | "step" | "totalSteps" | "errorCode">): string {
  switch (job.status) {
    case "completed":
      return "Ready";
    case "failed":
      return job.errorCode === "cancelled" ? "Cancelled" : "Didn’t finish";
    default:
      return `Step ${Math.min(job.step, job.totalSteps)} of ${job.totalSteps}`;
  }
}
