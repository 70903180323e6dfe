import { test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { isZ85Key, z85Decode, z85Encode } from './z85.js';

const ALPHABET = '0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ.-:+=^!/*?&<>()[]{}@%$#';
const HELLO = Buffer.from([0x86, 0x4f, 0xd2, 0x6f, 0xb5, 0x59, 0xf7, 0x5b]);

test('RFC 32 test vector: 86 4F D2 6F B5 59 F7 5B <-> HelloWorld', () => {
  assert.equal(z85Encode(HELLO), 'HelloWorld');
  assert.ok(z85Decode('HelloWorld').equals(HELLO));
});

test('edges of the alphabet', () => {
  assert.equal(z85Encode(new Uint8Array(0)), '');
  assert.equal(z85Decode('').length, 0);
  assert.equal(z85Encode(Buffer.alloc(4)), '00000');
  // 0xffffffff is the largest group: 85^5 - 1 would overflow 32 bits.
  assert.equal(z85Encode(Buffer.from([0xff, 0xff, 0xff, 0xff])), '%nSc0');
  assert.ok(z85Decode('%nSc0').equals(Buffer.from([0xff, 0xff, 0xff, 0xff])));
  // Each digit position carries its own weight.
  assert.equal(z85Encode(Buffer.from([0, 0, 0, 84])), '0000#');
  assert.equal(z85Encode(Buffer.from([0, 0, 0, 85])), '00010');
});

test('random round trips, bytes -> text -> bytes and text -> bytes -> text', () => {
  for (let i = 0; i < 500; i++) {
    const bytes = randomBytes(4 * (i % 17));
    const text = z85Encode(bytes);
    assert.equal(text.length, (bytes.length / 4) * 5);
    for (const c of text) assert.ok(ALPHABET.includes(c), `character ${c} outside the alphabet`);
    assert.ok(z85Decode(text).equals(bytes), `round trip of ${bytes.toString('hex')}`);
  }
  // A Curve key: 32 bytes, 40 characters.
  const key = randomBytes(32);
  assert.equal(z85Encode(key).length, 40);
  // Uint8Array input, not only Buffer.
  assert.equal(z85Encode(new Uint8Array(HELLO)), 'HelloWorld');
});

test('encode refuses lengths that are not a multiple of 4', () => {
  for (const n of [1, 2, 3, 5, 31, 33]) assert.throws(() => z85Encode(Buffer.alloc(n)), RangeError, `length ${n}`);
});

test('decode refuses bad lengths, bad characters and overflowing groups', () => {
  for (const text of ['H', 'Hell', 'HelloW', 'HelloWorld1']) assert.throws(() => z85Decode(text), /multiple of 5/, text);
  for (const text of ['Hello Worl', 'Hell"World', "Hell'World", 'Hell,World', 'Hell;World', 'Hell\\World', 'Hell_World', 'Hell|World', 'Hell~World', 'HellöWorld', 'Hell\x00World'.slice(0, 10)]) {
    assert.throws(() => z85Decode(text), /invalid character/, JSON.stringify(text));
  }
  // '%nSc1' is 0xffffffff + 1; '#####' is 85^5 - 1.
  for (const text of ['%nSc1', '#####', 'HelloWorld#####']) assert.throws(() => z85Decode(text), /out of range/, text);
});

test('isZ85Key: 40 characters of the alphabet', () => {
  const key = z85Encode(randomBytes(32));
  assert.equal(isZ85Key(key), true);
  assert.equal(isZ85Key('rq:rM>}U?@Lns47E1%kR.o@n%FcmmsL/@{H8]yf7'), true); // the RFC 32 example public key
  assert.equal(isZ85Key(key.slice(0, 39)), false);
  assert.equal(isZ85Key(key + '0'), false);
  assert.equal(isZ85Key(''), false);
  assert.equal(isZ85Key(key.slice(0, 39) + ' '), false);
  assert.equal(isZ85Key(key.slice(0, 39) + '"'), false);
  assert.equal(isZ85Key(key.slice(0, 39) + 'é'), false);
});

test('isZ85Key refuses 40 characters that do not decode', () => {
  const text = '#'.repeat(40);
  assert.throws(() => z85Decode(text), /out of range/);
  assert.equal(isZ85Key(text), false);
});
