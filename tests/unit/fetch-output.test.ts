import type { LookupAddress } from "node:dns";
import { createServer, type Server } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import sharp from "sharp";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { addressKind } from "@/lib/outputs/address-kind";
import {
  createOutputFetcher,
  MAX_OUTPUT_BYTES,
  type OutputFetchError,
  type OutputFetcherOptions,
} from "@/lib/outputs/fetch-output";
import { judgeSource } from "@/lib/outputs/judge-source";
import { KLING_DELIVERY_HOSTS } from "@/lib/providers/kling/output-sources";
import type { OutputSources } from "@/lib/providers/types";
import { type HostileServer, startHostileServer } from "@/tests/support/hostile-server";
import { installLoopbackOnly, type LoopbackGuard } from "@/tests/support/loopback-only";
import { selfSignedCertificate } from "@/tests/support/test-tls";

/** What a fake resolver answers for the CDN host when the test wants it public: nothing is sent there. */
const PRETEND_PUBLIC = "93.184.216.34";
const CDN_HOST = "cdn.klingai.com";
const PNG_SIGNATURE = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]);

let image: Buffer;
let origin: Server;
let originUrl = "";
let cdn: ReturnType<typeof createHttpsServer>;
let cdnCert = "";
let hostile: HostileServer;
let hostileOnSameIp: HostileServer;
let guard: LoopbackGuard;
/** Bytes each streaming route wrote before the fetcher hung up. */
const sent = { endless: 0, declared: 0 };
/** Requests of /slow.png being answered right now, and the most at once. */
const slow = { now: 0, most: 0 };

const listen = (server: Server, host: string) =>
  new Promise<number>((resolve) =>
    server.listen(0, host, () => resolve((server.address() as AddressInfo).port)),
  );

/** Writes zeros after a PNG signature until the client goes away. */
function pump(res: import("node:http").ServerResponse, counter: "endless" | "declared") {
  const chunk = Buffer.alloc(64 * 1024);
  sent[counter] = 0;
  res.write(PNG_SIGNATURE);
  const more = () => {
    while (!res.destroyed) {
      sent[counter] += chunk.length;
      if (!res.write(chunk)) return void res.once("drain", more);
    }
  };
  res.on("close", () => res.removeAllListeners("drain"));
  more();
}

/** The configured API origin (as an emulator is): real images and hostile answers by path. */
function originRoutes(req: import("node:http").IncomingMessage, res: import("node:http").ServerResponse) {
  const url = new URL(req.url ?? "/", "http://origin");
  const to = url.searchParams.get("to");
  switch (url.pathname) {
    case "/ok.png":
      return res.writeHead(200, { "content-type": "image/png" }).end(image);
    case "/slow.png":
      slow.most = Math.max(slow.most, ++slow.now);
      return void setTimeout(() => {
        slow.now--;
        res.writeHead(200, { "content-type": "image/png" }).end(image);
      }, 150);
    case "/redirect":
      return res.writeHead(302, { location: to ?? "/ok.png" }).end();
    case "/loop":
      return res.writeHead(302, { location: "/loop" }).end();
    case "/endless":
      res.writeHead(200, { "content-type": "image/png" });
      return pump(res, "endless");
    case "/declared":
      res.writeHead(200, { "content-type": "image/png", "content-length": String(300 * 1024 * 1024) });
      return pump(res, "declared");
    case "/drip": {
      res.writeHead(200, { "content-type": "image/png" });
      const timer = setInterval(() => res.write(Buffer.from([0])), 50);
      return res.on("close", () => clearInterval(timer));
    }
    case "/silent":
      return; // never answers
    case "/gone":
      return res.writeHead(404).end("not found");
    case "/broken":
      return res.writeHead(502).end("bad gateway");
    default:
      return res.writeHead(404).end();
  }
}

beforeAll(async () => {
  image = await sharp({ create: { width: 400, height: 300, channels: 3, background: "#3a6" } })
    .png()
    .toBuffer();
  origin = createServer(originRoutes);
  originUrl = `http://127.0.0.1:${await listen(origin, "127.0.0.1")}`;
  const tls = selfSignedCertificate([CDN_HOST, "replicate.delivery", "*.replicate.delivery"]);
  cdnCert = tls.cert;
  cdn = createHttpsServer(tls, (req, res) => {
    if (req.url?.startsWith("/redirect")) {
      const to = new URL(req.url, "https://cdn").searchParams.get("to") ?? "/";
      return res.writeHead(302, { location: to }).end();
    }
    res.writeHead(200, { "content-type": "image/png" }).end(image);
  });
  const cdnPort = await listen(cdn as unknown as Server, "127.0.0.3");
  hostile = await startHostileServer("127.0.0.2");
  hostileOnSameIp = await startHostileServer("127.0.0.1");
  guard = installLoopbackOnly({ nat: { [PRETEND_PUBLIC]: "127.0.0.3" }, natPort: cdnPort });
});

afterAll(async () => {
  guard?.uninstall();
  await Promise.all([hostile?.close(), hostileOnSameIp?.close()]);
  origin?.closeAllConnections();
  cdn?.closeAllConnections();
  await Promise.all([
    new Promise((resolve) => origin?.close(resolve)),
    new Promise((resolve) => cdn?.close(resolve)),
  ]);
});

afterEach(() => {
  // Whatever a test did, nothing may have tried to leave loopback, and no hostile server was reached.
  expect(guard.violations).toEqual([]);
  expect(hostile.requests).toEqual([]);
  expect(hostileOnSameIp.requests).toEqual([]);
  guard.connections.length = 0;
});

const sources = (): OutputSources => ({ deliveryHosts: KLING_DELIVERY_HOSTS, apiOrigin: originUrl });

/** A fetcher whose resolver answers from `table` and counts its calls; every name it is not given fails. */
function fetcherWith(table: Record<string, string[]> = {}, options: OutputFetcherOptions = {}) {
  const asked: string[] = [];
  const resolve = async (hostname: string): Promise<LookupAddress[]> => {
    asked.push(hostname);
    const answer = table[hostname];
    if (!answer) throw Object.assign(new Error(`ENOTFOUND ${hostname}`), { code: "ENOTFOUND" });
    return answer.map((address) => ({ address, family: address.includes(":") ? 6 : 4 }));
  };
  const fetchOutput = createOutputFetcher({ resolve, ca: cdnCert, ...options });
  return { asked, fetch: (url: string) => fetchOutput(url, sources(), AbortSignal.timeout(30_000)) };
}

async function failureOf(promise: Promise<unknown>): Promise<OutputFetchError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error, "the fetch should have failed").toMatchObject({ name: "OutputFetchError" });
  return error as OutputFetchError;
}

describe("addressKind", () => {
  it.each([
    ["8.8.8.8", "public"],
    ["2606:4700:4700::1111", "public"],
    ["127.0.0.2", "loopback"],
    ["::1", "loopback"],
    ["10.0.0.1", "private"],
    ["172.16.5.4", "private"],
    ["192.168.1.1", "private"],
    ["169.254.169.254", "link-local"],
    ["fe80::1", "link-local"],
    ["100.64.0.1", "shared (CGNAT)"],
    ["224.0.0.251", "multicast"],
    ["ff02::1", "multicast"],
    ["0.0.0.0", "unspecified"],
    ["::", "unspecified"],
    ["::ffff:169.254.169.254", "IPv4-mapped IPv6"],
    ["[::ffff:7f00:1]", "IPv4-mapped IPv6"],
    ["fd00:ec2::254", "unique-local IPv6"],
    ["255.255.255.255", "reserved"],
    ["2001:db8::1", "reserved"],
    ["64:ff9b::a9fe:a9fe", "reserved"],
  ])("%s is %s", (address, kind) => {
    expect(addressKind(address)).toBe(kind);
  });
});

describe("judgeSource", () => {
  const judge = (url: string) => judgeSource(new URL(url), sources());
  it("trusts the configured API origin exactly, http included, and nothing beside it", () => {
    expect(judge(`${originUrl}/results/1.png`)).toEqual({ allowed: true, trust: "api-origin" });
    expect(judge(`${originUrl.replace("127.0.0.1", "localhost")}/x.png`).allowed).toBe(false);
    expect(judge(`${originUrl.replace(/\d+$/, "1")}/x.png`).allowed).toBe(false);
    expect(judge(`${originUrl.replace("http:", "https:")}/x.png`).allowed).toBe(false);
  });
  it("takes delivery hosts over https on the https port only", () => {
    expect(judge("https://cdn.klingai.com/a.png")).toEqual({ allowed: true, trust: "delivery-host" });
    expect(judge("https://s15-kling.klingai.com./a.png")).toEqual({ allowed: true, trust: "delivery-host" });
    expect(judge("http://cdn.klingai.com/a.png")).toMatchObject({
      allowed: false,
      reason: /http: is not https/,
    });
    expect(judge("https://cdn.klingai.com:8443/a.png")).toMatchObject({
      allowed: false,
      reason: /port 8443/,
    });
    expect(judge("https://user:pw@cdn.klingai.com/a.png")).toMatchObject({ reason: /credentials/ });
  });
  it("refuses look-alike hosts and IP literals", () => {
    for (const url of [
      "https://evilklingai.com/a.png",
      "https://klingai.com.evil.example/a.png",
      "https://10.0.0.1/a.png",
      "https://[::1]/a.png",
    ]) {
      expect(judge(url), url).toMatchObject({ allowed: false, reason: /neither a delivery host/ });
    }
  });
});

describe("the output fetcher", () => {
  it("downloads at most maxInFlight outputs at once; the rest wait for a slot, or give up with their signal", async () => {
    const fetchOutput = createOutputFetcher({ maxInFlight: 2 });
    slow.most = 0;
    const all = await Promise.all(
      Array.from({ length: 6 }, () =>
        fetchOutput(`${originUrl}/slow.png`, sources(), AbortSignal.timeout(10_000)),
      ),
    );
    expect(all.every((bytes) => bytes.equals(image))).toBe(true);
    expect(slow.most).toBe(2);

    const held = fetchOutput(`${originUrl}/slow.png`, sources(), AbortSignal.timeout(10_000));
    const held2 = fetchOutput(`${originUrl}/slow.png`, sources(), AbortSignal.timeout(10_000));
    const error = await failureOf(fetchOutput(`${originUrl}/ok.png`, sources(), AbortSignal.timeout(50)));
    expect([error.failure, error.reason]).toEqual(["timeout", expect.stringMatching(/no download slot/)]);
    await Promise.all([held, held2]);
    expect(
      (await fetchOutput(`${originUrl}/ok.png`, sources(), AbortSignal.timeout(5_000))).equals(image),
    ).toBe(true);
  });

  it("fetches from the configured API origin over http (an emulator or the operator's proxy)", async () => {
    const { fetch, asked } = fetcherWith();
    expect((await fetch(`${originUrl}/ok.png`)).equals(image)).toBe(true);
    expect(asked).toEqual([]);
  });

  it("fetches from a delivery host at the address it checked, resolving once (no DNS-rebinding gap)", async () => {
    let calls = 0;
    // First answer public, every later one the hostile server: a rebinding resolver.
    const resolve = async (): Promise<LookupAddress[]> => [
      { address: calls++ === 0 ? PRETEND_PUBLIC : "127.0.0.2", family: 4 },
    ];
    const fetchOutput = createOutputFetcher({ resolve, ca: cdnCert });
    const bytes = await fetchOutput(`https://${CDN_HOST}/result.png`, sources(), AbortSignal.timeout(10_000));
    expect(bytes.equals(image)).toBe(true);
    expect(calls).toBe(1);
    expect(guard.connections).toEqual([{ host: CDN_HOST, address: PRETEND_PUBLIC, port: expect.anything() }]);
  });

  it("refuses http: on a delivery host before resolving or connecting", async () => {
    const { fetch, asked } = fetcherWith({ [CDN_HOST]: [PRETEND_PUBLIC] });
    const error = await failureOf(fetch(`http://${CDN_HOST}/result.png`));
    expect([error.failure, error.reason]).toEqual(["refused", expect.stringMatching(/http: is not https:/)]);
    expect(asked).toEqual([]);
    expect(guard.connections).toEqual([]);
  });

  it("refuses another loopback address, and the API origin's address on another port", async () => {
    const { fetch } = fetcherWith();
    for (const url of [`${hostile.url}/internal/secret.png`, `${hostileOnSameIp.url}/internal/secret.png`]) {
      const error = await failureOf(fetch(url));
      expect([error.failure, error.reason]).toEqual([
        "refused",
        expect.stringMatching(/neither a delivery host/),
      ]);
    }
    expect(guard.connections).toEqual([]);
  });

  it.each([
    "https://10.0.0.1/x.png",
    "http://169.254.169.254/latest/meta-data/iam/security-credentials/",
    "https://[::1]/x.png",
    "https://[::ffff:127.0.0.1]/x.png",
    "https://[fd00::1]/x.png",
    "https://100.64.0.1/x.png",
    "https://2130706433/x.png",
  ])("refuses %s before any connection", async (url) => {
    const { fetch, asked } = fetcherWith();
    expect((await failureOf(fetch(url))).failure).toBe("refused");
    expect(asked).toEqual([]);
    expect(guard.connections).toEqual([]);
  });

  it.each([
    ["10.0.0.1", "private"],
    ["192.168.0.10", "private"],
    ["169.254.169.254", "link-local"],
    ["127.0.0.2", "loopback"],
    ["100.100.100.200", "shared (CGNAT)"],
    ["239.1.2.3", "multicast"],
    ["0.0.0.0", "unspecified"],
    ["::ffff:10.0.0.1", "IPv4-mapped IPv6"],
    ["fd12:3456::1", "unique-local IPv6"],
    ["fe80::1", "link-local"],
    ["::1", "loopback"],
  ])("refuses a delivery host that resolves to %s (%s) without connecting", async (address, kind) => {
    const { fetch, asked } = fetcherWith({ [CDN_HOST]: [address] });
    const error = await failureOf(fetch(`https://${CDN_HOST}/result.png`));
    expect(error.failure).toBe("refused");
    expect(error.reason).toBe(`${CDN_HOST} resolves to ${address} (${kind})`);
    expect(asked).toEqual([CDN_HOST]);
    expect(guard.connections).toEqual([]);
  });

  it("refuses a host with one public and one private address", async () => {
    const { fetch } = fetcherWith({ [CDN_HOST]: [PRETEND_PUBLIC, "10.1.2.3"] });
    const error = await failureOf(fetch(`https://${CDN_HOST}/result.png`));
    expect(error.reason).toMatch(/resolves to 10\.1\.2\.3 \(private\)/);
    expect(guard.connections).toEqual([]);
  });

  describe("redirects, judged again at every hop", () => {
    it("follows one to another allowed place", async () => {
      const { fetch } = fetcherWith({ [CDN_HOST]: [PRETEND_PUBLIC] });
      const toCdn = encodeURIComponent(`https://${CDN_HOST}/moved.png`);
      expect((await fetch(`${originUrl}/redirect?to=${toCdn}`)).equals(image)).toBe(true);
      expect((await fetch(`${originUrl}/redirect?to=/ok.png`)).equals(image)).toBe(true);
    });

    it("refuses one to another loopback address without asking it", async () => {
      const { fetch } = fetcherWith();
      const to = encodeURIComponent(`${hostile.url}/internal/secret.png`);
      const error = await failureOf(fetch(`${originUrl}/redirect?to=${to}`));
      expect(error.reason).toMatch(
        new RegExp(
          `^${hostile.url}/internal/secret\\.png: host 127\\.0\\.0\\.2 .*; reached by a redirect from ${originUrl}/redirect$`,
        ),
      );
    });

    it("refuses one from a delivery host to a name of its zone that resolves to the metadata service", async () => {
      const table = { [CDN_HOST]: [PRETEND_PUBLIC], "metadata.klingai.com": ["169.254.169.254"] };
      const inside = encodeURIComponent("https://metadata.klingai.com/latest/meta-data/");
      const error = await failureOf(fetcherWith(table).fetch(`https://${CDN_HOST}/redirect?to=${inside}`));
      expect(error.reason).toBe(
        `metadata.klingai.com resolves to 169.254.169.254 (link-local); reached by a redirect from https://${CDN_HOST}/redirect`,
      );
      expect(guard.connections.map((c) => c.address)).toEqual([PRETEND_PUBLIC]);
    });

    it("stops after the bounded number of hops", async () => {
      const { fetch } = fetcherWith();
      const error = await failureOf(fetch(`${originUrl}/loop`));
      expect([error.failure, error.reason]).toEqual([
        "refused",
        expect.stringMatching(/more than 3 redirects/),
      ]);
    });
  });

  describe("the body", () => {
    it("is refused from its declared length, before it is read", async () => {
      const started = Date.now();
      const error = await failureOf(fetcherWith().fetch(`${originUrl}/declared`));
      expect([error.failure, error.reason]).toEqual([
        "too-large",
        expect.stringMatching(/declares 314572800/),
      ]);
      expect(Date.now() - started).toBeLessThan(2_000);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(sent.declared).toBeLessThan(MAX_OUTPUT_BYTES / 2);
    });

    it("is cut at the cap while it streams, whatever the headers say", async () => {
      const error = await failureOf(fetcherWith().fetch(`${originUrl}/endless`));
      expect([error.failure, error.reason]).toEqual(["too-large", expect.stringMatching(/cap reached/)]);
      await new Promise((resolve) => setTimeout(resolve, 50));
      expect(sent.endless).toBeGreaterThan(MAX_OUTPUT_BYTES);
      expect(sent.endless).toBeLessThan(MAX_OUTPUT_BYTES + 16 * 1024 * 1024);
    });

    it("ends at the deadline, dripping or silent", async () => {
      for (const path of ["/drip", "/silent"]) {
        const started = Date.now();
        const error = await failureOf(fetcherWith({}, { deadlineMs: 400 }).fetch(`${originUrl}${path}`));
        expect([error.failure, error.reason]).toEqual(["timeout", expect.stringMatching(/within 400 ms/)]);
        expect(Date.now() - started).toBeLessThan(1_500);
      }
    });

    it("tells an expired output from a vendor hiccup", async () => {
      expect((await failureOf(fetcherWith().fetch(`${originUrl}/gone`))).failure).toBe("gone");
      expect((await failureOf(fetcherWith().fetch(`${originUrl}/broken`))).failure).toBe("unavailable");
    });
  });
});
