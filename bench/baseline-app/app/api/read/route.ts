import Database from "better-sqlite3";
import { NextResponse } from "next/server";
import { createClient } from "redis";

export const runtime = "nodejs";
export const dynamic = "force-dynamic";

/**
 * The bench's baseline: the least a status route can do — one store read of a key, answered as JSON.
 * The bench starts this app with BASELINE_REDIS_URL (one Redis GET) or BASELINE_SQLITE_FILE (one
 * SQLite SELECT on the app's own jobs table); it reads the same record the app's status route reads.
 */

type Reader = (key: string) => Promise<string | null>;

const holder = globalThis as typeof globalThis & { __baselineReader?: Reader };

function createReader(): Reader {
  const redisUrl = process.env.BASELINE_REDIS_URL;
  if (redisUrl) {
    const client = createClient({ url: redisUrl });
    const ready = client.connect();
    return async (key) => {
      await ready;
      const value = await client.get(key);
      return typeof value === "string" ? value : null;
    };
  }
  const file = process.env.BASELINE_SQLITE_FILE;
  if (!file) throw new Error("Set BASELINE_REDIS_URL or BASELINE_SQLITE_FILE");
  const select = new Database(file).prepare<[string], { data: string }>("SELECT data FROM jobs WHERE id = ?");
  return async (key) => select.get(key)?.data ?? null;
}

export async function GET(request: Request) {
  const key = new URL(request.url).searchParams.get("key");
  if (!key) return NextResponse.json({ error: "key is required" }, { status: 400 });
  holder.__baselineReader ??= createReader();
  const raw = await holder.__baselineReader(key);
  if (raw === null) return NextResponse.json({ error: "not found" }, { status: 404 });
  return NextResponse.json(JSON.parse(raw), { headers: { "Cache-Control": "no-store" } });
}
