import { describe, expect, it } from "vitest";
import { CONSENT_VERSION } from "@/lib/consent";
import { readStart, type StartIntakeDeps } from "@/lib/intake/read-start";
import { withConsent } from "@/tests/support/consent";

/** Only what the intake reads: no store, no providers, and no blob store for a form. */
const deps = {
  config: {
    clientAddress: { kind: "untrusted" },
    uploadDeadlines: { idleMs: 5_000, totalMs: 10_000 },
    blobs: { kind: "local" },
  },
} as unknown as StartIntakeDeps;

const JPEG_START = new Uint8Array([0xff, 0xd8, 0xff, 0xe0, 1, 2, 3]);

function formRequest(headers: Record<string, string> = {}, consent: string | null = "true"): Request {
  const form = new FormData();
  form.set("human_image", new Blob([JPEG_START], { type: "image/jpeg" }), "me.jpg");
  form.set("garment_image", new Blob([JPEG_START], { type: "image/jpeg" }), "coat.jpg");
  form.set("occasion", "  Wedding guest ");
  if (consent === "true") withConsent(form);
  else if (consent !== null) form.set("consent", consent);
  return new Request("http://127.0.0.1/api/generation/start", { method: "POST", body: form, headers });
}

describe("the intake: a start request of either encoding becomes the engine's input", () => {
  it("reads a multipart form into the StartRequest, the client and no uploads", async () => {
    const { start, client, uploads } = await readStart(deps, formRequest({ "Idempotency-Key": "key-1" }));
    expect(start.occasion).toBe("Wedding guest");
    expect(start.consentVersion).toBe(CONSENT_VERSION);
    expect(start.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(await start.photos()).toEqual({
      person: Buffer.from(JPEG_START),
      garment: Buffer.from(JPEG_START),
    });
    expect(client).toEqual({ key: "shared", idempotencyKey: "key-1", ownerHash: expect.any(String) });
    expect(uploads).toEqual([]);
  });

  it("refuses a form without consent, or with any value but true, and never reads its photos", async () => {
    for (const consent of [null, "false", "yes", "on", ""]) {
      await expect(readStart(deps, formRequest({}, consent)), String(consent)).rejects.toMatchObject({
        code: "consent_required",
        status: 400,
      });
    }
  });

  it("refuses an unusable Idempotency-Key before reading the body", async () => {
    await expect(readStart(deps, formRequest({ "Idempotency-Key": "a key" }))).rejects.toMatchObject({
      code: "invalid_idempotency_key",
    });
  });

  it("answers a JSON start without direct uploads as the form would: 415, send the form", async () => {
    const json = new Request("http://127.0.0.1/api/generation/start", {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ occasion: "Date night" }),
    });
    await expect(readStart(deps, json)).rejects.toMatchObject({
      code: "unsupported_media_type",
      message: "Send the photos and the occasion as a multipart/form-data form.",
    });
  });
});
