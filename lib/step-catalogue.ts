/**
 * The steps of a look and the job statuses, with every word a person reads about them: one list the
 * pipeline (lib/jobs/pipeline.ts adds the behaviour), the stored job, the settings and the browser
 * derive from. Client-safe: it imports nothing.
 */

export const STEP_NAMES = ["advice", "style", "tryon", "faceswap"] as const;
export type StepName = (typeof STEP_NAMES)[number];

/** The public statuses, exactly as the seed design names them: one per step, then the two ends. */
export const JOB_STATUSES = [
  "pending",
  "processing-style",
  "processing-tryon",
  "processing-faceswap",
  "completed",
  "failed",
] as const;
export type JobStatus = (typeof JOB_STATUSES)[number];

export interface StepInfo {
  name: StepName;
  /** The public status while this step runs. */
  status: JobStatus;
  /** The status message a person reads while this step runs. */
  message: string;
  /** Names the step in a person's terms, for timeout and failure messages. */
  label: string;
  /** The step's line in the browser's progress stepper. */
  progressLabel: string;
}

/** The steps, in pipeline order. */
export const STEPS = [
  {
    name: "advice",
    status: "pending",
    message: "Looking at your photos and writing your styling advice…",
    label: "Writing your styling advice",
    progressLabel: "Analysing your photos",
  },
  {
    name: "style",
    status: "processing-style",
    message: "Creating a styled look for you…",
    label: "Creating your styled look",
    progressLabel: "Styling your look",
  },
  {
    name: "tryon",
    status: "processing-tryon",
    message: "Trying the garment on…",
    label: "Trying the garment on",
    progressLabel: "Trying on the garment",
  },
  {
    name: "faceswap",
    status: "processing-faceswap",
    message: "Finishing touches: putting your own face back…",
    label: "Adding the finishing touches",
    progressLabel: "Finishing touches",
  },
] as const satisfies readonly StepInfo[];

/** The catalogue entry of one step. */
export function stepInfo(name: StepName): StepInfo {
  const info = STEPS.find((step) => step.name === name);
  if (!info) throw new Error(`No step is named ${name}`);
  return info;
}

/** Index of the step running under `status`; STEPS.length once completed; null when failed. */
export function stepIndexOfStatus(status: JobStatus): number | null {
  if (status === "completed") return STEPS.length;
  if (status === "failed") return null;
  return STEPS.findIndex((step) => step.status === status);
}
