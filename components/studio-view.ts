import type { JobPolling } from "@/hooks/use-job-polling";
import { STEPS, stepIndexOfStatus } from "@/lib/step-catalogue";

/** Which of the studio's views is showing. */
export type StudioView = "form" | "progress" | "result" | "failure" | "missing";

export function studioViewOf(jobId: string | null, polling: JobPolling): StudioView {
  if (!jobId) return "form";
  if (polling.missing) return "missing";
  if (polling.job?.status === "completed" && polling.job.imageUrl) return "result";
  if (polling.job?.status === "failed") return "failure";
  return "progress";
}

/** The sentence the aria-live region says for a view; it changes only when there is news. */
export function announcementOf(view: StudioView, polling: JobPolling, uploading: boolean): string {
  switch (view) {
    case "form":
      return uploading ? "Uploading your photos…" : "";
    case "progress": {
      if (polling.reconnecting) return "Connection lost. Reconnecting…";
      if (!polling.job) return "Starting your look…";
      const index = stepIndexOfStatus(polling.job.status) ?? 0;
      const step = STEPS[index];
      return step
        ? `Step ${index + 1} of ${STEPS.length}: ${step.progressLabel}.`
        : polling.job.statusMessage;
    }
    case "result":
      return "Your look is ready.";
    case "failure":
      return `We couldn’t finish your look. ${polling.job?.error ?? ""}`.trim();
    case "missing":
      return "We can’t find that look.";
  }
}
