/**
 * The cell conventions shared by blitTerminal (which writes screen.lines) and
 * the extended draw (which reads them).
 *
 * A cell of blessed's `screen.lines` is `[attr, ch]`. A wide character (CJK,
 * most emoji: two columns) sits in its cell and the cell to its right holds a
 * continuation marker: CONTINUATION (what blitTerminal writes) or blessed's
 * own '\x03' (what blessed widgets write with `fullUnicode`). The renderer
 * writes the wide character once and never the marker.
 *
 * A pair counts as wide only if the marker follows a character that may be
 * wide, so a narrow character a widget drew over a wide one's left half
 * leaves an orphan marker, drawn as a blank, rather than a misplaced glyph.
 */

/** The ch of the cell covered by the right half of a wide character. */
export const CONTINUATION = '';
/** The marker blessed's fullUnicode content rendering leaves after a wide character. */
const BLESSED_CONTINUATION = '\x03';

export function isContinuation(ch: string): boolean {
  return ch === CONTINUATION || ch === BLESSED_CONTINUATION;
}

/**
 * False for characters that are surely one column: everything below U+1100
 * (the first wide block, Hangul Jamo), general punctuation to the
 * mathematical operators, and box drawing, blocks and most geometric shapes
 * (borders are made of these, so they must stay cheap to draw). True for the
 * rest, which the renderer then treats carefully.
 */
export function mayBeWide(ch: string): boolean {
  const cp = ch.codePointAt(0) ?? 0;
  if (cp < 0x1100) return false;
  if (cp >= 0x2000 && cp < 0x2300) return false;
  if (cp >= 0x2500 && cp < 0x25fd) return false;
  return true;
}

/**
 * Whether a character is surely two columns (East Asian Wide/Fullwidth and
 * the emoji blocks). Only used where a wrong "narrow" is harmless: a
 * character in the screen's last column without a marker.
 */
export function isSurelyWide(ch: string): boolean {
  const cp = ch.codePointAt(0) ?? 0;
  return (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0xa4cf && cp !== 0x303f) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  );
}
