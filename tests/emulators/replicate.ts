import { createHash, randomBytes } from "node:crypto";
import { createServer } from "node:http";
import sharp from "sharp";
import { type HostileFile, sendHostileFile } from "./hostile-output";
import { closeServer, listenOnLoopback, takeFault as takeCountedFault } from "./server-base";
import { deliverWebhook, type WebhookDelivery } from "./standard-webhooks";

/**
 * A Replicate predictions API emulator written from the documented contract:
 * face-swap predictions going starting → processing → succeeded, a real output image served under
 * /files, Replicate's error shape, a queue of scripted faults, and signed `completed` webhooks.
 */

type On = "create" | "get" | "list" | "cancel" | "file";
/** A scripted fault: consumed by the first matching request (`match`: a path substring), `times` times. */
export type ReplicateFault = { on: On; match?: string; times?: number } & (
  | { kind: "http"; status: number; body?: unknown; headers?: Record<string, string> }
  /** Answers after `ms`; a request whose client gave up meanwhile is dropped without effect. */
  | { kind: "hang"; ms: number }
  /**
   * Carries the request out at once (a create makes its prediction) and answers after `ms`, or
   * never without `ms` (the connection stays open until the client gives up).
   */
  | { kind: "late"; ms?: number }
  /** Carries the request out, then drops the connection without an answer (a reset). */
  | { kind: "reset" }
  | { kind: "malformed" }
  /** The prediction ends `failed` with this error text. */
  | { on: "create"; kind: "task-fails"; error: string }
  | { on: "create"; kind: "never-finishes" }
  /** The output file is gone (404), as after Replicate's one-hour retention. */
  | { on: "file"; kind: "expired" }
  /** The prediction succeeds with this output URL instead of the emulator's own file. */
  | { on: "create"; kind: "output-url"; url: string }
  /** The output file is answered with something hostile (see hostile-output.ts). */
  | { on: "file"; kind: "hostile-file"; file: HostileFile }
);

export interface ReplicateEmulatorOptions {
  /** The only token accepted (default "test-replicate-token"). */
  token?: string;
  /** From create to a terminal status (default 1000 ms). */
  taskDurationMs?: number;
  /** Each new task's duration instead of `taskDurationMs` (the bench's jittered vendor times). */
  durationOf?: () => number;
  port?: number;
  /** The model's input names (defaults `input_image` and `swap_image`, as codeplugtech/face-swap). */
  targetField?: string;
  faceField?: string;
  /** Answer `output` as a one-element list instead of a string, as some models do. */
  outputAsList?: boolean;
  /**
   * The account's webhook signing secret (`whsec_…`; default {@link DEFAULT_REPLICATE_WEBHOOK_SECRET}),
   * also served at GET /v1/webhooks/default/secret. A create with `webhook` gets the terminal
   * prediction POSTed there once, signed (Standard Webhooks); start/output/logs events are not sent.
   */
  webhookSecret?: string;
  /**
   * Show each prediction's `webhook` (its URL, or null) in get and list answers. Replicate's HTTP
   * reference documents no such field (its JS client types an optional one), so the default is off.
   */
  showsWebhook?: boolean;
}

/** Predictions per page of `GET /v1/predictions`, as Replicate documents. */
const LIST_PAGE_SIZE = 100;

export const DEFAULT_REPLICATE_WEBHOOK_SECRET = `whsec_${Buffer.from("replicate-emulator-signing-key").toString("base64")}`;
const TERMINAL = ["succeeded", "failed", "canceled"];

type Answer = { status: number; body: unknown; headers?: Record<string, string> };
const problem = (status: number, title: string, detail: string, extra: object = {}): Answer => ({
  status,
  body: { title, detail, status, ...extra },
});
const DEFAULT_ERROR_BY_STATUS: Record<number, Answer> = {
  401: problem(401, "Unauthenticated", "You did not pass a valid authentication token"),
  402: problem(402, "Insufficient credit", "You have insufficient credit to run this model."),
  404: problem(404, "Not found", "The requested resource could not be found."),
  422: problem(422, "Input validation failed", "- input: Does not look like a valid URI"),
  429: problem(429, "Too Many Requests", "Request was throttled. Expected available in 1 second."),
  500: problem(500, "Internal Server Error", "An unexpected error occurred."),
};
const IMAGE_INPUT = /^(https?:\/\/\S+|data:image\/[a-z]+;base64,[A-Za-z0-9+/]+=*)$/;

/** The bytes behind an input: a data URL decoded, or an http(s) URL fetched, as Replicate does. */
async function loadInput(value: string): Promise<Buffer> {
  if (value.startsWith("data:")) return Buffer.from(value.slice(value.indexOf(",") + 1), "base64");
  const response = await fetch(value);
  if (!response.ok) throw new Error(`could not download ${value}: HTTP ${response.status}`);
  return Buffer.from(await response.arrayBuffer());
}

/** A stand-in "face swap": the target with the face photo's top-centre region pasted at its top centre. */
async function swapFace(targetInput: string, faceInput: string): Promise<Buffer> {
  const [target, face] = await Promise.all([loadInput(targetInput), loadInput(faceInput)]);
  const { width: tw = 0, height: th = 0 } = await sharp(target).metadata();
  const { width: fw = 0, height: fh = 0 } = await sharp(face).metadata();
  const region = {
    left: Math.round(fw * 0.3),
    top: Math.round(fh * 0.05),
    width: Math.round(fw * 0.4),
    height: Math.round(fh * 0.35),
  };
  const patch = await sharp(face)
    .extract(region)
    .resize(Math.round(tw * 0.4), Math.round(th * 0.35), { fit: "fill" })
    .toBuffer();
  return sharp(target)
    .composite([{ input: patch, left: Math.round(tw * 0.3), top: Math.round(th * 0.05) }])
    .png()
    .toBuffer();
}

interface Prediction {
  id: string;
  createdAt: number;
  durationMs: number;
  version: string;
  input: Record<string, unknown>;
  task: ReplicateFault | null;
  canceled: boolean;
  /** The output image, or the error a real model would log when it cannot read its inputs. */
  result: Promise<Buffer | Error>;
  /** Where the `completed` webhook goes, or null; `notified` once it went. */
  webhook: string | null;
  notified: boolean;
}

/** Starts the emulator on 127.0.0.1; `url` is the base URL (paths /v1/... and /files/... below it). */
export async function startReplicateEmulator(options: ReplicateEmulatorOptions = {}) {
  const token = options.token ?? "test-replicate-token";
  const durationMs = options.taskDurationMs ?? 1000;
  const targetField = options.targetField ?? "input_image";
  const faceField = options.faceField ?? "swap_image";
  const webhookSecret = options.webhookSecret ?? DEFAULT_REPLICATE_WEBHOOK_SECRET;
  const deliveries: WebhookDelivery[] = [];
  const webhookTimers = new Set<NodeJS.Timeout>();
  const faults: ReplicateFault[] = [];
  const predictions = new Map<string, Prediction>();
  /** Each prediction's duration, kept after its data is removed (the bench reads it afterwards). */
  const durations = new Map<string, number>();
  const createsByTarget = new Map<string, number>();
  const createRequests: Array<{ path: string; body: Record<string, unknown> }> = [];
  const timers = new Set<NodeJS.Timeout>();
  let checks = 0;
  let listRequests = 0;
  const cancels: string[] = [];
  let url = "";

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => timers.delete(timer) && resolve(), ms);
      timers.add(timer);
    });

  /** Transport faults strike at request time; task faults only when a create is accepted. */
  function takeFault(on: On, path: string, task: boolean): ReplicateFault | undefined {
    const isTask = (f: ReplicateFault) =>
      f.kind === "task-fails" || f.kind === "never-finishes" || f.kind === "output-url";
    return takeCountedFault(faults, (f) => f.on === on && isTask(f) === task && path.includes(f.match ?? ""));
  }

  async function view(p: Prediction) {
    const elapsed = Date.now() - p.createdAt;
    let status = "succeeded";
    let error: string | null = null;
    if (p.canceled) status = "canceled";
    else if (elapsed < p.durationMs * 0.2) status = "starting";
    else if (elapsed < p.durationMs || p.task?.kind === "never-finishes") status = "processing";
    else if (p.task?.kind === "task-fails") [status, error] = ["failed", p.task.error];
    else {
      const result = await p.result;
      if (result instanceof Error) [status, error] = ["failed", result.message];
    }
    const file = p.task?.kind === "output-url" ? p.task.url : `${url}/files/${p.id}.png`;
    const output = status === "succeeded" ? (options.outputAsList ? [file] : file) : null;
    return {
      id: p.id,
      model: "emulator/face-swap",
      version: p.version,
      input: p.input,
      logs: "",
      output,
      error,
      status,
      created_at: new Date(p.createdAt).toISOString(),
      data_removed: false,
      ...(options.showsWebhook ? { webhook: p.webhook } : {}),
      urls: { get: `${url}/v1/predictions/${p.id}`, cancel: `${url}/v1/predictions/${p.id}/cancel` },
    };
  }

  /** Replicate's `completed` event: the terminal prediction, once. */
  async function notifyCompleted(p: Prediction): Promise<void> {
    if (!p.webhook || p.notified) return;
    const body = await view(p);
    if (!TERMINAL.includes(body.status) || p.notified) return;
    p.notified = true;
    deliveries.push(
      await deliverWebhook(
        p.webhook,
        webhookSecret,
        `msg_${randomBytes(12).toString("hex")}`,
        JSON.stringify(body),
      ),
    );
  }

  async function create(path: string, raw: string): Promise<Answer> {
    let body: Record<string, unknown>;
    try {
      body = JSON.parse(raw);
    } catch {
      return problem(400, "Bad request", "The request body is not valid JSON.");
    }
    const modelRoute = /^\/v1\/models\/[^/]+\/[^/]+\/predictions$/.test(path);
    if (!modelRoute && typeof body.version !== "string")
      return problem(422, "Input validation failed", "- version: Field required");
    const input = (body.input ?? {}) as Record<string, unknown>;
    for (const field of [targetField, faceField]) {
      if (typeof input[field] !== "string")
        return problem(422, "Input validation failed", `- input: ${field} is required`);
      if (!IMAGE_INPUT.test(input[field] as string))
        return problem(422, "Input validation failed", `- input.${field}: Does not look like a valid URI`);
    }
    const filter = body.webhook_events_filter;
    if (
      filter !== undefined &&
      (!Array.isArray(filter) || filter.some((e) => !["start", "output", "logs", "completed"].includes(e)))
    ) {
      return problem(422, "Input validation failed", "- webhook_events_filter: invalid event");
    }
    const targetHash = createHash("sha256").update(String(input[targetField])).digest("hex");
    createsByTarget.set(targetHash, (createsByTarget.get(targetHash) ?? 0) + 1);
    createRequests.push({ path, body });
    const result = swapFace(String(input[targetField]), String(input[faceField])).catch((error: unknown) =>
      error instanceof Error ? error : new Error(String(error)),
    );
    const task = takeFault("create", path, true) ?? null;
    const version = typeof body.version === "string" ? body.version : "latest";
    const prediction: Prediction = {
      id: randomBytes(13).toString("hex"),
      createdAt: Date.now(),
      durationMs: options.durationOf?.() ?? durationMs,
      version,
      input,
      task,
      canceled: false,
      result,
      webhook: typeof body.webhook === "string" ? body.webhook : null,
      notified: false,
    };
    predictions.set(prediction.id, prediction);
    durations.set(prediction.id, prediction.durationMs);
    const wantsCompleted = filter === undefined || (filter as string[]).includes("completed");
    if (prediction.webhook && wantsCompleted && task?.kind !== "never-finishes") {
      const timer = setTimeout(() => {
        webhookTimers.delete(timer);
        void notifyCompleted(prediction);
      }, prediction.durationMs + 1);
      webhookTimers.add(timer);
    }
    return { status: 201, body: await view(prediction) };
  }

  /** `GET /v1/predictions`: newest first, `created_after` honoured, 100 a page, `next` by cursor. */
  async function list(query: URLSearchParams): Promise<Answer> {
    listRequests++;
    const after = query.has("created_after") ? Date.parse(query.get("created_after") ?? "") : 0;
    if (Number.isNaN(after)) return problem(400, "Bad request", "created_after is not a date-time");
    const offset = Number(query.get("cursor") ?? 0) || 0;
    const matching = [...predictions.values()]
      .filter((p) => p.createdAt >= after)
      .sort((a, b) => b.createdAt - a.createdAt);
    const results = await Promise.all(matching.slice(offset, offset + LIST_PAGE_SIZE).map(view));
    const rest = new URLSearchParams(query);
    rest.set("cursor", String(offset + LIST_PAGE_SIZE));
    const next = offset + LIST_PAGE_SIZE < matching.length ? `${url}/v1/predictions?${rest}` : null;
    return { status: 200, body: { next, previous: null, results } };
  }

  /** Which kind of request a fault applies to. */
  function targetOf(method: string, path: string): On {
    if (/^\/files\//.test(path)) return "file";
    if (method === "GET") return path === "/v1/predictions" ? "list" : "get";
    return path.endsWith("/cancel") ? "cancel" : "create";
  }

  async function route(
    method: string,
    path: string,
    raw: string,
    gone: () => boolean,
    fault: ReplicateFault | undefined,
    query: URLSearchParams,
  ): Promise<Answer | { file: Buffer } | { hostile: HostileFile } | "malformed" | null> {
    const [, fileId] = /^\/files\/([^/]+)\.png$/.exec(path) ?? [];
    if (fault?.kind === "hang") {
      await sleep(fault.ms);
      if (gone()) return null;
    }
    if (fault?.kind === "malformed") return "malformed";
    if (fault?.kind === "expired") return DEFAULT_ERROR_BY_STATUS[404] as Answer;
    if (fault?.kind === "hostile-file") return { hostile: fault.file };
    if (fault?.kind === "http") {
      const fallback =
        DEFAULT_ERROR_BY_STATUS[fault.status] ?? problem(fault.status, "Error", "Something went wrong.");
      return { status: fault.status, body: fault.body ?? fallback.body, headers: fault.headers };
    }
    if (fileId) {
      const result = await predictions.get(fileId)?.result;
      return result instanceof Buffer ? { file: result } : (DEFAULT_ERROR_BY_STATUS[404] as Answer);
    }
    if (
      method === "POST" &&
      (path === "/v1/predictions" || /^\/v1\/models\/[^/]+\/[^/]+\/predictions$/.test(path))
    ) {
      return create(path, raw);
    }
    if (method === "GET" && path === "/v1/webhooks/default/secret")
      return { status: 200, body: { key: webhookSecret } };
    if (method === "GET" && path === "/v1/predictions") return list(query);
    const [, predictionId, cancel] = /^\/v1\/predictions\/([^/]+)(\/cancel)?$/.exec(path) ?? [];
    const prediction = predictions.get(predictionId ?? "");
    if (!prediction) return problem(404, "Not found", "Not found.");
    if (method === "GET" && !cancel) checks++;
    if (method === "POST" && cancel) cancels.push(prediction.id);
    if (method === "POST" && cancel && ["starting", "processing"].includes((await view(prediction)).status)) {
      prediction.canceled = true;
      void notifyCompleted(prediction);
    }
    return { status: 200, body: await view(prediction) };
  }

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const { pathname: path, searchParams } = new URL(req.url ?? "/", "http://emulator");
    const json = { "content-type": "application/json" };
    // Output files are public (replicate.delivery needs no token); the API needs one.
    if (!path.startsWith("/files/") && req.headers.authorization !== `Bearer ${token}`) {
      res.writeHead(401, json).end(JSON.stringify(DEFAULT_ERROR_BY_STATUS[401]?.body));
      return;
    }
    const body = Buffer.concat(chunks).toString("utf8");
    const method = req.method ?? "GET";
    const gone = () => req.socket.destroyed;
    const fault = takeFault(targetOf(method, path), path, false);
    const answer = await route(method, path, body, gone, fault, searchParams);
    if (fault?.kind === "late") {
      await (fault.ms === undefined
        ? new Promise<void>((resolve) => req.socket.once("close", () => resolve()))
        : sleep(fault.ms));
    }
    if (fault?.kind === "reset") req.socket.destroy();
    if (!answer || res.destroyed) return;
    if (answer === "malformed") res.writeHead(200, json).end('{"id": "broken", "status": "proc');
    else if ("file" in answer) res.writeHead(200, { "content-type": "image/png" }).end(answer.file);
    else if ("hostile" in answer) sendHostileFile(res, answer.hostile);
    else {
      const retryAfter = answer.status === 429 ? { "retry-after": "1" } : {};
      res
        .writeHead(answer.status, { ...json, ...retryAfter, ...answer.headers })
        .end(JSON.stringify(answer.body));
    }
  });
  url = await listenOnLoopback(server, options.port);

  return {
    url,
    faults,
    get checks() {
      return checks;
    },
    /** The duration a prediction was given at its create. */
    taskDurationOf: (taskId: string) => durations.get(taskId),
    /** List pages requested so far (the lookups findTask makes). */
    get listRequests() {
      return listRequests;
    },
    /** Prediction ids cancel was asked for, in order (repeats included). */
    cancels: () => [...cancels],
    /**
     * Adds finished predictions as if other jobs had made them `ageMs` ago (default 0), to fill
     * list pages; `webhook` is what each shows. Returns their ids.
     */
    seedPredictions(
      count: number,
      { ageMs = 0, webhook = null }: { ageMs?: number; webhook?: string | null } = {},
    ) {
      const ids: string[] = [];
      for (let index = 0; index < count; index++) {
        const id = randomBytes(13).toString("hex");
        const result = Promise.resolve<Buffer | Error>(Buffer.alloc(0));
        const createdAt = Date.now() - ageMs - durationMs;
        predictions.set(id, {
          id,
          createdAt,
          durationMs,
          version: "seeded",
          input: {},
          task: null,
          canceled: false,
          result,
          webhook,
          notified: true,
        });
        ids.push(id);
      }
      return ids;
    },
    /** Accepted creates per sha256 of the target input: one job step always sends the same target. */
    creates: () => new Map(createsByTarget),
    /** Accepted creates (path and body), oldest first. */
    createRequests: () => [...createRequests],
    /** The signing secret of the webhooks this emulator sends. */
    webhookSecret,
    /** Webhooks POSTed so far (signed headers, body, the app's answer), oldest first. */
    webhookDeliveries: () => [...deliveries],
    reset() {
      faults.length = 0;
      predictions.clear();
      createsByTarget.clear();
      createRequests.length = 0;
      deliveries.length = 0;
      for (const timer of webhookTimers) clearTimeout(timer);
      webhookTimers.clear();
      checks = 0;
      listRequests = 0;
      cancels.length = 0;
    },
    async close() {
      await closeServer(server, [...timers, ...webhookTimers]);
    },
  };
}

export type ReplicateEmulator = Awaited<ReturnType<typeof startReplicateEmulator>>;
