import type { PublicJob } from "@/lib/public-job";

export async function startJobOver(baseUrl: string, form: FormData): Promise<string> {
  const response = await fetch(`${baseUrl}/api/generation/start`, { method: "POST", body: form });
  const body = await response.json();
  if (response.status !== 202) throw new Error(`start answered ${response.status}: ${JSON.stringify(body)}`);
  return body.jobId;
}

export async function getStatus(baseUrl: string, jobId: string): Promise<PublicJob> {
  const response = await fetch(`${baseUrl}/api/generation/status?jobId=${jobId}`);
  const body = await response.json();
  if (response.status !== 200) throw new Error(`status answered ${response.status}: ${JSON.stringify(body)}`);
  return body;
}

/** Polls (round-robin over `baseUrls`) until the job finishes; returns every status seen, in order. */
export async function pollUntilDone(
  baseUrls: string[],
  jobId: string,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<{ final: PublicJob; seen: PublicJob["status"][] }> {
  const deadline = Date.now() + (options.timeoutMs ?? 60_000);
  const seen: PublicJob["status"][] = [];
  for (let i = 0; ; i++) {
    const job = await getStatus(baseUrls[i % baseUrls.length] ?? "", jobId);
    if (seen.at(-1) !== job.status) seen.push(job.status);
    if (job.status === "completed" || job.status === "failed") return { final: job, seen };
    if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status} after the timeout`);
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
