/** How long a vendor call may take, the same for every adapter (each takes both as options). */

/** A check, lookup or cancel: a quick read; past this the vendor is not answering. */
export const DEFAULT_TIMEOUT_MS = 20_000;
/** A create may take longer to be accepted; an answer this late leaves its outcome unknown. */
export const DEFAULT_CREATE_TIMEOUT_MS = 45_000;
