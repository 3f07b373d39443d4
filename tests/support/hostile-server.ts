import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import sharp from "sharp";

/** A server an attacker would love the app to reach (an internal service, say): it records every request. */
export interface HostileServer {
  /** e.g. `http://127.0.0.2:40123`. */
  url: string;
  /** Paths requested so far: any entry means the app fetched what it must not. */
  requests: string[];
  close(): Promise<void>;
}

/** Starts it on a loopback address other than 127.0.0.1 (never outside 127.0.0.0/8), answering a real PNG. */
export async function startHostileServer(host = "127.0.0.2"): Promise<HostileServer> {
  if (!host.startsWith("127.")) throw new Error(`hostile servers listen on 127.0.0.0/8 only, not ${host}`);
  const secret = await sharp({ create: { width: 400, height: 400, channels: 3, background: "#f00" } })
    .png()
    .toBuffer();
  const requests: string[] = [];
  const server = createServer((req, res) => {
    requests.push(req.url ?? "/");
    res.writeHead(200, { "content-type": "image/png" }).end(secret);
  });
  await new Promise<void>((resolve) => server.listen(0, host, resolve));
  return {
    url: `http://${host}:${(server.address() as AddressInfo).port}`,
    requests,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
