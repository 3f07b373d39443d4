import { ProviderError } from "@/lib/providers/types";
import type { KlingClient } from "./client";
import { KLING_MESSAGES, MIN_RETRY_AFTER_MS } from "./errors";
import { createdAtMs } from "./schemas";

/** Kling's largest page (`pageSize` 1–500). */
export const LOOKUP_PAGE_SIZE = 500;
/** Past this many pages (10,000 tasks) without reaching the submit's time, the lookup cannot answer. */
export const MAX_LOOKUP_PAGES = 20;
/** Kling's `created_at` is by Kling's clock: look a little further back than our own `since`. */
const CLOCK_SLACK_MS = 10 * 60_000;

export interface TaskLookup {
  client: KlingClient;
  /** The kind's path, e.g. `/v1/images/generations`: one list per kind. */
  path: string;
  idempotencyKey: string;
  /** When the submit being looked for began (ms epoch). */
  since: number;
  signal: AbortSignal;
}

const cannotTell = (path: string, why: string) =>
  new ProviderError("transient", KLING_MESSAGES.trouble, {
    detail: `Kling GET ${path} (task lookup): ${why}`,
    retryAfterMs: MIN_RETRY_AFTER_MS,
  });

/**
 * Reads the kind's task list page by page for the task whose `external_task_id` is ours. Null only
 * when the lookup is complete: the list ended, or a whole page lies before the submit began (so
 * every later page does too). A list that fails, an entry that cannot be read on the way, or too
 * many pages: it throws, since "not found" would then be a guess.
 */
export async function findTaskByExternalId(lookup: TaskLookup): Promise<{ taskId: string } | null> {
  const { client, path, idempotencyKey, signal } = lookup;
  const oldest = lookup.since - CLOCK_SLACK_MS;
  let unreadable = 0;
  for (let pageNum = 1; pageNum <= MAX_LOOKUP_PAGES; pageNum++) {
    const page = await client.listTasks(path, { pageNum, pageSize: LOOKUP_PAGE_SIZE }, signal);
    if (!page) throw cannotTell(path, `page ${pageNum} is not a list`);
    const found = page.tasks.find((task) => task.task_info?.external_task_id === idempotencyKey);
    if (found) return { taskId: found.task_id };
    unreadable += page.unreadable;
    const ended = page.size < LOOKUP_PAGE_SIZE;
    const times = page.tasks.map(createdAtMs);
    const pageIsOlder =
      page.size > 0 && page.unreadable === 0 && times.every((at) => at !== undefined && at < oldest);
    if (ended || pageIsOlder) {
      if (unreadable > 0) throw cannotTell(path, `${unreadable} entries could not be read`);
      return null;
    }
  }
  throw cannotTell(path, `${MAX_LOOKUP_PAGES} pages read without reaching the submit's time`);
}
