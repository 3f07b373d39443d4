import { describe, expect, it } from "vitest";
import { PIPELINE } from "@/lib/jobs/pipeline";
import { JOB_STATUSES, STEP_NAMES, STEPS, stepIndexOfStatus } from "@/lib/step-catalogue";

describe("the step catalogue", () => {
  it("is the pipeline's order, names, statuses and words: the pipeline adds only behaviour", () => {
    expect(PIPELINE.map((step) => step.name)).toEqual([...STEP_NAMES]);
    expect(STEPS.map((step) => step.name)).toEqual([...STEP_NAMES]);
    PIPELINE.forEach((step, index) => {
      const { name, status, message, label, progressLabel } = step;
      expect({ name, status, message, label, progressLabel }).toEqual(STEPS[index]);
    });
  });

  it("gives each step its own status, then the two ends", () => {
    expect([...STEPS.map((step) => step.status), "completed", "failed"]).toEqual([...JOB_STATUSES]);
  });

  it("maps a status to the index of the step running under it", () => {
    expect(JOB_STATUSES.map(stepIndexOfStatus)).toEqual([0, 1, 2, 3, 4, null]);
  });
});
