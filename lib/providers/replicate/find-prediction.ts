import { ProviderError } from "@/lib/providers/types";
import type { ReplicateClient } from "./client";
import { REPLICATE_MESSAGES } from "./errors";

/** The query parameter of our webhook URL that names the submit (see `webhookWithKey`). */
export const WEBHOOK_KEY_PARAM = "idempotency_key";
/** Past this many pages (2,000 predictions since the submit) the lookup cannot answer. */
export const MAX_LOOKUP_PAGES = 20;
/** `created_at` is by Replicate's clock: look a little further back than our own `since`. */
const CLOCK_SLACK_MS = 10 * 60_000;

/** Our webhook URL with the submit's idempotency key in it, so a delivery names its submit. */
export function webhookWithKey(webhook: string, idempotencyKey: string): string {
  const url = new URL(webhook);
  url.searchParams.set(WEBHOOK_KEY_PARAM, idempotencyKey);
  return url.toString();
}

function keyOfWebhook(webhook: unknown): string | null {
  if (typeof webhook !== "string") return null;
  try {
    return new URL(webhook).searchParams.get(WEBHOOK_KEY_PARAM);
  } catch {
    return null;
  }
}

const cannotTell = (why: string) =>
  new ProviderError("transient", REPLICATE_MESSAGES.hiccup, {
    detail: `replicate GET /v1/predictions (prediction lookup): ${why}`,
  });

export interface PredictionLookup {
  client: ReplicateClient;
  idempotencyKey: string;
  /** Whether that submit's create carried a webhook (and so the key in its URL). */
  hadWebhook: boolean;
  since: number;
  signal: AbortSignal;
}

/**
 * What Replicate's documents guarantee: `GET /v1/predictions` lists every prediction of the
 * token's account, newest first, and `created_after` keeps those made since the submit began; its
 * items (the prediction object of the HTTP reference) carry no idempotency key and no `webhook`.
 * Replicate's own JS client types an optional `webhook` on them, so when an item shows one we read
 * our key back from its URL. Hence null only when nothing at all was created since the submit, or
 * when every prediction since shows its webhook and none is ours (which needs our create to have
 * had one); otherwise it throws: "cannot tell", never a guess.
 */
export async function findPredictionByKey(lookup: PredictionLookup): Promise<{ taskId: string } | null> {
  const { client, idempotencyKey, signal } = lookup;
  const createdAfter = new Date(lookup.since - CLOCK_SLACK_MS).toISOString();
  let query = `created_after=${encodeURIComponent(createdAfter)}`;
  let seen = 0;
  let withoutWebhook = 0;
  for (let page = 1; page <= MAX_LOOKUP_PAGES; page++) {
    const listed = await client.listPredictions(query, signal);
    if (!listed) throw cannotTell(`page ${page} is not a prediction list`);
    for (const item of listed.results) {
      if (keyOfWebhook(item.webhook) === idempotencyKey) return { taskId: item.id };
      seen += 1;
      if (!("webhook" in item)) withoutWebhook += 1;
    }
    const next = listed.next;
    if (next) {
      // Only the cursor is taken from `next`: requests go to our configured base, nowhere else.
      query = new URL(next, "https://api.replicate.com").search.slice(1);
      continue;
    }
    if (seen === 0) return null;
    if (lookup.hadWebhook && withoutWebhook === 0) return null;
    throw cannotTell(
      lookup.hadWebhook
        ? `${withoutWebhook} of the ${seen} predictions since the submit show no webhook to know ours by`
        : `${seen} predictions since the submit, and its create carried no webhook to know ours by`,
    );
  }
  throw cannotTell(`more than ${MAX_LOOKUP_PAGES} pages of predictions since the submit`);
}
