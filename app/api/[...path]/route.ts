// Any other address under /api: a JSON 404 like the rest of the API.
import { AppError, errorResponse } from "@/lib/errors";

export const runtime = "nodejs";

/** Any other address under /api answers JSON like the rest of the API, not Next's HTML 404 page. */
function notFound() {
  return errorResponse(new AppError("not_found", "There is nothing at this address."));
}

export { notFound as GET, notFound as POST, notFound as PUT, notFound as PATCH, notFound as DELETE };
