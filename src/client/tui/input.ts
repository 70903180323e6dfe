/**
 * The full-screen client's keyboard and mouse input: bytes from the user's
 * terminal cut into tokens — one key (a byte, an escape sequence, a UTF-8
 * character), a mouse report, or a paste — so the client can tell its
 * prefix key and mouse from what goes to the pane, and pass the rest on
 * byte for byte.
 */

export type MouseAction = 'press' | 'release' | 'drag' | 'wheel-up' | 'wheel-down';

export interface MouseEvent {
  action: MouseAction;
  /** 0 left, 1 middle, 2 right. */
  button: number;
  /** 0-based cell on the client's screen. */
  x: number;
  y: number;
  /** The SGR report's modifier bits (shift 4, meta 8, control 16). */
  mods: number;
}

export type Token =
  | { kind: 'key'; bytes: Buffer }
  | { kind: 'mouse'; event: MouseEvent; bytes: Buffer }
  | { kind: 'paste'; bytes: Buffer };

const ESC = 0x1b;
const PASTE_START = Buffer.from('\x1b[200~');
const PASTE_END = Buffer.from('\x1b[201~');
/** SGR mouse report (DECSET 1006): CSI < button ; x ; y M|m. */
const SGR_MOUSE = /^\x1b\[<(\d+);(\d+);(\d+)([Mm])$/;
/** The wheel bit of an SGR button code. */
const WHEEL_BIT = 64;
/** The motion bit: a drag while a button is held. */
const MOTION_BIT = 32;
/** Longest escape sequence we wait to complete before passing bytes on as they are. */
const MAX_SEQUENCE = 64;

/**
 * Cuts input into tokens. Input may arrive split anywhere: an incomplete
 * escape sequence or paste is kept until the rest comes (`flush` gives up on
 * a lone ESC, which is the Escape key).
 */
export class InputParser {
  private pending: Buffer = Buffer.alloc(0);

  feed(data: Buffer): Token[] {
    this.pending = this.pending.length ? Buffer.concat([this.pending, data]) : data;
    const out: Token[] = [];
    let i = 0;
    const buf = this.pending;
    while (i < buf.length) {
      const len = tokenLength(buf, i);
      if (len === 0) break; // incomplete: wait for more
      const bytes = buf.subarray(i, i + len);
      out.push(classify(bytes));
      i += len;
    }
    this.pending = Buffer.from(buf.subarray(i));
    return out;
  }

  /** Whether bytes are held waiting for the rest of a sequence. */
  get waiting(): boolean {
    return this.pending.length > 0;
  }

  /** Gives up waiting: what is held goes out as one key (a lone ESC is the Escape key). */
  flush(): Token[] {
    if (this.pending.length === 0) return [];
    const bytes = this.pending;
    this.pending = Buffer.alloc(0);
    return [{ kind: 'key', bytes }];
  }
}

function classify(bytes: Buffer): Token {
  if (bytes.subarray(0, PASTE_START.length).equals(PASTE_START)) return { kind: 'paste', bytes };
  const m = SGR_MOUSE.exec(bytes.toString('latin1'));
  if (m) {
    const code = Number(m[1]);
    const wheel = (code & WHEEL_BIT) !== 0;
    const action: MouseAction = wheel ? ((code & 1) === 0 ? 'wheel-up' : 'wheel-down') : m[4] === 'm' ? 'release' : code & MOTION_BIT ? 'drag' : 'press';
    return { kind: 'mouse', bytes, event: { action, button: code & 3, x: Number(m[2]) - 1, y: Number(m[3]) - 1, mods: code & 28 } };
  }
  return { kind: 'key', bytes };
}

/** Length of the token starting at i, or 0 if it is not complete yet. */
function tokenLength(buf: Buffer, i: number): number {
  const b = buf[i]!;
  if (b !== ESC) return utf8Length(buf, i);
  if (i + 1 >= buf.length) return 0;
  const next = buf[i + 1]!;
  if (buf.subarray(i, i + PASTE_START.length).equals(PASTE_START)) {
    const end = buf.indexOf(PASTE_END, i + PASTE_START.length);
    return end < 0 ? 0 : end + PASTE_END.length - i;
  }
  if (next === 0x5b /* [ */) {
    // CSI: parameters and intermediates up to a final byte 0x40-0x7e.
    for (let j = i + 2; j < buf.length; j++) {
      const c = buf[j]!;
      if (c >= 0x40 && c <= 0x7e) return j + 1 - i;
      if (j - i > MAX_SEQUENCE) return j - i;
    }
    return buf.length - i > MAX_SEQUENCE ? buf.length - i : 0;
  }
  if (next === 0x4f /* O */) return i + 2 < buf.length ? 3 : 0; // SS3: arrows and F1-F4 in application mode
  if (next === ESC) return 1; // ESC ESC: the first is a key of its own
  // Alt+key: ESC then one character.
  const rest = utf8Length(buf, i + 1);
  return rest === 0 ? 0 : 1 + rest;
}

function utf8Length(buf: Buffer, i: number): number {
  const b = buf[i]!;
  const n = b < 0x80 ? 1 : b >= 0xf0 ? 4 : b >= 0xe0 ? 3 : b >= 0xc0 ? 2 : 1;
  return i + n <= buf.length ? n : 0;
}

/** Arrow keys as a terminal sends them, normal (CSI) or application (SS3) cursor mode. */
const ARROWS: Record<string, 'up' | 'down' | 'right' | 'left'> = { A: 'up', B: 'down', C: 'right', D: 'left' };

export function arrowOf(bytes: Buffer): 'up' | 'down' | 'right' | 'left' | null {
  const s = bytes.toString('latin1');
  const m = /^\x1b[[O]([ABCD])$/.exec(s);
  return m ? ARROWS[m[1]!]! : null;
}

/**
 * A key for a pane's program: arrows and Home/End follow the program's
 * cursor-key mode (DECCKM), as a terminal of its own would send them.
 */
export function forPane(bytes: Buffer, applicationCursor: boolean): Buffer {
  if (!applicationCursor) return bytes;
  const m = /^\x1b\[([ABCDHF])$/.exec(bytes.toString('latin1'));
  return m ? Buffer.from(`\x1bO${m[1]}`, 'latin1') : bytes;
}

/** A mouse report re-encoded for a pane whose top-left cell is (x0, y0) on the client's screen. */
export function mouseForPane(e: MouseEvent, x0: number, y0: number, sgr: boolean): Buffer {
  const code = (e.action === 'wheel-up' ? WHEEL_BIT : e.action === 'wheel-down' ? WHEEL_BIT | 1 : e.button | (e.action === 'drag' ? MOTION_BIT : 0)) | e.mods;
  const x = e.x - x0 + 1;
  const y = e.y - y0 + 1;
  if (sgr) return Buffer.from(`\x1b[<${code};${x};${y}${e.action === 'release' ? 'm' : 'M'}`, 'latin1');
  // X10/normal encoding: release is button 3; coordinates offset by 32 (limited to 223).
  const c = e.action === 'release' ? 3 | e.mods : code;
  return Buffer.from([ESC, 0x5b, 0x4d, 32 + c, 32 + Math.min(x, 223), 32 + Math.min(y, 223)]);
}
