import { describe, expect, it } from "vitest";
import { chargeNoticeOf, chargeSentencesOf } from "@/components/cancel-terms";
import { shareUrlOf } from "@/components/copy-link";
import { describeAge, statusLabelOf } from "@/components/look-summary";
import { ADVICE_BY_CODE, failedStepOf, redoChoicesOf } from "@/components/redo-choice";
import { JOB_ERROR_CODES, type JobErrorCode } from "@/lib/job-errors";
import type { JobStatus } from "@/lib/step-catalogue";

function look(status: JobStatus, step: number, owned = true, errorCode: JobErrorCode | null = null) {
  return { status, step, owned, errorCode, totalSteps: 4 };
}

describe("redo choices: which step a redo starts from", () => {
  it("offers the owner of a finished look a new try-on and a restyle", () => {
    expect(redoChoicesOf(look("completed", 4))).toEqual([
      { from: "tryon", label: "Try it on again" },
      { from: "style", label: "Restyle" },
    ]);
  });

  it("offers nothing on someone else's look", () => {
    expect(redoChoicesOf(look("completed", 4, false))).toEqual([]);
    expect(redoChoicesOf(look("failed", 3, false, "timed_out"))).toEqual([]);
  });

  it("redoes the step a failed look stopped at (`step` is 1-based)", () => {
    expect(failedStepOf(look("failed", 1, true, "internal"))).toBe("advice");
    expect(failedStepOf(look("failed", 3, true, "internal"))).toBe("tryon");
    expect(redoChoicesOf(look("failed", 3, true, "timed_out"))).toEqual([
      { from: "tryon", label: "Retry “Trying on the garment”" },
    ]);
    expect(redoChoicesOf(look("failed", 2, true, "provider_unavailable"))[0]?.from).toBe("style");
  });

  it("carries a cancelled look on from where it stopped", () => {
    expect(redoChoicesOf(look("failed", 4, true, "cancelled"))).toEqual([
      { from: "faceswap", label: "Carry on from where it stopped" },
    ]);
  });

  it("does not offer the same photo again when the photo is the problem", () => {
    expect(redoChoicesOf(look("failed", 3, true, "unusable_photo"))).toEqual([]);
    expect(redoChoicesOf(look("failed", 3, true, "content_policy"))).toEqual([]);
    expect(ADVICE_BY_CODE.unusable_photo.newPhoto).toBe(true);
    expect(ADVICE_BY_CODE.content_policy.newOccasion).toBe(true);
  });

  it("has advice for every error code, and nothing for a look still running", () => {
    for (const code of JOB_ERROR_CODES) expect(ADVICE_BY_CODE[code].hint.length).toBeGreaterThan(20);
    expect(redoChoicesOf(look("processing-tryon", 3))).toEqual([]);
    expect(failedStepOf(look("processing-tryon", 3))).toBeNull();
  });
});

describe("what cancelling says about charges", () => {
  it("names the steps paid for, the one running and those never started", () => {
    expect(chargeNoticeOf(look("processing-tryon", 3))).toEqual({
      paid: ["Analysing your photos", "Styling your look"],
      running: "Trying on the garment",
      never: ["Finishing touches"],
    });
    const sentences = chargeSentencesOf(chargeNoticeOf(look("processing-tryon", 3)));
    expect(sentences[0]).toBe("Already done and paid for: Analysing your photos, Styling your look.");
    expect(sentences.at(-1)).toBe("Never started, never charged: Finishing touches.");
  });

  it("says nothing was paid for before the first step finished, and nothing follows the last", () => {
    expect(chargeSentencesOf(chargeNoticeOf(look("pending", 1)))[0]).toMatch(/^No step has finished yet/);
    expect(chargeSentencesOf(chargeNoticeOf(look("processing-faceswap", 4))).at(-1)).toBe(
      "No further step will be started or charged.",
    );
  });
});

describe("a look's card", () => {
  it("says its age briefly", () => {
    expect(describeAge(20_000)).toBe("just now");
    expect(describeAge(5 * 60_000 + 10_000)).toBe("5 min ago");
    expect(describeAge(3 * 3_600_000)).toBe("3 h ago");
    expect(describeAge(26 * 3_600_000)).toBe("yesterday");
    expect(describeAge(3 * 86_400_000)).toBe("3 days ago");
    expect(describeAge(Number.NaN)).toBe("just now");
  });

  it("says its status", () => {
    expect(statusLabelOf(look("completed", 4))).toBe("Ready");
    expect(statusLabelOf(look("failed", 2, true, "cancelled"))).toBe("Cancelled");
    expect(statusLabelOf(look("failed", 2, true, "internal"))).toBe("Didn’t finish");
    expect(statusLabelOf(look("processing-style", 2))).toBe("Step 2 of 4");
  });

  it("shares the view-only link as an absolute URL", () => {
    expect(shareUrlOf("https://studio.example", "a b")).toBe("https://studio.example/?job=a%20b");
  });
});
