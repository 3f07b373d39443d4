import { NextResponse } from "next/server";
import { AppError, errorResponse } from "@/lib/errors";

/** A verified callback: 200 whatever the nudge does, so the vendor does not retry it (no-store: lib/http.ts). */
export function callbackAccepted(extra: { duplicate?: true; ignored?: true } = {}): NextResponse {
  return NextResponse.json({ ok: true, ...extra });
}

/** 404 for a vendor whose callbacks are not configured (no secret to verify them with). */
export function callbacksDisabled(vendor: string): NextResponse {
  return errorResponse(
    new AppError("callbacks_disabled", `${vendor} callbacks are not enabled on this server.`),
  );
}
