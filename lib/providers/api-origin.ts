/** The origin (scheme, host, port) of a configured base URL, or null when it cannot be parsed. */
export function apiOriginOf(baseUrl: string): string | null {
  return URL.canParse(baseUrl) ? new URL(baseUrl).origin : null;
}
