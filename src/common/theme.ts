/**
 * TUI themes: the Theme type, validation of a theme file's JSON, the
 * monochrome theme used under NO_COLOR, and conversion of theme colours to
 * SGR parameters for the renderer. Pure; src/client/theme-loader.ts reads
 * the files.
 *
 * A theme colours zmx's own chrome (status bar, borders, titles, copy mode,
 * message boxes), never what a pane's program draws.
 */
import { ZmxError } from './errors.js';

export const ANSI_COLOURS = [
  'black', 'red', 'green', 'yellow', 'blue', 'magenta', 'cyan', 'white',
  'bright-black', 'bright-red', 'bright-green', 'bright-yellow', 'bright-blue', 'bright-magenta', 'bright-cyan', 'bright-white',
] as const;
export type AnsiColour = (typeof ANSI_COLOURS)[number];

/** A name (the 16 ANSI colours, or `default`: the terminal's own), an index 0-255, or `#rrggbb` (lower case). */
export type Colour = AnsiColour | 'default' | number | `#${string}`;

export interface Style {
  fg?: Colour;
  bg?: Colour;
  bold?: boolean;
  italic?: boolean;
  underline?: boolean;
  inverse?: boolean;
}

/** Every styled part of the TUI. */
export const THEME_PARTS = [
  'status', // the status bar
  'statusCurrent', // the current window's entry in the status bar
  'border', // pane borders
  'activeBorder', // the active pane's border
  'title', // pane titles
  'activeTitle', // the active pane's title
  'copyHighlight', // search matches in copy mode
  'copySelection', // the selection in copy mode
  'message', // message and help boxes
  'messageBorder', // their border
] as const;
export type ThemePart = (typeof THEME_PARTS)[number];

export type Theme = { name: string; description: string } & { [P in ThemePart]: Style };

const STYLE_FIELDS = ['fg', 'bg', 'bold', 'italic', 'underline', 'inverse'] as const;
const TOP_FIELDS = ['name', 'description', ...THEME_PARTS] as const;

/** The built-in default, also shipped as themes/default.json (a test keeps them equal). */
export const DEFAULT_THEME: Theme = {
  name: 'default',
  description: 'The terminal\'s own colours, with a blue accent for the active pane and the status bar',
  status: { fg: 'black', bg: 'blue' },
  statusCurrent: { fg: 'bright-white', bg: 'blue', bold: true },
  border: { fg: 'bright-black' },
  activeBorder: { fg: 'blue' },
  title: { fg: 'white' },
  activeTitle: { fg: 'black', bg: 'blue', bold: true },
  copyHighlight: { fg: 'black', bg: 'yellow' },
  copySelection: { inverse: true },
  message: { fg: 'black', bg: 'yellow' },
  messageBorder: { fg: 'yellow' },
};

/**
 * Used when NO_COLOR is set (https://no-color.org): no colour at all; the
 * active pane and the status bar stand out by bold and inverse video.
 */
export const MONO_THEME: Theme = {
  name: 'mono',
  description: 'No colours (NO_COLOR): bold and inverse video only',
  status: { inverse: true },
  statusCurrent: { inverse: true, bold: true, underline: true },
  border: {},
  activeBorder: { bold: true },
  title: {},
  activeTitle: { inverse: true, bold: true },
  copyHighlight: { underline: true, bold: true },
  copySelection: { inverse: true },
  message: { inverse: true },
  messageBorder: { bold: true },
};

const COLOUR_HINT = 'use a name, 0-255 or #rrggbb';

function fail(file: string, path: string, why: string): never {
  throw new ZmxError('EINVAL', `${file}: ${path}: ${why}`);
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** A colour from JSON, or undefined when it is not one. Hex is lower-cased. */
export function parseColour(v: unknown): Colour | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 255 ? v : undefined;
  if (typeof v !== 'string') return undefined;
  if (v === 'default' || (ANSI_COLOURS as readonly string[]).includes(v)) return v as Colour;
  if (/^#[0-9a-f]{6}$/i.test(v)) return v.toLowerCase() as Colour;
  return undefined;
}

function validateStyle(v: unknown, file: string, path: string): Style {
  if (!isObject(v)) fail(file, path, `must be an object with ${STYLE_FIELDS.join(', ')}`);
  const style: Style = {};
  for (const [field, value] of Object.entries(v)) {
    const at = `${path}.${field}`;
    if (field === 'fg' || field === 'bg') {
      const c = parseColour(value);
      if (c === undefined) fail(file, at, `${JSON.stringify(value)} is not a colour (${COLOUR_HINT})`);
      style[field] = c;
    } else if (field === 'bold' || field === 'italic' || field === 'underline' || field === 'inverse') {
      if (typeof value !== 'boolean') fail(file, at, `${JSON.stringify(value)} is not true or false`);
      style[field] = value;
    } else {
      fail(file, at, `unknown field (use ${STYLE_FIELDS.join(', ')})`);
    }
  }
  return style;
}

/**
 * Checks a theme file's parsed JSON. Parts it leaves out are taken from the
 * default theme; `name` defaults to `fallbackName`. Throws EINVAL with one
 * line naming the file and the field: `themes/bad.json: status.bg: ...`.
 */
export function validateTheme(obj: unknown, file: string, fallbackName = 'custom'): Theme {
  if (!isObject(obj)) throw new ZmxError('EINVAL', `${file}: a theme must be a JSON object`);
  const theme: Theme = { ...structuredClone(DEFAULT_THEME), name: fallbackName, description: '' };
  for (const [field, value] of Object.entries(obj)) {
    if (field === 'name' || field === 'description') {
      if (typeof value !== 'string') fail(file, field, 'must be a string');
      theme[field] = value;
    } else if ((THEME_PARTS as readonly string[]).includes(field)) {
      theme[field as ThemePart] = validateStyle(value, file, field);
    } else {
      fail(file, field, `unknown field (use ${TOP_FIELDS.join(', ')})`);
    }
  }
  return theme;
}

/** Parses a theme file's text: a syntax error is one line naming the file. */
export function parseTheme(text: string, file: string, fallbackName?: string): Theme {
  let obj: unknown;
  try {
    obj = JSON.parse(text);
  } catch (err) {
    throw new ZmxError('EINVAL', `${file}: not valid JSON (${(err instanceof Error ? err.message : String(err)).split('\n')[0]})`);
  }
  return validateTheme(obj, file, fallbackName);
}

// -------------------------------------------------------------------- SGR

/**
 * SGR parameters for a colour as foreground or background: `31`, `91`,
 * `39` (default), `38;5;n`, `38;2;r;g;b` (and the 4x/10x/48 forms for bg).
 */
export function colourSgr(colour: Colour, as: 'fg' | 'bg'): string {
  const base = as === 'fg' ? 30 : 40;
  if (typeof colour === 'number') return `${base + 8};5;${colour}`;
  if (colour === 'default') return String(base + 9);
  if (colour.startsWith('#')) {
    const n = parseInt(colour.slice(1), 16);
    return `${base + 8};2;${(n >> 16) & 0xff};${(n >> 8) & 0xff};${n & 0xff}`;
  }
  const i = (ANSI_COLOURS as readonly string[]).indexOf(colour);
  if (i < 0) throw new ZmxError('EINVAL', `${JSON.stringify(colour)} is not a colour`);
  return String(i < 8 ? base + i : base + 60 + i - 8);
}

/** SGR parameters for a whole style, `;`-joined ('' for an empty style). Use as `\x1b[0;${p}m`. */
export function styleSgr(style: Style): string {
  const p: string[] = [];
  if (style.bold) p.push('1');
  if (style.italic) p.push('3');
  if (style.underline) p.push('4');
  if (style.inverse) p.push('7');
  if (style.fg !== undefined) p.push(colourSgr(style.fg, 'fg'));
  if (style.bg !== undefined) p.push(colourSgr(style.bg, 'bg'));
  return p.join(';');
}

/** The escape sequence that resets attributes and applies a style. */
export function styleEscape(style: Style): string {
  const p = styleSgr(style);
  return p ? `\x1b[0;${p}m` : '\x1b[0m';
}

/** A colour as blessed takes it: an index 0-255, -1 for the default, or '#rrggbb'. */
export function blessedColour(colour: Colour): number | string {
  if (typeof colour === 'number') return colour;
  if (colour === 'default') return -1;
  if (colour.startsWith('#')) return colour;
  return (ANSI_COLOURS as readonly string[]).indexOf(colour);
}

/** NO_COLOR is honoured when set and non-empty (https://no-color.org). */
export function noColor(env: NodeJS.ProcessEnv): boolean {
  return Boolean(env['NO_COLOR']);
}
