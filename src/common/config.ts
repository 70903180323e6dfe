/**
 * User settings: the schema, defaults, parsing and validation, and the
 * status-line formatter. Pure (no files, no `conf`), so every rule is
 * unit-tested; src/platform/config-store.ts keeps the values on disk.
 *
 * A setting has two forms: text (what `zmx config set KEY VALUE` takes and
 * `get`/`list` print) and JSON (what config.json holds: numbers as numbers,
 * `mouse` as a boolean). Each key's definition converts and checks both, so a
 * value typed on the command line and one edited into the file by hand meet
 * the same rules and the same wording.
 */
import { ZmxError } from './errors.js';
import { AUDIT, PORTAL, TERMINAL } from './constants.js';

export type SizePolicy = 'latest' | 'smallest';

export interface Config {
  /** The prefix key, canonical spelling (`C-b`, `C-Space`, `` ` ``); see parsePrefixKey. */
  prefix: string;
  /** A theme name (a file in themes/) or an absolute path to a .json file. */
  theme: string;
  /** The status line; see STATUS_PLACEHOLDERS and formatStatus. */
  'status-format': string;
  /** Lines of history (scrollback) a new pane keeps, as tmux's history-limit. */
  'history-limit': number;
  /** Who sets a shared session's size: the client active last, or the smallest client. */
  'size-policy': SizePolicy;
  /** Whether the mouse selects panes and scrolls. */
  mouse: boolean;
  /** The audit log is rotated when it would grow past this many bytes (read when the server starts). */
  'audit-max-bytes': number;
  /** Audit log files kept, the current one included; the oldest goes at a rotation. */
  'audit-files': number;
  /** Seconds a grep, list or read_files may run before it is stopped (ETIMEDOUT; read when the server starts). */
  'search-timeout': number;
}

export type ConfigKey = keyof Config;

/** 0 keeps no history, as tmux allows; a million lines of 80 columns is about half a gigabyte per pane. */
export const HISTORY_LIMIT_BOUNDS = { min: 0, max: 1_000_000 } as const;
/**
 * Keys from earlier versions, read as their new names (in config.json and on
 * the command line), so a file or a script written for them keeps working.
 * The file is rewritten with the new name the next time a setting is set.
 */
const RENAMED_KEYS: Readonly<Record<string, ConfigKey>> = Object.freeze({ 'scrollback-lines': 'history-limit' });
/** From 64 KiB (rotation more often than that would only churn) to 1 TiB. */
export const AUDIT_MAX_BYTES_BOUNDS = { min: 64 * 1024, max: 1024 ** 4 } as const;
/** At least the current file and one rotated; more than 1000 is a mistake. */
export const AUDIT_FILES_BOUNDS = { min: 2, max: 1000 } as const;
/** From 1 s to an hour. */
export const SEARCH_TIMEOUT_BOUNDS = { min: 1, max: 3600 } as const;
/** Longer status formats are a mistake, not a status line. */
const MAX_STATUS_FORMAT = 1000;

export const DEFAULT_STATUS_FORMAT = '[#{session}] #{windows}#[align=right]#{host} #{link} #{rtt} #{time}';

export const DEFAULT_CONFIG: Readonly<Config> = Object.freeze({
  prefix: 'C-b',
  theme: 'default',
  'status-format': DEFAULT_STATUS_FORMAT,
  'history-limit': TERMINAL.scrollbackLines,
  'size-policy': 'latest',
  mouse: true,
  'audit-max-bytes': AUDIT.maxBytes,
  'audit-files': AUDIT.files,
  'search-timeout': PORTAL.searchDeadlineMs / 1000,
});

type Checked<T> = { ok: true; value: T } | { ok: false; why: string };
const ok = <T>(value: T): Checked<T> => ({ ok: true, value });
const bad = (why: string): Checked<never> => ({ ok: false, why });

interface KeyDef<T> {
  /** One line for `zmx config --help`. */
  describe: string;
  /** What is allowed, for error messages: "use ...". */
  allowed: string;
  /** From the command line. */
  fromText(text: string): Checked<T>;
  /** From config.json. */
  fromJson(value: unknown): Checked<T>;
  toText(value: T): string;
}

type KeyDefs = { [K in ConfigKey]: KeyDef<Config[K]> };

function stringJson<T>(fromText: (t: string) => Checked<T>): (v: unknown) => Checked<T> {
  return (v) => (typeof v === 'string' ? fromText(v) : bad('must be a string'));
}

// ------------------------------------------------------------ prefix keys

export interface PrefixKey {
  /** Canonical spelling: `C-b`, `C-Space`, `C-\`, `` ` ``. */
  spec: string;
  /** The byte the terminal sends for it. */
  byte: number;
}

const PREFIX_ALLOWED = 'C-a..C-z, C-Space, C-\\, C-], C-^, C-_ or `';
/** Control letters that are another key's byte: a prefix on them would swallow that key. */
const TAKEN: Record<string, string> = { i: 'Tab', j: 'Enter (newline)', m: 'Enter' };
const CONTROL_PUNCT: Record<string, number> = { '\\': 0x1c, ']': 0x1d, '^': 0x1e, '_': 0x1f };

/** Parses a prefix key as tmux spells it (`C-b`, `^B`, `C-Space`); throws EINVAL naming what is allowed. */
export function parsePrefixKey(text: string): PrefixKey {
  const r = checkPrefix(text);
  if (!r.ok) throw new ZmxError('EINVAL', `prefix: ${r.why}`);
  return prefixKeyOf(r.value);
}

function prefixKeyOf(spec: string): PrefixKey {
  if (spec === '`') return { spec, byte: 0x60 };
  if (spec === 'C-Space') return { spec, byte: 0x00 };
  const c = spec.slice(2);
  return { spec, byte: CONTROL_PUNCT[c] ?? c.charCodeAt(0) - 0x60 };
}

function checkPrefix(text: string): Checked<string> {
  const t = text.trim();
  if (t === '`') return ok('`');
  const m = /^(?:C-|\^)(.+)$/i.exec(t);
  if (m) {
    const rest = m[1]!;
    if (/^(space|@)$/i.test(rest)) return ok('C-Space');
    if (rest in CONTROL_PUNCT) return ok(`C-${rest}`);
    if (/^[a-z]$/i.test(rest)) {
      const letter = rest.toLowerCase();
      const taken = TAKEN[letter];
      if (taken) return bad(`C-${letter} is the same byte as ${taken}; use ${PREFIX_ALLOWED}`);
      return ok(`C-${letter}`);
    }
  }
  return bad(`${JSON.stringify(text)} is not a prefix key (use ${PREFIX_ALLOWED})`);
}

// ---------------------------------------------------------- status format

export const STATUS_PLACEHOLDERS = ['session', 'windows', 'window', 'pane', 'host', 'link', 'rtt', 'time'] as const;
export type StatusPlaceholder = (typeof STATUS_PLACEHOLDERS)[number];

/** What each placeholder shows; the TUI supplies the values. */
export const STATUS_PLACEHOLDER_HELP: Record<StatusPlaceholder, string> = {
  session: 'the session name',
  windows: 'the window list, "0:bash 1:vim*" (* marks the current window, drawn in the theme\'s statusCurrent style)',
  window: 'the current window, "1:vim"',
  pane: 'the active pane\'s title',
  host: 'the host the session runs on',
  link: 'link state: connected, or reconnecting and for how long',
  rtt: 'round-trip time to the server',
  time: 'the clock',
};

const ALIGN_RIGHT = '#[align=right]';

export type StatusToken =
  | { kind: 'text'; text: string }
  | { kind: 'value'; name: StatusPlaceholder }
  | { kind: 'align-right' };

/**
 * Parses a status format: `#{name}` is a placeholder, `##` a literal `#`,
 * `#[align=right]` starts the right-aligned part (once). Any other `#` is
 * literal. Throws EINVAL (without a key prefix) on anything else.
 */
export function parseStatusFormat(format: string): StatusToken[] {
  const r = checkStatusFormat(format);
  if (!r.ok) throw new ZmxError('EINVAL', `status-format: ${r.why}`);
  return r.value;
}

function checkStatusFormat(format: string): Checked<StatusToken[]> {
  if (format.length > MAX_STATUS_FORMAT) return bad(`longer than ${MAX_STATUS_FORMAT} characters`);
  // eslint-disable-next-line no-control-regex
  if (/[\x00-\x1f\x7f-\x9f]/.test(format)) return bad('control characters are not allowed (they would reach the terminal as escapes)');
  const tokens: StatusToken[] = [];
  let text = '';
  let aligned = false;
  const flush = (): void => {
    if (text) tokens.push({ kind: 'text', text });
    text = '';
  };
  for (let i = 0; i < format.length; i++) {
    const ch = format[i]!;
    const next = format[i + 1];
    if (ch !== '#' || (next !== '{' && next !== '[' && next !== '#')) {
      text += ch;
      continue;
    }
    if (next === '#') {
      text += '#';
      i++;
      continue;
    }
    const close = format.indexOf(next === '{' ? '}' : ']', i + 2);
    if (close < 0) return bad(`unclosed ${'#' + next} at character ${i + 1}`);
    const whole = format.slice(i, close + 1);
    if (next === '[') {
      if (whole !== ALIGN_RIGHT) return bad(`${whole} is not supported (only ${ALIGN_RIGHT})`);
      if (aligned) return bad(`${ALIGN_RIGHT} appears twice`);
      aligned = true;
      flush();
      tokens.push({ kind: 'align-right' });
    } else {
      const name = format.slice(i + 2, close);
      if (!(STATUS_PLACEHOLDERS as readonly string[]).includes(name)) {
        return bad(`unknown placeholder ${whole} (use ${STATUS_PLACEHOLDERS.map((p) => `#{${p}}`).join(', ')})`);
      }
      flush();
      tokens.push({ kind: 'value', name: name as StatusPlaceholder });
    }
    i = close;
  }
  flush();
  return ok(tokens);
}

export interface StatusWindow {
  index: number;
  name: string;
  current: boolean;
}

/** Values for the placeholders; a missing one shows as nothing. `windows` may be pre-formatted text. */
export type StatusValues = Partial<Record<Exclude<StatusPlaceholder, 'windows'>, string>> & {
  windows?: readonly StatusWindow[] | string;
};

/** A run of status text; `current` marks the current window's entry (style it with the theme's statusCurrent). */
export interface StatusSegment {
  text: string;
  current: boolean;
}

export interface StatusLine {
  left: StatusSegment[];
  right: StatusSegment[];
}

/** C0/C1 controls in a value (a window named by a program's title) must not reach the terminal. */
function clean(value: string): string {
  // eslint-disable-next-line no-control-regex
  return value.replace(/[\x00-\x1f\x7f-\x9f]/g, '');
}

/** The status line as styled segments, left and right of `#[align=right]`. */
export function statusLine(format: string, values: StatusValues): StatusLine {
  const line: StatusLine = { left: [], right: [] };
  let side = line.left;
  const push = (text: string, current = false): void => {
    if (text === '') return;
    const last = side[side.length - 1];
    if (last && last.current === current && !current) last.text += text;
    else side.push({ text, current });
  };
  for (const token of parseStatusFormat(format)) {
    if (token.kind === 'text') push(token.text);
    else if (token.kind === 'align-right') side = line.right;
    else if (token.name === 'windows' && Array.isArray(values.windows)) {
      values.windows.forEach((w: StatusWindow, n: number) => {
        if (n > 0) push(' ');
        push(`${w.index}:${clean(w.name)}${w.current ? '*' : ''}`, w.current);
      });
    } else {
      const v = values[token.name];
      push(typeof v === 'string' ? clean(v) : '');
    }
  }
  return line;
}

const textOf = (segments: readonly StatusSegment[]): string => segments.map((s) => s.text).join('');

/**
 * The status line as plain text. With `width`, the right part is aligned to
 * the right edge and the whole fits in `width` characters (the left part is
 * cut first); without, the two parts are joined by a space. Widths count
 * code points: a wide character in a value counts as one.
 */
export function formatStatus(format: string, values: StatusValues, width?: number): string {
  const line = statusLine(format, values);
  const left = [...textOf(line.left)];
  const right = [...textOf(line.right)];
  if (width === undefined) return right.length ? `${left.join('')} ${right.join('')}` : left.join('');
  if (right.length >= width) return right.slice(right.length - width).join('');
  const room = width - right.length;
  const l = left.slice(0, room);
  return l.join('') + ' '.repeat(room - l.length) + right.join('');
}

// ------------------------------------------------------------------- keys

const THEME_NAME_RE = /^[a-z0-9][a-z0-9._-]*$/i;

/** A theme value is a name (a file in themes/) or a path to a .json file. */
export function isThemePath(value: string): boolean {
  return value.includes('/') || value.endsWith('.json');
}

function checkTheme(text: string): Checked<string> {
  if (text === '') return bad('must not be empty');
  if (isThemePath(text)) return text.endsWith('.json') ? ok(text) : bad(`${JSON.stringify(text)} is not a .json file`);
  return THEME_NAME_RE.test(text) ? ok(text) : bad(`${JSON.stringify(text)} is not a theme name or a path to a .json file`);
}

/** A setting that is an integer within bounds ('_' may group digits on the command line). */
function integerKey(describe: string, bounds: { min: number; max: number }): KeyDef<number> {
  const { min, max } = bounds;
  const check = (n: number): Checked<number> => {
    if (!Number.isSafeInteger(n)) return bad(`${JSON.stringify(n)} is not an integer (use ${min} to ${max})`);
    if (n < min || n > max) return bad(`${n} is out of range (use ${min} to ${max})`);
    return ok(n);
  };
  return {
    describe,
    allowed: `an integer from ${min} to ${max}`,
    fromText: (t) => (/^\s*\d[\d_]*\s*$/.test(t) ? check(Number(t.replace(/_/g, ''))) : bad(`${JSON.stringify(t)} is not an integer (use ${min} to ${max})`)),
    fromJson: (v) => (typeof v === 'number' ? check(v) : bad(`${JSON.stringify(v)} is not an integer (use ${min} to ${max})`)),
    toText: (v) => String(v),
  };
}

const SIZE_POLICIES: readonly SizePolicy[] = ['latest', 'smallest'];

const DEFS: KeyDefs = {
  prefix: {
    describe: 'the prefix key before every TUI binding',
    allowed: PREFIX_ALLOWED,
    fromText: checkPrefix,
    fromJson: stringJson(checkPrefix),
    toText: (v) => v,
  },
  theme: {
    describe: 'a theme name from themes/ or a path to a theme .json file',
    allowed: 'a theme name or a path to a .json file',
    fromText: checkTheme,
    // A file is read from anywhere; a relative path would depend on where zmx runs (`set` stores it absolute).
    fromJson: stringJson((t) => (isThemePath(t) && !t.startsWith('/') ? bad(`${JSON.stringify(t)} must be an absolute path`) : checkTheme(t))),
    toText: (v) => v,
  },
  'status-format': {
    describe: `the status line: text with ${STATUS_PLACEHOLDERS.map((p) => `#{${p}}`).join(' ')}, ## for #, ${ALIGN_RIGHT}`,
    allowed: `text with ${STATUS_PLACEHOLDERS.map((p) => `#{${p}}`).join(', ')}, ## and ${ALIGN_RIGHT}`,
    fromText: (t) => {
      const r = checkStatusFormat(t);
      return r.ok ? ok(t) : r;
    },
    fromJson: stringJson((t) => {
      const r = checkStatusFormat(t);
      return r.ok ? ok(t) : r;
    }),
    toText: (v) => v,
  },
  'history-limit': integerKey('lines of history (scrollback) each new pane keeps, as tmux\'s history-limit', HISTORY_LIMIT_BOUNDS),
  'size-policy': {
    describe: 'who sizes a shared session: latest (the client active last) or smallest',
    allowed: SIZE_POLICIES.join(' or '),
    fromText: (t) => ((SIZE_POLICIES as readonly string[]).includes(t) ? ok(t as SizePolicy) : bad(`${JSON.stringify(t)} is not allowed (use ${SIZE_POLICIES.join(' or ')})`)),
    fromJson: (v) => ((SIZE_POLICIES as readonly unknown[]).includes(v) ? ok(v as SizePolicy) : bad(`${JSON.stringify(v)} is not allowed (use ${SIZE_POLICIES.map((p) => `"${p}"`).join(' or ')})`)),
    toText: (v) => v,
  },
  mouse: {
    describe: 'whether the mouse selects panes and scrolls: on or off',
    allowed: 'on or off',
    fromText: (t) => {
      const v = t.toLowerCase();
      if (['on', 'true', 'yes', '1'].includes(v)) return ok(true);
      if (['off', 'false', 'no', '0'].includes(v)) return ok(false);
      return bad(`${JSON.stringify(t)} is not allowed (use on or off)`);
    },
    fromJson: (v) => (typeof v === 'boolean' ? ok(v) : bad(`${JSON.stringify(v)} is not allowed (use true or false)`)),
    toText: (v) => (v ? 'on' : 'off'),
  },
  'audit-max-bytes': integerKey('bytes the audit log grows to before it is rotated (at server start)', AUDIT_MAX_BYTES_BOUNDS),
  'audit-files': integerKey('audit log files kept, the current one included (at server start)', AUDIT_FILES_BOUNDS),
  'search-timeout': integerKey('seconds a grep, list or read_files may run before it is stopped (at server start)', SEARCH_TIMEOUT_BOUNDS),
};

export const CONFIG_KEYS = Object.keys(DEFS) as readonly ConfigKey[];

export function isConfigKey(key: string): key is ConfigKey {
  return Object.hasOwn(DEFS, key);
}

/** The key (an old name as its new one), or EINVAL listing the valid keys. */
export function checkConfigKey(key: string): ConfigKey {
  if (isConfigKey(key)) return key;
  if (Object.hasOwn(RENAMED_KEYS, key)) return RENAMED_KEYS[key]!;
  throw new ZmxError('EINVAL', `unknown config key ${JSON.stringify(key)} (valid keys: ${CONFIG_KEYS.join(', ')})`);
}

/** One line per key, for help text. */
export function describeConfigKeys(): string[] {
  return CONFIG_KEYS.map((k) => `${k}: ${DEFS[k].describe} (default ${JSON.stringify(configValueText(k, DEFAULT_CONFIG[k]))})`);
}

/** A value typed on the command line; EINVAL saying what is allowed. */
export function parseConfigValue<K extends ConfigKey>(key: K, text: string): Config[K] {
  const r = (DEFS[key] as KeyDef<Config[K]>).fromText(text);
  if (!r.ok) throw new ZmxError('EINVAL', `invalid value for ${key}: ${r.why}`);
  return r.value;
}

/** A value as `config get` prints it. */
export function configValueText<K extends ConfigKey>(key: K, value: Config[K]): string {
  return (DEFS[key] as KeyDef<Config[K]>).toText(value);
}

/**
 * Checks what a config file holds (already JSON-parsed) and returns the keys
 * it sets. Throws EINVAL with one line naming the file and the key.
 */
export function validateConfigData(data: unknown, file: string): Partial<Config> {
  if (typeof data !== 'object' || data === null || Array.isArray(data)) {
    throw new ZmxError('EINVAL', `${file}: must hold a JSON object of settings`);
  }
  const out: Partial<Record<ConfigKey, unknown>> = {};
  for (const [name, value] of Object.entries(data)) {
    const renamed = Object.hasOwn(RENAMED_KEYS, name);
    if (!isConfigKey(name) && !renamed) {
      throw new ZmxError('EINVAL', `${file}: unknown key ${JSON.stringify(name)} (valid keys: ${CONFIG_KEYS.join(', ')})`);
    }
    const key = renamed ? RENAMED_KEYS[name]! : (name as ConfigKey);
    const r = (DEFS[key] as KeyDef<unknown>).fromJson(value);
    if (!r.ok) throw new ZmxError('EINVAL', `${file}: ${name}: ${r.why}`);
    // The new name wins over an old one left beside it.
    if (!renamed || !Object.hasOwn(data, key)) out[key] = r.value;
  }
  return out as Partial<Config>;
}

/** Parses config.json text; a syntax error is one line naming the file. */
export function parseConfigText(text: string, file: string): Partial<Config> {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    throw new ZmxError('EINVAL', `${file}: not valid JSON (${firstLine(err)})`);
  }
  return validateConfigData(data, file);
}

export function firstLine(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!;
}

export function withDefaults(set: Partial<Config>): Config {
  return { ...DEFAULT_CONFIG, ...set };
}
