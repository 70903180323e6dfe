/**
 * Z85 (ZeroMQ RFC 32): the text form of Curve keys. zeromq.js makes keys
 * in Z85 but does not convert them; ZAP hands us raw 32-byte keys.
 */
import { createHash } from 'node:crypto';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const DECODE = new Map<string, number>([...ALPHABET].map((c, i) => [c, i]));

export function z85Encode(data: Uint8Array): string {
  if (data.length % 4 !== 0) throw new RangeError('z85: length must be a multiple of 4');
  let out = '';
  for (let i = 0; i < data.length; i += 4) {
    let value = ((data[i]! << 24) >>> 0) + (data[i + 1]! << 16) + (data[i + 2]! << 8) + data[i + 3]!;
    const chunk: string[] = [];
    for (let j = 0; j < 5; j++) {
      chunk.unshift(ALPHABET[value % 85]!);
      value = Math.floor(value / 85);
    }
    out += chunk.join('');
  }
  return out;
}

export function z85Decode(text: string): Buffer {
  if (text.length % 5 !== 0) throw new RangeError('z85: length must be a multiple of 5');
  const out = Buffer.alloc((text.length / 5) * 4);
  for (let i = 0, o = 0; i < text.length; i += 5, o += 4) {
    let value = 0;
    for (let j = 0; j < 5; j++) {
      const digit = DECODE.get(text[i + j]!);
      if (digit === undefined) throw new RangeError(`z85: invalid character ${JSON.stringify(text[i + j])}`);
      value = value * 85 + digit;
    }
    if (value > 0xffff_ffff) throw new RangeError('z85: value out of range');
    out.writeUInt32BE(value, o);
  }
  return out;
}

/** A Curve public key in Z85 is 40 characters of the alphabet. */
export function isZ85Key(text: string): boolean {
  if (text.length !== 40) return false;
  try {
    z85Decode(text);
    return true;
  } catch {
    return false;
  }
}

/** A short, stable name for a public key, as logs and messages show it (never the key's secret). */
export function fingerprint(publicKey: string): string {
  const raw = isZ85Key(publicKey) ? z85Decode(publicKey) : Buffer.from(publicKey);
  return 'SHA256:' + createHash('sha256').update(raw).digest('hex').slice(0, 16);
}
