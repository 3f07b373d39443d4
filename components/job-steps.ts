import type { JobStatus } from "@/lib/jobs/job";

/** The four steps as the person sees them, in pipeline order, each with the status it runs under. */
export const JOB_STEPS = [
  { status: "pending", label: "Analysing your photos" },
  { status: "processing-style", label: "Styling your look" },
  { status: "processing-tryon", label: "Trying on the garment" },
  { status: "processing-faceswap", label: "Finishing touches" },
] as const satisfies readonly { status: JobStatus; label: string }[];

/** Index of the step running under `status`; JOB_STEPS.length once completed; null when failed. */
export function stepIndexOf(status: JobStatus): number | null {
  switch (status) {
    case "pending":
      return 0;
    case "processing-style":
      return 1;
    case "processing-tryon":
      return 2;
    case "processing-faceswap":
      return 3;
    case "completed":
      return JOB_STEPS.length;
    case "failed":
      return null;
  }
}

/** "0:07", "1:42", "12:05": minutes and seconds since the job began. */
export function formatElapsed(ms: number): string {
  const seconds = Math.max(0, Math.floor(ms / 1000));
  return `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
}

/** "12 seconds", "2 minutes 5 seconds": the same for a sentence. */
export function describeDuration(ms: number): string {
  const seconds = Math.max(1, Math.round(ms / 1000));
  const minutes = Math.floor(seconds / 60);
  const rest = seconds % 60;
  const part = (n: number, unit: string) => `${n} ${unit}${n === 1 ? "" : "s"}`;
  if (minutes === 0) return part(rest, "second");
  return rest === 0 ? part(minutes, "minute") : `${part(minutes, "minute")} ${part(rest, "second")}`;
}
