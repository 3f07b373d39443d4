"use client";

import { publicJobSchema } from "@/lib/public-job";

/** One GET of the job's status view, parsed with the public job's schema (a bad body fails to parse). */
export async function fetchStatus(jobId: string, signal: AbortSignal) {
  const response = await fetch(`/api/generation/status?jobId=${encodeURIComponent(jobId)}`, {
    cache: "no-store",
    signal,
  });
  return { response, parsed: publicJobSchema.safeParse(await response.json().catch(() => null)) };
}
