// POST /api/uploads: the token route of Vercel Blob direct uploads, one short-lived token per photo.
import { NextResponse } from "next/server";
import { route } from "@/lib/http";
import { clientKeyOf } from "@/lib/request";
import { getRuntime } from "@/lib/runtime";
import { issueUploadToken } from "@/lib/uploads/issue-upload-token";

export const runtime = "nodejs";
export const maxDuration = 30;

/** The token route of `upload()` from @vercel/blob/client: one short-lived token per allowed photo. */
async function issueToken(request: Request) {
  const rt = getRuntime();
  return NextResponse.json(
    await issueUploadToken(rt, request, clientKeyOf(request, rt.config.clientAddress)),
  );
}

export const { GET, POST, PUT, PATCH, DELETE } = route({ POST: issueToken });
