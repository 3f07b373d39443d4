import type { ServerResponse } from "node:http";

/**
 * A hostile answer to a request for an output file, served from the emulator's own origin (the
 * configured base URL, which the app trusts): what a compromised vendor or a reseller's proxy could send.
 */
export type HostileFile = {
  /** Filled in while it is served: how many body bytes went out before the client hung up. */
  sent?: { bytes: number };
} & (
  | { kind: "redirect"; location: string }
  /** A PNG signature, then zeros, chunked, until the client goes away. */
  | { kind: "endless" }
  /** A PNG signature, then zeros, under a declared Content-Length of `bytes`. */
  | { kind: "declared"; bytes: number }
  /** An HTML page behind a PNG signature. */
  | { kind: "fake-image" }
);

const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);
const ZEROS = Buffer.alloc(64 * 1024);

/** Writes zeros as fast as the client reads them, until it stops (or `limit` bytes went out). */
function pump(res: ServerResponse, file: HostileFile, limit: number): void {
  const sent = file.sent ?? { bytes: 0 };
  res.write(PNG_SIGNATURE);
  sent.bytes = PNG_SIGNATURE.length;
  const more = () => {
    while (!res.destroyed && sent.bytes < limit) {
      const chunk = ZEROS.subarray(0, Math.min(ZEROS.length, limit - sent.bytes));
      sent.bytes += chunk.length;
      if (!res.write(chunk)) return void res.once("drain", more);
    }
    if (!res.destroyed) res.end();
  };
  more();
}

/** Answers `res` with the hostile file. */
export function sendHostileFile(res: ServerResponse, file: HostileFile): void {
  switch (file.kind) {
    case "redirect":
      res.writeHead(302, { location: file.location }).end();
      return;
    case "endless":
      res.writeHead(200, { "content-type": "image/png" });
      pump(res, file, Number.POSITIVE_INFINITY);
      return;
    case "declared":
      res.writeHead(200, { "content-type": "image/png", "content-length": String(file.bytes) });
      pump(res, file, file.bytes);
      return;
    case "fake-image": {
      const page = Buffer.concat([PNG_SIGNATURE, Buffer.from("<html><script>steal()</script></html>")]);
      res.writeHead(200, { "content-type": "image/png" }).end(page);
      if (file.sent) file.sent.bytes = page.length;
      return;
    }
  }
}
