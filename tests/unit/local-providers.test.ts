import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import path from "node:path";
import sharp from "sharp";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { createLocalProviders, listLocalTasks } from "@/lib/providers/local";
import { adviseOffline } from "@/lib/providers/local/advisor";
import { nearestNamedColor } from "@/lib/providers/local/colors";
import { FACE_ELLIPSE, STUDIO_HEIGHT, STUDIO_WIDTH, TORSO_BOX } from "@/lib/providers/local/studio";
import type { CheckResult, ImageInput, ImageResult } from "@/lib/providers/types";

const STEP_MS = 5_000;
const signal = new AbortController().signal;

let dir: string;
let clock: number;
const now = () => clock;

beforeEach(async () => {
  dir = await mkdtemp(path.join(tmpdir(), "local-providers-"));
  clock = 1_000_000;
});
afterEach(async () => {
  await rm(dir, { recursive: true, force: true });
});

function providers() {
  return createLocalProviders({ dir, stepMs: STEP_MS, now });
}

function input(bytes: Buffer): ImageInput {
  return { url: async () => null, load: async () => bytes };
}

function svgOn(width: number, height: number, background: string, body: string): Promise<Buffer> {
  const overlay = `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}">${body}</svg>`;
  return sharp({ create: { width, height, channels: 3, background } })
    .composite([{ input: Buffer.from(overlay) }])
    .jpeg()
    .toBuffer();
}

/** A 3:4 "person": skin-coloured head where the studio expects a face, a blue body below. */
const personPhoto = () =>
  svgOn(
    900,
    1200,
    "#9aa3ad",
    `<ellipse cx="450" cy="240" rx="150" ry="170" fill="#e0b090"/>` +
      `<rect x="250" y="450" width="400" height="750" rx="60" fill="#3050a0"/>`,
  );
/** A red shirt shot on a white sheet. */
const redShirtPhoto = () =>
  svgOn(
    800,
    800,
    "#ffffff",
    `<path d="M250 100 L550 100 L700 250 L580 300 L580 700 L220 700 L220 300 L100 250 Z" fill="#c8202a"/>`,
  );

async function regionMean(jpeg: Buffer, box: { left: number; top: number; width: number; height: number }) {
  // stats() measures its input, ignoring pipeline operations, so the region is cut out first.
  const region = await sharp(jpeg).extract(box).png().toBuffer();
  const { channels } = await sharp(region).stats();
  return channels.slice(0, 3).map((c) => c.mean);
}
const maxDiff = (a: number[], b: number[]) => Math.max(...a.map((v, i) => Math.abs(v - (b[i] ?? 0))));

const FACE_BOX = {
  left: Math.round(FACE_ELLIPSE.cx * STUDIO_WIDTH) - 50,
  top: Math.round(FACE_ELLIPSE.cy * STUDIO_HEIGHT) - 40,
  width: 100,
  height: 80,
};

/** Advances the clock past the step and returns the succeeded output. */
async function finish<Out>(check: (id: string) => Promise<CheckResult<Out>>, taskId: string): Promise<Out> {
  clock += STEP_MS;
  const result = await check(taskId);
  if (result.state !== "succeeded") throw new Error(`expected succeeded, got ${JSON.stringify(result)}`);
  return result.output;
}

function bytesOf(result: ImageResult): Buffer {
  if (!("bytes" in result.image)) throw new Error("expected image bytes");
  expect(result.image.contentType).toBe("image/jpeg");
  return result.image.bytes;
}

describe("local providers", () => {
  it("runs for stepMs, hinting the time left, then succeeds", async () => {
    const { advice } = providers();
    const garment = input(await redShirtPhoto());
    const { taskId } = await advice.submit(
      { occasion: "Summer wedding guest", person: garment, garment },
      { idempotencyKey: "job-1-advice-1", signal },
    );
    clock += 1_000;
    const running = await advice.check(taskId, { signal });
    expect(running).toMatchObject({ state: "running", nextCheckInMs: 4_000 });
    clock += 3_999;
    expect((await advice.check(taskId, { signal })).state).toBe("running");
    clock += 1;
    expect((await advice.check(taskId, { signal })).state).toBe("succeeded");
  });

  it("keeps tasks in files: a restarted provider finds and completes them", async () => {
    const photo = input(await personPhoto());
    const { taskId } = await providers().style.submit(
      { person: photo, garment: input(await redShirtPhoto()), prompt: "" },
      { idempotencyKey: "job-1-style-1", signal },
    );
    const restarted = providers().style;
    expect((await restarted.check(taskId, { signal })).state).toBe("running");
    const output = await finish((id) => restarted.check(id, { signal }), taskId);
    const meta = await sharp(bytesOf(output)).metadata();
    expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", STUDIO_WIDTH, STUDIO_HEIGHT]);
  });

  it("records every submit, even with the same key, and finds the latest by key", async () => {
    const { advice } = providers();
    const garment = input(await redShirtPhoto());
    const ctx = { idempotencyKey: "job-2-advice-1", signal };
    const first = await advice.submit({ occasion: "Office", person: garment, garment }, ctx);
    clock += 1;
    const second = await advice.submit({ occasion: "Office", person: garment, garment }, ctx);
    expect(first.taskId).not.toBe(second.taskId);
    const tasks = await listLocalTasks(dir);
    expect(tasks).toEqual([
      { taskId: first.taskId, kind: "advice", idempotencyKey: "job-2-advice-1" },
      { taskId: second.taskId, kind: "advice", idempotencyKey: "job-2-advice-1" },
    ]);
    expect(await providers().advice.findTask?.("job-2-advice-1", { signal, since: 0 })).toEqual({
      taskId: second.taskId,
    });
    expect(await advice.findTask?.("job-2-advice-2", { signal, since: 0 })).toBeNull();
  });

  it.each(["0b7d2a8e-1111-4222-8333-944444444444", "../../etc/passwd", ""])(
    "fails an unknown task id (%j) permanently",
    async (taskId) => {
      const result = await providers().tryon.check(taskId, { signal });
      expect(result.state).toBe("failed");
      if (result.state === "failed") expect(result.error.kind).toBe("permanent");
    },
  );

  it("reports an unreadable photo as a permanent task failure, not a thrown submit", async () => {
    const { style } = providers();
    const broken = input(Buffer.from("not an image"));
    const { taskId } = await style.submit(
      { person: broken, garment: broken, prompt: "" },
      { idempotencyKey: "job-3-style-1", signal },
    );
    clock += STEP_MS;
    const result = await style.check(taskId, { signal });
    expect(result.state).toBe("failed");
    if (result.state === "failed") expect(result.error.kind).toBe("permanent");
  });

  it("advises from the occasion and the garment's measured colour, and says it is offline", async () => {
    const { advice } = providers();
    const garment = input(await redShirtPhoto());
    const { taskId } = await advice.submit(
      { occasion: "Summer wedding guest", person: garment, garment },
      { idempotencyKey: "job-4-advice-1", signal },
    );
    const result = await finish((id) => advice.check(id, { signal }), taskId);
    expect(result.source).toBe("offline");
    expect(result.summary).toMatch(/^Offline preview \(no AI service is configured\): /);
    expect(result.summary).toContain("Summer wedding guest");
    expect(result.summary).toContain("red");
    expect(result.pieces.length).toBeGreaterThanOrEqual(3);
    expect(result.pieces.length).toBeLessThanOrEqual(5);
    expect(result.pieces.join(" ")).toContain("red");
    expect(result.stylePrompt).toContain("red");
  });

  it("matches occasions by keyword, with a general default", () => {
    const navy = nearestNamedColor({ r: 30, g: 38, b: 85 });
    expect(navy.name).toBe("navy");
    const interview = adviseOffline("Job interview at a bank", navy);
    const party = adviseOffline("Friday birthday party", navy);
    const other = adviseOffline("Network engineers meetup", navy);
    expect(interview.pieces.join(" ")).toContain("blazer");
    expect(party.pieces.join(" ")).toMatch(/Metallic/);
    expect(new Set([interview.summary, party.summary, other.summary]).size).toBe(3);
    expect(other.pieces.join(" ")).not.toContain("structured");
  });

  it("builds the look from both photos and puts the person's own face back", async () => {
    const { style, tryon, faceswap } = providers();
    const person = await personPhoto();
    const garment = await redShirtPhoto();
    const check =
      <Out>(p: { check: (id: string, c: { signal: AbortSignal }) => Promise<CheckResult<Out>> }) =>
      (id: string) =>
        p.check(id, { signal });

    const styleTask = await style.submit(
      { person: input(person), garment: input(garment), prompt: "" },
      { idempotencyKey: "job-5-style-1", signal },
    );
    const styled = bytesOf(await finish(check(style), styleTask.taskId));
    const tryonTask = await tryon.submit(
      { styled: input(styled), garment: input(garment) },
      { idempotencyKey: "job-5-tryon-1", signal },
    );
    const triedOn = bytesOf(await finish(check(tryon), tryonTask.taskId));
    const faceTask = await faceswap.submit(
      { target: input(triedOn), face: input(person) },
      { idempotencyKey: "job-5-faceswap-1", signal },
    );
    const final = bytesOf(await finish(check(faceswap), faceTask.taskId));

    for (const image of [styled, triedOn, final]) {
      const meta = await sharp(image).metadata();
      expect([meta.format, meta.width, meta.height]).toEqual(["jpeg", STUDIO_WIDTH, STUDIO_HEIGHT]);
    }

    // The torso now shows the red garment instead of the blue body.
    const torso = {
      left: Math.round((TORSO_BOX.left + TORSO_BOX.width / 2) * STUDIO_WIDTH) - 40,
      top: Math.round((TORSO_BOX.top + TORSO_BOX.height / 2) * STUDIO_HEIGHT) - 40,
      width: 80,
      height: 80,
    };
    const [r = 0, g = 0, b = 0] = await regionMean(triedOn, torso);
    expect(r).toBeGreaterThan(150);
    expect(Math.max(g, b)).toBeLessThan(80);

    // The style grade changed the face; the face step restores the original.
    const originalFace = await regionMean(
      await sharp(person).resize(STUDIO_WIDTH, STUDIO_HEIGHT).jpeg().toBuffer(),
      FACE_BOX,
    );
    const triedOnFace = await regionMean(triedOn, FACE_BOX);
    const finalFace = await regionMean(final, FACE_BOX);
    const warmth = ([r = 0, , b = 0]: number[]) => r - b;
    expect(warmth(triedOnFace)).toBeGreaterThan(warmth(originalFace) + 10);
    expect(maxDiff(triedOnFace, originalFace)).toBeGreaterThan(10);
    expect(maxDiff(finalFace, originalFace)).toBeLessThan(4);
  });
});

describe("the offline studio forgets what a deleted or expired look made (issue 14)", () => {
  it("deletes one task's files, and every task of a job by its idempotency keys, nobody else's", async () => {
    const { deleteTask } = await import("@/lib/providers/local/task-files");
    const p = providers();
    const garment = input(await redShirtPhoto());
    const person = input(await personPhoto());
    const ctx = (key: string) => ({ idempotencyKey: key, signal });
    const jobA = "11111111-1111-4111-8111-111111111111";
    const jobB = "22222222-2222-4222-8222-222222222222";
    const adviceA = await p.advice.submit({ occasion: "Party", person, garment }, ctx(`${jobA}-advice-1`));
    await p.advice.submit({ occasion: "Party", person, garment }, ctx(`${jobA}-advice-2`));
    const adviceB = await p.advice.submit({ occasion: "Party", person, garment }, ctx(`${jobB}-advice-1`));
    expect(await listLocalTasks(dir)).toHaveLength(3);

    expect(p.advice.forget).toBeUndefined();
    await deleteTask(dir, adviceA.taskId);
    await deleteTask(dir, adviceA.taskId);
    expect((await listLocalTasks(dir)).map((task) => task.idempotencyKey).sort()).toEqual([
      `${jobA}-advice-2`,
      `${jobB}-advice-1`,
    ]);
    expect(await p.advice.findTask?.(`${jobA}-advice-1`, { signal, since: 0 })).toBeNull();

    await p.style.forgetJob?.(jobA);
    expect((await listLocalTasks(dir)).map((task) => task.taskId)).toEqual([adviceB.taskId]);
  });
});
