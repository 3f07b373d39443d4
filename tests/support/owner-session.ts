import type { PublicJob } from "@/lib/public-job";

/**
 * One browser as the owner API sees it: its own cookie jar (the owner cookie the first start sets),
 * the same origin as the app (so state-changing requests pass the cross-site check).
 */
export class BrowserSession {
  private cookie: string | null = null;

  constructor(
    readonly baseUrl: string,
    cookie: string | null = null,
  ) {
    this.cookie = cookie;
  }

  /** The `name=value` of the owner cookie, once a start set it. */
  get ownerCookie(): string | null {
    return this.cookie;
  }

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookie) headers.set("cookie", this.cookie);
    const response = await fetch(`${this.baseUrl}${path}`, { ...init, headers });
    const set = response.headers.get("set-cookie");
    const pair = set?.split(";")[0];
    if (pair?.startsWith("ss_owner=")) this.cookie = pair;
    return response;
  }

  async start(form: FormData): Promise<string> {
    const response = await this.fetch("/api/generation/start", { method: "POST", body: form });
    const body = await response.json();
    if (response.status !== 202)
      throw new Error(`start answered ${response.status}: ${JSON.stringify(body)}`);
    return body.jobId;
  }

  async status(jobId: string): Promise<Response> {
    return this.fetch(`/api/generation/status?jobId=${jobId}`);
  }

  /** Polls until the job finishes; returns the last view and every image URL any view showed. */
  async pollUntilDone(jobId: string, timeoutMs = 60_000): Promise<{ final: PublicJob; urls: Set<string> }> {
    const deadline = Date.now() + timeoutMs;
    const urls = new Set<string>();
    for (;;) {
      const response = await this.status(jobId);
      if (response.status !== 200) throw new Error(`status answered ${response.status}`);
      const job = (await response.json()) as PublicJob;
      for (const url of [job.imageUrl, job.personImageUrl]) if (url) urls.add(url);
      if (job.status === "completed" || job.status === "failed") return { final: job, urls };
      if (Date.now() > deadline) throw new Error(`job ${jobId} still ${job.status} after the timeout`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  }

  deleteLook(jobId: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.fetch(`/api/generation/jobs/${jobId}`, { method: "DELETE", headers });
  }

  deleteAll(headers: Record<string, string> = {}): Promise<Response> {
    return this.fetch("/api/generation/jobs", { method: "DELETE", headers });
  }

  async listLooks(): Promise<PublicJob[]> {
    const response = await this.fetch("/api/generation/jobs");
    if (response.status !== 200) throw new Error(`list answered ${response.status}`);
    return ((await response.json()) as { jobs: PublicJob[] }).jobs;
  }
}

/** Every file under `dir` (relative paths), for "nothing of the job is left" checks. */
export async function filesUnder(dir: string): Promise<string[]> {
  const { readdir } = await import("node:fs/promises");
  try {
    return (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => `${entry.parentPath}/${entry.name}`.slice(dir.length + 1));
  } catch {
    return [];
  }
}
