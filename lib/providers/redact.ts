/**
 * A function that blanks every given secret (an API key, a token) out of a text before it goes into
 * an error's `detail` or a log line; empty secrets are ignored.
 */
export function redactor(...secrets: Array<string | undefined>): (text: string) => string {
  const present = secrets.filter((secret): secret is string => Boolean(secret));
  return (text) => present.reduce((redacted, secret) => redacted.split(secret).join("[redacted]"), text);
}
