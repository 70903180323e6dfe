/** Session names: what is allowed, and ZMX_SESSION_PREFIX. */
import { ZmxError } from './errors.js';
import { LIMITS } from './constants.js';

/** Printable, no whitespace or path separators: names appear in lists and file names. */
const NAME_RE = /^[^\s/\\\x00-\x1f\x7f]+$/;

export function validateSessionName(name: string): string {
  if (name.length === 0) throw new ZmxError('EINVAL', 'session name must not be empty');
  if (name.length > LIMITS.maxSessionName) throw new ZmxError('EINVAL', `session name longer than ${LIMITS.maxSessionName} characters`);
  if (name === '.' || name === '..') throw new ZmxError('EINVAL', `invalid session name ${JSON.stringify(name)}`);
  if (!NAME_RE.test(name)) throw new ZmxError('EINVAL', `invalid session name ${JSON.stringify(name)}: no spaces, slashes or control characters`);
  return name;
}

/**
 * The error for a session name nothing answers to. Its line says "not
 * found", as zmx's does, since scripts written against zmx look for that.
 */
export function sessionNotFound(name: string): ZmxError {
  return new ZmxError('ENOSESSION', `session "${name}" not found (zmx ls lists the sessions)`);
}

/** Puts ZMX_SESSION_PREFIX before a name the user typed, as zmx does (always). */
export function withPrefix(name: string, env: NodeJS.ProcessEnv = process.env): string {
  return (env['ZMX_SESSION_PREFIX'] ?? '') + name;
}

/**
 * `kill "d.*"`: a pattern ending in "*" matches every session whose name
 * starts with what comes before the "*" ("d.*" → names starting "d.", "*" →
 * all), as zmx does; otherwise names match exactly.
 */
export function matchNames(patterns: readonly string[], names: readonly string[]): { matched: string[]; missing: string[] } {
  const matched = new Set<string>();
  const missing: string[] = [];
  for (const pattern of patterns) {
    if (pattern.endsWith('*')) {
      const stem = pattern.slice(0, -1);
      const hits = names.filter((n) => n.startsWith(stem));
      if (hits.length === 0) missing.push(pattern);
      hits.forEach((h) => matched.add(h));
    } else if (names.includes(pattern)) {
      matched.add(pattern);
    } else {
      missing.push(pattern);
    }
  }
  return { matched: [...matched], missing };
}

/**
 * A session name as one ref component and one file name: every character
 * but letters, digits, '_' and '-' becomes %XX (its UTF-8 bytes), so ':',
 * '.', '~' and the like can never form a bad ref or a path that climbs.
 */
export function encodeName(name: string): string {
  let out = '';
  for (const ch of name) {
    if (/[A-Za-z0-9_-]/.test(ch)) out += ch;
    else for (const b of Buffer.from(ch, 'utf8')) out += `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  return out;
}
