// Parser of the metrics files jobs write (../shared/design/mlproject.md, "jobs.<id>.metrics"):
// json/yaml documents whose nested keys become dotted names, and jsonl/csv series with a `step`
// whose last value per metric is its summary. Pure: text in, numbers and problems out. The file
// comes from user code inside a container, so nothing here trusts it: garbage of any kind becomes
// an entry in `problems` (reported on the run), never a throw, and every size is capped.
import { parseDocument } from 'yaml';

export type MetricsFormat = 'json' | 'yaml' | 'jsonl' | 'csv';

export interface MetricPoint {
  key: string;
  step: number;
  value: number;
}

export interface ParsedMetrics {
  /** One value per metric: the document's value (json/yaml) or the series' last value (jsonl/csv). */
  summary: Record<string, number>;
  /** Series values (jsonl/csv only), one per (key, step); a repeated step keeps its last value. */
  points: MetricPoint[];
  /** What was not stored and why, one readable line each. */
  problems: string[];
}

export interface MetricsLimits {
  /** Distinct metric keys kept (default 1000). */
  maxKeys?: number;
  /** Series points kept (default 100 000). */
  maxPoints?: number;
  /** Longest key kept (default 200 characters). */
  maxKeyLength?: number;
  /** Largest file parsed at all (default 32 MiB). */
  maxBytes?: number;
}

export const METRICS_DEFAULTS = { maxKeys: 1000, maxPoints: 100_000, maxKeyLength: 200, maxBytes: 32 * 1024 * 1024 } as const;

/** Keys end up in Postgres rows, URLs (`metrics/history?key=`) and the note: a sane charset only. */
const KEY_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.\-/@:]*$/;
/** Same as schema/manifest.ts: more alias expansions than this is a YAML bomb, not a metrics file. */
const MAX_ALIAS_COUNT = 50;
/** Deeper nesting than this is not a metrics document; it also keeps the walk off the stack limit. */
const MAX_DEPTH = 32;
/** Problems beyond this are summarised in one line, so a hostile file cannot flood the run. */
const MAX_PROBLEMS = 50;
/** A plain decimal number as CSV writers print it (no hex, no empty string, no "Infinity"). */
const DECIMAL = /^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/;
const NON_FINITE_WORDS = /^[+-]?(nan|inf|infinity)$/i;

type Kind = 'NaN' | 'Infinity' | 'a string' | 'null' | 'a boolean' | 'an array' | 'an empty value' | 'not a number';

/** Collects values and problems, enforcing the caps; one instance per parse. */
class Collector {
  readonly summary = new Map<string, number>();
  private readonly series = new Map<string, Map<number, number>>();
  private pointCount = 0;
  private readonly problems: string[] = [];
  private extraProblems = 0;
  /** key + reason -> how many values were refused and one example, reported once per key. */
  private readonly refused = new Map<string, { key: string; kind: Kind; count: number; example: string | null }>();
  private readonly badKeys = new Map<string, string>();
  private droppedKeys = 0;
  private firstDroppedKey: string | null = null;
  private droppedPoints = 0;
  private repeatedSteps = 0;

  constructor(private readonly limits: Required<MetricsLimits>) {}

  problem(message: string): void {
    if (this.problems.length < MAX_PROBLEMS) this.problems.push(message);
    else this.extraProblems += 1;
  }

  /** Checks a key's charset and length once; false (with one problem per key) when unusable. */
  keyOk(key: string): boolean {
    if (key.length <= this.limits.maxKeyLength && KEY_PATTERN.test(key) && !key.includes('..') && !key.endsWith('.')) return true;
    if (!this.badKeys.has(key)) {
      const shown = JSON.stringify(key.length > 60 ? `${key.slice(0, 60)}...` : key);
      const why =
        key.length > this.limits.maxKeyLength
          ? `is ${key.length} characters long; the limit is ${this.limits.maxKeyLength}`
          : 'must start with a letter, digit or "_" and use only letters, digits and _ . - / @ : (no empty segments)';
      this.badKeys.set(key, why);
      this.problem(`key ${shown} ${why}; not stored`);
    }
    return false;
  }

  /** True when the key may be stored: valid, and either known or within the key cap. */
  private admit(key: string): boolean {
    if (this.summary.has(key)) return true;
    if (!this.keyOk(key)) return false;
    if (this.summary.size >= this.limits.maxKeys) {
      this.droppedKeys += 1;
      this.firstDroppedKey ??= key;
      return false;
    }
    return true;
  }

  refuse(key: string, kind: Kind, example: string | null): void {
    if (!this.keyOk(key)) return;
    const id = `${key}\0${kind}`;
    const entry = this.refused.get(id);
    if (entry) entry.count += 1;
    else this.refused.set(id, { key, kind, count: 1, example });
  }

  scalar(key: string, value: number): void {
    // `{"a.b": 1, "a": {"b": 2}}` flattens to the same name twice.
    if (this.summary.has(key)) this.problem(`${JSON.stringify(key)} appears more than once after nesting is flattened; the last value was kept`);
    if (this.admit(key)) this.summary.set(key, value);
  }

  point(key: string, step: number, value: number): void {
    if (!this.admit(key)) return;
    this.summary.set(key, value);
    let steps = this.series.get(key);
    if (!steps) {
      steps = new Map();
      this.series.set(key, steps);
    }
    if (steps.has(step)) {
      this.repeatedSteps += 1;
      steps.set(step, value);
    } else if (this.pointCount >= this.limits.maxPoints) {
      this.droppedPoints += 1;
    } else {
      steps.set(step, value);
      this.pointCount += 1;
    }
  }

  result(): ParsedMetrics {
    for (const { key, kind, count, example } of this.refused.values()) {
      const values = count === 1 ? 'value is' : `${count} values are`;
      const shown = example === null ? '' : ` (${example})`;
      this.problem(`${JSON.stringify(key)}: ${values} ${kind}${shown}, not a finite number; not stored`);
    }
    if (this.droppedKeys > 0) {
      this.problem(`more than ${this.limits.maxKeys} metric keys: ${this.droppedKeys} more were not stored (the first was ${JSON.stringify(this.firstDroppedKey)})`);
    }
    if (this.droppedPoints > 0) this.problem(`more than ${this.limits.maxPoints} points: ${this.droppedPoints} more were not stored (summaries still use the last values)`);
    if (this.repeatedSteps > 0) this.problem(`${this.repeatedSteps} values repeat a step already seen for their key; the later value was kept`);
    const problems = [...this.problems];
    if (this.extraProblems > 0) problems.push(`... and ${this.extraProblems} more problems`);
    const summary: Record<string, number> = {};
    for (const key of [...this.summary.keys()].sort()) summary[key] = this.summary.get(key) as number;
    const points: MetricPoint[] = [];
    for (const key of [...this.series.keys()].sort()) {
      const steps = this.series.get(key) as Map<number, number>;
      for (const step of [...steps.keys()].sort((a, b) => a - b)) points.push({ key, step, value: steps.get(step) as number });
    }
    return { summary, points, problems };
  }
}

/**
 * Parses a metrics file. Never throws on bad input: whatever cannot be stored is described in
 * `problems` (naming the key where there is one), and the rest is returned.
 */
export function parseMetricsFile(text: string, format: MetricsFormat, limits: MetricsLimits = {}): ParsedMetrics {
  const resolved: Required<MetricsLimits> = { ...METRICS_DEFAULTS, ...definedOnly(limits) };
  const c = new Collector(resolved);
  const bytes = Buffer.byteLength(text, 'utf8');
  if (bytes > resolved.maxBytes) {
    c.problem(`metrics file is ${bytes} bytes; the limit is ${resolved.maxBytes} bytes; not parsed`);
    return c.result();
  }
  if (text.includes('\0')) {
    c.problem('metrics file looks binary (it contains NUL bytes); expected ' + format);
    return c.result();
  }
  const body = text.replace(/^\uFEFF/, '');
  if (body.trim() === '') {
    c.problem(`metrics file is empty; expected ${format}`);
    return c.result();
  }
  switch (format) {
    case 'json':
      parseJsonDocument(body, c);
      break;
    case 'yaml':
      parseYamlDocument(body, c);
      break;
    case 'jsonl':
      parseJsonLines(body, c);
      break;
    case 'csv':
      parseCsv(body, c);
      break;
    default:
      c.problem(`unknown metrics format ${JSON.stringify(format)}; expected json, yaml, jsonl or csv`);
  }
  return c.result();
}

function definedOnly(limits: MetricsLimits): MetricsLimits {
  return Object.fromEntries(Object.entries(limits).filter(([, v]) => v !== undefined));
}

/** Classifies a leaf that is not a finite number; null when it is one. */
function refusal(value: unknown): { kind: Kind; example: string | null } | null {
  if (typeof value === 'number') {
    if (Number.isNaN(value)) return { kind: 'NaN', example: null };
    if (!Number.isFinite(value)) return { kind: 'Infinity', example: null };
    return null;
  }
  if (typeof value === 'string') return { kind: 'a string', example: JSON.stringify(value.length > 30 ? `${value.slice(0, 30)}...` : value) };
  if (value === null || value === undefined) return { kind: 'null', example: null };
  if (typeof value === 'boolean') return { kind: 'a boolean', example: null };
  if (Array.isArray(value)) return { kind: 'an array', example: null };
  return { kind: 'not a number', example: null };
}

/**
 * Walks a parsed object, calling `leaf` with dotted names for every non-object value. Objects
 * nested deeper than MAX_DEPTH are reported once and skipped.
 */
function flatten(value: Record<string, unknown>, prefix: string, depth: number, c: Collector, leaf: (key: string, value: unknown) => void): void {
  for (const [name, child] of Object.entries(value)) {
    const key = prefix ? `${prefix}.${name}` : name;
    if (isPlainObject(child)) {
      if (depth >= MAX_DEPTH) c.problem(`${JSON.stringify(key.slice(0, 80))}: nested deeper than ${MAX_DEPTH} levels; not stored`);
      else flatten(child, key, depth + 1, c, leaf);
    } else {
      leaf(key, child);
    }
  }
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value) && !(value instanceof Date);
}

/** A json/yaml document: numeric leaves become the summary, everything else a problem. */
function collectDocument(data: unknown, format: string, c: Collector): void {
  if (!isPlainObject(data)) {
    const what = Array.isArray(data) ? 'an array' : data === null ? 'null' : `a ${typeof data}`;
    c.problem(`metrics ${format} must be an object of metric names to numbers; it is ${what}`);
    return;
  }
  flatten(data, '', 0, c, (key, value) => {
    const bad = refusal(value);
    if (bad) c.refuse(key, bad.kind, bad.example);
    else c.scalar(key, value as number);
  });
}

function parseJsonDocument(text: string, c: Collector): void {
  let data: unknown;
  try {
    data = JSON.parse(text);
  } catch (err) {
    c.problem(`invalid JSON: ${errorText(err)}`);
    return;
  }
  collectDocument(data, 'JSON', c);
}

function parseYamlDocument(text: string, c: Collector): void {
  const doc = parseDocument(text, { uniqueKeys: true, prettyErrors: false });
  if (doc.errors.length > 0) {
    for (const e of doc.errors.slice(0, 5)) c.problem(`invalid YAML: ${e.message.split('\n')[0] ?? e.message}`);
    return;
  }
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    c.problem(`too many YAML alias expansions (limit ${MAX_ALIAS_COUNT}); refusing a possible YAML bomb: ${errorText(err)}`);
    return;
  }
  collectDocument(data, 'YAML', c);
}

/** Steps are integers >= 0 (they key Postgres rows); returns null for anything else. */
function stepOf(value: unknown): number | null {
  return typeof value === 'number' && Number.isSafeInteger(value) && value >= 0 ? value : null;
}

function parseJsonLines(text: string, c: Collector): void {
  let row = 0;
  let badLines = 0;
  let firstBad = '';
  let badSteps = 0;
  eachLine(text, (line, index) => {
    let data: unknown;
    try {
      data = JSON.parse(line);
    } catch (err) {
      badLines += 1;
      firstBad ||= `line ${index + 1}: ${errorText(err)}`;
      return;
    }
    if (!isPlainObject(data)) {
      badLines += 1;
      firstBad ||= `line ${index + 1}: expected a JSON object`;
      return;
    }
    const rowIndex = row++;
    let step = rowIndex;
    if ('step' in data) {
      const parsed = stepOf(data.step);
      if (parsed === null) {
        badSteps += 1;
        return;
      }
      step = parsed;
    }
    flatten(data, '', 0, c, (key, value) => {
      if (key === 'step') return;
      const bad = refusal(value);
      if (bad) c.refuse(key, bad.kind, bad.example);
      else c.point(key, step, value as number);
    });
  });
  if (badLines > 0) c.problem(`${badLines} line(s) are not JSON objects and were skipped (first: ${firstBad})`);
  if (badSteps > 0) c.problem(`${badSteps} line(s) have a "step" that is not a whole number >= 0 and were skipped`);
  if (row === 0 && badLines === 0) c.problem('metrics jsonl has no JSON object lines');
}

/** Calls `each` with the lines of `text` (LF, CRLF or CR endings) that are not blank. */
function eachLine(text: string, each: (line: string, index: number) => void): void {
  // A plain split on "\n" is several times faster than a regex split on files of many rows.
  const lines = (text.includes('\r') ? text.replace(/\r\n?/g, '\n') : text).split('\n');
  lines.forEach((line, index) => {
    if (line.trim() !== '') each(line, index);
  });
}

/**
 * RFC 4180 records (commas, double-quoted fields with "" escapes), passed to `each` one at a time
 * so a large file never exists as an array of all its cells. Returns false when a quoted field
 * is never closed.
 */
function eachCsvRecord(text: string, each: (cells: string[]) => void): boolean {
  // The usual logger output has no quotes: records are lines and fields are comma-separated.
  if (!text.includes('"')) {
    eachLine(text, (line) => each(line.split(',')));
    return true;
  }
  let field = '';
  let record: string[] = [];
  let quoted = false;
  const flush = () => {
    record.push(field);
    if (!(record.length === 1 && field.trim() === '')) each(record);
    record = [];
    field = '';
  };
  for (let i = 0; i < text.length; i += 1) {
    const ch = text[i] as string;
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i += 1;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field.trim() === '') {
      // Whitespace before an opening quote (`a, "b"`) is tolerated; cells are trimmed anyway.
      quoted = true;
      field = '';
    } else if (ch === ',') {
      record.push(field);
      field = '';
    } else if (ch === '\n' || ch === '\r') {
      flush();
      if (ch === '\r' && text[i + 1] === '\n') i += 1;
    } else field += ch;
  }
  if (field !== '' || record.length > 0) flush();
  return !quoted;
}

function parseCsv(text: string, c: Collector): void {
  let names: string[] | null = null;
  let stepColumn = -1;
  let usable: boolean[] = [];
  let rowIndex = 0;
  let badWidth = 0;
  let badSteps = 0;
  const closed = eachCsvRecord(text, (cells) => {
    if (names === null) {
      names = cells.map((h) => h.trim());
      usable = header(names, c);
      stepColumn = names.indexOf('step');
      return;
    }
    const row = rowIndex++;
    if (cells.length !== names.length) {
      badWidth += 1;
      return;
    }
    let step = row;
    if (stepColumn >= 0) {
      const raw = (cells[stepColumn] as string).trim();
      const parsed = DECIMAL.test(raw) ? stepOf(Number(raw)) : null;
      if (parsed === null) {
        badSteps += 1;
        return;
      }
      step = parsed;
    }
    for (let col = 0; col < cells.length; col += 1) {
      if (col === stepColumn || !usable[col]) continue;
      const key = names[col] as string;
      const raw = (cells[col] as string).trim();
      // An empty cell is a metric not logged at this step (eval every N steps): not a problem.
      if (raw === '') continue;
      if (DECIMAL.test(raw)) {
        const value = Number(raw);
        if (Number.isFinite(value)) c.point(key, step, value);
        else c.refuse(key, 'Infinity', JSON.stringify(raw));
      } else if (NON_FINITE_WORDS.test(raw)) {
        c.refuse(key, /nan/i.test(raw) ? 'NaN' : 'Infinity', null);
      } else {
        c.refuse(key, 'a string', JSON.stringify(raw.length > 30 ? `${raw.slice(0, 30)}...` : raw));
      }
    }
  });
  if (!closed) c.problem('invalid CSV: a quoted field is never closed; the rest of the file was read as one field');
  if (names === null) c.problem('metrics csv has no header row');
  else if (rowIndex === 0) c.problem('metrics csv has a header but no data rows');
  if (badWidth > 0) c.problem(`${badWidth} csv row(s) do not have ${(names ?? []).length} fields like the header and were skipped`);
  if (badSteps > 0) c.problem(`${badSteps} csv row(s) have a step that is not a whole number >= 0 and were skipped`);
}

/** Which header columns hold metrics: named, not repeated, and with a usable key (or `step`). */
function header(names: string[], c: Collector): boolean[] {
  const seen = new Set<string>();
  return names.map((name, i) => {
    if (name === '') {
      c.problem(`csv column ${i + 1} has an empty name; ignored`);
      return false;
    }
    if (seen.has(name)) {
      c.problem(`csv column ${JSON.stringify(name)} appears more than once; only the first is used`);
      return false;
    }
    seen.add(name);
    return name === 'step' || c.keyOk(name);
  });
}

function errorText(err: unknown): string {
  return (err instanceof Error ? err.message : String(err)).split('\n')[0] ?? '';
}
