// The body of the git note on refs/notes/mlproject (mlproject.md, "Results on the commit"): a
// short human block, a `--` line, then one JSON line per job with sorted keys and "v":1. Pure and
// deterministic (fixed key order, fixed number formatting), so re-rendering an unchanged set of
// runs yields the same bytes and the writer can skip the commit.
export interface NoteRun {
  job: string;
  status: string;
  durationMs: number | null;
  runId: number;
  metrics: Record<string, number>;
  /** The manifest's `metrics.primary`: shown alone when present. */
  primary?: string;
  /** Deltas (head - baseline) against the baseline run, per metric. */
  baseline?: { ref: string; sha: string; deltas: Record<string, number> };
  /** Metrics that regressed beyond their threshold. */
  regressed?: string[];
  /** For status `cached`: the run whose results this one reuses. */
  cachedFrom?: number;
}

export interface NoteInput {
  project: string;
  commitSha: string;
  runs: NoteRun[];
  /** Model versions registered from this commit's runs: one `model <name> v<n>` line each. */
  models?: { model: string; version: number; runId: number | null }[];
}

/** Shown metrics when there is no primary one. */
const MAX_SHOWN_METRICS = 3;
/**
 * Statuses up to 8 characters (queued, running, success, failed, cached, error) share one fixed
 * column, so a line does not shift as its run moves between them; cancelled and timed_out widen
 * it to keep the two-space gap.
 */
const STATUS_WIDTH = 10;
const SEPARATOR = '--';

/**
 * Fixed formatting for the human block: 4 decimals (trailing zeros dropped) from 0.001 up, 4
 * significant digits below. The JSON lines carry the exact values.
 */
export function formatNumber(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  if (Number.isInteger(value)) return String(value);
  const rounded = Math.abs(value) >= 1e-3 ? Number(value.toFixed(4)) : Number(value.toPrecision(4));
  return String(Object.is(rounded, -0) ? 0 : rounded);
}

function signed(value: number): string {
  const text = formatNumber(value);
  return text.startsWith('-') ? text : `+${text}`;
}

/** `0m41s`, `12m05s`, `1h02m03s`; `-` when unknown. */
export function formatDuration(ms: number | null): string {
  if (ms === null || !Number.isFinite(ms) || ms < 0) return '-';
  const total = Math.round(ms / 1000);
  const hours = Math.floor(total / 3600);
  const minutes = Math.floor((total % 3600) / 60);
  const seconds = String(total % 60).padStart(2, '0');
  return hours > 0 ? `${hours}h${String(minutes).padStart(2, '0')}m${seconds}s` : `${minutes}m${seconds}s`;
}

/** Job names and statuses come from validated data, but a newline here would forge note lines. */
function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- matching control characters is the point
  return text.replace(/[\u0000-\u001f\u007f]/g, '?');
}

function finiteMetrics(metrics: Record<string, number>): [string, number][] {
  return Object.entries(metrics)
    .filter(([, v]) => typeof v === 'number' && Number.isFinite(v))
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
}

function metricsCell(run: NoteRun): string {
  const all = finiteMetrics(run.metrics);
  const primary = run.primary !== undefined ? all.find(([k]) => k === run.primary) : undefined;
  const shown = primary ? [primary] : all.slice(0, MAX_SHOWN_METRICS);
  const parts = shown.map(([key, value]) => {
    const delta = run.baseline && Object.hasOwn(run.baseline.deltas, key) ? run.baseline.deltas[key] : undefined;
    const versus = delta !== undefined && Number.isFinite(delta) ? ` (${signed(delta)} vs ${oneLine(run.baseline!.ref)}@${run.baseline!.sha.slice(0, 7)})` : '';
    return `${oneLine(key)}=${formatNumber(value)}${versus}`;
  });
  const hidden = all.length - shown.length;
  if (hidden > 0 && !primary) parts.push(`(+${hidden} more)`);
  const regressed = [...new Set(run.regressed ?? [])].sort();
  if (regressed.length > 0) parts.push(`REGRESSED ${regressed.map(oneLine).join(', ')}`);
  if (run.cachedFrom !== undefined) parts.push(`cached from run ${run.cachedFrom}`);
  return parts.join('  ');
}

function byName(a: NoteRun, b: NoteRun): number {
  return a.job < b.job ? -1 : a.job > b.job ? 1 : a.runId - b.runId;
}

/** JSON with object keys sorted at every level: the same value always gives the same text. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function jsonLine(run: NoteRun): string {
  const regressed = [...new Set(run.regressed ?? [])].sort();
  return canonicalJson({
    job: run.job,
    metrics: Object.fromEntries(finiteMetrics(run.metrics)),
    run: run.runId,
    status: run.status,
    v: 1,
    cached_from: run.cachedFrom,
    regressed: regressed.length > 0 ? regressed : undefined,
  });
}

/**
 * Renders the note. Human lines follow run order (the order jobs started); JSON lines are sorted
 * by job name so clients and diffs see a stable order.
 */
export function renderNote(input: NoteInput): string {
  const human = [...input.runs].sort((a, b) => a.runId - b.runId || byName(a, b));
  const rows = human.map((run) => [oneLine(run.job), oneLine(run.status), formatDuration(run.durationMs), `run ${run.runId}`, metricsCell(run)]);
  const widths = [0, 1, 2, 3].map((col) => Math.max(0, ...rows.map((row) => (row[col] as string).length)) + 2);
  widths[1] = Math.max(STATUS_WIDTH, widths[1] as number);
  const lines = [`mlproject: ${oneLine(input.project)} @ ${input.commitSha.slice(0, 7)}`];
  for (const row of rows) {
    const text = row.map((cell, col) => (col < 4 ? cell.padEnd(widths[col] as number) : cell)).join('');
    lines.push(`  ${text}`.trimEnd());
  }
  const models = [...(input.models ?? [])].sort((a, b) => (a.model < b.model ? -1 : a.model > b.model ? 1 : a.version - b.version));
  for (const m of models) lines.push(`  model ${oneLine(m.model)} v${m.version}${m.runId === null ? '' : ` from run ${m.runId}`}`);
  lines.push(SEPARATOR);
  for (const run of [...input.runs].sort(byName)) lines.push(jsonLine(run));
  return `${lines.join('\n')}\n`;
}

/** The JSON objects after the `--` line of a note (for clients and tests); throws on a bad line. */
export function parseNoteJson(text: string): Record<string, unknown>[] {
  const lines = text.split('\n');
  const start = lines.indexOf(SEPARATOR);
  if (start < 0) throw new Error('not an mlproject note: no "--" line');
  const out: Record<string, unknown>[] = [];
  lines.slice(start + 1).forEach((line, i) => {
    if (line.trim() === '') return;
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch (err) {
      throw new Error(`note JSON line ${i + 1}: ${err instanceof Error ? err.message : String(err)}`);
    }
    if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new Error(`note JSON line ${i + 1}: not a JSON object`);
    out.push(value as Record<string, unknown>);
  });
  return out;
}
