import { randomBytes } from "node:crypto";
import { createServer } from "node:http";
import { z } from "zod";
import { closeServer, listenOnLoopback, takeFault as takeCountedFault } from "./server-base";
import { deliverWebhook, type WebhookDelivery } from "./standard-webhooks";

/**
 * An OpenAI Responses API emulator written from the documented contract:
 * background responses going queued → in_progress → completed, strict json_schema answers derived
 * from the request, OpenAI's error shape, a queue of scripted faults, and the project webhook.
 */

type On = "create" | "get" | "cancel" | "delete";
/** How an accepted response ends, instead of completing with valid advice. */
type TaskFault =
  | { kind: "task-fails"; error: { code: string; message: string } }
  | { kind: "task-incomplete"; reason: "content_filter" | "max_output_tokens" }
  | { kind: "task-refuses"; refusal?: string }
  | { kind: "task-bad-output"; text: string }
  | { kind: "never-finishes" };
/** A scripted fault: consumed by the first matching request (`match`: a path substring), `times` times. */
export type OpenAIFault = { on: On; match?: string; times?: number } & (
  | { kind: "http"; status: number; body?: unknown; headers?: Record<string, string> }
  /** Answers after `ms`; a request whose client gave up meanwhile is dropped without effect. */
  | { kind: "hang"; ms: number }
  /**
   * Carries the request out at once (a create makes its response) and answers after `ms`, or
   * never without `ms` (the connection stays open until the client gives up).
   */
  | { kind: "late"; ms?: number }
  /** Carries the request out, then drops the connection without an answer (a reset). */
  | { kind: "reset" }
  | { kind: "malformed" }
  | ({ on: "create" } & TaskFault)
);

export interface OpenAIEmulatorOptions {
  /** The only key accepted (default "test-openai-key"). */
  apiKey?: string;
  /** From create to a terminal status (default 1000 ms). */
  taskDurationMs?: number;
  /** false: `background: true` gets HTTP 400, as on some OpenAI-compatible servers. Default true. */
  supportsBackground?: boolean;
  port?: number;
  /**
   * The project webhook (set in OpenAI's dashboard): when a background response ends, an event
   * `{ object: "event", id: "evt_…", type: "response.completed" | "response.failed" |
   * "response.incomplete" | "response.cancelled", created_at, data: { id } }` is POSTed there once,
   * signed with `secret` (Standard Webhooks). No retries.
   */
  webhook?: { url: string; secret: string };
  /**
   * Plain-http origins accepted in `image_url` besides https URLs: a test's loopback Blob emulator
   * standing in for an https store. Images there are downloaded at create, as OpenAI does; one it
   * cannot download fails the create (400 "Error while downloading …").
   */
  httpImageOrigins?: string[];
}

const EVENT_TYPE_BY_STATUS: Record<string, string> = {
  completed: "response.completed",
  failed: "response.failed",
  incomplete: "response.incomplete",
  cancelled: "response.cancelled",
};

type Answer = { status: number; body: unknown; headers?: Record<string, string> };
type ErrorFields = { type?: string; code?: string | null; param?: string | null };
const errorBody = (
  message: string,
  { type = "invalid_request_error", code = null, param = null }: ErrorFields = {},
) => ({
  error: { message, type, param, code },
});
const fail = (status: number, message: string, fields?: ErrorFields): Answer => ({
  status,
  body: errorBody(message, fields),
});
const DEFAULT_ERROR_BY_STATUS: Record<number, unknown> = {
  401: errorBody("Incorrect API key provided.", { code: "invalid_api_key" }),
  403: errorBody("You are not allowed to sample from this model"),
  429: errorBody("Rate limit reached for requests", { type: "requests", code: "rate_limit_exceeded" }),
  500: errorBody("The server had an error while processing your request. Sorry about that!", {
    type: "server_error",
  }),
  503: errorBody("The engine is currently overloaded, please try again later", { type: "server_error" }),
};
const id = (prefix: string) => `${prefix}_${randomBytes(12).toString("hex")}`;

const textPart = z.object({ type: z.literal("input_text"), text: z.string() });
const imagePart = z.object({
  type: z.literal("input_image"),
  image_url: z.string().regex(/^(https?:\/\/\S+|data:image\/(jpeg|png|webp|gif);base64,[A-Za-z0-9+/]+=*)$/),
  detail: z.enum(["low", "high", "auto", "original"]).optional(),
});
const message = z.object({
  role: z.enum(["user", "system", "developer"]),
  content: z.array(z.discriminatedUnion("type", [textPart, imagePart])).min(1),
});
const jsonSchemaFormat = z.object({
  type: z.literal("json_schema"),
  name: z.string().min(1),
  strict: z.literal(true),
  schema: z.object({ properties: z.record(z.string(), z.object({ type: z.string() }).loose()) }).loose(),
});
/** The part of the create contract the adapter relies on, checked as the real API would. */
const createSchema = z.object({
  model: z.string().min(1),
  background: z.boolean().optional(),
  store: z.boolean().optional(),
  input: z.array(message).min(1),
  text: z.object({ format: jsonSchemaFormat }),
  metadata: z.record(z.string().max(64), z.string().max(512)).optional(),
});
type CreateBody = z.infer<typeof createSchema>;

function validateCreate(raw: unknown): CreateBody | Answer {
  const parsed = createSchema.safeParse(raw);
  if (!parsed.success) {
    const param = parsed.error.issues[0]?.path.join(".") ?? null;
    return fail(400, `Invalid '${param}': ${parsed.error.issues[0]?.message}`, {
      code: "invalid_value",
      param,
    });
  }
  const body = parsed.data;
  if (body.background && body.store === false) return fail(400, "Background mode requires store=true.");
  const problem = strictSchemaProblem(body.text.format.schema, "()");
  if (!problem) return body;
  return fail(400, `Invalid schema for response_format '${body.text.format.name}': ${problem}`, {
    code: "invalid_json_schema",
    param: "text.format.schema",
  });
}

/** Strict mode: every object lists all its properties as required and forbids additional ones. */
function strictSchemaProblem(schema: unknown, context: string): string | null {
  type Node = { type?: string; properties?: Record<string, unknown>; required?: unknown; items?: unknown };
  const node = schema as Node & { additionalProperties?: unknown };
  if (node?.type === "array") return strictSchemaProblem(node.items, `${context}.items`);
  if (node?.type !== "object") return null;
  if (node.additionalProperties !== false) {
    return `In context=${context}, 'additionalProperties' is required to be supplied and to be false.`;
  }
  const keys = Object.keys(node.properties ?? {});
  const missing = keys.find((key) => !(Array.isArray(node.required) && node.required.includes(key)));
  if (missing) return `In context=${context}, 'required' must list every property. Missing '${missing}'.`;
  const problems = keys.map((key) => strictSchemaProblem(node.properties?.[key], `${context}.${key}`));
  return problems.find((problem) => problem !== null) ?? null;
}

/** An answer that follows the request's schema and mentions its occasion, as a model would. */
function answerFor(request: CreateBody): string {
  const text = request.input
    .flatMap((item) => item.content)
    .flatMap((part) => (part.type === "input_text" ? [part.text] : []))
    .join("\n");
  // The last "Occasion…: value" line: instructions may mention the occasion before naming it.
  const lines = [...text.matchAll(/occasion[^:\n]*:\s*"?([^"\n]+)"?\s*$/gim)];
  const occasion = lines.at(-1)?.[1]?.trim() ?? text.slice(0, 80);
  const answer: Record<string, unknown> = {};
  for (const [key, property] of Object.entries(request.text.format.schema.properties)) {
    if (property.type === "array") answer[key] = [`A tailored jacket for ${occasion}`, "Leather loafers"];
    else if (key.includes("prompt")) answer[key] = `Full-length photo of the person styled for ${occasion}.`;
    else answer[key] = `For ${occasion}, pair the garment with a tailored jacket and clean leather shoes.`;
  }
  return JSON.stringify(answer);
}

interface Stored {
  id: string;
  createdAt: number;
  request: CreateBody;
  task: TaskFault | null;
  cancelled: boolean;
  notified: boolean;
}

/** Starts the emulator on 127.0.0.1; `url` is its origin (the SDK's baseURL is `${url}/v1`). */
export async function startOpenAIEmulator(options: OpenAIEmulatorOptions = {}) {
  const apiKey = options.apiKey ?? "test-openai-key";
  const durationMs = options.taskDurationMs ?? 1000;
  const faults: OpenAIFault[] = [];
  const responses = new Map<string, Stored>();
  const createsByKey = new Map<string, number>();
  const createRequests: CreateBody[] = [];
  const timers = new Set<NodeJS.Timeout>();
  const webhookTimers = new Set<NodeJS.Timeout>();
  const deliveries: WebhookDelivery[] = [];
  let checks = 0;
  const cancels: string[] = [];
  const deletes: string[] = [];

  const sleep = (ms: number) =>
    new Promise<void>((resolve) => {
      const timer = setTimeout(() => timers.delete(timer) && resolve(), ms);
      timers.add(timer);
    });

  /** Transport faults strike at request time; task faults only when a create is accepted. */
  function takeFault(on: On, path: string, task: boolean): OpenAIFault | undefined {
    const isTask = (f: OpenAIFault) => !["http", "hang", "malformed", "late", "reset"].includes(f.kind);
    return takeCountedFault(faults, (f) => f.on === on && isTask(f) === task && path.includes(f.match ?? ""));
  }

  function view({ id: responseId, createdAt, request, task, cancelled }: Stored) {
    const elapsed = Date.now() - createdAt;
    let status = "completed";
    if (cancelled) status = "cancelled";
    else if (elapsed < durationMs * 0.2) status = "queued";
    else if (elapsed < durationMs || task?.kind === "never-finishes") status = "in_progress";
    else if (task?.kind === "task-fails") status = "failed";
    else if (task?.kind === "task-incomplete") status = "incomplete";
    const text = task?.kind === "task-bad-output" ? task.text : answerFor(request);
    const content =
      task?.kind === "task-refuses"
        ? [{ type: "refusal", refusal: task.refusal ?? "I'm sorry, I can't help with that." }]
        : [{ type: "output_text", text, annotations: [] }];
    // No top-level output_text: the API does not send one; the SDK (6.x) computes it from `output`.
    return {
      id: responseId,
      object: "response",
      created_at: Math.floor(createdAt / 1000),
      status,
      background: request.background === true,
      error: status === "failed" && task?.kind === "task-fails" ? task.error : null,
      incomplete_details:
        status === "incomplete" && task?.kind === "task-incomplete" ? { reason: task.reason } : null,
      model: request.model,
      output:
        status === "completed"
          ? [{ id: id("msg"), type: "message", status, role: "assistant", content }]
          : [],
      store: true,
      text: request.text,
      metadata: request.metadata ?? {},
    };
  }

  /** The project webhook's event for a background response that has ended, once. */
  async function notifyEnded(stored: Stored): Promise<void> {
    const type = EVENT_TYPE_BY_STATUS[view(stored).status];
    if (!options.webhook || !stored.request.background || stored.notified || !type) return;
    stored.notified = true;
    const event = {
      object: "event",
      id: id("evt"),
      type,
      created_at: Math.floor(Date.now() / 1000),
      data: { id: stored.id },
    };
    const { url, secret } = options.webhook;
    deliveries.push(await deliverWebhook(url, secret, id("wh"), JSON.stringify(event)));
  }

  /** An http image URL outside `httpImageOrigins`, or one there that does not download. */
  async function httpImageProblem(body: CreateBody): Promise<Answer | null> {
    for (const part of body.input.flatMap((message) => message.content)) {
      if (part.type !== "input_image" || !part.image_url.startsWith("http://")) continue;
      const origin = URL.canParse(part.image_url) ? new URL(part.image_url).origin : "";
      if (!options.httpImageOrigins?.includes(origin))
        return fail(400, "Invalid 'image_url': expected an https URL or a base64 data URL.", {
          code: "invalid_value",
          param: "image_url",
        });
      const response = await fetch(part.image_url).catch(() => null);
      await response?.body?.cancel();
      if (!response?.ok)
        return fail(400, `Error while downloading ${part.image_url}.`, {
          code: "invalid_value",
          param: "url",
        });
    }
    return null;
  }

  async function create(path: string, raw: string): Promise<Answer> {
    let body: CreateBody | Answer;
    try {
      body = validateCreate(JSON.parse(raw));
    } catch {
      return fail(400, "We could not parse the JSON body of your request.");
    }
    if ("status" in body) return body;
    const imageProblem = await httpImageProblem(body);
    if (imageProblem) return imageProblem;
    if (body.background && options.supportsBackground === false) {
      return fail(400, "background mode is not supported", { param: "background" });
    }
    const key = body.metadata?.idempotency_key ?? "(none)";
    createsByKey.set(key, (createsByKey.get(key) ?? 0) + 1);
    createRequests.push(body);
    const task = (takeFault("create", path, true) as TaskFault | undefined) ?? null;
    const stored: Stored = {
      id: id("resp"),
      createdAt: Date.now(),
      request: body,
      task,
      cancelled: false,
      notified: false,
    };
    responses.set(stored.id, stored);
    if (options.webhook && body.background && task?.kind !== "never-finishes") {
      const timer = setTimeout(() => {
        webhookTimers.delete(timer);
        void notifyEnded(stored);
      }, durationMs + 1);
      webhookTimers.add(timer);
    }
    if (!body.background) {
      // Without background mode the call returns only when the model is done (timers may fire early).
      await sleep(durationMs);
      stored.createdAt = Math.min(stored.createdAt, Date.now() - durationMs);
    }
    return { status: 200, body: view(stored) };
  }

  async function route(
    method: string,
    path: string,
    raw: string,
    gone: () => boolean,
    fault: OpenAIFault | undefined,
  ): Promise<Answer | "malformed" | null> {
    if (fault?.kind === "hang") {
      await sleep(fault.ms);
      if (gone()) return null;
    }
    if (fault?.kind === "malformed") return "malformed";
    if (fault?.kind === "http") {
      const body =
        fault.body ?? DEFAULT_ERROR_BY_STATUS[fault.status] ?? errorBody("Error", { type: "server_error" });
      return { status: fault.status, body, headers: fault.headers };
    }
    if (method === "POST" && path === "/v1/responses") return create(path, raw);
    const [, responseId, cancel] = /^\/v1\/responses\/([^/]+)(\/cancel)?$/.exec(path) ?? [];
    const stored = responses.get(responseId ?? "");
    if (responseId && !stored) return fail(404, `Response with id '${responseId}' not found.`);
    if (stored && method === "DELETE" && !cancel) {
      // As documented: the stored response is gone; a second delete, or a get, answers 404.
      deletes.push(stored.id);
      responses.delete(stored.id);
      return { status: 200, body: { id: stored.id, object: "response", deleted: true } };
    }
    if (stored && method === "GET" && !cancel) {
      checks++;
      return { status: 200, body: view(stored) };
    }
    if (stored && method === "POST" && cancel) {
      cancels.push(stored.id);
      if (!stored.request.background) return fail(400, "Only background responses can be cancelled.");
      if (["queued", "in_progress"].includes(view(stored).status)) {
        stored.cancelled = true;
        void notifyEnded(stored);
      }
      return { status: 200, body: view(stored) };
    }
    return fail(404, `Invalid URL (${method} ${path})`);
  }

  const server = createServer(async (req, res) => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const path = new URL(req.url ?? "/", "http://emulator").pathname;
    const headers = { "content-type": "application/json", "x-request-id": id("req") };
    if (req.headers.authorization !== `Bearer ${apiKey}`) {
      res.writeHead(401, headers).end(JSON.stringify(DEFAULT_ERROR_BY_STATUS[401]));
      return;
    }
    const body = Buffer.concat(chunks).toString("utf8");
    const method = req.method ?? "GET";
    const on: On =
      method === "GET"
        ? "get"
        : method === "DELETE"
          ? "delete"
          : path.endsWith("/cancel")
            ? "cancel"
            : "create";
    const fault = takeFault(on, path, false);
    const answer = await route(method, path, body, () => req.socket.destroyed, fault);
    if (fault?.kind === "late") {
      await (fault.ms === undefined
        ? new Promise<void>((resolve) => req.socket.once("close", () => resolve()))
        : sleep(fault.ms));
    }
    if (fault?.kind === "reset") req.socket.destroy();
    if (!answer || res.destroyed) return;
    if (answer === "malformed") res.writeHead(200, headers).end('{"id": "resp_broken", "object": "respo');
    else res.writeHead(answer.status, { ...headers, ...answer.headers }).end(JSON.stringify(answer.body));
  });
  const url = await listenOnLoopback(server, options.port);

  return {
    url,
    faults,
    get checks() {
      return checks;
    },
    /** Accepted creates per job step: the idempotency key with its `-<attempt>` stripped. */
    creates(): Map<string, number> {
      const byStep = new Map<string, number>();
      for (const [key, n] of createsByKey) {
        const step = key.replace(/-\d+$/, "");
        byStep.set(step, (byStep.get(step) ?? 0) + n);
      }
      return byStep;
    },
    createsByKey: () => new Map(createsByKey),
    /** Response ids cancel was asked for, in order (repeats included). */
    cancels: () => [...cancels],
    /** Response ids deleted (DELETE /v1/responses/{id}), in order. */
    deletes: () => [...deletes],
    /** Whether the emulator still stores this response (a deleted one is gone). */
    hasResponse: (responseId: string) => responses.has(responseId),
    /** The bodies of accepted creates, oldest first. */
    createRequests: () => [...createRequests],
    /** Webhook events POSTed so far (signed headers, body, the app's answer), oldest first. */
    webhookDeliveries: () => [...deliveries],
    reset() {
      faults.length = 0;
      responses.clear();
      createsByKey.clear();
      createRequests.length = 0;
      deliveries.length = 0;
      for (const timer of webhookTimers) clearTimeout(timer);
      webhookTimers.clear();
      checks = 0;
      cancels.length = 0;
      deletes.length = 0;
    },
    async close() {
      await closeServer(server, [...timers, ...webhookTimers]);
    },
  };
}

export type OpenAIEmulator = Awaited<ReturnType<typeof startOpenAIEmulator>>;
