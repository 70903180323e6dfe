/**
 * What one pty host hands the next at an upgrade (handover.ts): every
 * session as plain data, each pane with its screen and the number of the
 * fd its pty master arrives on. One JSON line; `format` changes when its
 * meaning does, and a pty host refuses a format it does not know.
 */
import type { LayoutNode } from '../common/layout.js';
import type { Worktree } from './workspace.js';

export const HANDOVER_FORMAT = 1;

export interface PaneState {
  id: number;
  pid: number;
  cmd: string[];
  cols: number;
  rows: number;
  /** The last output chunk's number: the next pty host goes on from it. */
  seq: number;
  title: string;
  cwdUri: string;
  pasteCapable: boolean;
  /** Screen, scrollback, modes, cursor, title: the pane's snapshot (Pane.snapshot), as text. */
  vt: string;
  /** The pty master's fd in the next pty host. */
  fd: number;
}

export interface WindowState {
  id: number;
  name: string;
  layout: LayoutNode;
  active: number;
  zoomed: boolean;
  preset: string;
}

export interface SessionState {
  name: string;
  created: number;
  root: string;
  labels: Record<string, string>;
  windows: WindowState[];
  activeWindow: number;
  lastWindow: number | null;
  cols: number;
  rows: number;
  task: { id: string; pane: number; command: string; status: number | null; ended: number | null } | null;
  /** `run` tasks typed and not finished: their markers are still looked for (whoever waited for them was told the pty host stopped). */
  running: { id: string; pane: number }[];
  markerTail: string;
  killed: boolean;
  worktree: Worktree | null;
  portal: { name: string; file: string } | null;
  copied: boolean;
  panes: PaneState[];
}

export interface HandoverState {
  format: number;
  nextPaneId: number;
  nextWindowId: number;
  sessions: SessionState[];
}
