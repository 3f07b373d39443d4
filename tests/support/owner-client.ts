import { randomBytes } from "node:crypto";
import { OWNER_COOKIE } from "@/lib/owners/owner-cookie";

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
    if (!form.has("consent")) form.append("consent", "true");
    const response = await this.fetch("/api/generation/start", { method: "POST", body: form });
    const body = await response.json();
    if (response.status !== 202)
      throw new Error(`start answered ${response.status}: ${JSON.stringify(body)}`);
    return body.jobId;
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
