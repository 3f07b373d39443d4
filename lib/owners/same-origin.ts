import { AppError } from "@/lib/errors";

/**
 * Refuses a state-changing request that a browser sent from another site: the owner cookie is
 * `SameSite=Lax`, which still rides along on a top-level cross-site form POST. Browsers send
 * `Origin` on every POST and DELETE, so a request without one is not a browser's (it carries a
 * cookie only if its sender already has it); `Sec-Fetch-Site: cross-site` is refused too.
 */
export function refuseCrossSite(request: Request): void {
  const origin = request.headers.get("origin");
  const fetchSite = request.headers.get("sec-fetch-site");
  const own = new URL(request.url);
  const host = request.headers.get("host") ?? own.host;
  let sameOrigin = true;
  if (origin !== null) {
    try {
      sameOrigin = new URL(origin).host === host;
    } catch {
      sameOrigin = false;
    }
  }
  if (!sameOrigin || fetchSite === "cross-site") {
    throw new AppError("cross_site_request", "This request came from another site and was refused.");
  }
}
