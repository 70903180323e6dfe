/**
 * Test rig for the renderer: a real blessed Screen on fake tty streams whose
 * every output byte is fed to a second headless terminal, "the user's
 * terminal", so a test can check what a user would see, cell by cell.
 * (Used by src/client/tui/*.test.ts.)
 */
import { PassThrough } from 'node:stream';
import blessed from 'blessed';
import xtermHeadless from '@xterm/headless';
import unicode11 from '@xterm/addon-unicode11';
import type { IBufferCell, Terminal as TerminalType } from '@xterm/headless';

const { Terminal } = xtermHeadless;
const { Unicode11Addon } = unicode11;

/** A headless terminal measuring widths as current terminals do (Unicode 11: emoji are wide). */
export function makeTerminal(cols: number, rows: number, scrollback = 1000): TerminalType {
  const term = new Terminal({ cols, rows, scrollback, allowProposedApi: true });
  term.loadAddon(new Unicode11Addon());
  term.unicode.activeVersion = '11';
  return term;
}

export function write(term: TerminalType, data: string): Promise<void> {
  return new Promise((resolve) => term.write(data, resolve));
}

export interface Rig {
  screen: blessed.Widgets.Screen;
  user: TerminalType;
  /** Lets blessed flush, feeds what it wrote to `user`, and returns it. */
  flush(): Promise<string>;
  dispose(): void;
}

export function makeRig(cols: number, rows: number): Rig {
  const output = Object.assign(new PassThrough(), { isTTY: true, columns: cols, rows });
  const input = Object.assign(new PassThrough(), { isTTY: false });
  let written = '';
  output.on('data', (chunk: Buffer) => (written += chunk.toString('utf8')));
  const screen = blessed.screen({
    input,
    output,
    terminal: 'xterm-256color',
    fullUnicode: true,
    forceUnicode: true,
    smartCSR: false,
    warnings: false,
  });
  const user = makeTerminal(cols, rows, 0);
  return {
    screen,
    user,
    async flush() {
      await new Promise((resolve) => setImmediate(resolve));
      const out = written;
      written = '';
      await write(user, out);
      return out;
    },
    dispose() {
      screen.destroy();
      user.dispose();
      output.destroy();
      input.destroy();
    },
  };
}

/** A cell as the user sees it: its text (blank as ' '), width, colours and flags. */
export function describeCell(cell: IBufferCell): string {
  const chars = cell.getWidth() === 0 ? '' : cell.getChars() || ' ';
  const flags = [
    cell.isBold() && 'bold', cell.isDim() && 'dim', cell.isItalic() && 'italic', cell.isUnderline() && 'underline',
    cell.isBlink() && 'blink', cell.isInverse() && 'inverse', cell.isInvisible() && 'invisible', cell.isStrikethrough() && 'strike',
  ].filter(Boolean);
  const fg = cell.isFgDefault() ? 'default' : `${cell.isFgRGB() ? 'rgb' : 'p'}${cell.getFgColor().toString(16)}`;
  const bg = cell.isBgDefault() ? 'default' : `${cell.isBgRGB() ? 'rgb' : 'p'}${cell.getBgColor().toString(16)}`;
  return `${JSON.stringify(chars)}/${cell.getWidth()} fg=${fg} bg=${bg}${flags.length ? ' ' + flags.join(',') : ''}`;
}

/** The cell descriptions of `height` rows x `width` columns of a terminal's screen, from (x, y). */
export function screenCells(term: TerminalType, x: number, y: number, width: number, height: number): string[][] {
  const buffer = term.buffer.active;
  const cell = buffer.getNullCell();
  const rows: string[][] = [];
  for (let r = 0; r < height; r++) {
    const line = buffer.getLine(buffer.baseY + y + r);
    const row: string[] = [];
    for (let c = 0; c < width; c++) row.push(line?.getCell(x + c, cell) ? describeCell(cell) : '(none)');
    rows.push(row);
  }
  return rows;
}

/** The text of a row of the user's screen. */
export function rowText(term: TerminalType, y: number): string {
  const buffer = term.buffer.active;
  return buffer.getLine(buffer.baseY + y)?.translateToString(true).trimEnd() ?? '';
}
