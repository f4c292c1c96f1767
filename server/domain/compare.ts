// Metric comparison between a baseline and a head (mlproject.md, `compare` and `goals`; issue 4,
// "Results": per metric base, head, delta, relative delta, goal, regressed). Pure.
export type Goal = 'maximize' | 'minimize';

export interface Threshold {
  max_drop?: number | string;
  max_rise?: number | string;
}

export interface MetricComparison {
  metric: string;
  base: number | null;
  head: number | null;
  /** head - base, when both exist. */
  delta: number | null;
  /** delta / |base|; 0 when nothing changed; null without both values or when base is 0 and it changed. */
  relative: number | null;
  goal: Goal | null;
  regressed: boolean;
  /** The rule that applied, as written: `max_drop 0.01`, `max_rise 5%`. */
  threshold?: string;
}

export interface CompareInput {
  base: Record<string, number>;
  head: Record<string, number>;
  goals: Record<string, Goal>;
  thresholds: Record<string, Threshold>;
}

interface Allowance {
  /** Absolute amount, or a percentage of |base|. */
  relative: boolean;
  amount: number;
  text: string;
}

/**
 * Reads a threshold value: a number >= 0 (absolute) or "N%" (relative to the base). The manifest
 * schema only lets these through, so anything else is a caller bug and throws naming the metric.
 */
export function parseThreshold(metric: string, rule: 'max_drop' | 'max_rise', value: number | string): Allowance {
  if (typeof value === 'number' && Number.isFinite(value) && value >= 0) return { relative: false, amount: value, text: `${rule} ${value}` };
  if (typeof value === 'string') {
    const match = /^([0-9]+(?:\.[0-9]+)?)%$/.exec(value.trim());
    if (match) return { relative: true, amount: Number(match[1]), text: `${rule} ${match[1]}%` };
  }
  throw new RangeError(`compare.thresholds.${metric}.${rule}: ${JSON.stringify(value)} is not a number >= 0 or a percentage like "5%"`);
}

/** Values that are not finite numbers (never stored, but callers pass maps) count as missing. */
function valueOf(values: Record<string, number>, metric: string): number | null {
  const v = Object.hasOwn(values, metric) ? values[metric] : undefined;
  return typeof v === 'number' && Number.isFinite(v) ? v : null;
}

/**
 * Compares every metric present in base or head, sorted by name. A metric regresses only when it
 * has a threshold for its goal's direction and both values exist: maximize regresses when head is
 * below base by more than max_drop, minimize when head is above base by more than max_rise. A
 * threshold without a goal implies one (max_drop -> maximize, max_rise -> minimize).
 *
 * A percentage of a base of 0 allows no change at all: any move in the wrong direction regresses
 * (it is an unbounded relative change), while staying at 0 or improving does not.
 */
export function compareMetrics(input: CompareInput): MetricComparison[] {
  const metrics = [...new Set([...Object.keys(input.base), ...Object.keys(input.head)])].sort();
  return metrics.map((metric) => {
    const base = valueOf(input.base, metric);
    const head = valueOf(input.head, metric);
    const delta = base !== null && head !== null ? head - base : null;
    const relative = delta === null || base === null ? null : delta === 0 ? 0 : base === 0 ? null : delta / Math.abs(base);
    const threshold = Object.hasOwn(input.thresholds, metric) ? input.thresholds[metric] : undefined;
    const declared = Object.hasOwn(input.goals, metric) ? input.goals[metric] : undefined;
    const goal: Goal | null =
      declared ?? (threshold?.max_drop !== undefined ? 'maximize' : threshold?.max_rise !== undefined ? 'minimize' : null);
    const comparison: MetricComparison = { metric, base, head, delta, relative, goal, regressed: false };

    const rule = goal === 'maximize' ? 'max_drop' : goal === 'minimize' ? 'max_rise' : null;
    const raw = rule && threshold ? threshold[rule] : undefined;
    if (rule && raw !== undefined) {
      const allowance = parseThreshold(metric, rule, raw);
      comparison.threshold = allowance.text;
      if (base !== null && head !== null) {
        const worsening = goal === 'maximize' ? base - head : head - base;
        const allowed = allowance.relative ? (allowance.amount / 100) * Math.abs(base) : allowance.amount;
        // Tolerance for binary fractions: 0.96 -> 0.95 with max_drop 0.01 is a drop of exactly the
        // threshold, not 0.010000000000000009.
        const epsilon = 16 * Number.EPSILON * Math.max(Math.abs(base), Math.abs(head), allowed);
        comparison.regressed = worsening > allowed + epsilon;
      }
    }
    return comparison;
  });
}
