/**
 * Runs one vendor call with the caller's signal and a deadline of its own: aborted by whichever comes
 * first, with a `TimeoutError` at the deadline (as `AbortSignal.timeout` gives).
 *
 * A timer and a controller, not `AbortSignal.any([signal, AbortSignal.timeout(ms)])`: on Node 20 that
 * composite holds its timeout signal weakly, and a garbage collection during the call loses the
 * deadline: the call then waits as long as the vendor does (seen on 20.20.2 with a forced gc() while
 * a fetch waited on a silent server; tests/unit/provider-helpers.test.ts holds this one to its time).
 */
export async function withDeadline<T>(
  signal: AbortSignal,
  ms: number,
  run: (signal: AbortSignal) => Promise<T>,
): Promise<T> {
  const deadline = new AbortController();
  const timer = setTimeout(
    () => deadline.abort(new DOMException(`no answer within ${ms} ms`, "TimeoutError")),
    ms,
  );
  try {
    return await run(AbortSignal.any([signal, deadline.signal]));
  } finally {
    clearTimeout(timer);
  }
}
