import dns from "node:dns";
import http from "node:http";
import https from "node:https";
import net, { type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { installLoopbackOnly, type LoopbackGuard } from "@/tests/support/loopback-only";

/**
 * The guard other tests rely on to prove nothing leaves loopback, proven itself without leaving it: here
 * 127.0.0.9 plays the forbidden outside world, and a server there counts every connection that reaches it.
 */
const FORBIDDEN = "127.0.0.9";

let outside: net.Server;
let outsidePort = 0;
let reached = 0;
let inside: http.Server;
let insidePort = 0;
let guard: LoopbackGuard;

const listen = (server: net.Server, host: string) =>
  new Promise<number>((resolve) =>
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port)),
  );

/** Resolves with the error the attempt ended with (or "connected"). */
function outcome(socket: net.Socket): Promise<string> {
  return new Promise((resolve) => {
    socket.once("connect", () => resolve("connected"));
    socket.once("error", (error: NodeJS.ErrnoException) => resolve(error.code ?? error.message));
  });
}

beforeAll(async () => {
  outside = net.createServer((socket) => {
    reached++;
    socket.destroy();
  });
  outsidePort = await listen(outside, FORBIDDEN);
  inside = http.createServer((_req, res) => res.end("inside"));
  insidePort = await listen(inside, "127.0.0.1");
  guard = installLoopbackOnly({ allowed: (address) => address.startsWith("127.") && address !== FORBIDDEN });
});

afterAll(async () => {
  guard?.uninstall();
  await Promise.all([
    new Promise((resolve) => outside?.close(resolve)),
    new Promise((resolve) => inside?.close(resolve)),
  ]);
});

const toForbidden = ((_host, options, callback) =>
  options.all
    ? callback(null, [{ address: FORBIDDEN, family: 4 }])
    : callback(null, FORBIDDEN, 4)) as net.LookupFunction;

describe("the loopback-only guard", () => {
  it("blocks an https request whose own lookup answers a forbidden address (agent: false, path: null)", async () => {
    const request = https.get({
      host: "cdn.example.test",
      port: outsidePort,
      agent: false,
      lookup: toForbidden,
    });
    const code = await new Promise((resolve) =>
      request.on("error", (e: NodeJS.ErrnoException) => resolve(e.code)),
    );
    expect(code).toBe("ELOOPBACKONLY");
  });

  it("blocks at the lookup event when the address got past its lookup wrapper", async () => {
    // Alone: the main guard would otherwise stop it first, in its own lookup wrapper.
    guard.uninstall();
    const leaky = installLoopbackOnly({
      allowed: (address) => address !== FORBIDDEN,
      // A mapping onto itself lets the forbidden address through the wrapper: only the second check is left.
      nat: { [FORBIDDEN]: FORBIDDEN },
    });
    try {
      const socket = net.connect({ host: "leak.example.test", port: outsidePort, lookup: toForbidden });
      expect(await outcome(socket)).toBe("ELOOPBACKONLY");
      expect(leaky.violations).toEqual([`a connection to ${FORBIDDEN} (leak.example.test) past the lookup`]);
    } finally {
      leaky.uninstall();
      guard = installLoopbackOnly({
        allowed: (address) => address.startsWith("127.") && address !== FORBIDDEN,
      });
    }
  });

  it("blocks literal addresses in every form of connect, and fetch", async () => {
    expect(await outcome(net.connect({ host: FORBIDDEN, port: outsidePort }))).toBe("ELOOPBACKONLY");
    expect(await outcome(net.connect(outsidePort, FORBIDDEN))).toBe("ELOOPBACKONLY");
    const fetched = await fetch(`http://${FORBIDDEN}:${outsidePort}/`).catch((e: Error) => e);
    expect(String((fetched as Error).cause)).toMatch(/loopback-only guard blocked/);
  });

  it("answers name lookups for anything but localhost itself, without asking a name server", async () => {
    const code = await new Promise((resolve) => dns.lookup("example.test", (e) => resolve(e?.code)));
    expect(code).toBe("ELOOPBACKONLY");
    await expect(dns.promises.lookup("example.test")).rejects.toMatchObject({ code: "ELOOPBACKONLY" });
    expect(await outcome(net.connect({ host: "example.test", port: 80 }))).toBe("ELOOPBACKONLY");
  });

  it("lets loopback through", async () => {
    expect(await (await fetch(`http://127.0.0.1:${insidePort}/`)).text()).toBe("inside");
  });

  it("recorded every attempt, and nothing reached the forbidden address", async () => {
    await new Promise((resolve) => setTimeout(resolve, 100));
    expect(reached).toBe(0);
    expect(guard.violations.length).toBeGreaterThanOrEqual(5);
  });
});
