import { NextResponse } from "next/server";
import { errorResponse } from "@/lib/errors";
import { otherMethods } from "@/lib/http";
import { clientKeyOf } from "@/lib/request";
import { issueUploadToken } from "@/lib/uploads/issue-upload-token";
import { getParts } from "@/lib/wiring/parts";

export const runtime = "nodejs";
export const { GET, PUT, PATCH, DELETE } = otherMethods("POST");

/** The token route of `upload()` from @vercel/blob/client: one short-lived token per allowed photo. */
export async function POST(request: Request) {
  try {
    const parts = getParts();
    const answer = await issueUploadToken(parts, request, clientKeyOf(request, parts.config.clientAddress));
    return NextResponse.json(answer, { headers: { "Cache-Control": "no-store" } });
  } catch (error) {
    return errorResponse(error);
  }
}
