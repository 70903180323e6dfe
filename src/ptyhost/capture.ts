/**
 * tmux's capture-pane: the visible screen of a pane as lines of text, or
 * with `escapes` as text with the SGR sequences that give each run of cells
 * its colours and attributes (capture-pane -e), one line per row.
 */
import type { IBufferCell, IBufferLine, Terminal } from '@xterm/headless';

/** The SGR parameters for a cell: attributes, then foreground and background. */
function sgrOf(c: IBufferCell): string {
  const p: (string | number)[] = [];
  if (c.isBold()) p.push(1);
  if (c.isDim()) p.push(2);
  if (c.isItalic()) p.push(3);
  if (c.isUnderline()) p.push(4);
  if (c.isBlink()) p.push(5);
  if (c.isInverse()) p.push(7);
  if (c.isInvisible()) p.push(8);
  if (c.isStrikethrough()) p.push(9);
  p.push(...colour(c.isFgRGB(), c.isFgPalette(), c.getFgColor(), 30));
  p.push(...colour(c.isBgRGB(), c.isBgPalette(), c.getBgColor(), 40));
  return p.join(';');
}

/** SGR parameters for one colour; `base` is 30 (foreground) or 40 (background). */
function colour(rgb: boolean, palette: boolean, value: number, base: number): (string | number)[] {
  if (rgb) return [`${base + 8};2;${(value >> 16) & 0xff};${(value >> 8) & 0xff};${value & 0xff}`];
  if (!palette) return [];
  if (value < 8) return [base + value];
  if (value < 16) return [base + 60 + value - 8];
  return [`${base + 8};5;${value}`];
}

function lineWithEscapes(line: IBufferLine, cell: IBufferCell, cols: number): string {
  let out = '';
  let current = '';
  let pending = '';
  for (let x = 0; x < cols; x++) {
    line.getCell(x, cell);
    if (cell.getWidth() === 0) continue; // the second half of a wide character
    const sgr = sgrOf(cell);
    const chars = cell.getChars() || ' ';
    if (sgr !== current) {
      out += pending + `\x1b[0${sgr ? ';' + sgr : ''}m`;
      pending = '';
      current = sgr;
    }
    // Trailing blanks in the default style are left out, as tmux does.
    if (chars === ' ' && sgr === '') pending += ' ';
    else { out += pending + chars; pending = ''; }
  }
  return current ? out + '\x1b[0m' : out;
}

export function captureScreen(term: Terminal, escapes: boolean): string {
  const buffer = term.buffer.active;
  const cell = buffer.getNullCell();
  const rows: string[] = [];
  for (let y = 0; y < term.rows; y++) {
    const line = buffer.getLine(buffer.viewportY + y);
    if (!line) { rows.push(''); continue; }
    rows.push(escapes ? lineWithEscapes(line, cell, term.cols) : line.translateToString(true));
  }
  return rows.join('\n') + '\n';
}
