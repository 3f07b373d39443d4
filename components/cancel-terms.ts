import type { PublicJob } from "@/lib/public-job";
import { STEPS } from "@/lib/step-catalogue";

/** What cancelling a look now means for what is paid: said before the person confirms. */
export interface ChargeNotice {
  /** Steps already finished: paid for, and kept. */
  paid: string[];
  /** The step running now: stopped where its AI service can cancel it, else it may still be charged. */
  running: string | null;
  /** Steps that will never be started, nor paid for. */
  never: string[];
}

/** `step` is 1-based: the step running now; every step before it is done. */
export function chargeNoticeOf(job: Pick<PublicJob, "step" | "status"> | null): ChargeNotice {
  const labels = STEPS.map((step) => step.progressLabel);
  if (!job || job.status === "completed" || job.status === "failed") {
    return { paid: job ? labels.slice(0, job.step) : [], running: null, never: [] };
  }
  const running = Math.min(Math.max(job.step, 1), labels.length) - 1;
  return {
    paid: labels.slice(0, running),
    running: labels[running] ?? null,
    never: labels.slice(running + 1),
  };
}

/** The notice as sentences a person reads before confirming. */
export function chargeSentencesOf(notice: ChargeNotice): string[] {
  const sentences: string[] = [];
  sentences.push(
    notice.paid.length
      ? `Already done and paid for: ${notice.paid.join(", ")}.`
      : "No step has finished yet, so nothing has been paid for beyond the step running now.",
  );
  if (notice.running) {
    sentences.push(
      `Running now: ${notice.running}. It is stopped at once; where the AI service cannot cancel it, that one step may still be charged.`,
    );
  }
  sentences.push(
    notice.never.length
      ? `Never started, never charged: ${notice.never.join(", ")}.`
      : "No further step will be started or charged.",
  );
  return sentences;
}
