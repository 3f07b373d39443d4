// POST /api/uploads: the token route of Vercel Blob direct uploads, one short-lived token per photo.
import { NextResponse } from "next/server";
import { route } from "@/lib/http";
import { clientKeyOf } from "@/lib/request";
import { issueUploadToken } from "@/lib/uploads/issue-upload-token";
import { getParts } from "@/lib/wiring/parts";

export const runtime = "nodejs";
export const maxDuration = 30;

/** The token route of `upload()` from @vercel/blob/client: one short-lived token per allowed photo. */
async function issueToken(request: Request) {
  const parts = getParts();
  return NextResponse.json(
    await issueUploadToken(parts, request, clientKeyOf(request, parts.config.clientAddress)),
  );
}

export const { GET, POST, PUT, PATCH, DELETE } = route({ POST: issueToken });
