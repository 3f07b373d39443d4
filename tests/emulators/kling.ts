import { randomUUID } from "node:crypto";
import http from "node:http";
import { errors as joseErrors, jwtVerify } from "jose";
import sharp from "sharp";
import { type HostileFile, sendHostileFile } from "./hostile-output";
import { closeServer, listenOnLoopback, takeFault as takeCountedFault } from "./server-base";

/** Which kind of request a fault applies to ("list" is the task list findTask reads). */
export type KlingFaultTarget = "create" | "query" | "list" | "result";

/** A scripted misbehaviour, consumed by the next matching request(s). */
export type KlingFault = {
  /** Only requests whose path contains this substring. */
  match?: string;
  /** How many matching requests it applies to (default 1). */
  times?: number;
} & (
  | {
      on: KlingFaultTarget;
      kind: "http";
      status: number;
      code: number;
      message?: string;
      retryAfterSeconds?: number;
    }
  /** Handles the request normally (a create does create its task) but answers only after `ms`. */
  | { on: KlingFaultTarget; kind: "hang"; ms: number }
  /**
   * Carries the request out (a create makes its task) and answers after `ms`, or never without
   * `ms` (the connection stays open until the client gives up): the lost answer of an accepted create.
   */
  | { on: KlingFaultTarget; kind: "late"; ms?: number }
  /** Carries the request out, then drops the connection without an answer (a reset). */
  | { on: KlingFaultTarget; kind: "reset" }
  | { on: KlingFaultTarget; kind: "malformed" }
  | { on: "create"; kind: "task-fails"; message: string }
  | { on: "create"; kind: "never-finishes" }
  | { on: "result"; kind: "expired" }
  /** The task succeeds with this output URL instead of the emulator's own result file. */
  | { on: "create"; kind: "output-url"; url: string }
  /** The result file is answered with something hostile (see hostile-output.ts). */
  | { on: "result"; kind: "hostile-file"; file: HostileFile }
);

/** Options of the emulator; the defaults match what the tests configure the adapter with. */
export interface KlingEmulatorOptions {
  accessKey?: string;
  secretKey?: string;
  /** From create to `succeed`/`failed`; `submitted` for its first third, then `processing`. */
  taskDurationMs?: number;
  /** 0 (default) picks a free port. */
  port?: number;
  /**
   * How far Kling's clock runs ahead of this host's (ms; negative: behind). JWTs are checked against
   * it (`nbf` in the future → 1003, `exp` past → 1004) and every answer's `Date` header shows it.
   */
  clockOffsetMs?: number;
}

export interface KlingEmulator {
  /** Base URL, e.g. `http://127.0.0.1:40123`, to pass as the adapter's baseUrl. */
  url: string;
  close(): Promise<void>;
  /** Create calls (accepted or not) per `{jobId}-{step}`: the external_task_id without its `-<attempt>`. */
  creates(): Map<string, number>;
  /** Create calls per full external_task_id. */
  createsByExternalId(): Map<string, number>;
  /** The bodies of create calls (accepted or not), oldest first: what Kling was sent. */
  createRequests(): Record<string, unknown>[];
  /** Single-task queries answered so far. */
  readonly checks: number;
  /** List pages requested so far (the lookups findTask makes). */
  readonly listRequests: number;
  /** Requests refused for their token's time window (1003 not yet valid, 1004 expired). */
  readonly clockRejections: number;
  /** Kling's clock offset against this host's (ms), changeable while running. */
  clockOffsetMs: number;
  /**
   * Adds finished tasks as if other jobs had made them `ageMs` ago (default 0), without rendering:
   * to fill list pages. Returns their task ids.
   */
  seedTasks(kind: TaskKind, count: number, options?: { ageMs?: number; externalTaskId?: string }): string[];
  /** Push faults here; each matching request consumes one. */
  faults: KlingFault[];
  /** Forgets tasks, counters and faults. */
  reset(): void;
}

export type TaskKind = "generations" | "kolors-virtual-try-on";
type Status = "submitted" | "processing" | "succeed" | "failed";

interface Task {
  id: string;
  kind: TaskKind;
  externalTaskId: string | undefined;
  createdAt: number;
  image: Buffer;
  failMessage: string | undefined;
  neverFinishes: boolean;
  outputUrl: string | undefined;
}

const MODELS_BY_KIND: Record<TaskKind, readonly string[]> = {
  generations: ["kling-v1", "kling-v1-5", "kling-v2", "kling-v2-new", "kling-v2-1"],
  "kolors-virtual-try-on": ["kolors-virtual-try-on-v1", "kolors-virtual-try-on-v1-5"],
};
/** Seeded tasks stand for other jobs' work: their result is never looked at. */
const SEEDED_IMAGE = Buffer.alloc(0);
const ASPECT_RATIOS = ["16:9", "9:16", "1:1", "4:3", "3:4", "3:2", "2:3", "21:9"];

/** A refusal in Kling's format; thrown by validation and turned into the answer by the handler. */
class Rejection extends Error {
  constructor(
    readonly status: number,
    readonly code: number,
    message: string,
  ) {
    super(message);
  }
}

interface Answer {
  status: number;
  body: string | Buffer;
  contentType: string;
  headers?: Record<string, string>;
}

const json = (status: number, code: number, message: string, data?: unknown): Answer => ({
  status,
  contentType: "application/json",
  body: JSON.stringify({ code, message, request_id: randomUUID(), data }),
});

/** A scripted error answer; the request itself is not carried out (a refused create creates nothing). */
function faultAnswer(fault: KlingFault & { kind: "http" }): Answer {
  const answer = json(fault.status, fault.code, fault.message ?? `scripted error ${fault.code}`);
  if (fault.retryAfterSeconds !== undefined)
    answer.headers = { "Retry-After": String(fault.retryAfterSeconds) };
  return answer;
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms).unref());

async function readBody(req: http.IncomingMessage): Promise<Record<string, unknown>> {
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  try {
    const body: unknown = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    if (body && typeof body === "object" && !Array.isArray(body)) return body as Record<string, unknown>;
  } catch {}
  throw new Rejection(400, 1200, "request body must be a JSON object");
}

/** An image field: an http(s) URL we fetch, or raw base64 (a `data:` prefix is refused, as Kling does). */
async function loadImage(value: unknown, field: string): Promise<Buffer> {
  if (typeof value !== "string" || value === "") throw new Rejection(400, 1200, `${field} is required`);
  check([[value.startsWith("data:"), 1201, `${field}: base64 must not have a data: prefix`]]);
  let bytes: Buffer | null = null;
  if (/^https?:\/\//.test(value)) {
    const response = await fetch(value).catch(() => null);
    if (response?.ok) bytes = Buffer.from(await response.arrayBuffer());
  } else if (/^[A-Za-z0-9+/=\s]+$/.test(value)) bytes = Buffer.from(value, "base64");
  const meta =
    bytes &&
    (await sharp(bytes)
      .metadata()
      .catch(() => null));
  check([
    [
      !bytes || !meta || !["jpeg", "png"].includes(meta.format ?? ""),
      1201,
      `${field}: not a readable jpg/png`,
    ],
    [(meta?.width ?? 0) < 300 || (meta?.height ?? 0) < 300, 1201, `${field}: under 300 px`],
  ]);
  return bytes as Buffer;
}

function requireModel(kind: TaskKind, value: unknown): void {
  const model = value ?? MODELS_BY_KIND[kind][0];
  if (typeof model !== "string" || !MODELS_BY_KIND[kind].includes(model)) {
    throw new Rejection(404, 1203, `model_name ${String(model)} does not exist`);
  }
}

/** Throws the first failed check as Kling's 400 answer. */
function check(rules: Array<[failed: boolean, code: number, message: string]>): void {
  const failed = rules.find(([bad]) => bad);
  if (failed) throw new Rejection(400, failed[1], failed[2]);
}

/** Style: the person resized to the aspect ratio (long side 1024) with a warm tint. */
async function renderStyle(body: Record<string, unknown>): Promise<Buffer> {
  requireModel("generations", body.model_name);
  const { prompt, negative_prompt, image, image_reference, aspect_ratio = "1:1", n = 1 } = body;
  check([
    [typeof prompt !== "string" || prompt === "", 1200, "prompt is required"],
    [typeof prompt === "string" && prompt.length > 2500, 1201, "prompt is over 2500 characters"],
    [negative_prompt !== undefined, 1201, "negative_prompt is not supported with image"],
    [body.model_name === "kling-v1-5" && image_reference === undefined, 1201, "image_reference is required"],
    [
      image_reference !== undefined && !["subject", "face"].includes(String(image_reference)),
      1201,
      "bad image_reference",
    ],
    [!ASPECT_RATIOS.includes(String(aspect_ratio)), 1201, "aspect_ratio is not supported"],
    [typeof n !== "number" || !Number.isInteger(n) || n < 1 || n > 9, 1201, "n must be 1-9"],
  ]);
  const person = await loadImage(image, "image");
  const [w = 1, h = 1] = String(aspect_ratio).split(":").map(Number);
  const [width, height] = [Math.round((w * 1024) / Math.max(w, h)), Math.round((h * 1024) / Math.max(w, h))];
  const tinted = sharp(person).resize(width, height, { fit: "cover" }).tint({ r: 255, g: 214, b: 180 });
  return tinted.png().toBuffer();
}

/** Try-on: the human image with the garment pasted over its middle. */
async function renderTryOn(body: Record<string, unknown>): Promise<Buffer> {
  requireModel("kolors-virtual-try-on", body.model_name);
  const human = await loadImage(body.human_image, "human_image");
  const cloth = await loadImage(body.cloth_image, "cloth_image");
  const { width = 768, height = 1024 } = await sharp(human).metadata();
  const side = Math.round(Math.min(width, height) * 0.45);
  const garment = await sharp(cloth).resize(side, side, { fit: "inside" }).png().toBuffer();
  return sharp(human)
    .composite([{ input: garment, gravity: "centre" }])
    .png()
    .toBuffer();
}

/** Starts the emulator on 127.0.0.1; it runs until `close()`. */
export async function startKlingEmulator(options: KlingEmulatorOptions = {}): Promise<KlingEmulator> {
  const { accessKey = "test-access", secretKey = "test-secret", taskDurationMs = 1_500, port = 0 } = options;
  let clockOffsetMs = options.clockOffsetMs ?? 0;
  /** Kling's clock: task times, token checks and the Date header all read it. */
  const now = () => Date.now() + clockOffsetMs;
  const key = new TextEncoder().encode(secretKey);
  const tasks = new Map<string, Task>();
  const createCounts = new Map<string, number>();
  const createRequests: Record<string, unknown>[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const faults: KlingFault[] = [];
  let checks = 0;
  let listRequests = 0;
  let clockRejections = 0;
  let url = "";

  const statusOf = (task: Task, at = now()): Status => {
    const elapsed = at - task.createdAt;
    if (elapsed < taskDurationMs / 3) return "submitted";
    if (task.neverFinishes || elapsed < taskDurationMs) return "processing";
    return task.failMessage === undefined ? "succeed" : "failed";
  };

  const view = (task: Task) => {
    const status = statusOf(task);
    const changedAfter =
      status === "submitted" ? 0 : status === "processing" ? taskDurationMs / 3 : taskDurationMs;
    return {
      task_id: task.id,
      task_status: status,
      task_status_msg: status === "failed" ? task.failMessage : "",
      task_info: { external_task_id: task.externalTaskId },
      created_at: task.createdAt,
      updated_at: task.createdAt + Math.round(changedAfter),
      ...(status === "succeed"
        ? { task_result: { images: [{ index: 0, url: task.outputUrl ?? `${url}/results/${task.id}.png` }] } }
        : {}),
    };
  };

  /** Best effort and unsigned, as Kling's callbacks are: one POST per status change. */
  const scheduleCallbacks = (task: Task, callbackUrl: string) => {
    const at = task.neverFinishes ? [taskDurationMs / 3] : [taskDurationMs / 3, taskDurationMs];
    for (const delay of at) {
      const timer = setTimeout(() => {
        timers.delete(timer);
        const body = JSON.stringify(view(task));
        fetch(callbackUrl, { method: "POST", headers: { "Content-Type": "application/json" }, body }).catch(
          () => {},
        );
      }, delay + 1);
      timers.add(timer);
    }
  };

  const takeFault = (target: KlingFaultTarget, path: string): KlingFault | undefined =>
    takeCountedFault(faults, (f) => f.on === target && (f.match === undefined || path.includes(f.match)));

  async function authenticate(header: string | undefined): Promise<Rejection | null> {
    const token = /^Bearer (.+)$/.exec(header ?? "")?.[1];
    if (!token) return new Rejection(401, 1001, "Authorization is empty");
    try {
      await jwtVerify(token, key, {
        issuer: accessKey,
        algorithms: ["HS256"],
        typ: "JWT",
        clockTolerance: 5,
        requiredClaims: ["exp", "nbf"],
        currentDate: new Date(now()),
      });
      return null;
    } catch (error) {
      if (error instanceof joseErrors.JWTExpired) {
        clockRejections += 1;
        return new Rejection(401, 1004, "Authorization has expired");
      }
      if (error instanceof joseErrors.JWTClaimValidationFailed && error.claim === "nbf") {
        clockRejections += 1;
        return new Rejection(401, 1003, "Authorization is not yet valid");
      }
      return new Rejection(401, 1001, `Authorization is invalid: ${(error as Error).message}`);
    }
  }

  async function create(
    kind: TaskKind,
    body: Record<string, unknown>,
    fault: KlingFault | undefined,
  ): Promise<Answer> {
    const external = typeof body.external_task_id === "string" ? body.external_task_id : undefined;
    const taken = external !== undefined && [...tasks.values()].some((t) => t.externalTaskId === external);
    check([[taken, 1201, "external_task_id already exists"]]);
    const image = kind === "generations" ? await renderStyle(body) : await renderTryOn(body);
    const task: Task = {
      id: randomUUID(),
      kind,
      externalTaskId: external,
      createdAt: now(),
      image,
      failMessage: fault?.kind === "task-fails" ? fault.message : undefined,
      neverFinishes: fault?.kind === "never-finishes",
      outputUrl: fault?.kind === "output-url" ? fault.url : undefined,
    };
    tasks.set(task.id, task);
    if (typeof body.callback_url === "string") scheduleCallbacks(task, body.callback_url);
    return json(200, 0, "SUCCEED", view(task));
  }

  function list(kind: TaskKind, query: URLSearchParams): Answer {
    const pageNum = Math.max(1, Number(query.get("pageNum")) || 1);
    const pageSize = Number(query.get("pageSize") ?? 30);
    check([[!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 500, 1201, "pageSize must be 1-500"]]);
    listRequests += 1;
    const newestFirst = [...tasks.values()]
      .filter((t) => t.kind === kind)
      .reverse()
      .sort((a, b) => b.createdAt - a.createdAt);
    return json(200, 0, "SUCCEED", newestFirst.slice((pageNum - 1) * pageSize, pageNum * pageSize).map(view));
  }

  async function route(req: http.IncomingMessage): Promise<{ answer: Answer; fault?: KlingFault }> {
    const { pathname, searchParams } = new URL(req.url ?? "/", "http://emulator");
    const result = /^\/results\/([^/]+)\.png$/.exec(pathname);
    if (result && req.method === "GET") {
      const fault = takeFault("result", pathname);
      if (fault?.kind === "http") return { answer: faultAnswer(fault) };
      const task = tasks.get(result[1] ?? "");
      if (!task || statusOf(task) !== "succeed" || fault?.kind === "expired")
        return { answer: json(404, 1203, "not found"), fault };
      return { answer: { status: 200, body: task.image, contentType: "image/png" }, fault };
    }
    const api = /^\/v1\/images\/(generations|kolors-virtual-try-on)(?:\/([^/]+))?$/.exec(pathname);
    if (!api) throw new Rejection(404, 1203, "resource not found");
    const kind = api[1] as TaskKind;
    const taskId = api[2];
    const target: KlingFaultTarget | null =
      req.method === "POST" && !taskId ? "create" : req.method !== "GET" ? null : taskId ? "query" : "list";
    if (!target) throw new Rejection(405, 1202, "request method is not allowed");
    const refused = await authenticate(req.headers.authorization);
    if (refused) throw refused;
    const body = target === "create" ? await readBody(req) : {};
    if (target === "create") createRequests.push(body);
    if (typeof body.external_task_id === "string") {
      const id = body.external_task_id;
      createCounts.set(id, (createCounts.get(id) ?? 0) + 1);
    }
    if (target === "query") checks += 1;
    const fault = takeFault(target, pathname);
    if (fault?.kind === "http") return { answer: faultAnswer(fault) };
    if (target === "create") return { answer: await create(kind, body, fault), fault };
    if (target === "list") return { answer: list(kind, searchParams), fault };
    const task = tasks.get(taskId ?? "");
    if (!task || task.kind !== kind) throw new Rejection(404, 1203, "task not found");
    return { answer: json(200, 0, "SUCCEED", view(task)), fault };
  }

  /** Until `ms` have passed, or (without `ms`) until the client gives up and the socket closes. */
  const answerLate = (req: http.IncomingMessage, ms: number | undefined) =>
    ms === undefined ? new Promise<void>((resolve) => req.socket.once("close", () => resolve())) : sleep(ms);

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    let answer: Answer;
    let fault: KlingFault | undefined;
    try {
      ({ answer, fault } = await route(req));
    } catch (error) {
      if (!(error instanceof Rejection)) throw error;
      answer = json(error.status, error.code, error.message);
    }
    if (fault?.kind === "malformed")
      answer = { status: 200, body: '{"code": 0, "data": {', contentType: "application/json" };
    if (fault?.kind === "hang") await sleep(fault.ms);
    if (fault?.kind === "late") await answerLate(req, fault.ms);
    if (fault?.kind === "reset") req.socket.destroy();
    if (res.destroyed) return;
    if (fault?.kind === "hostile-file") {
      sendHostileFile(res, fault.file);
      return;
    }
    const date = new Date(now()).toUTCString();
    res.writeHead(answer.status, { "Content-Type": answer.contentType, Date: date, ...answer.headers });
    res.end(answer.body);
  }

  const server = http.createServer((req, res) => {
    handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) res.writeHead(500, { "Content-Type": "application/json" });
      res.end(
        JSON.stringify({ code: 5000, message: `emulator bug: ${String(error)}`, request_id: randomUUID() }),
      );
    });
  });
  url = await listenOnLoopback(server, port);

  const clearTimers = () => {
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  };

  return {
    url,
    faults,
    get checks() {
      return checks;
    },
    get listRequests() {
      return listRequests;
    },
    get clockRejections() {
      return clockRejections;
    },
    get clockOffsetMs() {
      return clockOffsetMs;
    },
    set clockOffsetMs(offset: number) {
      clockOffsetMs = offset;
    },
    seedTasks(kind, count, { ageMs = 0, externalTaskId } = {}) {
      const ids: string[] = [];
      for (let index = 0; index < count; index++) {
        const task: Task = {
          id: randomUUID(),
          kind,
          externalTaskId: externalTaskId ?? `seeded-${randomUUID()}`,
          createdAt: now() - ageMs,
          image: SEEDED_IMAGE,
          failMessage: undefined,
          neverFinishes: false,
          outputUrl: undefined,
        };
        tasks.set(task.id, task);
        ids.push(task.id);
      }
      return ids;
    },
    creates() {
      const byStep = new Map<string, number>();
      for (const [id, count] of createCounts) {
        const step = id.replace(/-\d+$/, "");
        byStep.set(step, (byStep.get(step) ?? 0) + count);
      }
      return byStep;
    },
    createsByExternalId: () => new Map(createCounts),
    createRequests: () => [...createRequests],
    reset() {
      tasks.clear();
      createCounts.clear();
      createRequests.length = 0;
      faults.length = 0;
      checks = 0;
      listRequests = 0;
      clockRejections = 0;
      clockOffsetMs = options.clockOffsetMs ?? 0;
      clearTimers();
    },
    close: () => closeServer(server, timers),
  };
}
