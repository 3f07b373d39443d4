/** Anything with `get(name)`: the Fetch API's Headers, or the headers an SDK error carries. */
type HeaderSource = { get(name: string): string | null } | undefined;

/**
 * How long a vendor asks us to wait, in ms: OpenAI's own `retry-after-ms`, else `Retry-After` as
 * seconds or as an HTTP date (RFC 9110). Undefined when neither header says anything usable.
 */
export function retryAfterMs(headers: HeaderSource, now = Date.now()): number | undefined {
  const ms = Number.parseFloat(headers?.get("retry-after-ms") ?? "");
  if (Number.isFinite(ms) && ms >= 0) return ms;
  const raw = headers?.get("retry-after")?.trim();
  if (!raw) return undefined;
  const seconds = Number(raw);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1_000);
  const date = Date.parse(raw);
  return Number.isNaN(date) ? undefined : Math.max(0, date - now);
}
