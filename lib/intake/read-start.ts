import { after } from "next/server";
import type { BlobRef, BlobStore } from "@/lib/blobs/types";
import type { AppConfig } from "@/lib/config";
import { idempotencyKeyOf } from "@/lib/intake/idempotency-key";
import { isJsonRequest } from "@/lib/intake/json-body";
import { readStartForm } from "@/lib/intake/start-form";
import { type JsonStartDeps, readStartJson } from "@/lib/intake/start-json";
import type { StartClient } from "@/lib/jobs/start-job";
import type { StartRequest } from "@/lib/jobs/start-request";
import { logEvent } from "@/lib/log";
import { type Owner, ownerOf } from "@/lib/owners/owner-cookie";
import { clientKeyOf } from "@/lib/request";

/** What reading a start needs: the settings who-is-the-client and the form read, and JSON's store. */
export type StartIntakeDeps = JsonStartDeps & {
  config: Pick<AppConfig, "clientAddress" | "uploadDeadlines">;
};

/** A start request as the engine takes it (startJob), whichever encoding it came in. */
export interface StartIntake {
  start: StartRequest;
  client: StartClient;
  /** Direct uploads the request named: redundant once the job holds its own copies. */
  uploads: BlobRef[];
  /** The caller as an owner: the answer sets its cookie. */
  owner: Owner;
}

/**
 * The one intake of POST /api/generation/start: JSON carries the URLs of direct uploads to Blob,
 * multipart carries the photos themselves; both become the same StartRequest, with the same codes.
 */
export async function readStart(deps: StartIntakeDeps, request: Request): Promise<StartIntake> {
  const owner = ownerOf(request);
  const client = {
    key: clientKeyOf(request, deps.config.clientAddress),
    idempotencyKey: idempotencyKeyOf(request),
    ownerHash: owner.hash,
  };
  if (isJsonRequest(request)) return { ...(await readStartJson(deps, request)), client, owner };
  return { start: await readStartForm(request, deps.config.uploadDeadlines), client, uploads: [], owner };
}

/**
 * Deletes a started job's direct uploads after the answer is sent: the job holds its own normalised
 * copies (a replay leaves them: its first request did that already).
 */
export function discardUploadsAfter(deps: { blobs: BlobStore }, jobId: string, uploads: BlobRef[]): void {
  if (uploads.length === 0) return;
  after(async () => {
    const results = await Promise.allSettled(uploads.map((ref) => deps.blobs.delete(ref)));
    for (const result of results) {
      if (result.status === "rejected") {
        logEvent("uploads.delete_failed", { jobId, error: String(result.reason) });
      }
    }
  });
}
