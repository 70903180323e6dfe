import { test } from 'node:test';
import assert from 'node:assert/strict';
import { geometry, neighbour, panesOf, preset, remove, resize, split, leaf, type Geometry } from './layout.js';

const rects = (g: Geometry) => Object.fromEntries(g.panes.map((p) => [p.pane, [p.content.x, p.content.y, p.content.cols, p.content.rows]]));

test('one pane: a title row, then content filling the window', () => {
  assert.deepEqual(rects(geometry(leaf(1), 80, 23)), { 1: [0, 1, 80, 22] });
});

test('split -h puts the new pane to the right behind a one-column border; split -v below, under its own title', () => {
  const h = split(leaf(1), 1, 'h', 2);
  const g = geometry(h, 81, 24);
  assert.deepEqual(rects(g), { 1: [0, 1, 40, 23], 2: [41, 1, 40, 23] });
  assert.deepEqual(g.borders, [{ x: 40, y: 0, rows: 24 }]);
  const v = split(h, 2, 'v', 3);
  assert.deepEqual(rects(geometry(v, 81, 24)), { 1: [0, 1, 40, 23], 2: [41, 1, 40, 11], 3: [41, 13, 40, 11] });
  assert.deepEqual(panesOf(v), [1, 2, 3]);
});

test('splitting in the parent\'s direction adds a sibling that shares the target\'s space', () => {
  const t = split(split(leaf(1), 1, 'h', 2), 2, 'h', 3);
  assert.deepEqual(rects(geometry(t, 82, 10)), { 1: [0, 1, 40, 9], 2: [41, 1, 20, 9], 3: [62, 1, 20, 9] });
});

test('removing a pane gives its space back and collapses a split left with one child', () => {
  const t = split(split(leaf(1), 1, 'h', 2), 2, 'v', 3);
  const r = remove(t, 3)!;
  assert.deepEqual(r, split(leaf(1), 1, 'h', 2));
  assert.deepEqual(remove(remove(r, 2)!, 1), null);
});

test('presets tile every pane in order', () => {
  const ids = [1, 2, 3, 4, 5];
  for (const name of ['even-horizontal', 'even-vertical', 'main-vertical', 'tiled'] as const) {
    const g = geometry(preset(name, ids), 100, 40);
    assert.deepEqual(g.panes.map((p) => p.pane), ids, name);
    // No two panes overlap.
    for (const a of g.panes) for (const b of g.panes) {
      if (a === b) continue;
      const apart = a.title.x + a.title.cols <= b.title.x || b.title.x + b.title.cols <= a.title.x
        || a.content.y + a.content.rows <= b.title.y || b.content.y + b.content.rows <= a.title.y;
      assert.ok(apart, `${name}: panes ${a.pane} and ${b.pane} overlap`);
    }
  }
  assert.deepEqual(rects(geometry(preset('main-vertical', [1, 2, 3]), 101, 20))[1], [0, 1, 60, 19]);
});

test('neighbour finds the pane across an edge, and none past the window\'s edge', () => {
  const g = geometry(split(split(leaf(1), 1, 'h', 2), 2, 'v', 3), 81, 24);
  assert.equal(neighbour(g, 1, 'right'), 2);
  assert.equal(neighbour(g, 3, 'left'), 1);
  assert.equal(neighbour(g, 2, 'down'), 3);
  assert.equal(neighbour(g, 3, 'up'), 2);
  assert.equal(neighbour(g, 1, 'left'), null);
});

test('resize moves the border between a pane and its sibling, within limits', () => {
  const t = split(leaf(1), 1, 'h', 2);
  assert.deepEqual(rects(geometry(resize(t, 1, 'right', 5, 81, 24), 81, 24)), { 1: [0, 1, 45, 23], 2: [46, 1, 35, 23] });
  // The last pane's movable edge is its left one: it moves right too, as in tmux.
  assert.deepEqual(rects(geometry(resize(t, 2, 'right', 5, 81, 24), 81, 24)), { 1: [0, 1, 45, 23], 2: [46, 1, 35, 23] });
  assert.deepEqual(rects(geometry(resize(t, 2, 'left', 5, 81, 24), 81, 24)), { 1: [0, 1, 35, 23], 2: [36, 1, 45, 23] });
  // Asking for more than there is leaves the layout alone.
  assert.deepEqual(resize(t, 1, 'right', 500, 81, 24), t);
  const v = split(leaf(1), 1, 'v', 2);
  assert.deepEqual(rects(geometry(resize(v, 2, 'up', 3, 80, 24), 80, 24)), { 1: [0, 1, 80, 8], 2: [0, 10, 80, 14] });
});
