import { createHmac, randomBytes, timingSafeEqual } from "node:crypto";
import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import {
  createDelegationAuthority,
  type SignedReadRefusal,
  SignedTokenRequestError,
} from "./vercel-blob-signing";

/**
 * A Vercel Blob API emulator, shaped by the requests @vercel/blob 2.8 really sends (point the SDK at it
 * with VERCEL_BLOB_API_URL): `PUT /?pathname=` (x-vercel-blob-access, x-content-type,
 * x-add-random-suffix, x-allow-overwrite), `POST /delete` `{urls}`, `GET /?url=` (head) and
 * `GET /?prefix=` (list), with `Authorization: Bearer vercel_blob_rw_<storeId>_<secret>` or a client
 * token minted by `handleUpload`, checked the way the service does (HMAC, pathname, expiry, content
 * type, size). Stored blobs are served at this server's own URLs, `GET /<pathname>`.
 *
 * A store is public or private, as chosen when it is created; a put of the other access is refused.
 * Public blobs are served to anyone. Private blobs only to `Authorization: Bearer <read-write token>`
 * (the SDK's `get`) or a presigned URL (`POST /signed-token`, then `presignUrl`; see
 * vercel-blob-signing.ts): bound to one pathname and operation, dead after its expiry. Anything else
 * gets 403 and nothing of the blob, whether it exists or not.
 */

export interface StoredEmulatorBlob {
  bytes: Buffer;
  contentType: string;
  uploadedAt: Date;
}

/** A scripted fault for the next matching request, consumed once. */
export type VercelBlobFault = { on: "put" | "delete" | "head" | "file" } & (
  | { kind: "http"; status: number; code: string; message?: string }
  /** Answers nothing for `ms`, as a stalled connection. */
  | { kind: "hang"; ms: number }
);

/** One read of a stored blob's URL: how it was authorised and what it was answered. */
export interface BlobRead {
  pathname: string;
  /** `token`: the read-write token; `signed`: a valid presigned URL; else why it was refused. */
  auth: "public" | "token" | "signed" | SignedReadRefusal;
  status: number;
}

export interface VercelBlobEmulatorOptions {
  storeId?: string;
  port?: number;
  /** The store's access, fixed at creation (default public). */
  access?: "public" | "private";
}

export interface VercelBlobEmulator {
  /** The API base (VERCEL_BLOB_API_URL) and the origin blobs are served from. */
  url: string;
  /** The store's read-write token (BLOB_READ_WRITE_TOKEN). */
  token: string;
  storeId: string;
  access: "public" | "private";
  /** The stored blobs by pathname (live view). */
  blobs(): Map<string, StoredEmulatorBlob>;
  /** Every request received, as `METHOD /path?query`, in order. */
  requests: string[];
  /** Every read of a blob URL, in order. */
  reads(): BlobRead[];
  /**
   * Moves the emulator's clock on (expiry of signed URLs and tokens; the upload time of blobs put
   * after), as if `ms` had passed; a negative `ms` lets a test store a blob "long ago".
   */
  advanceClock(ms: number): void;
  fault(fault: VercelBlobFault): void;
  close(): Promise<void>;
}

/** The client token's signed payload, as `generateClientTokenFromReadWriteToken` writes it. */
interface ClientTokenPayload {
  pathname?: string;
  validUntil?: number;
  allowedContentTypes?: string[];
  maximumSizeInBytes?: number;
  addRandomSuffix?: boolean;
  allowOverwrite?: boolean;
}

interface PutRules {
  pathname: string;
  contentType: string;
  addRandomSuffix: boolean;
  allowOverwrite: boolean;
  maximumSizeInBytes: number;
}

/** The service's answers carry `{ error: { code, message } }`; the SDK branches on code and message. */
class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

const FORBIDDEN = () =>
  new ApiError(403, "forbidden", "Access denied, please provide a valid token for this resource.");
const NOT_FOUND = () => new ApiError(404, "not_found", "The requested blob does not exist");
/** Far above anything these tests store; the service's own per-put limit for server uploads. */
const SERVER_PUT_LIMIT_BYTES = 100 * 1024 * 1024;
const SUFFIX_ALPHABET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
const CONTENT_TYPE_BY_EXTENSION: Record<string, string> = {
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  png: "image/png",
  webp: "image/webp",
  gif: "image/gif",
  txt: "text/plain",
  json: "application/json",
  html: "text/html",
};

/** `name-<30 random alphanumerics>.ext`, the shape of Vercel Blob's random suffix. */
function withRandomSuffix(pathname: string): string {
  const bytes = randomBytes(30);
  const suffix = Array.from(bytes, (b) => SUFFIX_ALPHABET[b % SUFFIX_ALPHABET.length]).join("");
  const slash = pathname.lastIndexOf("/");
  const dot = pathname.lastIndexOf(".");
  return dot > slash + 1
    ? `${pathname.slice(0, dot)}-${suffix}${pathname.slice(dot)}`
    : `${pathname}-${suffix}`;
}

function contentTypeFromPathname(pathname: string): string {
  const extension = pathname.split(".").pop()?.toLowerCase() ?? "";
  return CONTENT_TYPE_BY_EXTENSION[extension] ?? "application/octet-stream";
}

function contentTypeAllowed(contentType: string, allowed: string[]): boolean {
  const [type] = contentType.split("/");
  return allowed.includes(contentType) || allowed.includes(`${type}/*`);
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** Reads the body, refusing it as soon as it crosses `limit` (the service's size check). */
async function readBody(request: IncomingMessage, limit: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of request) {
    size += (chunk as Buffer).length;
    if (size > limit) {
      request.resume();
      throw new ApiError(
        400,
        "bad_request",
        `File size is too large, the file length cannot be greater than ${limit} bytes`,
      );
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

export async function startVercelBlobEmulator(
  options: VercelBlobEmulatorOptions = {},
): Promise<VercelBlobEmulator> {
  const storeId = options.storeId ?? `emu${randomBytes(6).toString("hex")}`;
  const access = options.access ?? "public";
  const token = `vercel_blob_rw_${storeId}_${randomBytes(16).toString("hex")}`;
  let clockOffsetMs = 0;
  const now = () => Date.now() + clockOffsetMs;
  // The store's signing secret: never in a token, only behind the HMACs.
  const signing = createDelegationAuthority({ storeId, secret: randomBytes(32).toString("hex"), now });
  const reads: BlobRead[] = [];
  const blobs = new Map<string, StoredEmulatorBlob>();
  const requests: string[] = [];
  const faults: VercelBlobFault[] = [];
  let base = "";

  const urlFor = (pathname: string) => `${base}/${pathname.split("/").map(encodeURIComponent).join("/")}`;
  const pathnameOf = (url: string): string | null => {
    try {
      const parsed = new URL(url);
      if (parsed.origin !== base) return null;
      return parsed.pathname.slice(1).split("/").map(decodeURIComponent).join("/");
    } catch {
      return null;
    }
  };
  const describeBlob = (pathname: string, blob: StoredEmulatorBlob) => ({
    url: urlFor(pathname),
    downloadUrl: `${urlFor(pathname)}?download=1`,
    pathname,
    contentType: blob.contentType,
    contentDisposition: `inline; filename="${pathname.split("/").pop()}"`,
    etag: `"${blob.uploadedAt.getTime().toString(16)}"`,
  });

  /** A client token: `vercel_blob_client_<storeId>_<base64("<hmac hex>.<base64 payload>")>`. */
  function verifyClientToken(bearer: string): ClientTokenPayload {
    const prefix = `vercel_blob_client_${storeId}_`;
    if (!bearer.startsWith(prefix)) throw FORBIDDEN();
    const [signature = "", payload = ""] = Buffer.from(bearer.slice(prefix.length), "base64")
      .toString()
      .split(".");
    const expected = createHmac("sha256", token).update(payload).digest("hex");
    if (
      signature.length !== expected.length ||
      !timingSafeEqual(Buffer.from(signature), Buffer.from(expected))
    )
      throw FORBIDDEN();
    return JSON.parse(Buffer.from(payload, "base64").toString()) as ClientTokenPayload;
  }

  /** Server tokens pick options by header; client tokens only from their signed payload. */
  function putRules(request: IncomingMessage, query: URLSearchParams): PutRules {
    const bearer = header(request, "authorization")?.replace(/^Bearer /, "") ?? "";
    const pathname = query.get("pathname") ?? "";
    if (!pathname || pathname.includes("//")) throw new ApiError(400, "bad_request", "Invalid pathname");
    if (header(request, "x-vercel-blob-access") !== access)
      throw new ApiError(400, "bad_request", `This store only accepts ${access} blobs`);
    const contentType = header(request, "x-content-type") ?? contentTypeFromPathname(pathname);
    if (bearer === token) {
      return {
        pathname,
        contentType,
        addRandomSuffix: header(request, "x-add-random-suffix") === "1",
        allowOverwrite: header(request, "x-allow-overwrite") === "1",
        maximumSizeInBytes: SERVER_PUT_LIMIT_BYTES,
      };
    }
    const payload = verifyClientToken(bearer);
    if (payload.pathname !== pathname)
      throw new ApiError(400, "bad_request", `The "pathname" does not match the token payload`);
    if (typeof payload.validUntil === "number" && payload.validUntil < now())
      throw new ApiError(400, "bad_request", "Token expired");
    if (payload.allowedContentTypes?.length && !contentTypeAllowed(contentType, payload.allowedContentTypes))
      throw new ApiError(400, "bad_request", `contentType "${contentType}" is not allowed`);
    return {
      pathname,
      contentType,
      addRandomSuffix: payload.addRandomSuffix === true,
      allowOverwrite: payload.allowOverwrite === true,
      maximumSizeInBytes: payload.maximumSizeInBytes ?? SERVER_PUT_LIMIT_BYTES,
    };
  }

  async function put(request: IncomingMessage, query: URLSearchParams) {
    const rules = putRules(request, query);
    const bytes = await readBody(request, rules.maximumSizeInBytes);
    const pathname = rules.addRandomSuffix ? withRandomSuffix(rules.pathname) : rules.pathname;
    if (blobs.has(pathname) && !rules.allowOverwrite) {
      throw new ApiError(
        400,
        "bad_request",
        "This blob already exists, use `allowOverwrite: true` if you want to overwrite it. Or `addRandomSuffix: true` to generate a unique filename.",
      );
    }
    const blob = { bytes, contentType: rules.contentType, uploadedAt: new Date(now()) };
    blobs.set(pathname, blob);
    return describeBlob(pathname, blob);
  }

  function requireServerToken(request: IncomingMessage) {
    if (header(request, "authorization") !== `Bearer ${token}`) throw FORBIDDEN();
  }

  async function remove(request: IncomingMessage) {
    requireServerToken(request);
    const body = JSON.parse((await readBody(request, 1024 * 1024)).toString()) as { urls?: unknown };
    if (!Array.isArray(body.urls)) throw new ApiError(400, "bad_request", "urls is required");
    for (const url of body.urls) {
      const pathname = typeof url === "string" ? pathnameOf(url) : null;
      if (pathname) blobs.delete(pathname);
    }
    return {};
  }

  function head(request: IncomingMessage, query: URLSearchParams) {
    requireServerToken(request);
    const pathname = pathnameOf(query.get("url") ?? "");
    const blob = pathname ? blobs.get(pathname) : undefined;
    if (!pathname || !blob) throw NOT_FOUND();
    return {
      ...describeBlob(pathname, blob),
      size: blob.bytes.length,
      cacheControl: "public, max-age=2592000",
      uploadedAt: blob.uploadedAt.toISOString(),
    };
  }

  function list(request: IncomingMessage, query: URLSearchParams) {
    requireServerToken(request);
    const prefix = query.get("prefix") ?? "";
    // As documented: `limit` (default and most 1000) per page, an opaque `cursor` to the next one.
    const limit = Math.min(Number(query.get("limit") ?? 1000) || 1000, 1000);
    const offset = Number(query.get("cursor") ?? 0) || 0;
    const matching = [...blobs]
      .filter(([pathname]) => pathname.startsWith(prefix))
      .sort(([a], [b]) => a.localeCompare(b));
    const found = matching.slice(offset, offset + limit);
    const hasMore = offset + limit < matching.length;
    return {
      hasMore,
      ...(hasMore ? { cursor: String(offset + limit) } : {}),
      blobs: found.map(([pathname, blob]) => ({
        ...describeBlob(pathname, blob),
        size: blob.bytes.length,
        uploadedAt: blob.uploadedAt.toISOString(),
      })),
    };
  }

  async function issueSignedToken(request: IncomingMessage) {
    requireServerToken(request);
    const body = JSON.parse((await readBody(request, 64 * 1024)).toString() || "{}") as Record<
      string,
      unknown
    >;
    try {
      return signing.issue(body);
    } catch (error) {
      if (error instanceof SignedTokenRequestError) throw new ApiError(400, "bad_request", error.message);
      throw error;
    }
  }

  /** How a read of a private blob is authorised, or why it is refused. */
  function readAuth(request: IncomingMessage, pathname: string, query: URLSearchParams): BlobRead["auth"] {
    if (access === "public") return "public";
    if (header(request, "authorization") === `Bearer ${token}`) return "token";
    return signing.refusalOf(pathname, query, request.method === "HEAD" ? "head" : "get") ?? "signed";
  }

  function serveFile(request: IncomingMessage, response: ServerResponse, url: URL) {
    const pathname = pathnameOf(`${base}${url.pathname}`) ?? "";
    const auth = readAuth(request, pathname, url.searchParams);
    if (!["public", "token", "signed"].includes(auth)) {
      reads.push({ pathname, auth, status: 403 });
      response.writeHead(403, { "content-type": "text/plain" }).end("Forbidden");
      return;
    }
    const blob = pathname ? blobs.get(pathname) : undefined;
    reads.push({ pathname, auth, status: blob ? 200 : 404 });
    if (!blob) {
      response.writeHead(404, { "content-type": "text/plain" }).end("The requested blob does not exist");
      return;
    }
    response
      .writeHead(200, {
        "content-type": blob.contentType,
        "content-length": blob.bytes.length,
        "cache-control": access === "public" ? "public, max-age=2592000" : "private, no-store",
        "access-control-allow-origin": "*",
      })
      .end(blob.bytes);
  }

  function takeFault(on: VercelBlobFault["on"]): VercelBlobFault | undefined {
    const index = faults.findIndex((fault) => fault.on === on);
    return index < 0 ? undefined : faults.splice(index, 1)[0];
  }

  async function route(request: IncomingMessage, response: ServerResponse, on: VercelBlobFault["on"] | null) {
    const fault = on ? takeFault(on) : undefined;
    if (fault?.kind === "hang") await new Promise((resolve) => setTimeout(resolve, fault.ms));
    if (fault?.kind === "http") throw new ApiError(fault.status, fault.code, fault.message ?? fault.code);
    const url = new URL(request.url ?? "/", base);
    const query = url.searchParams;
    let answer: unknown;
    if (on === "put") answer = await put(request, query);
    else if (on === "delete") answer = await remove(request);
    else if (on === "head") answer = head(request, query);
    else if (request.method === "POST" && url.pathname === "/signed-token")
      answer = await issueSignedToken(request);
    else if (request.method === "GET" && url.pathname === "/") answer = list(request, query);
    else if (on === "file") return serveFile(request, response, url);
    else
      throw new ApiError(
        400,
        "bad_request",
        `This emulator does not serve ${request.method} ${url.pathname}`,
      );
    response
      .writeHead(200, { "content-type": "application/json", "access-control-allow-origin": "*" })
      .end(JSON.stringify(answer));
  }

  function operationOf(request: IncomingMessage): VercelBlobFault["on"] | null {
    const url = new URL(request.url ?? "/", "http://emulator");
    if (request.method === "PUT" && url.pathname === "/" && !url.searchParams.has("fromUrl")) return "put";
    if (request.method === "POST" && url.pathname === "/delete") return "delete";
    if (request.method === "GET" && url.pathname === "/" && url.searchParams.has("url")) return "head";
    if ((request.method === "GET" || request.method === "HEAD") && url.pathname !== "/") return "file";
    return null;
  }

  const server = createServer((request, response) => {
    requests.push(`${request.method} ${request.url}`);
    // Browsers preflight `upload()`'s PUT; the real API allows any origin.
    if (request.method === "OPTIONS") {
      response
        .writeHead(204, {
          "access-control-allow-origin": "*",
          "access-control-allow-methods": "GET, PUT, POST, DELETE",
          "access-control-allow-headers": header(request, "access-control-request-headers") ?? "*",
          "access-control-max-age": "600",
        })
        .end();
      return;
    }
    route(request, response, operationOf(request)).catch((error: unknown) => {
      const apiError =
        error instanceof ApiError ? error : new ApiError(500, "internal_server_error", String(error));
      if (response.headersSent) return response.destroy();
      response
        .writeHead(apiError.status, {
          "content-type": "application/json",
          "access-control-allow-origin": "*",
        })
        .end(JSON.stringify({ error: { code: apiError.code, message: apiError.message } }));
    });
  });
  await new Promise<void>((resolve) => server.listen(options.port ?? 0, "127.0.0.1", resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;

  return {
    url: base,
    token,
    storeId,
    access,
    blobs: () => blobs,
    requests,
    reads: () => [...reads],
    advanceClock: (ms) => {
      clockOffsetMs += ms;
    },
    fault: (fault) => faults.push(fault),
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
