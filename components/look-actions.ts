import { randomKey } from "@/components/start-attempt";
import { type PublicJob, publicJobSchema } from "@/lib/public-job";
import type { StepName } from "@/lib/step-catalogue";

/** What an owner's action on a look came to: its answer, or a sentence for the person. */
export type ActionOutcome<T> = { ok: true; value: T } | { ok: false; message: string };

const UNREACHABLE = "The server could not be reached. Check your connection and try again.";

function messageOf(body: unknown, fallback: string): string {
  if (body && typeof body === "object" && "error" in body && typeof body.error === "string")
    return body.error;
  return fallback;
}

async function post(
  url: string,
  body?: unknown,
  headers: Record<string, string> = {},
): Promise<{ status: number; body: unknown } | null> {
  try {
    const response = await fetch(url, {
      method: "POST",
      cache: "no-store",
      ...(body === undefined
        ? { headers }
        : { headers: { ...headers, "content-type": "application/json" }, body: JSON.stringify(body) }),
    });
    return { status: response.status, body: await response.json().catch(() => null) };
  } catch {
    return null;
  }
}

const jobPath = (jobId: string, action: string) =>
  `/api/generation/jobs/${encodeURIComponent(jobId)}/${action}`;

/** Stops a look (owner only): its view, now failed with errorCode "cancelled" (or finished as it was). */
export async function cancelLook(jobId: string): Promise<ActionOutcome<PublicJob>> {
  const answer = await post(jobPath(jobId, "cancel"));
  if (!answer) return { ok: false, message: UNREACHABLE };
  const parsed = publicJobSchema.safeParse(answer.body);
  if (answer.status === 200 && parsed.success) return { ok: true, value: parsed.data };
  return { ok: false, message: messageOf(answer.body, "The look could not be cancelled. Please try again.") };
}

/** Wait before resending a redo whose answer was lost. */
const RESEND_AFTER_MS = 1_000;

/**
 * A new look from `from` on, reusing the source's photos and every output before it (owner only).
 * A lost answer is resent once with the same Idempotency-Key, so it is the same new look, not two.
 */
export async function redoLook(
  jobId: string,
  from: StepName,
  occasion?: string,
): Promise<ActionOutcome<string>> {
  const key = randomKey();
  const send = () =>
    post(jobPath(jobId, "redo"), occasion === undefined ? { from } : { from, occasion }, {
      "Idempotency-Key": key,
    });
  let answer = await send();
  if (!answer) {
    await new Promise((resolve) => setTimeout(resolve, RESEND_AFTER_MS));
    answer = await send();
  }
  if (!answer) return { ok: false, message: UNREACHABLE };
  const body = answer.body;
  if (answer.status === 202 && body && typeof body === "object" && "jobId" in body) {
    return { ok: true, value: String(body.jobId) };
  }
  return { ok: false, message: messageOf(body, "The look could not be redone. Please try again.") };
}
