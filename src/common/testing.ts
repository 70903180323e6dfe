/** Assertions shared by unit tests (kept in src so tests beside the logic can import them). */
import assert from 'node:assert/strict';
import { ZmxError, type ErrorCode } from './errors.js';

/** `fn` throws a one-line ZmxError EINVAL whose message matches `pattern`. */
export function throwsEinval(fn: () => unknown, pattern: RegExp): void {
  assert.throws(fn, (err: unknown) => {
    assert.ok(err instanceof ZmxError, `expected a ZmxError, got ${String(err)}`);
    assert.equal(err.code, 'EINVAL');
    assert.ok(!err.message.includes('\n'), `one line: ${JSON.stringify(err.message)}`);
    assert.match(err.message, pattern);
    return true;
  });
}

/** `p` rejects with a ZmxError of `code`; returns it for further checks. */
export async function rejects(p: Promise<unknown>, code: ErrorCode, what: string): Promise<ZmxError> {
  let caught: ZmxError | undefined;
  await assert.rejects(p, (err: unknown) => {
    assert.ok(err instanceof ZmxError, `${what}: expected a ZmxError, got ${String(err)}`);
    assert.equal(err.code, code, `${what}: ${err.message}`);
    caught = err;
    return true;
  });
  return caught as ZmxError;
}
