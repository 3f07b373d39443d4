import path from "node:path";
import { describe, expect, it } from "vitest";
import { parseConfig } from "@/lib/config";
import { ConfigError } from "@/lib/failures";

describe("parseConfig", () => {
  it("runs offline with nothing set: SQLite under .data, local blobs, no vendors", () => {
    const config = parseConfig({});
    expect(config.store).toEqual({ kind: "sqlite", file: path.resolve(".data/jobs.db") });
    expect(config.blobs).toEqual({ kind: "local", dir: path.resolve(".data/blobs") });
    expect([config.openai, config.kling, config.replicate]).toEqual([null, null, null]);
    expect(config.jobTtlSeconds).toBe(86_400);
    expect(config.retentionSweepSeconds).toBe(300);
  });

  it("takes a Vercel Blob store as private unless BLOB_ACCESS says public, and refuses anything else", () => {
    const token = "vercel_blob_rw_Store1_secret";
    expect(parseConfig({ BLOB_READ_WRITE_TOKEN: token }).blobs).toEqual({
      kind: "vercel-blob",
      token,
      access: "private",
      apiUrl: undefined,
    });
    expect(parseConfig({ BLOB_READ_WRITE_TOKEN: token, BLOB_ACCESS: "" }).blobs).toMatchObject({
      access: "private",
    });
    expect(parseConfig({ BLOB_READ_WRITE_TOKEN: token, BLOB_ACCESS: "public" }).blobs).toMatchObject({
      access: "public",
    });
    expect(() => parseConfig({ BLOB_READ_WRITE_TOKEN: token, BLOB_ACCESS: "secret" })).toThrow(/BLOB_ACCESS/);
  });

  it("treats the blank values of .env.example as unset", () => {
    const config = parseConfig({ JOB_TTL_SECONDS: "", DATA_DIR: " ", REDIS_URL: "", START_RATE_LIMIT: "" });
    expect(config.jobTtlSeconds).toBe(86_400);
    expect(config.store.kind).toBe("sqlite");
    expect(config.startRateLimit.max).toBe(10);
  });

  it("prefers Upstash REST over REDIS_URL, under either pair of names", () => {
    expect(
      parseConfig({ KV_REST_API_URL: "https://kv", KV_REST_API_TOKEN: "t", REDIS_URL: "redis://x" }).store,
    ).toEqual({ kind: "upstash", url: "https://kv", token: "t" });
    expect(
      parseConfig({ UPSTASH_REDIS_REST_URL: "https://u", UPSTASH_REDIS_REST_TOKEN: "t" }).store.kind,
    ).toBe("upstash");
    expect(parseConfig({ REDIS_URL: "redis://127.0.0.1:6379" }).store).toEqual({
      kind: "redis",
      url: "redis://127.0.0.1:6379",
    });
  });

  it("keeps the in-memory OpenAI fallback off unless asked, and refuses it in production on a shared store", () => {
    const openai = { OPENAI_API_KEY: "sk" };
    expect(parseConfig(openai).openai?.plainFallback).toBe(false);
    expect(parseConfig({ ...openai, OPENAI_PLAIN_FALLBACK: "1" }).openai?.plainFallback).toBe(true);
    expect(() => parseConfig({ ...openai, OPENAI_PLAIN_FALLBACK: "yes" })).toThrow(/OPENAI_PLAIN_FALLBACK/);
    const production = { ...openai, OPENAI_PLAIN_FALLBACK: "1", NODE_ENV: "production" };
    expect(() => parseConfig({ ...production, REDIS_URL: "redis://127.0.0.1:6379" })).toThrow(
      /OPENAI_PLAIN_FALLBACK is for development or a single-process server/,
    );
    // One process with the embedded store: every poll reaches the memory the fallback uses.
    expect(parseConfig(production).openai?.plainFallback).toBe(true);
  });

  it("refuses half a pair, naming the missing variable", () => {
    expect(() => parseConfig({ KLING_ACCESS_KEY: "ak" })).toThrow(
      new ConfigError("KLING_SECRET_KEY is not set (KLING_ACCESS_KEY is): set both or neither."),
    );
    expect(() => parseConfig({ KV_REST_API_TOKEN: "t" })).toThrow(/KV_REST_API_URL is not set/);
  });

  it("refuses a malformed number, naming the variable", () => {
    expect(() => parseConfig({ JOB_TTL_SECONDS: "soon" })).toThrow(/JOB_TTL_SECONDS/);
  });

  it("flags Vercel without a shared store, but not Vercel with KV", () => {
    expect(parseConfig({ VERCEL: "1" }).onVercelWithoutKv).toBe(true);
    expect(parseConfig({ VERCEL: "1", REDIS_URL: "redis://r" }).onVercelWithoutKv).toBe(false);
  });

  it("accepts each vendor's base URL in its own documented form, with or without /v1 and a slash", () => {
    const replicate = (base: string) =>
      parseConfig({ REPLICATE_API_TOKEN: "r", REPLICATE_API_BASE_URL: base }).replicate?.baseUrl;
    for (const base of [
      "http://127.0.0.1:9/v1",
      "http://127.0.0.1:9/v1/",
      "http://127.0.0.1:9",
      "http://127.0.0.1:9/",
    ]) {
      expect(replicate(base)).toBe("http://127.0.0.1:9");
    }
    expect(parseConfig({ REPLICATE_API_TOKEN: "r" }).replicate?.baseUrl).toBe("https://api.replicate.com");

    const kling = (base: string) =>
      parseConfig({ KLING_ACCESS_KEY: "a", KLING_SECRET_KEY: "s", KLING_API_BASE_URL: base }).kling?.baseUrl;
    expect(kling("https://api.klingai.com/")).toBe("https://api.klingai.com");
    expect(kling("https://api.klingai.com/v1")).toBe("https://api.klingai.com");

    const openai = (base: string) =>
      parseConfig({ OPENAI_API_KEY: "k", OPENAI_BASE_URL: base }).openai?.baseURL;
    expect(openai("https://api.openai.com/v1/")).toBe("https://api.openai.com/v1");
    expect(openai("https://api.openai.com")).toBe("https://api.openai.com/v1");
    expect(openai("http://127.0.0.1:8000/openai/v1")).toBe("http://127.0.0.1:8000/openai/v1");
  });

  it("defaults the face swap to a model version Replicate can run", () => {
    expect(parseConfig({ REPLICATE_API_TOKEN: "r" }).replicate).toMatchObject({
      model: expect.stringMatching(/^codeplugtech\/face-swap:[0-9a-f]{64}$/),
      targetField: "input_image",
      faceField: "swap_image",
    });
  });
});
