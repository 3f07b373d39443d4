import { logEvent } from "@/lib/log";

/** Below this the skew is noise (the `Date` header has one-second resolution) and our clock is used. */
export const SKEW_TOLERANCE_MS = 5_000;

export interface KlingSkewMeter {
  /** Reads Kling's `Date` header: our clock minus Kling's (ms), or undefined without a usable header. */
  observe(dateHeader: string | null): number | undefined;
  /** The offset to sign tokens with: the last measured skew when it is past the tolerance, else 0. */
  correctionMs(): number;
}

/**
 * Measures our clock against Kling's `Date` header on every answer, and logs one
 * `kling.clock_skew` line whenever the skew crosses the tolerance or moves by more than it.
 */
export function createKlingSkewMeter(now: () => number): KlingSkewMeter {
  let last = 0;
  let logged = 0;
  return {
    observe(dateHeader) {
      const kling = dateHeader ? Date.parse(dateHeader) : Number.NaN;
      if (Number.isNaN(kling)) return undefined;
      const offsetMs = now() - kling;
      last = Math.abs(offsetMs) > SKEW_TOLERANCE_MS ? offsetMs : 0;
      if (Math.abs(last - logged) > SKEW_TOLERANCE_MS) {
        logged = last;
        logEvent("kling.clock_skew", {
          skewMs: offsetMs,
          detail:
            last === 0
              ? "our clock agrees with Kling's again"
              : `our clock is ${Math.round(Math.abs(offsetMs) / 1_000)} s ${offsetMs > 0 ? "ahead of" : "behind"} Kling's; tokens are signed by Kling's clock`,
        });
      }
      return offsetMs;
    },
    correctionMs: () => last,
  };
}
