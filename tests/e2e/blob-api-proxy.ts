import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import http, { type IncomingHttpHeaders } from "node:http";
import http2, { type ServerHttp2Session } from "node:http2";
import type { AddressInfo } from "node:net";
import os from "node:os";
import path from "node:path";
import { Transform } from "node:stream";

/** `upload()` from @vercel/blob/client sends photos to https://vercel.com/api/blob (its built-in default). */
const BLOB_API_PATH = "/api/blob";
/** Hop-by-hop headers, and HTTP/2 pseudo-headers, are never forwarded. */
const HOP_BY_HOP = new Set(["connection", "keep-alive", "transfer-encoding", "upgrade", "te", "host"]);

export interface BlobApiProxy {
  /** Chromium flag that sends vercel.com:443 to this proxy. */
  hostResolverRule: string;
  /** Every request received, as `METHOD /path?query` (the path as the emulator sees it). */
  requests: string[];
  /** Passes request bodies on at about this many bytes a second (null: at full speed), as a slow uplink. */
  throttle(bytesPerSecond: number | null): void;
  close(): Promise<void>;
}

/** Delays each chunk by its share of the rate; HTTP/2 flow control slows the sender to match. */
function slowStream(bytesPerSecond: number): Transform {
  return new Transform({
    transform(chunk: Buffer, _encoding, done) {
      setTimeout(() => done(null, chunk), (chunk.length / bytesPerSecond) * 1000);
    },
  });
}

function forwardable(headers: IncomingHttpHeaders): IncomingHttpHeaders {
  return Object.fromEntries(
    Object.entries(headers).filter(([name]) => !name.startsWith(":") && !HOP_BY_HOP.has(name)),
  );
}

/** A throwaway self-signed certificate for vercel.com (the browser runs with certificate errors ignored). */
function selfSignedCertificate(): { key: Buffer; cert: Buffer } {
  const dir = mkdtempSync(path.join(os.tmpdir(), "style-studio-cert-"));
  try {
    const openssl = spawnSync(
      "openssl",
      ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes", "-days", "1"]
        .concat(["-subj", "/CN=vercel.com", "-addext", "subjectAltName=DNS:vercel.com"])
        .concat(["-keyout", path.join(dir, "key.pem"), "-out", path.join(dir, "cert.pem")]),
      { stdio: "ignore" },
    );
    if (openssl.status !== 0) {
      throw new Error("The browser tests need the openssl command: `apt-get install -y openssl`.", {
        cause: openssl.error,
      });
    }
    return { key: readFileSync(path.join(dir, "key.pem")), cert: readFileSync(path.join(dir, "cert.pem")) };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/**
 * What a network proxy does for the browser: answers for https://vercel.com over HTTP/2 and forwards
 * /api/blob/* to the Blob API emulator. The page's SDK keeps its real API URL (the browser has no
 * runtime setting for it) and streams uploads with fetch, which Chromium allows over HTTP/2 only.
 */
export async function startBlobApiProxy(emulatorUrl: string): Promise<BlobApiProxy> {
  const requests: string[] = [];
  let bytesPerSecond: number | null = null;
  const server = http2.createSecureServer(
    { ...selfSignedCertificate(), allowHTTP1: true },
    (request, response) => {
      const url = request.url ?? "/";
      if (!url.startsWith(`${BLOB_API_PATH}/`) && url !== BLOB_API_PATH) {
        response.writeHead(404).end();
        return;
      }
      const target = url.slice(BLOB_API_PATH.length) || "/";
      requests.push(`${request.method} ${target}`);
      const upstream = http.request(`${emulatorUrl}${target}`, {
        method: request.method,
        headers: forwardable(request.headers),
      });
      upstream.on("response", (answer) => {
        response.writeHead(answer.statusCode ?? 502, forwardable(answer.headers));
        answer.pipe(response);
      });
      upstream.on("error", () => {
        if (!response.headersSent) response.writeHead(502);
        response.end();
      });
      if (bytesPerSecond) request.pipe(slowStream(bytesPerSecond)).pipe(upstream);
      else request.pipe(upstream);
    },
  );
  // Chromium keeps its HTTP/2 session open; close() ends it rather than wait for the browser.
  const sessions = new Set<ServerHttp2Session>();
  server.on("session", (session) => {
    sessions.add(session);
    session.on("close", () => sessions.delete(session));
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    hostResolverRule: `--host-resolver-rules=MAP vercel.com:443 127.0.0.1:${port}`,
    requests,
    throttle: (rate) => {
      bytesPerSecond = rate;
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const session of sessions) session.destroy();
        server.close(() => resolve());
      }),
  };
}
