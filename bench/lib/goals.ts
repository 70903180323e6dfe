/**
 * The report's summary: every measure's goal rows (Goal, in measure.ts)
 * with this run's figures, the figures from before (bench/baseline.json),
 * and whether each goal is met. A row whose measure did not run, or whose
 * contender failed, says so instead of a figure.
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Goal, Measure, MeasureResult } from './measure.js';
import { ROOT } from './zmx.js';

/** The committed before figures (source bench/, not dist/). */
export const BASELINE_PATH = join(ROOT, 'bench', 'baseline.json');

/** A row's figures before: zmx's, the peer's and their ratio, in the row's unit. */
export interface Before {
  zmx?: number;
  peer?: number;
  ratio?: number;
  /** The cell's text when the figures were not single numbers (a range, "≈2 s"); the chart still uses the numbers. */
  text?: string;
}

export interface Baseline {
  /** Where the figures come from (Markdown). */
  source: string;
  rows: Record<string, Before>;
}

export function loadBaseline(path = BASELINE_PATH): Baseline {
  try {
    const b = JSON.parse(readFileSync(path, 'utf8')) as Baseline;
    if (typeof b.source !== 'string' || typeof b.rows !== 'object' || b.rows === null) throw new Error('it needs "source" and "rows"');
    return b;
  } catch (err) {
    return { source: `${path} could not be read (${err instanceof Error ? err.message : String(err)}): no before figures`, rows: {} };
  }
}

export type Verdict = 'meets' | 'misses' | 'no goal' | 'not measured';

export interface GoalRow {
  goal: Goal;
  unit: string;
  verdict: Verdict;
  /** Why the row has no figure (with 'not measured'). */
  why?: string;
  zmx?: number;
  peer?: number;
  ratio?: number;
  before?: Before;
  /** Now and before as multiples of the goal (at most 1 meets it): the chart's bars. */
  ofGoal?: number;
  beforeOfGoal?: number;
}

/** A contender's median of `metric`, or why there is none. */
function figure(m: MeasureResult, name: string, metric: string): number | string {
  const c = m.contenders.find((x) => x.name === name);
  if (!c) return m.error ? `the measure failed: ${m.error}` : `no contender "${name}" in this run`;
  if (c.notRun) return `${name}: ${c.notRun.replace(/^not run: /, '')}`;
  const v = c.summary[metric]?.median;
  if (v === undefined || !Number.isFinite(v)) return `${name}: no ${metric} figure${c.errors[0] ? ` (${c.errors[0]})` : ''}`;
  return v;
}

/** How far a figure is from its goal: the larger of ratio / maxRatio and value / max (at most 1 meets). */
export function ofGoal(goal: Goal, value: number | undefined, ratio: number | undefined): number | undefined {
  const parts: number[] = [];
  if (goal.maxRatio !== undefined) { if (ratio === undefined) return undefined; parts.push(ratio / goal.maxRatio); }
  if (goal.max !== undefined) { if (value === undefined) return undefined; parts.push(value / goal.max); }
  return parts.length > 0 ? Math.max(...parts) : undefined;
}

/** One row per goal of `measures` (in their order), from this run's `results`. */
export function goalRows(measures: readonly Measure[], results: readonly MeasureResult[], baseline: Baseline): GoalRow[] {
  const rows: GoalRow[] = [];
  for (const m of measures) {
    const result = results.find((r) => r.id === m.id);
    for (const goal of m.goals ?? []) {
      const unit = goal.unit ?? m.metrics.find((x) => x.key === goal.metric)?.unit ?? '';
      const before = baseline.rows[goal.id];
      const row: GoalRow = { goal, unit, verdict: 'not measured', ...(before ? { before } : {}) };
      const b = before ? ofGoal(goal, before.zmx, before.ratio) : undefined;
      if (b !== undefined) row.beforeOfGoal = b;
      rows.push(row);
      if (!result) { row.why = `measure ${m.id} was not run (--only)`; continue; }
      const per = goal.per ?? 1;
      const z = figure(result, goal.zmx, goal.metric);
      const p = goal.peer !== undefined ? figure(result, goal.peer, goal.metric) : undefined;
      if (typeof z === 'string') { row.why = z; continue; }
      row.zmx = z / per;
      if (typeof p === 'number') {
        row.peer = p / per;
        if (p > 0) row.ratio = z / p;
      }
      const g = ofGoal(goal, row.zmx, row.ratio);
      if (goal.maxRatio === undefined && goal.max === undefined) row.verdict = 'no goal';
      else if (g === undefined) row.why = typeof p === 'string' ? p : 'no ratio';
      else {
        row.ofGoal = g;
        row.verdict = g <= 1 ? 'meets' : 'misses';
      }
    }
  }
  return rows;
}
