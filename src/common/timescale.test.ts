import { test } from 'node:test';
import assert from 'node:assert/strict';
import { parseTimescale } from './constants.js';

test('ZMX_TEST_TIMESCALE only ever shortens: 0.05..1 is taken, anything else is 1', () => {
  assert.equal(parseTimescale('0.1'), 0.1);
  assert.equal(parseTimescale('0.05'), 0.05);
  assert.equal(parseTimescale('1'), 1);
  for (const bad of [undefined, '', ' ', 'fast', '0', '0.01', '-1', '2', '10', 'Infinity', 'NaN']) {
    assert.equal(parseTimescale(bad), 1, JSON.stringify(bad));
  }
});
