/**
 * Output a sleeping pane may keep as bytes instead of parsing it.
 *
 * A hibernated pane (pane.ts) is a snapshot that rebuilds its emulator. Its
 * program's later output can wait, unparsed, behind that snapshot — the
 * snapshot and then those bytes rebuild exactly the emulator that parsing
 * them at once would have made — as long as the bytes ask nothing of the
 * terminal now (a cursor-position query wants its answer before the
 * program goes on) and change nothing the pane tracks beside its emulator
 * (the title, cwd and colours set by OSC, bracketed paste turned on). Such
 * output is "inert"; anything else wakes the pane and is parsed as before.
 * A pane printing lines, colours and cursor moves nobody watches then costs
 * a copy of its bytes, not xterm's ≈1 KiB per line.
 *
 * Transport-free and xterm-free: a byte scanner and a byte store.
 */

const ESC = 0x1b;
const ENQ = 0x05;
/** First byte of U+0080–U+00BF in UTF-8; with 0x80–0x9F after it, a C1 control (CSI, OSC, DCS...) as xterm decodes it. */
const UTF8_C2 = 0xc2;
const C1_LAST = 0x9f;

/** CSI finals without a private marker that only move, erase, scroll or set attributes and modes (none answers). */
const INERT_CSI_FINALS = new Set([...'@ABCDEFGHIJKLMPSTXZ`abdefghlmrsu'].map((c) => c.charCodeAt(0)));
/** CSI finals allowed after the `?` marker: DEC modes (but see BRACKETED_PASTE) and selective erase. */
const INERT_DEC_FINALS = new Set([...'hlJK'].map((c) => c.charCodeAt(0)));
/** ESC finals that open a string (DCS, SOS, OSC, PM, APC) or ask for an answer (DECID). */
const LIVE_ESC_FINALS = new Set([...'PX]^_Z'].map((c) => c.charCodeAt(0)));
/** DECSET 2004 turns bracketed paste on, which the pane tracks (pasteCapable). */
const BRACKETED_PASTE = '2004';

/**
 * True when `data` may wait unparsed behind a sleeping pane's snapshot (see
 * the file's comment). Conservative: an escape sequence cut off at the end
 * of `data`, or one it does not know, makes it false.
 */
export function isInert(data: Uint8Array): boolean {
  if (data.indexOf(ENQ) >= 0) return false;
  for (let i = data.indexOf(UTF8_C2); i >= 0; i = data.indexOf(UTF8_C2, i + 1)) {
    const next = data[i + 1];
    if (next === undefined || next <= C1_LAST) return false;
  }
  for (let i = data.indexOf(ESC); i >= 0; i = data.indexOf(ESC, i + 1)) {
    const next = data[i + 1];
    if (next === undefined) return false;
    if (next === 0x5b /* [ */) {
      const end = inertCsiEnd(data, i + 2);
      if (end < 0) return false;
      i = end;
    } else if (next >= 0x20 && next <= 0x2f) {
      // ESC, intermediates, final: charset designations, DECALN.
      let j = i + 1;
      while (j < data.length && data[j]! >= 0x20 && data[j]! <= 0x2f) j++;
      const final = data[j];
      if (final === undefined || final < 0x30 || final > 0x7e) return false;
      i = j;
    } else if (next < 0x30 || next > 0x7e || LIVE_ESC_FINALS.has(next)) {
      return false;
    }
  }
  return true;
}

/** The index of the final byte of an inert CSI whose parameters start at `from`, or -1. */
function inertCsiEnd(data: Uint8Array, from: number): number {
  let j = from;
  const marker = data[j];
  const dec = marker === 0x3f; /* ? */
  if (marker !== undefined && marker >= 0x3c && marker <= 0x3f && !dec) return -1; // < = > markers: queries and xterm extensions
  if (dec) j++;
  const paramsFrom = j;
  while (j < data.length && data[j]! >= 0x30 && data[j]! <= 0x3f) j++;
  const final = data[j];
  // Intermediates (DECRQM's `$p`, DECSCUSR's ` q`...), a control inside, or the end of the data.
  if (final === undefined || final < 0x40 || final > 0x7e) return -1;
  if (!dec) return INERT_CSI_FINALS.has(final) ? j : -1;
  if (!INERT_DEC_FINALS.has(final)) return -1;
  if (final === 0x68 /* h */ && Buffer.from(data.subarray(paramsFrom, j)).toString('latin1').split(';').includes(BRACKETED_PASTE)) return -1;
  return j;
}

/** Bytes stored for a later parse: copied into blocks, so a tail of many small reads costs about its bytes. */
export class UnparsedBytes {
  private readonly blocks: Buffer[] = [];
  /** Bytes in the last block. */
  private fill = 0;
  bytes = 0;

  constructor(private readonly blockBytes: number) {}

  push(data: Uint8Array): void {
    let from = 0;
    while (from < data.length) {
      let block = this.blocks[this.blocks.length - 1];
      if (!block || this.fill === block.length) {
        block = Buffer.allocUnsafe(Math.max(this.blockBytes, data.length - from));
        this.blocks.push(block);
        this.fill = 0;
      }
      const n = Math.min(block.length - this.fill, data.length - from);
      block.set(data.subarray(from, from + n), this.fill);
      this.fill += n;
      from += n;
    }
    this.bytes += data.length;
  }

  /** The bytes stored, in order, as views of the blocks. */
  chunks(): Buffer[] {
    return this.blocks.map((b, i) => (i === this.blocks.length - 1 ? b.subarray(0, this.fill) : b));
  }
}
