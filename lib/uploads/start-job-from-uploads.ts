import { after } from "next/server";
import type { StartDeps } from "@/lib/jobs/start-deps";
import { type StartClient, type StartedJob, startJob } from "@/lib/jobs/start-job";
import { logEvent } from "@/lib/log";
import { type JsonStartDeps, readStartJson } from "@/lib/uploads/read-start-json";

/**
 * Starts a job from photos the browser uploaded straight to Blob. Once the job holds its own
 * normalised copies the originals are redundant, so they are deleted after the answer is sent
 * (a replay leaves them: its first request did that already).
 */
export async function startJobFromUploads(
  deps: StartDeps & JsonStartDeps,
  request: Request,
  client: StartClient,
): Promise<StartedJob> {
  const { start, uploads } = await readStartJson(deps, request);
  const started = await startJob(deps, start, client);
  if (started.replayed) return started;
  after(async () => {
    const results = await Promise.allSettled(uploads.map((ref) => deps.blobs.delete(ref)));
    for (const result of results) {
      if (result.status === "rejected") {
        logEvent("uploads.delete_failed", { jobId: started.jobId, error: String(result.reason) });
      }
    }
  });
  return started;
}
