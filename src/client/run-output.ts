/**
 * What `zmx run` prints of a pane's output: the command's output, without
 * the shell's echo of what was typed. Lines are judged whole; escapes are
 * stripped, as zmx does.
 */

/** The typed marker as the shell echoes it (not yet expanded). */
const MARKER_ECHO = /ZMX_TASK_COMPLETED:[0-9a-f]{4}:\$\?/;
/** The marker as the shell prints it: the command has finished. */
const MARKER_DONE = /ZMX_TASK_COMPLETED:[0-9a-f]{4}:\d+/;
/** Characters of the script's first line looked for in the echo (short enough not to wrap). */
const ECHO_KEY_CHARS = 40;
/**
 * Readline turns bracketed paste off (DECRST 2004) as it accepts a line:
 * everything before is the shell drawing what was typed or pasted.
 */
const ACCEPT_LINE = '\x1b[?2004l';
/** Output held back while waiting for ACCEPT_LINE; past this the shell has no readline. */
const HOLD_MAX = 64 * 1024;

/** Strips terminal escapes, keeping printable text, LF, TAB and BS. */
export function stripAnsi(text: string): string {
  return text
    .replace(/\x1b\][^\x07\x1b]*(\x07|\x1b\\)/g, '') // OSC
    .replace(/\x1b[P^_X][^\x1b]*\x1b\\/g, '') // DCS, PM, APC, SOS
    .replace(/\x1b\[[0-?]*[ -/]*[@-~]/g, '') // CSI
    .replace(/\x1b[ -/]*[0-~]/g, '') // other ESC sequences
    .replace(/[\x00-\x07\x0b\x0c\x0e-\x1f\x7f]/g, '');
}

export class RunOutputFilter {
  /** Raw output held until readline accepts the line (null once it has, or given up). */
  private held: string | null = '';
  private pending = '';
  private echoSeen: boolean;
  /** After the marker line only the next prompt follows: print nothing more. */
  private done = false;
  private readonly echoKey: string;

  constructor(script: string) {
    this.echoKey = (script.split('\n')[0] ?? '').trim().slice(0, ECHO_KEY_CHARS);
    this.echoSeen = this.echoKey === '';
  }

  /** Feeds output; returns the text to print now (whole lines only). */
  push(data: string): string {
    if (this.held !== null) {
      this.held += data;
      const at = this.held.indexOf(ACCEPT_LINE);
      if (at >= 0) {
        // The echo is over; what follows is the command's output.
        const rest = this.held.slice(at + ACCEPT_LINE.length);
        this.held = null;
        this.echoSeen = true;
        return this.lines(rest);
      }
      if (this.held.length <= HOLD_MAX) return '';
      // No readline: judge lines by their text instead.
      const all = this.held;
      this.held = null;
      return this.lines(all);
    }
    return this.lines(data);
  }

  private lines(data: string): string {
    this.pending += data;
    const cut = this.pending.lastIndexOf('\n') + 1;
    if (cut === 0) return '';
    const lines = this.pending.slice(0, cut);
    this.pending = this.pending.slice(cut);
    return this.filter(lines);
  }

  /** The rest, at the end. */
  end(): string {
    let out = '';
    if (this.held !== null) {
      const all = this.held;
      this.held = null;
      out = this.lines(all);
    }
    const rest = this.pending;
    this.pending = '';
    return out + (rest ? this.filter(rest) : '');
  }

  private filter(text: string): string {
    const out: string[] = [];
    const parts = text.split('\n');
    const trailing = parts.pop(); // '' when text ends with a newline
    for (const raw of parts) {
      const line = stripAnsi(raw.replace(/\r/g, ''));
      if (this.keep(line)) out.push(line + '\n');
    }
    if (trailing) {
      const line = stripAnsi(trailing.replace(/\r/g, ''));
      if (this.keep(line)) out.push(line);
    }
    return out.join('');
  }

  private keep(line: string): boolean {
    if (this.done) return false;
    if (MARKER_DONE.test(line)) {
      this.done = true;
      return true; // printed, as zmx does: scripts grep it
    }
    if (MARKER_ECHO.test(line)) {
      if (line.includes(this.echoKey)) this.echoSeen = true;
      return false;
    }
    if (!this.echoSeen && line.includes(this.echoKey)) {
      this.echoSeen = true;
      return false;
    }
    return true;
  }
}
