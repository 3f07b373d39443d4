import http from "node:http";
import type { AddressInfo } from "node:net";
import { createClient, MultiErrorReply } from "redis";

/**
 * A loopback stand-in for the Upstash REST API, forwarding to a real Redis, so the real
 * `@upstash/redis` client can be tested here. Implements the documented protocol: `POST /` with
 * `["CMD", ...args]`, `POST /pipeline` and `POST /multi-exec` with arrays of those, bearer auth, and
 * base64-encoded strings when the request says `Upstash-Encoding: base64`.
 */
export interface UpstashProxy {
  url: string;
  close(): Promise<void>;
}

type Outcome = { result: unknown } | { error: string };

function base64Strings(value: unknown): unknown {
  if (typeof value === "string") return Buffer.from(value, "utf8").toString("base64");
  if (Array.isArray(value)) return value.map(base64Strings);
  return value;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** A command as the client sends it; numbers (and booleans) arrive as JSON values. */
function toArgs(command: unknown): string[] {
  if (!Array.isArray(command) || command.length === 0) throw new Error("ERR a command is a non-empty array");
  return command.map((part) => (typeof part === "string" ? part : String(part)));
}

async function readJson(request: http.IncomingMessage): Promise<unknown> {
  const chunks: Buffer[] = [];
  for await (const chunk of request) chunks.push(chunk as Buffer);
  return JSON.parse(Buffer.concat(chunks).toString("utf8"));
}

export async function startUpstashProxy(options: { redisUrl: string; token: string }): Promise<UpstashProxy> {
  // RESP2, like Upstash's JSON: maps arrive as flat arrays, never as objects.
  const redis = createClient({ url: options.redisUrl, RESP: 2 });
  redis.on("error", (error: Error) => console.warn(`[upstash-proxy] ${error.message}`));
  await redis.connect();

  const run = async (command: unknown): Promise<Outcome> => {
    try {
      return { result: await redis.sendCommand(toArgs(command)) };
    } catch (error) {
      return { error: messageOf(error) };
    }
  };

  const multiExec = async (commands: unknown[]): Promise<Outcome[]> => {
    const multi = redis.multi();
    for (const command of commands) multi.addCommand(toArgs(command));
    try {
      return (await multi.exec()).map((result) => ({ result }));
    } catch (error) {
      // A command that failed inside EXEC fails alone; the others' replies still count.
      if (!(error instanceof MultiErrorReply)) throw error;
      return error.replies.map((reply, index) =>
        error.errorIndexes.includes(index) ? { error: messageOf(reply) } : { result: reply },
      );
    }
  };

  const answer = async (path: string, body: unknown): Promise<Outcome | Outcome[]> => {
    if (path === "/") return run(body);
    if (!Array.isArray(body)) throw new Error("ERR expected an array of commands");
    if (path === "/pipeline") return Promise.all(body.map(run));
    if (path === "/multi-exec") return multiExec(body);
    throw new Error(`ERR unknown path ${path}`);
  };

  const server = http.createServer((request, response) => {
    const send = (status: number, payload: unknown) => {
      response.writeHead(status, { "Content-Type": "application/json" });
      response.end(JSON.stringify(payload));
    };
    if (request.headers.authorization !== `Bearer ${options.token}`)
      return send(401, { error: "Unauthorized" });
    if (request.method !== "POST") return send(405, { error: "Method not allowed" });
    const encode = request.headers["upstash-encoding"] === "base64";
    const path = new URL(request.url ?? "/", "http://proxy").pathname;
    readJson(request)
      .then((body) => answer(path, body))
      .then((outcome) => {
        const encoded = (o: Outcome) => ("result" in o && encode ? { result: base64Strings(o.result) } : o);
        if (Array.isArray(outcome)) return send(200, outcome.map(encoded));
        send("error" in outcome ? 400 : 200, encoded(outcome));
      })
      .catch((error: unknown) => send(400, { error: messageOf(error) }));
  });

  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await redis.close();
    },
  };
}
