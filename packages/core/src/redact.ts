/**
 * Credential redaction for URLs in logs and error messages.
 *
 * Broker URLs carry secrets (user info, tokens in the query), and the URLs that end up in error
 * messages are exactly the ones that went wrong: unparseable, host lists, passwords with an
 * unencoded "/". So redaction must also work on text that is not a valid URL, and errs on the
 * side of hiding too much there.
 */

const MASK = '***';

/** Query keys whose values are secrets (matched anywhere in the key: apiKey, accessToken, sasl.password). */
const SECRET_KEY = /pass|pwd|token|secret|key|credential|auth|sasl|signature|^sig$/i;

/** `scheme://` at the start; anything without it has no reliable authority to keep. */
const SCHEME_PREFIX = /^[a-z][a-z0-9+.-]*:\/\//i;

/**
 * key=value pairs after "?", "&" or "#". In text that did not parse, a value runs to the next "&"
 * (or the end): a "#" or "?" inside it is more likely part of the secret than a new section.
 */
const PAIR = /([?&#])([^=?&#]*)=([^&]*)/g;

function isSecretKey(key: string): boolean {
  let decoded = key;
  try {
    decoded = decodeURIComponent(key.replace(/\+/g, ' '));
  } catch {
    // Bad percent-encoding: match the raw key.
  }
  return SECRET_KEY.test(decoded);
}

/**
 * The URL for logs and errors: password and secret-looking option values replaced by `***`.
 * A well-formed URL keeps its user name; anything ambiguous or unparseable goes through
 * redactUrlText, which hides the whole user info.
 */
export function redactUrl(url: string | URL): string {
  const text = typeof url === 'string' ? url : url.href;
  let parsed: URL;
  try {
    parsed = new URL(text);
  } catch {
    return redactUrlText(text);
  }
  if (hasAtAfterAuthority(parsed)) return redactUrlText(text);
  if (parsed.password) parsed.password = MASK;
  for (const key of new Set(parsed.searchParams.keys())) if (isSecretKey(key)) parsed.searchParams.set(key, MASK);
  if (parsed.hash) parsed.hash = redactPairs(parsed.hash);
  return parsed.href;
}

/**
 * An "@" after the authority means user info with an unencoded "/", "?" or "#" that the parser
 * split into host, port and path: `amqp://u:12/secret@host` parses as host "u", port 12. Which
 * part is the password cannot be told, so the URL is treated as unparseable.
 */
function hasAtAfterAuthority(url: URL): boolean {
  return url.pathname.includes('@') || url.search.includes('@') || url.hash.includes('@');
}

/**
 * Redact text that may not be a URL at all (a typo, a host list, an unencoded password):
 * - secret-looking `key=value` values become `***`;
 * - everything between `scheme://` (or the start) and the last "@" becomes `***`, since the
 *   user info may itself contain "/", "?", "#", ":" or "@";
 * - a non-numeric port becomes `***`: `amqp://user:password` with the "@host" forgotten puts
 *   the password where the port goes.
 * Hosts, numeric ports, paths and other options stay, so the message still says which URL failed.
 */
export function redactUrlText(text: string): string {
  const prefix = SCHEME_PREFIX.exec(text)?.[0] ?? '';
  const rest = redactPairs(text.slice(prefix.length));
  const at = rest.lastIndexOf('@');
  const afterUserInfo = rest.slice(at + 1);
  const authorityEnd = afterUserInfo.search(/[/?#]/);
  const authority = authorityEnd < 0 ? afterUserInfo : afterUserInfo.slice(0, authorityEnd);
  const tail = authorityEnd < 0 ? '' : afterUserInfo.slice(authorityEnd);
  return `${prefix}${at >= 0 ? `${MASK}@` : ''}${redactHosts(authority)}${tail}`;
}

/** `host:port[,host:port...]` with every non-numeric port replaced by `***` (see redactUrlText). */
export function redactHosts(authority: string): string {
  return authority
    .split(',')
    .map((item) => {
      const [, host, port] = /^(\s*\[[^\]]*\])(?::(.*))?$/s.exec(item) ?? /^([^:]*)(?::(.*))?$/s.exec(item) ?? [];
      return port === undefined || /^\d*\s*$/.test(port) ? item : `${host}:${MASK}`;
    })
    .join(',');
}

function redactPairs(text: string): string {
  return text.replace(PAIR, (pair: string, sep: string, key: string) => (isSecretKey(key) ? `${sep}${key}=${MASK}` : pair));
}

/**
 * The secrets a connection URL carries, for scrubSecrets: its password, raw and percent-decoded.
 * Nothing for a URL that does not parse or has no password.
 */
export function urlSecrets(url: string | URL | undefined): string[] {
  if (url === undefined) return [];
  let password: string;
  try {
    password = new URL(url.toString()).password;
  } catch {
    return [];
  }
  if (password === '') return [];
  let decoded = password;
  try {
    decoded = decodeURIComponent(password);
  } catch {
    // Not valid percent-encoding: only the raw form can appear.
  }
  return decoded === password ? [password] : [password, decoded];
}

/**
 * Text (an error message, a log line) with every occurrence of each secret replaced by `***`. For
 * messages from clients and drivers, which may quote what they were given.
 */
export function scrubSecrets(text: string, secrets: readonly (string | undefined)[]): string {
  let out = text;
  for (const secret of secrets) if (secret !== undefined && secret.length > 0) out = out.split(secret).join(MASK);
  return out;
}
