/**
 * Window layouts: a tree of splits with panes at the leaves, as tmux keeps
 * them. Pure: the pty host edits the tree and sizes its ptys from it; every
 * client computes the same rectangles from the same tree to draw borders.
 *
 * A pane's region is one title row (its name, command and state; between
 * stacked panes it is the border) above its content. Side-by-side panes are
 * divided by a one-column border.
 */
import { ZmxError } from './errors.js';

export type SplitDir = 'h' | 'v';

/** `h`: children side by side (tmux split-window -h); `v`: stacked. */
export type LayoutNode =
  | { pane: number }
  | { dir: SplitDir; children: LayoutNode[]; sizes: number[] };

export const LAYOUT_PRESETS = ['even-horizontal', 'even-vertical', 'main-vertical', 'tiled'] as const;
export type LayoutPreset = (typeof LAYOUT_PRESETS)[number];

export const CHROME = {
  /** Rows above each pane's content: its title, which is also the border between stacked panes. */
  titleRows: 1,
  /** Columns between side-by-side panes. */
  borderCols: 1,
  /** Rows the full-screen client keeps for its status bar. */
  statusRows: 1,
  /** main-vertical: the share of the width the main pane gets. */
  mainShare: 0.6,
  /** No pane's content is made smaller than this. */
  minCols: 1,
  minRows: 1,
} as const;

export interface Rect { x: number; y: number; cols: number; rows: number }

export interface PaneRect {
  pane: number;
  /** The title row: x, y and width. */
  title: { x: number; y: number; cols: number };
  /** The content: what the pane's pty is sized to. */
  content: Rect;
}

export interface Border { x: number; y: number; rows: number }

export interface Geometry {
  panes: PaneRect[];
  /** Vertical borders between side-by-side panes. */
  borders: Border[];
}

export function leaf(pane: number): LayoutNode {
  return { pane };
}

export function isLeaf(n: LayoutNode): n is { pane: number } {
  return 'pane' in n;
}

/** Pane ids in reading order (the order tmux numbers them). */
export function panesOf(n: LayoutNode): number[] {
  return isLeaf(n) ? [n.pane] : n.children.flatMap(panesOf);
}

/** Splits `total` cells between children by weight; every child gets at least `min`. */
function allot(total: number, weights: number[], min: number): number[] {
  const sum = weights.reduce((a, b) => a + b, 0) || 1;
  const out = weights.map((w) => Math.max(min, Math.floor((total * w) / sum)));
  // Whatever rounding left over goes to the last child.
  const used = out.reduce((a, b) => a + b, 0);
  out[out.length - 1] = Math.max(min, out[out.length - 1]! + total - used);
  return out;
}

/** The smallest region a subtree needs, along the given axis. */
function minExtent(n: LayoutNode, dir: SplitDir): number {
  if (isLeaf(n)) return dir === 'h' ? CHROME.minCols : CHROME.titleRows + CHROME.minRows;
  const parts = n.children.map((c) => minExtent(c, dir));
  if (n.dir !== dir) return Math.max(...parts);
  return parts.reduce((a, b) => a + b, 0) + (dir === 'h' ? CHROME.borderCols * (n.children.length - 1) : 0);
}

/** Every pane's title and content rectangle, and the borders, for a window of `cols` × `rows`. */
export function geometry(root: LayoutNode, cols: number, rows: number): Geometry {
  const out: Geometry = { panes: [], borders: [] };
  place(root, { x: 0, y: 0, cols, rows }, out);
  return out;
}

function place(n: LayoutNode, r: Rect, out: Geometry): void {
  if (isLeaf(n)) {
    out.panes.push({
      pane: n.pane,
      title: { x: r.x, y: r.y, cols: r.cols },
      content: { x: r.x, y: r.y + CHROME.titleRows, cols: Math.max(CHROME.minCols, r.cols), rows: Math.max(CHROME.minRows, r.rows - CHROME.titleRows) },
    });
    return;
  }
  if (n.dir === 'h') {
    const gaps = CHROME.borderCols * (n.children.length - 1);
    const widths = allot(Math.max(0, r.cols - gaps), n.sizes, CHROME.minCols);
    let x = r.x;
    n.children.forEach((c, i) => {
      if (i > 0) {
        out.borders.push({ x, y: r.y, rows: r.rows });
        x += CHROME.borderCols;
      }
      place(c, { x, y: r.y, cols: widths[i]!, rows: r.rows }, out);
      x += widths[i]!;
    });
  } else {
    const heights = allot(r.rows, n.sizes, CHROME.titleRows + CHROME.minRows);
    let y = r.y;
    n.children.forEach((c, i) => {
      place(c, { x: r.x, y, cols: r.cols, rows: heights[i]! }, out);
      y += heights[i]!;
    });
  }
}

/** The content rectangle of one pane when it is zoomed to the whole window. */
export function zoomedRect(pane: number, cols: number, rows: number): PaneRect {
  return geometry(leaf(pane), cols, rows).panes[0]!;
}

/**
 * Splits `target` in two along `dir`: the new pane goes after it (right of
 * it, or below). A split in the same direction as the parent adds a sibling
 * sharing the target's space, as tmux does.
 */
export function split(root: LayoutNode, target: number, dir: SplitDir, added: number): LayoutNode {
  if (isLeaf(root)) {
    if (root.pane !== target) return root;
    return { dir, children: [leaf(target), leaf(added)], sizes: [1, 1] };
  }
  const i = root.children.findIndex((c) => isLeaf(c) && c.pane === target);
  if (i >= 0 && root.dir === dir) {
    const half = root.sizes[i]! / 2;
    return {
      dir,
      children: [...root.children.slice(0, i + 1), leaf(added), ...root.children.slice(i + 1)],
      sizes: [...root.sizes.slice(0, i), half, half, ...root.sizes.slice(i + 1)],
    };
  }
  return { ...root, children: root.children.map((c) => split(c, target, dir, added)) };
}

/** The tree without `pane`; null when it was the last one. A split left with one child collapses into it. */
export function remove(root: LayoutNode, pane: number): LayoutNode | null {
  if (isLeaf(root)) return root.pane === pane ? null : root;
  const children: LayoutNode[] = [];
  const sizes: number[] = [];
  root.children.forEach((c, i) => {
    const kept = remove(c, pane);
    if (!kept) return;
    // A child split the same way as its parent merges into it.
    if (!isLeaf(kept) && kept.dir === root.dir) {
      const sum = kept.sizes.reduce((a, b) => a + b, 0) || 1;
      kept.children.forEach((k, j) => { children.push(k); sizes.push((root.sizes[i]! * kept.sizes[j]!) / sum); });
    } else {
      children.push(kept);
      sizes.push(root.sizes[i]!);
    }
  });
  if (children.length === 0) return null;
  if (children.length === 1) return children[0]!;
  return { dir: root.dir, children, sizes };
}

/** One of tmux's preset layouts over `panes`, in order. */
export function preset(name: LayoutPreset, panes: number[]): LayoutNode {
  if (panes.length === 0) throw new ZmxError('EINVAL', 'a layout needs at least one pane');
  if (panes.length === 1) return leaf(panes[0]!);
  const even = (dir: SplitDir, ids: LayoutNode[]): LayoutNode => (ids.length === 1 ? ids[0]! : { dir, children: ids, sizes: ids.map(() => 1) });
  switch (name) {
    case 'even-horizontal': return even('h', panes.map(leaf));
    case 'even-vertical': return even('v', panes.map(leaf));
    case 'main-vertical': {
      const [main, ...rest] = panes;
      return { dir: 'h', children: [leaf(main!), even('v', rest.map(leaf))], sizes: [CHROME.mainShare, 1 - CHROME.mainShare] };
    }
    case 'tiled': {
      const perRow = Math.ceil(Math.sqrt(panes.length));
      const rows: LayoutNode[] = [];
      for (let i = 0; i < panes.length; i += perRow) rows.push(even('h', panes.slice(i, i + perRow).map(leaf)));
      return even('v', rows);
    }
  }
}

export function isPreset(name: string): name is LayoutPreset {
  return (LAYOUT_PRESETS as readonly string[]).includes(name);
}

export type Direction = 'left' | 'right' | 'up' | 'down';

/**
 * The pane next to `from` in a direction: among panes whose region starts
 * just beyond `from`'s edge, the one overlapping it most; null at the edge.
 */
export function neighbour(g: Geometry, from: number, dir: Direction): number | null {
  const region = (p: PaneRect) => ({ x: p.title.x, y: p.title.y, cols: p.title.cols, rows: p.content.rows + CHROME.titleRows });
  const start = g.panes.find((p) => p.pane === from);
  if (!start) return null;
  const a = region(start);
  let best: { pane: number; overlap: number; distance: number } | null = null;
  for (const p of g.panes) {
    if (p.pane === from) continue;
    const b = region(p);
    const horizontal = dir === 'left' || dir === 'right';
    const distance = dir === 'right' ? b.x - (a.x + a.cols) : dir === 'left' ? a.x - (b.x + b.cols) : dir === 'down' ? b.y - (a.y + a.rows) : a.y - (b.y + b.rows);
    if (distance < 0) continue;
    const overlap = horizontal
      ? Math.min(a.y + a.rows, b.y + b.rows) - Math.max(a.y, b.y)
      : Math.min(a.x + a.cols, b.x + b.cols) - Math.max(a.x, b.x);
    if (overlap <= 0) continue;
    if (!best || distance < best.distance || (distance === best.distance && overlap > best.overlap)) best = { pane: p.pane, overlap, distance };
  }
  return best?.pane ?? null;
}

/**
 * Moves the edge of `pane` by `cells` in a direction (tmux resize-pane
 * -L/-R/-U/-D): the nearest split along that axis gives the cells to, or
 * takes them from, the pane's neighbouring sibling. Returns the new tree.
 */
export function resize(root: LayoutNode, pane: number, dir: Direction, cells: number, cols: number, rows: number): LayoutNode {
  const axis: SplitDir = dir === 'left' || dir === 'right' ? 'h' : 'v';
  const grow = dir === 'right' || dir === 'down' ? cells : -cells;
  const extent = axis === 'h' ? cols : rows;
  const path = pathTo(root, pane);
  if (!path) return root;
  // Deepest ancestor split along the axis in which the pane's branch has a sibling after it (or before it).
  for (let depth = path.length - 1; depth >= 0; depth--) {
    const { node, index } = path[depth]!;
    if (node.dir !== axis || node.children.length < 2) continue;
    const other = index < node.children.length - 1 ? index + 1 : index - 1;
    const cellsOf = allot(extentOf(path, depth, extent), node.sizes, 0);
    const delta = other > index ? grow : -grow;
    const mine = cellsOf[index]! + delta;
    const theirs = cellsOf[other]! - delta;
    if (mine < minExtent(node.children[index]!, axis) || theirs < minExtent(node.children[other]!, axis)) return root;
    cellsOf[index] = mine;
    cellsOf[other] = theirs;
    return replaceAt(root, path.slice(0, depth).map((p) => p.index), { ...node, sizes: cellsOf });
  }
  return root;
}

interface Step { node: { dir: SplitDir; children: LayoutNode[]; sizes: number[] }; index: number }

function pathTo(root: LayoutNode, pane: number): Step[] | null {
  if (isLeaf(root)) return root.pane === pane ? [] : null;
  for (let i = 0; i < root.children.length; i++) {
    const rest = pathTo(root.children[i]!, pane);
    if (rest) return [{ node: root, index: i }, ...rest];
  }
  return null;
}

/** The cells the split at `depth` has along its axis (borders between its children excluded). */
function extentOf(path: Step[], depth: number, total: number): number {
  let extent = total;
  for (let d = 0; d < depth; d++) {
    const { node, index } = path[d]!;
    if (node.dir === path[depth]!.node.dir) {
      const gaps = node.dir === 'h' ? CHROME.borderCols * (node.children.length - 1) : 0;
      extent = allot(Math.max(0, extent - gaps), node.sizes, 0)[index]!;
    }
  }
  const node = path[depth]!.node;
  return node.dir === 'h' ? Math.max(0, extent - CHROME.borderCols * (node.children.length - 1)) : extent;
}

function replaceAt(root: LayoutNode, indexes: number[], replacement: LayoutNode): LayoutNode {
  if (indexes.length === 0 || isLeaf(root)) return replacement;
  const [i, ...rest] = indexes;
  return { ...root, children: root.children.map((c, j) => (j === i ? replaceAt(c, rest, replacement) : c)) };
}
