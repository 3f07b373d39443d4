import { after } from "next/server";
import type { StoredJob } from "@/lib/jobs/job";
import { startJob } from "@/lib/jobs/start-job";
import { logEvent } from "@/lib/log";
import type { Runtime } from "@/lib/runtime";
import { readStartJson } from "@/lib/uploads/read-start-json";

/**
 * Starts a job from photos the browser uploaded straight to Blob. Once the job holds its own
 * normalised copies the originals are redundant, so they are deleted after the answer is sent.
 */
export async function startJobFromUploads(
  rt: Runtime,
  request: Request,
  clientKey: string,
): Promise<StoredJob> {
  const { form, uploads } = await readStartJson(rt, request);
  const job = await startJob(rt, form, clientKey);
  after(async () => {
    const results = await Promise.allSettled(uploads.map((ref) => rt.blobs.delete(ref)));
    for (const result of results) {
      if (result.status === "rejected") {
        logEvent("uploads.delete_failed", { jobId: job.id, error: String(result.reason) });
      }
    }
  });
  return job;
}
