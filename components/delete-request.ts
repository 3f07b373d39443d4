/** What a delete answered: done (204, or 404: nothing is left to delete), or a message to show. */
export type DeleteOutcome = { ok: true } | { ok: false; message: string };

/**
 * Sends a DELETE to the owner API. A 404 counts as done: the look is gone already (deleted in
 * another tab, or expired), which is what the person asked for.
 */
export async function sendDelete(path: string): Promise<DeleteOutcome> {
  try {
    const response = await fetch(path, { method: "DELETE" });
    if (response.status === 204 || response.status === 404) return { ok: true };
    const body = (await response.json().catch(() => null)) as { error?: unknown } | null;
    const message =
      typeof body?.error === "string" ? body.error : "It could not be deleted. Please try again.";
    return { ok: false, message };
  } catch {
    return { ok: false, message: "We couldn’t reach Style Studio. Check your connection and try again." };
  }
}
