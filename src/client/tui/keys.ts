/**
 * Key bindings after the prefix, as data (tmux's key table): the client
 * looks keys up here and `C-b ?` lists this same table, so help cannot drift.
 */
import type { Direction } from '../../common/layout.js';

export type Action =
  | { do: 'split'; dir: 'h' | 'v' }
  | { do: 'select-pane'; move: Direction | 'next' }
  | { do: 'kill-pane' }
  | { do: 'zoom' }
  | { do: 'new-window' }
  | { do: 'select-window'; move: 'next' | 'prev' | 'last' }
  | { do: 'window'; index: number }
  | { do: 'next-layout' }
  | { do: 'copy-mode' }
  | { do: 'detach' }
  | { do: 'help' }
  | { do: 'send-prefix' }
  | { do: 'redraw' };

export interface Binding {
  /** The key as shown in help. */
  key: string;
  /** What the terminal sends for it. */
  bytes: string[];
  action: Action;
  help: string;
}

const digits: Binding[] = Array.from({ length: 10 }, (_, i) => ({
  key: String(i), bytes: [String(i)], action: { do: 'window', index: i }, help: `window ${i}`,
}));

export const BINDINGS: readonly Binding[] = [
  { key: '%', bytes: ['%'], action: { do: 'split', dir: 'h' }, help: 'split the pane left and right' },
  { key: '"', bytes: ['"'], action: { do: 'split', dir: 'v' }, help: 'split the pane top and bottom' },
  { key: 'Left', bytes: ['\x1b[D', '\x1bOD'], action: { do: 'select-pane', move: 'left' }, help: 'the pane to the left' },
  { key: 'Right', bytes: ['\x1b[C', '\x1bOC'], action: { do: 'select-pane', move: 'right' }, help: 'the pane to the right' },
  { key: 'Up', bytes: ['\x1b[A', '\x1bOA'], action: { do: 'select-pane', move: 'up' }, help: 'the pane above' },
  { key: 'Down', bytes: ['\x1b[B', '\x1bOB'], action: { do: 'select-pane', move: 'down' }, help: 'the pane below' },
  { key: 'o', bytes: ['o'], action: { do: 'select-pane', move: 'next' }, help: 'the next pane' },
  { key: 'x', bytes: ['x'], action: { do: 'kill-pane' }, help: 'kill the pane' },
  { key: 'z', bytes: ['z'], action: { do: 'zoom' }, help: 'zoom the pane (again: unzoom)' },
  { key: 'c', bytes: ['c'], action: { do: 'new-window' }, help: 'new window' },
  { key: 'n', bytes: ['n'], action: { do: 'select-window', move: 'next' }, help: 'next window' },
  { key: 'p', bytes: ['p'], action: { do: 'select-window', move: 'prev' }, help: 'previous window' },
  { key: 'l', bytes: ['l'], action: { do: 'select-window', move: 'last' }, help: 'last window' },
  ...digits,
  { key: 'Space', bytes: [' '], action: { do: 'next-layout' }, help: 'next layout' },
  { key: '[', bytes: ['['], action: { do: 'copy-mode' }, help: 'scroll/copy mode (/ search, n next, q quit)' },
  { key: 'd', bytes: ['d'], action: { do: 'detach' }, help: 'detach' },
  { key: 'r', bytes: ['r'], action: { do: 'redraw' }, help: 'redraw the screen' },
  { key: '?', bytes: ['?'], action: { do: 'help' }, help: 'this list' },
];

/** What a key pressed after the prefix does; the prefix itself again sends it to the pane. */
export function lookup(bytes: Buffer, prefix: number): Action | null {
  if (bytes.length === 1 && bytes[0] === prefix) return { do: 'send-prefix' };
  const s = bytes.toString('latin1');
  return BINDINGS.find((b) => b.bytes.includes(s))?.action ?? null;
}

/** The help screen: one line per binding. */
export function helpLines(prefixName: string): string[] {
  const shown = BINDINGS.filter((b) => !/^[1-9]$/.test(b.key)).map((b) => (b.key === '0' ? { ...b, key: '0-9', help: 'window 0-9' } : b));
  const width = Math.max(...shown.map((b) => b.key.length));
  return [`Keys after the prefix ${prefixName}:`, '', ...shown.map((b) => `  ${b.key.padEnd(width)}  ${b.help}`), '', `  ${prefixName.padEnd(width)}  send ${prefixName} to the pane`, '', 'Mouse: click selects a pane; the wheel scrolls its history.', 'q or Escape closes this list.'];
}
