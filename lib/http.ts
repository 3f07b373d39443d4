import { AppError, errorResponse } from "@/lib/errors";

type Method = "GET" | "POST" | "PUT" | "PATCH" | "DELETE";

/**
 * Handlers for the methods a route does not serve, answering 405 `{ error, code }` with an Allow
 * header (Next's own 405 has no body). Spread into the route's exports.
 */
export function otherMethods(...allowed: Method[]): Record<Method, () => Response> {
  const refuse = () =>
    errorResponse(
      new AppError("method_not_allowed", `This address only accepts ${allowed.join(" and ")} requests.`, {
        headers: { Allow: allowed.join(", ") },
      }),
    );
  return { GET: refuse, POST: refuse, PUT: refuse, PATCH: refuse, DELETE: refuse };
}
