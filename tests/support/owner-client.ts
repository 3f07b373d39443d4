import { randomBytes } from "node:crypto";
import { readdir } from "node:fs/promises";
import { OWNER_COOKIE } from "@/lib/owners/owner-cookie";
import type { PublicJob } from "@/lib/public-job";
import { withConsent } from "@/tests/support/consent";

/**
 * A browser as far as ownership goes: it keeps the owner cookie the first start sets and sends it
 * on every later request, as a browser would.
 */
export class OwnerClient {
  cookie: string | null = null;

  constructor(readonly baseUrl: string) {}

  /** Another browser's cookie: a valid owner token nobody's looks are stamped with. */
  static stranger(baseUrl: string): OwnerClient {
    const client = new OwnerClient(baseUrl);
    client.cookie = `${OWNER_COOKIE}=${randomBytes(32).toString("base64url")}`;
    return client;
  }

  async fetch(path: string, init: RequestInit = {}): Promise<Response> {
    const headers = new Headers(init.headers);
    if (this.cookie) headers.set("cookie", this.cookie);
    const response = await fetch(`${this.baseUrl}${path}`, { ...init, headers });
    const set = response.headers.get("set-cookie");
    if (set?.startsWith(`${OWNER_COOKIE}=`)) this.cookie = set.split(";")[0] ?? null;
    return response;
  }

  /** Starts a look (with consent given) and returns its job id; throws unless 202. */
  async start(form: FormData): Promise<string> {
    if (!form.has("consent")) withConsent(form);
    const response = await this.fetch("/api/generation/start", { method: "POST", body: form });
    const body = await response.json();
    if (response.status !== 202)
      throw new Error(`start answered ${response.status}: ${JSON.stringify(body)}`);
    return body.jobId;
  }

  status(jobId: string): Promise<Response> {
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

  /** The owner's looks (GET /api/generation/jobs); throws unless 200. */
  async listLooks(): Promise<PublicJob[]> {
    const response = await this.fetch("/api/generation/jobs");
    if (response.status !== 200) throw new Error(`list answered ${response.status}`);
    return ((await response.json()) as { jobs: PublicJob[] }).jobs;
  }

  deleteLook(jobId: string, headers: Record<string, string> = {}): Promise<Response> {
    return this.fetch(`/api/generation/jobs/${jobId}`, { method: "DELETE", headers });
  }

  deleteAll(headers: Record<string, string> = {}): Promise<Response> {
    return this.fetch("/api/generation/jobs", { method: "DELETE", headers });
  }

  cancel(jobId: string): Promise<Response> {
    return this.fetch(`/api/generation/jobs/${jobId}/cancel`, { method: "POST" });
  }

  redo(jobId: string, body: unknown, headers: Record<string, string> = {}): Promise<Response> {
    return this.fetch(`/api/generation/jobs/${jobId}/redo`, {
      method: "POST",
      headers: { "content-type": "application/json", ...headers },
      body: JSON.stringify(body),
    });
  }
}

/** Waits until `check` answers true, polling every 50 ms; throws after `timeoutMs`. */
export async function waitUntil(what: string, check: () => Promise<boolean> | boolean, timeoutMs = 20_000) {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`timed out waiting until ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
}

/** Every file under `dir` (relative paths), for "nothing of the job is left" checks. */
export async function filesUnder(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { recursive: true, withFileTypes: true }))
      .filter((entry) => entry.isFile())
      .map((entry) => `${entry.parentPath}/${entry.name}`.slice(dir.length + 1));
  } catch {
    return [];
  }
}
