// Promotion gates (issue 11, "Aliases"): what a version must meet before an alias may point at
// it, as declared in `models.<name>.promote.<alias>` of the manifest on the default branch. Pure:
// the caller gathers the facts; this says which conditions are unmet, each in words a person can
// act on, so a refused move lists all of them at once.
import type { Promotion } from '../../../schema/manifest.ts';
import { compareMetrics, type Goal, type Threshold } from '../compare.ts';

export interface GateFacts {
  /** The candidate version's metrics snapshot and goals. */
  readonly metrics: Readonly<Record<string, number>>;
  readonly goals: Readonly<Record<string, Goal>>;
  /** Metrics the candidate's own run regressed against its baseline (the run's comparison). */
  readonly runRegressed: readonly string[];
  /** The version the alias points at now (null: a first move): its number and metrics. */
  readonly current: { readonly version: number; readonly metrics: Readonly<Record<string, number>> } | null;
  /** The default branch manifest's `compare.thresholds`: how much worse than `current` still passes. */
  readonly thresholds: Readonly<Record<string, Threshold>>;
  /** Latest state per commit status context on the candidate's commit. */
  readonly statuses: Readonly<Record<string, string>>;
  /** Users who approved this version for this alias. */
  readonly approvals: readonly string[];
}

const COMPARISON = /^\s*(>=|<=|==|!=|>|<)\s*(-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)\s*$/;

/** Every unmet condition of `rule` (empty: the move may go ahead). */
export function unmetGates(rule: Promotion | undefined, facts: GateFacts): string[] {
  if (!rule) return [];
  const unmet: string[] = [];
  for (const [metric, condition] of Object.entries(rule.require?.metrics ?? {})) {
    const problem = metricProblem(metric, condition, facts.metrics);
    if (problem) unmet.push(problem);
  }
  if (rule.require?.not_regressed) unmet.push(...regressions(facts));
  for (const context of rule.require?.statuses ?? []) {
    const state = Object.hasOwn(facts.statuses, context) ? facts.statuses[context] : undefined;
    if (state !== 'success') unmet.push(`status ${context}: ${state === undefined ? 'not reported' : state}, must be success`);
  }
  const needed = rule.approvers ?? 0;
  if (facts.approvals.length < needed) unmet.push(`approvals: ${facts.approvals.length} of ${needed} needed`);
  return unmet;
}

function metricProblem(metric: string, condition: string, metrics: Readonly<Record<string, number>>): string | null {
  const match = COMPARISON.exec(condition);
  // The manifest schema lets only this shape through; anything else is reported, never passed.
  if (!match) return `metric ${metric}: condition ${JSON.stringify(condition)} is not a comparison such as ">= 0.95"`;
  const op = match[1]!;
  const bound = Number(match[2]);
  const value = Object.hasOwn(metrics, metric) ? metrics[metric] : undefined;
  if (value === undefined) return `metric ${metric}: missing, must be ${op} ${bound}`;
  const ok = op === '>=' ? value >= bound : op === '>' ? value > bound : op === '<=' ? value <= bound : op === '<' ? value < bound : op === '==' ? value === bound : value !== bound;
  return ok ? null : `metric ${metric}: ${value}, must be ${op} ${bound}`;
}

/**
 * Not regressed: against its own baseline run (the run's comparison), and against the version
 * the alias points at now for every metric with a goal (worse by more than the manifest's
 * threshold, or at all when it sets none).
 */
function regressions(facts: GateFacts): string[] {
  const out = [...new Set(facts.runRegressed)].sort().map((m) => `not_regressed: ${m} regressed against the run's baseline`);
  if (!facts.current) return out;
  const thresholds: Record<string, Threshold> = {};
  for (const [metric, goal] of Object.entries(facts.goals)) {
    const given = Object.hasOwn(facts.thresholds, metric) ? facts.thresholds[metric] : undefined;
    thresholds[metric] = given ?? (goal === 'maximize' ? { max_drop: 0 } : { max_rise: 0 });
  }
  const rows = compareMetrics({ base: { ...facts.current.metrics }, head: { ...facts.metrics }, goals: { ...facts.goals }, thresholds });
  for (const row of rows) {
    if (row.regressed) out.push(`not_regressed: ${row.metric} ${row.head} is worse than ${row.base} of version ${facts.current.version}`);
  }
  return out;
}
