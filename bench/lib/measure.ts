/**
 * What a measure is, and the runner that plays its contenders against each
 * other in alternating rounds (A B C A B C ...), so a slow minute of the
 * machine hurts all of them alike.
 */
import { Cleanup } from './procs.js';
import { summarize, type Summary } from './stats.js';

export interface Options {
  quick: boolean;
  /** Rounds of every measure (each contender once per round). */
  rounds: number;
  /** Progress lines go here (stderr), never to stdout (--json). */
  log(line: string): void;
  /** Tools the runner could not find or install: name -> why. */
  missing: Record<string, string>;
  /** zmx commands this build has (from `zmx help`). */
  zmxCommands: Set<string>;
}

/** One contender of a measure: set up once, sampled once per round, torn down. */
export interface Contender {
  name: string;
  /** Is it zmx (ratios are zmx / peer)? */
  zmx: boolean;
  /** The peers its ratios are taken against (by name); every peer when absent. */
  versus?: string[];
  /** A reason this contender cannot run here, known before setup. */
  skip?: string | undefined;
  setup?(cleanup: Cleanup): Promise<void>;
  /** One round: metric name -> value. `cleanup` is the measure's (a round's own processes go in its child()). */
  sample(round: number, cleanup: Cleanup): Promise<Record<string, number>>;
}

export interface MetricSpec {
  key: string;
  label: string;
  unit: string;
  /** false: shown, but no zmx/peer ratio (a rate, or bytes drawn: neither is better by itself). */
  ratio?: boolean;
}

/**
 * A row of the report's summary: one figure of zmx (and of a peer beside
 * it) against its goal — at most `maxRatio` times the peer, at most `max`
 * itself, or both. Its before figures are bench/baseline.json's entry `id`.
 */
export interface Goal {
  id: string;
  /** The row's text (Markdown). */
  what: string;
  /** The same, short, for the chart (plain text). */
  short: string;
  /** What --quick measures instead, when it is less (Markdown, shown after `what` in a quick run). */
  quick?: string;
  metric: string;
  /** Contender names. */
  zmx: string;
  peer?: string;
  /** Both figures are divided by this (a workload of 21 calls, per call). */
  per?: number;
  /** The unit after `per` (the metric's when absent). */
  unit?: string;
  maxRatio?: number;
  max?: number;
}

export interface Measure {
  id: string;
  title: string;
  /** What is measured and how, for the report (Markdown). */
  how: string;
  metrics: MetricSpec[];
  /** Its rows of the summary. */
  goals?: Goal[];
  /** Rounds for this measure when fewer than the run's (costly set-ups). */
  maxRounds?: number;
  /** The same with --quick. */
  maxRoundsQuick?: number;
  contenders(opts: Options): Contender[];
}

export interface ContenderResult {
  name: string;
  zmx: boolean;
  versus?: string[];
  notRun?: string;
  /** Rounds that failed after setup (kept, with their reasons). */
  errors: string[];
  samples: Record<string, number[]>;
  summary: Record<string, Summary>;
}

export interface MeasureResult {
  id: string;
  title: string;
  how: string;
  metrics: MetricSpec[];
  goals: Goal[];
  rounds: number;
  seconds: number;
  contenders: ContenderResult[];
  /** Set when the measure itself failed (not one contender): what went wrong. */
  error?: string;
}

function message(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0]!.slice(0, 300);
}

export async function runMeasure(m: Measure, opts: Options, root: Cleanup): Promise<MeasureResult> {
  const started = Date.now();
  const rounds = Math.min(opts.rounds, (opts.quick ? m.maxRoundsQuick : undefined) ?? m.maxRounds ?? opts.rounds);
  const cleanup = new Cleanup();
  // The measure's processes end with it, or with the run on SIGINT.
  root.defer(`measure ${m.id}`, () => cleanup.close().then(() => {}));
  const results: ContenderResult[] = [];
  const live: { c: Contender; r: ContenderResult }[] = [];
  let error: string | undefined;
  try {
    for (const c of m.contenders(opts)) {
      const r: ContenderResult = { name: c.name, zmx: c.zmx, ...(c.versus ? { versus: c.versus } : {}), errors: [], samples: {}, summary: {} };
      results.push(r);
      if (c.skip) { r.notRun = c.skip; continue; }
      try {
        await c.setup?.(cleanup);
        live.push({ c, r });
      } catch (err) {
        r.notRun = `setup failed: ${message(err)}`;
        opts.log(`  ${c.name}: not run: ${r.notRun}`);
      }
    }
    for (let round = 0; round < rounds; round++) {
      for (const { c, r } of live) {
        try {
          const t0 = Date.now();
          const values = await c.sample(round, cleanup);
          for (const [k, v] of Object.entries(values)) (r.samples[k] ??= []).push(v);
          opts.log(`  round ${round + 1}/${rounds} ${c.name}: ${Object.entries(values).map(([k, v]) => `${k}=${v.toFixed(2)}`).join(' ')} (${Date.now() - t0} ms)`);
        } catch (err) {
          r.errors.push(`round ${round + 1}: ${message(err)}`);
          opts.log(`  round ${round + 1}/${rounds} ${c.name}: failed: ${message(err)}`);
        }
      }
    }
  } catch (err) {
    // The report is written all the same, saying so.
    error = message(err);
    opts.log(`  failed: ${error}`);
  } finally {
    const errs = await cleanup.close();
    for (const e of errs) opts.log(`  cleanup: ${e}`);
  }
  for (const r of results) {
    for (const [k, v] of Object.entries(r.samples)) r.summary[k] = summarize(v);
    if (!r.notRun && Object.keys(r.samples).length === 0) r.notRun = `every round failed: ${r.errors[0] ?? error ?? 'no samples'}`;
  }
  return { id: m.id, title: m.title, how: m.how, metrics: m.metrics, goals: m.goals ?? [], rounds, seconds: (Date.now() - started) / 1000, contenders: results, ...(error ? { error } : {}) };
}
