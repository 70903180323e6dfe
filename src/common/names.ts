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
