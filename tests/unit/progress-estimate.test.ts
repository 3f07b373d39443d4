import { describe, expect, it } from "vitest";
import { barFraction, estimateText, formatRemaining, nextAnchor } from "@/components/progress-estimate";
import type { PublicJob } from "@/lib/public-job";

const T0 = 1_800_000_000_000;

function view(patch: Partial<PublicJob> = {}): PublicJob {
  return {
    jobId: "0b7d2f4e-8c1a-4b5e-9f3d-2a6c8e1b4d70",
    status: "processing-style",
    statusMessage: "Creating a styled look for you…",
    imageUrl: null,
    personImageUrl: null,
    error: null,
    errorCode: null,
    owned: true,
    createdAt: new Date(T0).toISOString(),
    updatedAt: new Date(T0).toISOString(),
    occasion: "Gala",
    advice: null,
    step: 2,
    totalSteps: 4,
    progress: 0.25,
    estimatedReadyAt: null,
    pollAfterMs: 2_000,
    ...patch,
  };
}

const at = (ms: number) => new Date(T0 + ms).toISOString();

describe("the progress bar between views", () => {
  it("without an estimate creeps within the running step, never reaching its end, and says no time", () => {
    const anchor = nextAnchor(null, view(), 0, T0);
    expect(barFraction(anchor, T0)).toBeCloseTo(0.25);
    const later = barFraction(anchor, T0 + 10_000);
    expect(later).toBeGreaterThan(0.3);
    expect(barFraction(anchor, T0 + 600_000)).toBeLessThan(0.5);
    expect(estimateText(anchor, T0 + 10_000)).toBeNull();
  });

  it("with an estimate moves towards it linearly, and says about how long is left", () => {
    const anchor = nextAnchor(null, view({ progress: 0.5, estimatedReadyAt: at(40_000) }), 0, T0);
    expect(barFraction(anchor, T0 + 20_000)).toBeCloseTo(0.75);
    expect(estimateText(anchor, T0)).toBe("About 40 seconds left");
    expect(estimateText(anchor, T0 + 37_000)).toBe("Almost there…");
    // Past the estimate it stops short of done and says the step runs long.
    expect(barFraction(anchor, T0 + 80_000)).toBeLessThan(1);
    expect(estimateText(anchor, T0 + 45_000)).toBe(
      "This step is taking longer than usual. Still working on it…",
    );
  });

  it("reads the estimate on this browser's clock", () => {
    // The server's clock is 10 s ahead: its estimate, T0 + 40 s on its clock, is T0 + 30 s here.
    const anchor = nextAnchor(null, view({ estimatedReadyAt: at(40_000) }), 10_000, T0);
    expect(estimateText(anchor, T0)).toBe("About 30 seconds left");
  });

  it("never moves backwards when a new view says less than the bar shows", () => {
    let anchor = nextAnchor(null, view({ progress: 0.5, estimatedReadyAt: at(20_000) }), 0, T0);
    const shown = barFraction(anchor, T0 + 10_000);
    anchor = nextAnchor(anchor, view({ progress: 0.5, estimatedReadyAt: at(60_000) }), 0, T0 + 10_000);
    let last = shown;
    for (let t = 10_000; t <= 120_000; t += 1_000) {
      const now = barFraction(anchor, T0 + t);
      expect(now).toBeGreaterThanOrEqual(last);
      last = now;
    }
  });

  it("says a step runs long when the step passes the estimate first given during it", () => {
    let anchor = nextAnchor(null, view({ estimatedReadyAt: at(10_000) }), 0, T0);
    // The server keeps pushing its estimate out as the step drags on.
    anchor = nextAnchor(anchor, view({ estimatedReadyAt: at(30_000) }), 0, T0 + 15_000);
    expect(estimateText(anchor, T0 + 15_000)).toBe(
      "This step is taking longer than usual: about 15 seconds left.",
    );
    // A new step starts afresh.
    anchor = nextAnchor(
      anchor,
      view({ step: 3, progress: 0.6, estimatedReadyAt: at(50_000) }),
      0,
      T0 + 20_000,
    );
    expect(estimateText(anchor, T0 + 20_000)).toBe("About 30 seconds left");
  });

  it("keeps the movement going when a view repeats what it knew (a poll with no news)", () => {
    const first = nextAnchor(null, view(), 0, T0);
    const again = nextAnchor(first, view(), 0, T0 + 5_000);
    expect(again.at).toBe(T0);
    expect(barFraction(again, T0 + 6_000)).toBeCloseTo(barFraction(first, T0 + 6_000));
  });

  it("rounds the time left as a person says it", () => {
    expect(formatRemaining(4_000)).toBe("a few seconds");
    expect(formatRemaining(38_000)).toBe("40 seconds");
    expect(formatRemaining(70_000)).toBe("a minute");
    expect(formatRemaining(200_000)).toBe("3 minutes");
  });
});
