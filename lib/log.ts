/** Causes followed at most this deep: a cycle (`a.cause = a`) must not hang a log line. */
const MAX_CAUSES = 5;

function describeOne(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const code = (error as { code?: unknown }).code;
  const head =
    typeof code === "string" && !error.message.includes(code) ? `${error.name} ${code}` : error.name;
  const text = error.message ? `${head}: ${error.message}` : head;
  // Node's connect errors are AggregateErrors (one per address tried) whose own message is empty.
  return error instanceof AggregateError && error.errors.length > 0
    ? `${text} [${error.errors.map(describeOne).join("; ")}]`
    : text;
}

/**
 * An error and its chain of causes on one line, `Name: message ← Cause: message`, without stacks:
 * what an operator needs to tell a timeout from a refused connection or a refused command.
 */
export function describeError(error: unknown): string {
  const parts: string[] = [];
  let current: unknown = error;
  for (let depth = 0; depth <= MAX_CAUSES && current != null; depth++) {
    parts.push(describeOne(current));
    current = current instanceof Error ? current.cause : undefined;
  }
  return parts.join(" ← ");
}

/**
 * One structured log line per event: what operators grep for, never shown to the browser. An Error
 * in the fields is written with its causes (describeError), not as `{}`.
 */
export function logEvent(event: string, fields: Record<string, unknown> = {}): void {
  const rendered = Object.fromEntries(
    Object.entries(fields).map(([name, value]) => [
      name,
      value instanceof Error ? describeError(value) : value,
    ]),
  );
  console.log(JSON.stringify({ at: new Date().toISOString(), event, ...rendered }));
}
