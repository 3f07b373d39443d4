import { promises as dns, type LookupAddress } from "node:dns";
import http, { type IncomingMessage } from "node:http";
import https from "node:https";
import type { LookupFunction } from "node:net";
import { addressKind } from "@/lib/outputs/address-kind";
import { createDownloadSlots } from "@/lib/outputs/download-slots";
import { judgeSource } from "@/lib/outputs/judge-source";
import type { OutputSources } from "@/lib/providers/types";

/** Largest output we download: a 2048 px JPEG is ~1 MB, a lossless 4K PNG ~25 MB. */
export const MAX_OUTPUT_BYTES = 25 * 1024 * 1024;
/** Hops after the first URL; each is judged again before it is requested. */
export const MAX_OUTPUT_REDIRECTS = 3;
/** The whole download (every hop, headers and body) ends by then. */
export const OUTPUT_DEADLINE_MS = 20_000;
/** Downloads in flight per process: 4 × the 25 MB cap bounds what hostile answers can hold at once. */
export const MAX_OUTPUTS_IN_FLIGHT = 4;

/**
 * Why an output could not be fetched. `refused`: the URL, a redirect, an address or the size broke the
 * rules (never retried); `gone`: the vendor no longer has it (403/404/410); `unavailable` and `timeout`:
 * worth another try.
 */
export type OutputFetchFailure = "refused" | "too-large" | "gone" | "unavailable" | "timeout";

export class OutputFetchError extends Error {
  constructor(
    readonly failure: OutputFetchFailure,
    /** For the log: what was refused or failed, and why (no query strings: signed URLs stay out of logs). */
    readonly reason: string,
    options: { cause?: unknown } = {},
  ) {
    super(reason, options);
    this.name = "OutputFetchError";
  }
}

export interface OutputFetcherOptions {
  /** Every address of a host name (default: the system resolver). Tests pass a fake one. */
  resolve?: (hostname: string) => Promise<LookupAddress[]>;
  /** Certificate authorities to trust instead of the system's (tests: a local CA). */
  ca?: string | Buffer;
  maxBytes?: number;
  maxRedirects?: number;
  deadlineMs?: number;
  /** Downloads in flight at once; a later one waits for a slot (within the caller's signal). */
  maxInFlight?: number;
}

export type FetchOutput = (url: string, sources: OutputSources, signal: AbortSignal) => Promise<Buffer>;

const REDIRECT_STATUSES = new Set([301, 302, 303, 307, 308]);

/** A URL as the log may show it: no query or fragment, where signed URLs keep their signatures. */
export function loggableUrl(url: URL | string): string {
  if (typeof url === "string" && !URL.canParse(url)) return JSON.stringify(url.slice(0, 200));
  const parsed = new URL(url);
  return `${parsed.origin}${parsed.pathname}`.slice(0, 300);
}

/** A lookup that answers only the address already checked, so the connection goes exactly there. */
function pinnedLookup(target: LookupAddress): LookupFunction {
  return (_hostname, options, callback) => {
    if (options.all) callback(null, [target]);
    else callback(null, target.address, target.family);
  };
}

function send(url: URL, options: https.RequestOptions): Promise<IncomingMessage> {
  const client = url.protocol === "https:" ? https : http;
  return new Promise((resolve, reject) => {
    const request = client.request(url, options, resolve);
    request.on("error", reject);
    request.end();
  });
}

/** Reads the body, counting while it streams: over `maxBytes` it stops and refuses, whatever was declared. */
async function readCapped(response: IncomingMessage, url: URL, maxBytes: number): Promise<Buffer> {
  const declared = Number(response.headers["content-length"]);
  if (declared > maxBytes) {
    response.destroy();
    throw new OutputFetchError(
      "too-large",
      `${loggableUrl(url)} declares ${declared} bytes (cap ${maxBytes})`,
    );
  }
  const chunks: Buffer[] = [];
  let received = 0;
  for await (const chunk of response) {
    received += (chunk as Buffer).length;
    if (received > maxBytes) {
      response.destroy();
      throw new OutputFetchError(
        "too-large",
        `${loggableUrl(url)} sent over ${maxBytes} bytes (cap reached)`,
      );
    }
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks, received);
}

/**
 * Builds the fetcher for vendor output: only the provider's declared sources, every redirect judged
 * again, delivery hosts reached only at the public address that was checked (no DNS-rebinding gap),
 * the body capped while it streams, and one deadline for all of it.
 */
export function createOutputFetcher(options: OutputFetcherOptions = {}): FetchOutput {
  const resolve =
    options.resolve ?? ((hostname: string) => dns.lookup(hostname, { all: true, verbatim: true }));
  const maxBytes = options.maxBytes ?? MAX_OUTPUT_BYTES;
  const maxRedirects = options.maxRedirects ?? MAX_OUTPUT_REDIRECTS;
  const deadlineMs = options.deadlineMs ?? OUTPUT_DEADLINE_MS;
  const takeSlot = createDownloadSlots(options.maxInFlight ?? MAX_OUTPUTS_IN_FLIGHT);

  /** The one address to connect to, once every address the host has is public. */
  async function publicAddressOf(url: URL): Promise<LookupAddress> {
    const hostname = url.hostname.replace(/\.$/, "");
    let addresses: LookupAddress[];
    try {
      addresses = await resolve(hostname);
    } catch (error) {
      throw new OutputFetchError("unavailable", `DNS lookup of ${hostname} failed: ${String(error)}`, {
        cause: error,
      });
    }
    const first = addresses[0];
    if (!first) throw new OutputFetchError("unavailable", `DNS lookup of ${hostname} found no address`);
    for (const { address } of addresses) {
      const kind = addressKind(address);
      // One non-public answer is enough: a name that also points inside is not a CDN.
      if (kind !== "public") {
        throw new OutputFetchError("refused", `${hostname} resolves to ${address} (${kind})`);
      }
    }
    return first;
  }

  async function request(url: URL, sources: OutputSources, signal: AbortSignal): Promise<IncomingMessage> {
    const verdict = judgeSource(url, sources);
    if (!verdict.allowed) throw new OutputFetchError("refused", `${loggableUrl(url)}: ${verdict.reason}`);
    const pinned = verdict.trust === "delivery-host" ? await publicAddressOf(url) : null;
    return send(url, {
      method: "GET",
      headers: { accept: "image/jpeg, image/png, image/webp" },
      // A fresh connection per hop: a pooled socket could lead to an address checked for another host.
      agent: false,
      signal,
      ...(pinned ? { lookup: pinnedLookup(pinned) } : {}),
      ...(options.ca ? { ca: options.ca } : {}),
    });
  }

  /** The same failure, saying which redirect led there (the log must tell a redirect from a direct URL). */
  function viaRedirect(error: OutputFetchError, from: URL): OutputFetchError {
    const reason = `${error.reason}; reached by a redirect from ${loggableUrl(from)}`;
    return new OutputFetchError(error.failure, reason, { cause: error.cause });
  }

  return async function fetchOutput(rawUrl, sources, signal) {
    if (!URL.canParse(rawUrl)) throw new OutputFetchError("refused", `not a URL: ${loggableUrl(rawUrl)}`);
    const release = await takeSlot(signal).catch((error: unknown) => {
      throw new OutputFetchError("timeout", `${loggableUrl(rawUrl)}: no download slot in time`, {
        cause: error,
      });
    });
    // A timer, not AbortSignal.timeout inside AbortSignal.any: Node 20 can lose that one to GC (deadline.ts).
    const deadline = new AbortController();
    const timer = setTimeout(() => deadline.abort(new DOMException("deadline", "TimeoutError")), deadlineMs);
    const combined = AbortSignal.any([signal, deadline.signal]);
    let url = new URL(rawUrl);
    let from: URL | null = null;
    try {
      for (let hop = 0; ; hop++) {
        const response = await request(url, sources, combined).catch((error: unknown) => {
          throw from && error instanceof OutputFetchError ? viaRedirect(error, from) : error;
        });
        const status = response.statusCode ?? 0;
        const location = response.headers.location;
        if (REDIRECT_STATUSES.has(status) && location) {
          response.destroy();
          if (hop >= maxRedirects) {
            throw new OutputFetchError("refused", `${loggableUrl(url)}: more than ${maxRedirects} redirects`);
          }
          if (!URL.canParse(location, url)) {
            throw new OutputFetchError("refused", `${loggableUrl(url)} redirects to an unreadable location`);
          }
          from = url;
          url = new URL(location, url);
          continue;
        }
        if (status === 200) return await readCapped(response, url, maxBytes);
        response.destroy();
        const failure = status === 403 || status === 404 || status === 410 ? "gone" : "unavailable";
        throw new OutputFetchError(failure, `${loggableUrl(url)} answered HTTP ${status}`);
      }
    } catch (error) {
      if (error instanceof OutputFetchError) throw error;
      if (deadline.signal.aborted) {
        throw new OutputFetchError("timeout", `${loggableUrl(url)}: not done within ${deadlineMs} ms`, {
          cause: error,
        });
      }
      throw new OutputFetchError("unavailable", `${loggableUrl(url)}: ${String(error)}`, { cause: error });
    } finally {
      clearTimeout(timer);
      release();
    }
  };
}
