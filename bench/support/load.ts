import autocannon from "autocannon";
import { type Summary, summarize } from "./stats";

/** One autocannon run. Latencies are kept exactly (autocannon's own histogram rounds to whole ms). */
export interface LoadOptions {
  url: string;
  connections: number;
  /** Seconds to run; or `amount` requests in all. */
  durationS?: number;
  amount?: number;
  /** Requests per second across all connections (open model); unset = as fast as answers come. */
  overallRate?: number;
  method?: "GET" | "POST";
  body?: Buffer;
  headers?: Record<string, string>;
  /** Builds each request's path (round-robin over jobs, say). */
  nextPath?: () => string;
  /** Seconds before a request counts as timed out. */
  timeoutS?: number;
}

export interface LoadResult {
  /** Answers of every status. */
  responses: number;
  seconds: number;
  /** 2xx answers per second. */
  rps: number;
  latency: Summary;
  non2xx: number;
  errors: number;
  timeouts: number;
  /** Every 2xx latency (ms), for merging runs; left out of the JSON report. */
  samples: number[];
}

export interface ResponseSample {
  /** ms since the run began, when the answer arrived. */
  at: number;
  latencyMs: number;
  status: number;
}

export async function runLoad(
  options: LoadOptions,
  onResponse?: (sample: ResponseSample) => void,
): Promise<LoadResult> {
  const latencies: number[] = [];
  let ok = 0;
  let non2xx = 0;
  const nextPath = options.nextPath;
  const startedAt = performance.now();
  const onAnswer = (statusCode: number, responseTime: number) => {
    if (statusCode >= 200 && statusCode < 300) {
      ok++;
      latencies.push(responseTime);
    } else {
      non2xx++;
    }
    onResponse?.({ at: performance.now() - startedAt, latencyMs: responseTime, status: statusCode });
  };
  const config: autocannon.Options = {
    url: options.url,
    connections: options.connections,
    duration: options.durationS ?? 10,
    amount: options.amount,
    overallRate: options.overallRate,
    method: options.method ?? "GET",
    body: options.body,
    headers: options.headers,
    timeout: options.timeoutS ?? 30,
    requests: nextPath ? [{ setupRequest: (request) => ({ ...request, path: nextPath() }) }] : undefined,
  };
  const result = await new Promise<autocannon.Result>((resolve, reject) => {
    const instance = autocannon(config, (error, done) => (error ? reject(error) : resolve(done)));
    instance.on("response", (_client, statusCode, _bytes, responseTime) =>
      onAnswer(statusCode, responseTime),
    );
  });
  const seconds = (performance.now() - startedAt) / 1000;
  return {
    responses: ok + non2xx,
    seconds,
    rps: ok / seconds,
    latency: summarize(latencies),
    non2xx,
    errors: result.errors,
    timeouts: result.timeouts,
    samples: latencies,
  };
}

/** Adds runs of the same target together (rounds interleaved with the baseline's). */
export function mergeLoads(runs: readonly LoadResult[]): LoadResult {
  const samples = runs.flatMap((run) => run.samples);
  const seconds = runs.reduce((sum, run) => sum + run.seconds, 0);
  const ok = runs.reduce((sum, run) => sum + run.responses - run.non2xx, 0);
  return {
    responses: runs.reduce((sum, run) => sum + run.responses, 0),
    seconds,
    rps: ok / seconds,
    latency: summarize(samples),
    non2xx: runs.reduce((sum, run) => sum + run.non2xx, 0),
    errors: runs.reduce((sum, run) => sum + run.errors, 0),
    timeouts: runs.reduce((sum, run) => sum + run.timeouts, 0),
    samples,
  };
}

/** A run as the report shows it: no raw samples. */
export function reportLoad({ samples: _, ...rest }: LoadResult): Omit<LoadResult, "samples"> {
  return rest;
}
