/**
 * The C library adapter: on this project's machines (Linux, glibc) koffi's
 * prebuilt binary loads and malloc_trim runs; if it did not, idle panes'
 * freed memory would stay in the pty host's RSS without any other sign.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { trimMalloc } from './libc.js';

test('malloc_trim is reachable where there is a glibc, and harmless to call again', (t) => {
  if (process.platform !== 'linux' || !process.report?.getReport || !(process.report.getReport() as { header?: { glibcVersionRuntime?: string } }).header?.glibcVersionRuntime) {
    return t.skip('no glibc here');
  }
  assert.equal(trimMalloc(), true);
  assert.equal(trimMalloc(), true);
});
