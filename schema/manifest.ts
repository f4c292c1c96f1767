// Parser and validator of mlproject.yaml v1 (../shared/design/mlproject.md, "Fields" and "Errors").
// Pure: text in, typed manifest or every issue out, each with file:line:col, the YAML path, a
// message and a code frame. The JSON Schema next to this file is the single source of truth for
// the shape; the checks here are the ones a schema cannot express (job graph, templates, refs,
// matrix size, paths against the pushed tree, image tags).
// schema/ imports nothing from the project (architecture.md, "Rules of the house").
import fs from 'node:fs';
import AjvModule, { type ErrorObject } from 'ajv';
import { isAlias, isMap, isPair, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node as YamlNode } from 'yaml';

// ---------------------------------------------------------------------------------------------
// Types
// ---------------------------------------------------------------------------------------------

export type Scalar = string | number | boolean;

export interface Resources {
  cpu?: number;
  memory?: string;
  gpu?: number;
}

export interface ParamSpec {
  type: 'int' | 'float' | 'string' | 'bool' | 'enum';
  default?: Scalar;
  min?: number;
  max?: number;
  values?: Scalar[];
  description?: string;
}

export interface Dataset {
  path: string;
  repo?: string;
  ref?: string;
}

export interface JobOutput {
  path: string;
  type?: 'artifact' | 'model' | 'dir';
}

export interface JobMetrics {
  path: string;
  format?: 'json' | 'yaml' | 'jsonl' | 'csv';
  primary?: string;
  goals?: Record<string, 'maximize' | 'minimize'>;
}

export interface Job {
  kind: 'train' | 'evaluate' | 'custom';
  command: string | string[];
  image?: string;
  resources?: Resources;
  env?: Record<string, string>;
  depends_on?: string[];
  inputs?: string[];
  params?: string[];
  datasets?: string[];
  outputs?: JobOutput[];
  metrics?: JobMetrics;
  timeout?: string;
  retries?: { max?: number; when?: Array<'infra_error' | 'timeout' | 'oom' | 'any'> };
  matrix?: Record<string, Scalar[]>;
  cache?: boolean;
}

export interface Threshold {
  max_drop?: number | string;
  max_rise?: number | string;
}

export interface Manifest {
  version: 1;
  name: string;
  description?: string;
  image?: string;
  resources?: Resources;
  env?: Record<string, string>;
  params?: { file?: string; schema?: Record<string, ParamSpec> };
  datasets?: Record<string, Dataset>;
  jobs: Record<string, Job>;
  compare?: { baseline?: string; fail_on_regression?: boolean; thresholds?: Record<string, Threshold> };
  triggers?: {
    push?: { branches?: string[]; branches_ignore?: string[]; paths?: string[]; paths_ignore?: string[]; jobs?: string[] };
    tag?: { tags?: string[]; jobs?: string[] };
    manual?: { jobs?: string[] };
  };
  cache?: boolean;
}

export interface ManifestIssue {
  file: string;
  /** 1-based. */
  line: number;
  /** 1-based. */
  column: number;
  /** YAML path such as `jobs.train.depends_on[0]`; empty for the whole document. */
  path: string;
  message: string;
  severity: 'error' | 'warning';
  /** The source line and a caret line under `column`. */
  frame: string;
}

export interface ParseOptions {
  /** Name used in rendered issues (default `mlproject.yaml`). */
  file?: string;
  /** Files larger than this are rejected before parsing (default 1 MiB). */
  maxBytes?: number;
  /** Hard cap on the jobs one matrix expands to (default 64). */
  maxMatrixExpansions?: number;
  /** When given, `inputs` and in-repo dataset paths must exist in the pushed tree. */
  treeHasPath?: (path: string) => boolean;
}

export interface ParseResult {
  manifest: Manifest | null;
  errors: ManifestIssue[];
  warnings: ManifestIssue[];
}

export const DEFAULT_MAX_BYTES = 1024 * 1024;
export const DEFAULT_MAX_MATRIX_EXPANSIONS = 64;
/** Aliases a manifest may expand; a few anchors for shared env are fine, a billion laughs are not. */
export const MAX_ALIAS_COUNT = 50;
const MAX_ISSUES = 100;
const MAX_FRAME_WIDTH = 160;

// ---------------------------------------------------------------------------------------------
// Schema (compiled once per process)
// ---------------------------------------------------------------------------------------------

export const schemaPath = new URL('./mlproject.schema.json', import.meta.url);
export const mlprojectSchema: Record<string, unknown> = JSON.parse(fs.readFileSync(schemaPath, 'utf8')) as Record<string, unknown>;

type Validator = ((data: unknown) => boolean) & { errors?: ErrorObject[] | null };
let validator: Validator | null = null;
function getValidator(): Validator {
  if (!validator) {
    const Ajv = AjvModule.default;
    const ajv = new Ajv({ allErrors: true, verbose: true, allowUnionTypes: true, strict: true });
    validator = ajv.compile(mlprojectSchema);
  }
  return validator;
}

// ---------------------------------------------------------------------------------------------
// Public helpers
// ---------------------------------------------------------------------------------------------

/** Renders one issue in the mlproject.md format: a header line, the source line and a caret. */
export function formatIssue(issue: ManifestIssue, file: string = issue.file): string {
  const where = issue.path ? `${issue.path}: ` : '';
  const head = `${file}:${issue.line}:${issue.column}: ${issue.severity}: ${where}${issue.message}`;
  return issue.frame ? `${head}\n${issue.frame}` : head;
}

export interface MatrixExpansion {
  /** `train[lr=0.1,depth=3]`, or the job id itself without a matrix. */
  name: string;
  values: Record<string, Scalar>;
}

/** Number of jobs a matrix expands to (saturates at Number.MAX_SAFE_INTEGER). */
export function matrixSize(matrix: Record<string, Scalar[]> | undefined): number {
  if (!matrix) return 1;
  let n = 1;
  for (const values of Object.values(matrix)) {
    n = Math.min(n * values.length, Number.MAX_SAFE_INTEGER);
  }
  return n;
}

/**
 * Expands a job's matrix in declaration order, the first key varying slowest:
 * `{lr: [0.1, 0.01], depth: [3]}` -> `train[lr=0.1,depth=3]`, `train[lr=0.01,depth=3]`.
 * Throws above `limit`, so callers never materialise a huge product.
 */
export function expandMatrix(id: string, job: Pick<Job, 'matrix'>, limit: number = DEFAULT_MAX_MATRIX_EXPANSIONS): MatrixExpansion[] {
  const matrix = job.matrix;
  if (!matrix || Object.keys(matrix).length === 0) return [{ name: id, values: {} }];
  const size = matrixSize(matrix);
  if (size > limit) throw new RangeError(`matrix of job "${id}" expands to ${size} jobs; the limit is ${limit}`);
  let combos: Array<Array<[string, Scalar]>> = [[]];
  for (const [key, values] of Object.entries(matrix)) {
    const next: Array<Array<[string, Scalar]>> = [];
    for (const combo of combos) for (const value of values) next.push([...combo, [key, value]]);
    combos = next;
  }
  return combos.map((combo) => ({
    name: `${id}[${combo.map(([k, v]) => `${k}=${String(v)}`).join(',')}]`,
    values: Object.fromEntries(combo),
  }));
}

/** Levenshtein distance, O(a*b) with one row; inputs here are short keys. */
export function levenshtein(a: string, b: string): number {
  if (a === b) return 0;
  if (!a.length) return b.length;
  if (!b.length) return a.length;
  let prev = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    const cur = [i];
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      cur[j] = Math.min((prev[j] ?? 0) + 1, (cur[j - 1] ?? 0) + 1, (prev[j - 1] ?? 0) + cost);
    }
    prev = cur;
  }
  return prev[b.length] ?? 0;
}

/** The closest candidate, if it is close enough to be a plausible typo. */
export function didYouMean(word: string, candidates: Iterable<string>): string | null {
  let best: string | null = null;
  let bestDistance = Infinity;
  const lower = word.toLowerCase();
  for (const candidate of candidates) {
    const c = candidate.toLowerCase();
    // Same word in another case, then an abbreviation (`prep` for `prepare`), then edit distance.
    const d = c === lower ? 0.5 : lower.length >= 3 && (c.startsWith(lower) || lower.startsWith(c)) ? 1 : levenshtein(lower, c);
    if (d < bestDistance) {
      best = candidate;
      bestDistance = d;
    }
  }
  if (best === null) return null;
  const allowed = Math.max(2, Math.floor(Math.max(word.length, best.length) * 0.4));
  return bestDistance <= allowed ? best : null;
}

function suggestion(word: string, candidates: Iterable<string>): string {
  const s = didYouMean(word, candidates);
  return s === null ? '' : `; did you mean "${s}"?`;
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------

type Segment = string | number;

/** `jobs.train.depends_on[0]`; keys that are not plain words are quoted: `env["A B"]`. */
export function formatPath(segments: readonly Segment[]): string {
  let out = '';
  for (const s of segments) {
    if (typeof s === 'number') out += `[${s}]`;
    else if (/^[A-Za-z0-9_-]+$/.test(s)) out += out ? `.${s}` : s;
    else out += `[${JSON.stringify(s)}]`;
  }
  return out;
}

class Reporter {
  readonly errors: ManifestIssue[] = [];
  readonly warnings: ManifestIssue[] = [];
  private readonly seen = new Set<string>();
  private lineStarts: number[] | null = null;

  constructor(
    private readonly text: string,
    private readonly file: string,
    private readonly lineCounter: LineCounter | null,
  ) {}

  at(offset: number, path: string, message: string, severity: 'error' | 'warning' = 'error'): void {
    const { line, col } = this.linePos(offset);
    const key = `${severity}\0${line}\0${col}\0${path}\0${message}`;
    if (this.seen.has(key)) return;
    this.seen.add(key);
    const issue: ManifestIssue = { file: this.file, line, column: col, path, message, severity, frame: this.frame(line, col) };
    (severity === 'error' ? this.errors : this.warnings).push(issue);
  }

  private linePos(offset: number): { line: number; col: number } {
    if (this.lineCounter) {
      const pos = this.lineCounter.linePos(offset);
      if (pos.line > 0) return pos;
    }
    return { line: 1, col: offset + 1 };
  }

  private frame(line: number, col: number): string {
    if (!this.lineStarts) this.lineStarts = this.lineCounter?.lineStarts ?? [0];
    const start = this.lineStarts[line - 1];
    if (start === undefined || start > this.text.length) return '';
    let end = this.text.indexOf('\n', start);
    if (end < 0) end = this.text.length;
    let source = this.text.slice(start, end).replace(/\r$/, '');
    let caretAt = col - 1;
    if (source.length > MAX_FRAME_WIDTH) {
      // Keep the caret visible on very long lines.
      const from = Math.max(0, Math.min(caretAt - MAX_FRAME_WIDTH / 2, source.length - MAX_FRAME_WIDTH));
      source = source.slice(from, from + MAX_FRAME_WIDTH);
      caretAt -= from;
    }
    // Keep tabs so the caret lines up with what the terminal shows.
    const pad = source.slice(0, caretAt).replace(/[^\t]/g, ' ').padEnd(caretAt, ' ');
    return `${source}\n${pad}^`;
  }

  sort(): void {
    const byPos = (a: ManifestIssue, b: ManifestIssue): number => a.line - b.line || a.column - b.column;
    this.errors.sort(byPos);
    this.warnings.sort(byPos);
    if (this.errors.length > MAX_ISSUES) {
      const more = this.errors.length - MAX_ISSUES;
      this.errors.length = MAX_ISSUES;
      const last = this.errors[MAX_ISSUES - 1];
      if (last) this.errors.push({ ...last, path: '', message: `too many errors; ${more} more not shown`, frame: '' });
    }
  }
}

/** Finds the YAML node at a path of keys and indexes, resolving aliases on the way. */
class Locator {
  constructor(private readonly doc: Document) {}

  private resolve(node: unknown): unknown {
    return isAlias(node) ? node.resolve(this.doc) : node;
  }

  /** Offset of the value at `segments` (or of its key when `target` is `key`); the deepest existing ancestor otherwise. */
  offset(segments: readonly Segment[], target: 'value' | 'key' = 'value'): number {
    return this.find(segments, target).offset;
  }

  /** The node itself (for scalars whose text we search) and its offset. */
  find(segments: readonly Segment[], target: 'value' | 'key' = 'value'): { node: YamlNode | null; offset: number } {
    let node: unknown = this.resolve(this.doc.contents);
    let offset = rangeStart(node) ?? 0;
    let keyOffset = offset;
    for (const seg of segments) {
      let next: unknown;
      let found = false;
      if (isMap(node)) {
        for (const pair of node.items) {
          if (!isPair(pair)) continue;
          const k: unknown = pair.key;
          const keyValue = isScalar(k) ? k.value : k;
          if (String(keyValue) === String(seg)) {
            keyOffset = rangeStart(k) ?? offset;
            next = pair.value;
            found = true;
            break;
          }
        }
      } else if (isSeq(node) && typeof seg === 'number') {
        next = node.items[seg];
        found = next !== undefined;
        keyOffset = rangeStart(this.resolve(next)) ?? offset;
      }
      if (!found) return { node: null, offset };
      node = this.resolve(next);
      // A key without a value (`image:`) has no range of its own: point at the key.
      offset = rangeStart(node) ?? keyOffset;
    }
    if (target === 'key') return { node: null, offset: keyOffset };
    return { node: (node as YamlNode | null) ?? null, offset };
  }
}

function rangeStart(node: unknown): number | undefined {
  if (node && typeof node === 'object' && 'range' in node) {
    const range = (node as { range?: [number, number, number] | null }).range;
    if (range) return range[0];
  }
  return undefined;
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

function entries(value: unknown): Array<[string, unknown]> {
  return isRecord(value) ? Object.entries(value) : [];
}

function strings(value: unknown): Array<[number, string]> {
  if (!Array.isArray(value)) return [];
  const out: Array<[number, string]> = [];
  value.forEach((v, i) => {
    if (typeof v === 'string') out.push([i, v]);
  });
  return out;
}

/**
 * Parses and validates mlproject.yaml text. Never throws on bad input: every problem comes back
 * as an issue. `manifest` is set only when there are no errors.
 */
export function parseManifest(text: string, options: ParseOptions = {}): ParseResult {
  const file = options.file ?? 'mlproject.yaml';
  const maxBytes = options.maxBytes ?? DEFAULT_MAX_BYTES;

  // Size first, before the YAML parser sees a byte.
  if (text.length > maxBytes || Buffer.byteLength(text, 'utf8') > maxBytes) {
    const r = new Reporter('', file, null);
    r.at(0, '', `manifest is ${Buffer.byteLength(text, 'utf8')} bytes; the limit is ${maxBytes} bytes`);
    return { manifest: null, errors: r.errors, warnings: [] };
  }

  const lineCounter = new LineCounter();
  const r = new Reporter(text, file, lineCounter);
  const doc = parseDocument(text, { lineCounter, uniqueKeys: true, prettyErrors: false, keepSourceTokens: false });

  let fatal = false;
  for (const e of doc.errors) {
    if (e.code === 'DUPLICATE_KEY') {
      const m = /^("(?:[^"\\\n]|\\.)*"|'[^'\n]*'|[^:\n]*?)\s*:(\s|$)/.exec(text.slice(e.pos[0], e.pos[0] + 1100));
      const key = (m?.[1] ?? '').replace(/^["']|["']$/g, '').trim();
      r.at(e.pos[0], '', key ? `duplicate key "${key}"` : 'duplicate key');
    } else {
      fatal = true;
      r.at(e.pos[0], '', `invalid YAML: ${e.message.split('\n')[0] ?? e.message}`);
    }
  }
  for (const w of doc.warnings) r.at(w.pos[0], '', w.message.split('\n')[0] ?? w.message, 'warning');
  if (fatal) {
    r.sort();
    return { manifest: null, errors: r.errors, warnings: r.warnings };
  }

  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: MAX_ALIAS_COUNT });
  } catch (err) {
    const alias = firstAlias(doc);
    const detail = err instanceof Error ? err.message : String(err);
    r.at(alias ?? 0, '', `too many alias expansions (limit ${MAX_ALIAS_COUNT}); refusing a possible YAML bomb: ${detail}`);
    r.sort();
    return { manifest: null, errors: r.errors, warnings: r.warnings };
  }

  const loc = new Locator(doc);
  if (data === null || data === undefined) {
    r.at(0, '', 'manifest is empty; expected a mapping with version, name and jobs');
    r.sort();
    return { manifest: null, errors: r.errors, warnings: r.warnings };
  }

  const validate = getValidator();
  if (!validate(data)) {
    for (const e of validate.errors ?? []) reportSchemaError(e, r, loc);
  }
  if (isRecord(data)) {
    checkSemantics(data, text, r, loc, {
      maxMatrixExpansions: options.maxMatrixExpansions ?? DEFAULT_MAX_MATRIX_EXPANSIONS,
      treeHasPath: options.treeHasPath,
    });
  }

  r.sort();
  return { manifest: r.errors.length === 0 ? (data as Manifest) : null, errors: r.errors, warnings: r.warnings };
}

function firstAlias(doc: Document): number | null {
  let found: number | null = null;
  const visit = (node: unknown): void => {
    if (found !== null) return;
    if (isAlias(node)) {
      found = rangeStart(node) ?? null;
    } else if (isMap(node) || isSeq(node)) {
      for (const item of node.items) {
        if (isPair(item)) {
          visit(item.key);
          visit(item.value);
        } else visit(item);
      }
    }
  };
  visit(doc.contents);
  return found;
}

// ---------------------------------------------------------------------------------------------
// Schema errors -> issues
// ---------------------------------------------------------------------------------------------

function pointerToSegments(pointer: string): Segment[] {
  if (!pointer) return [];
  return pointer
    .slice(1)
    .split('/')
    .map((s) => s.replace(/~1/g, '/').replace(/~0/g, '~'))
    .map((s) => (/^(0|[1-9][0-9]*)$/.test(s) ? Number(s) : s));
}

const PATTERN_MESSAGES: Record<string, (value: unknown) => string> = {
  duration: (v) => `invalid duration ${JSON.stringify(v)}; use a number with a unit s, m or h, such as 90s, 30m, 2h or 1h30m`,
  quantity: (v) => `invalid memory quantity ${JSON.stringify(v)}; use a positive number with a unit such as 512Mi or 8Gi`,
  projectName: (v) => `invalid project name ${JSON.stringify(v)}; use 1-64 characters of a-z, 0-9, ".", "_", "-", starting with a letter or digit`,
  jobId: (v) => `invalid job id ${JSON.stringify(v)}; use lowercase letters, digits, "_" and "-", starting with a letter`,
  identifier: (v) => `invalid name ${JSON.stringify(v)}; use letters, digits and "_", not starting with a digit`,
  datasetName: (v) => `invalid dataset name ${JSON.stringify(v)}; use letters, digits, "_" and "-", not starting with a digit`,
  envName: (v) => `invalid environment variable name ${JSON.stringify(v)}`,
  image: (v) => `invalid image reference ${JSON.stringify(v)}`,
  thresholdValue: (v) => `invalid threshold ${JSON.stringify(v)}; use a number or a percentage such as "2%"`,
};

function definitionName(schemaPath: string): string | null {
  const m = /^#\/definitions\/([^/]+)\//.exec(schemaPath);
  return m?.[1] ?? null;
}

function typeName(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'list';
  if (isRecord(value)) return 'mapping';
  if (typeof value === 'number') return Number.isInteger(value) ? 'integer' : 'number';
  return typeof value;
}

function reportSchemaError(e: ErrorObject, r: Reporter, loc: Locator): void {
  const segments = pointerToSegments(e.instancePath);
  const params = e.params as Record<string, unknown>;
  switch (e.keyword) {
    case 'additionalProperties': {
      const key = String(params.additionalProperty);
      const at = [...segments, key];
      const parent = isRecord(e.parentSchema) ? e.parentSchema : {};
      const allowed = isRecord(parent.properties) ? Object.keys(parent.properties) : [];
      let message: string;
      if (segments.length === 0 && (key === 'on' || key === 'true')) {
        message = `unknown key "${key}"; use "triggers:" instead (YAML 1.1 parsers such as PyYAML read a bare "on" key as true)`;
      } else {
        message = `unknown key "${key}"${suggestion(key, allowed)}`;
        if (!message.includes('did you mean') && allowed.length > 0 && allowed.length <= 12) {
          message += ` (allowed: ${allowed.join(', ')})`;
        }
      }
      r.at(loc.offset(at, 'key'), formatPath(at), message);
      return;
    }
    case 'propertyNames':
      return; // reported through the inner error, which carries the key
    case 'required': {
      const missing = String(params.missingProperty);
      const what = segments.length === 0 && missing === 'jobs' ? 'missing required key "jobs"; at least one job is required' : `missing required key "${missing}"`;
      r.at(loc.offset(segments), formatPath(segments), what);
      return;
    }
    case 'dependencies':
      r.at(loc.offset(segments), formatPath(segments), `"${String(params.property)}" requires "${String(params.missingProperty)}"`);
      return;
    case 'const':
      if (segments.length === 1 && segments[0] === 'version') {
        r.at(loc.offset(segments), 'version', `unsupported version ${JSON.stringify(e.data)}; supported versions: 1`);
        return;
      }
      break;
    case 'minProperties':
      if (segments.length === 1 && segments[0] === 'jobs') {
        r.at(loc.offset(segments), 'jobs', 'at least one job is required');
        return;
      }
      break;
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).map(String);
      const hint = typeof e.data === 'string' ? suggestion(e.data, allowed) : '';
      r.at(loc.offset(segments), formatPath(segments), `${JSON.stringify(e.data)} is not one of ${allowed.join(', ')}${hint}`);
      return;
    }
    case 'type': {
      const last = segments[segments.length - 2];
      const isEnvValue = last === 'env' && segments.length >= 2;
      if (isEnvValue) {
        r.at(loc.offset(segments), formatPath(segments), `env values must be strings; quote it: ${String(segments[segments.length - 1])}: "${String(e.data)}"`);
        return;
      }
      const expected = Array.isArray(params.type) ? (params.type as string[]).join(' or ') : String(params.type);
      const friendly = expected.replace('array', 'list').replace('object', 'mapping');
      const msg = segments.length === 0 ? `manifest must be a mapping, got ${typeName(e.data)}` : `expected ${friendly}, got ${typeName(e.data)}`;
      r.at(loc.offset(segments), formatPath(segments), msg);
      return;
    }
    case 'pattern': {
      const def = definitionName(e.schemaPath);
      const render = def ? PATTERN_MESSAGES[def] : undefined;
      const isKey = e.propertyName !== undefined;
      const at = isKey ? [...segments, e.propertyName as string] : segments;
      const value = isKey ? e.propertyName : e.data;
      r.at(loc.offset(at, isKey ? 'key' : 'value'), formatPath(at), render ? render(value) : `${JSON.stringify(value)} ${e.message ?? 'is invalid'}`);
      return;
    }
    default:
      break;
  }
  const at = e.propertyName !== undefined ? [...segments, e.propertyName] : segments;
  r.at(loc.offset(at, e.propertyName !== undefined ? 'key' : 'value'), formatPath(at), e.message ?? `invalid (${e.keyword})`);
}

// ---------------------------------------------------------------------------------------------
// Semantic checks
// ---------------------------------------------------------------------------------------------

const TEMPLATE_RE = /\$\{\{([^}]*)\}\}/g;
const FIXED_TEMPLATE_NAMES = new Set(['commit.sha', 'commit.short', 'ref', 'job.name', 'run.id', 'outputs_dir']);
const FULL_SHA_RE = /^([0-9a-f]{40}|[0-9a-f]{64})$/;
const TAG_RE = /^(refs\/tags\/.+|v?[0-9]+(\.[0-9]+)*([-+._][0-9A-Za-z][0-9A-Za-z.+_-]*)?)$/;
const GLOB_CHARS = /[*?[{]/;

interface SemanticOptions {
  maxMatrixExpansions: number;
  treeHasPath?: ((path: string) => boolean) | undefined;
}

function checkSemantics(data: Record<string, unknown>, text: string, r: Reporter, loc: Locator, opts: SemanticOptions): void {
  const jobs = entries(data.jobs);
  const jobIds = new Set(jobs.map(([id]) => id));
  const params = isRecord(data.params) ? data.params : {};
  const paramSchema = isRecord(params.schema) ? params.schema : null;
  const paramNames = new Set(paramSchema ? Object.keys(paramSchema) : []);
  // Params from a committed file without a schema cannot be known here.
  const checkParamNames = paramSchema !== null || params.file === undefined;
  const datasets = entries(data.datasets);
  const datasetNames = new Set(datasets.map(([name]) => name));

  const err = (segments: Segment[], message: string, target: 'value' | 'key' = 'value'): void => {
    r.at(loc.offset(segments, target), formatPath(segments), message);
  };
  const warn = (segments: Segment[], message: string): void => {
    r.at(loc.offset(segments), formatPath(segments), message, 'warning');
  };

  // --- paths: never absolute, never `..`; in the pushed tree when we know it.
  const checkPath = (segments: Segment[], p: string, inTree: boolean): void => {
    if (p.startsWith('/') || p.startsWith('\\') || /^[A-Za-z]:[\\/]/.test(p) || p.startsWith('~')) {
      err(segments, `path ${JSON.stringify(p)} is absolute; paths are relative to the repository root`);
      return;
    }
    if (p.split(/[\\/]/).includes('..')) {
      err(segments, `path ${JSON.stringify(p)} contains ".."; paths must stay inside the repository`);
      return;
    }
    if (inTree && opts.treeHasPath && !p.includes('${{')) {
      const literal = literalPrefix(p);
      if (literal && !opts.treeHasPath(literal)) err(segments, `path ${JSON.stringify(literal)} is not in the pushed tree`);
    }
  };
  if (typeof params.file === 'string') checkPath(['params', 'file'], params.file, false);

  // --- params.schema consistency
  for (const [name, spec] of entries(paramSchema)) {
    if (!isRecord(spec)) continue;
    const at: Segment[] = ['params', 'schema', name];
    if (spec.type === 'enum' && !Array.isArray(spec.values)) err(at, `param "${name}" has type enum but no values`);
    if (typeof spec.min === 'number' && typeof spec.max === 'number' && spec.min > spec.max) err([...at, 'min'], `min ${spec.min} is greater than max ${spec.max}`);
    if (spec.default !== undefined) {
      const d = spec.default;
      const ok =
        spec.type === 'int' ? typeof d === 'number' && Number.isInteger(d)
        : spec.type === 'float' ? typeof d === 'number'
        : spec.type === 'bool' ? typeof d === 'boolean'
        : spec.type === 'string' ? typeof d === 'string'
        : spec.type === 'enum' ? Array.isArray(spec.values) && spec.values.includes(d)
        : true;
      if (!ok) {
        const what = spec.type === 'enum' ? `is not one of the values` : `is not a valid ${String(spec.type)}`;
        err([...at, 'default'], `default ${JSON.stringify(d)} ${what}`);
      } else if (typeof d === 'number') {
        if (typeof spec.min === 'number' && d < spec.min) err([...at, 'default'], `default ${d} is below min ${spec.min}`);
        if (typeof spec.max === 'number' && d > spec.max) err([...at, 'default'], `default ${d} is above max ${spec.max}`);
      }
    }
  }

  // --- datasets: paths, refs
  for (const [name, ds] of datasets) {
    if (!isRecord(ds)) continue;
    const remote = ds.repo !== undefined;
    if (typeof ds.path === 'string') checkPath(['datasets', name, 'path'], ds.path, !remote);
    if (typeof ds.ref === 'string') {
      const ref = ds.ref;
      const at: Segment[] = ['datasets', name, 'ref'];
      if (/^[0-9a-f]{7,39}$/.test(ref)) err(at, `dataset ref "${ref}" is a short SHA; use the full 40-character commit SHA`);
      else if (!FULL_SHA_RE.test(ref) && !TAG_RE.test(ref)) {
        err(at, `dataset ref "${ref}" looks like a branch; use a tag (such as v1.0) or a full 40-character commit SHA so runs are reproducible`);
      }
    }
  }

  // --- images
  const topImage = typeof data.image === 'string' ? data.image : null;
  if (topImage) checkImageTag(['image'], topImage, warn);

  // --- jobs
  for (const [id, job] of jobs) {
    if (!isRecord(job)) continue;
    const base: Segment[] = ['jobs', id];
    if (typeof job.image === 'string') checkImageTag([...base, 'image'], job.image, warn);
    else if (!topImage) err(base, `job "${id}" has no image and there is no top-level image`, 'key');

    for (const [i, dep] of strings(job.depends_on)) {
      if (!jobIds.has(dep)) err([...base, 'depends_on', i], `unknown job "${dep}"${suggestion(dep, jobIds)}`);
    }
    if (checkParamNames) {
      for (const [i, p] of strings(job.params)) {
        if (!paramNames.has(p)) err([...base, 'params', i], `unknown param "${p}"${suggestion(p, paramNames)}`);
      }
    }
    for (const [i, d] of strings(job.datasets)) {
      if (!datasetNames.has(d)) err([...base, 'datasets', i], `unknown dataset "${d}"${suggestion(d, datasetNames)}`);
    }
    for (const [i, p] of strings(job.inputs)) checkPath([...base, 'inputs', i], p, true);
    if (Array.isArray(job.outputs)) {
      job.outputs.forEach((o: unknown, i) => {
        if (isRecord(o) && typeof o.path === 'string') checkPath([...base, 'outputs', i, 'path'], o.path, false);
      });
    }
    if (isRecord(job.metrics) && typeof job.metrics.path === 'string') checkPath([...base, 'metrics', 'path'], job.metrics.path, false);

    if (typeof job.timeout === 'string' && /^[0-9hms]+$/.test(job.timeout) && durationSeconds(job.timeout) === 0) {
      err([...base, 'timeout'], `timeout "${job.timeout}" must be longer than zero`);
    }

    const matrix = isRecord(job.matrix) ? job.matrix : null;
    if (matrix) {
      const lists = Object.values(matrix).filter(Array.isArray) as unknown[][];
      let size = 1;
      for (const l of lists) size = Math.min(size * l.length, Number.MAX_SAFE_INTEGER);
      if (size > opts.maxMatrixExpansions) {
        err([...base, 'matrix'], `matrix expands to ${size} jobs; the limit is ${opts.maxMatrixExpansions}`);
      }
    }
    const matrixNames = new Set(matrix ? Object.keys(matrix) : []);

    // Templates anywhere in the job (command, env, paths...).
    walkStrings(job, base, (segments, value) => {
      if (value.includes('${{')) checkTemplates(segments, value, matrixNames);
    });
  }
  walkStrings(data.env, ['env'], (segments, value) => {
    if (value.includes('${{')) checkTemplates(segments, value, new Set());
  });

  function checkTemplates(segments: Segment[], value: string, matrixNames: Set<string>): void {
    const found = loc.find(segments);
    const node = found.node;
    const range = node && isScalar(node) ? node.range : null;
    const source = range ? text.slice(range[0], range[1]) : '';
    const offsetOf = (needle: string): number => {
      const i = source.indexOf(needle);
      return i >= 0 && range ? range[0] + i : found.offset;
    };
    const path = formatPath(segments);
    let consumed = 0;
    for (const m of value.matchAll(TEMPLATE_RE)) {
      consumed = (m.index ?? 0) + m[0].length;
      const expr = (m[1] ?? '').trim();
      const problem = templateProblem(expr, paramNames, checkParamNames, datasetNames, matrixNames);
      if (problem) r.at(offsetOf(m[0]), path, problem);
    }
    if (value.indexOf('${{', consumed) >= 0) r.at(offsetOf('${{'), path, 'unterminated template: "${{" without a closing "}}"');
  }

  // --- cycles in depends_on (iterative DFS; report each cycle once, at the edge that closes it)
  const graph = new Map<string, Array<[number, string]>>();
  for (const [id, job] of jobs) {
    graph.set(id, isRecord(job) ? strings(job.depends_on).filter(([, d]) => jobIds.has(d)) : []);
  }
  const state = new Map<string, 1 | 2>(); // 1 = on stack, 2 = done
  for (const start of graph.keys()) {
    if (state.has(start)) continue;
    const stack: Array<{ id: string; next: number }> = [{ id: start, next: 0 }];
    state.set(start, 1);
    while (stack.length) {
      const top = stack[stack.length - 1];
      if (!top) break;
      const edges = graph.get(top.id) ?? [];
      const edge = edges[top.next++];
      if (!edge) {
        state.set(top.id, 2);
        stack.pop();
        continue;
      }
      const [index, dep] = edge;
      const s = state.get(dep);
      if (s === 1) {
        const from = stack.findIndex((f) => f.id === dep);
        const cycle = [...stack.slice(from).map((f) => f.id), dep];
        err(['jobs', top.id, 'depends_on', index], `cycle: ${cycle.join(' -> ')}`);
      } else if (s === undefined) {
        state.set(dep, 1);
        stack.push({ id: dep, next: 0 });
      }
    }
  }

  // --- triggers name existing jobs
  const triggers = isRecord(data.triggers) ? data.triggers : {};
  for (const kind of ['push', 'tag', 'manual']) {
    const t = triggers[kind];
    if (!isRecord(t)) continue;
    for (const [i, j] of strings(t.jobs)) {
      if (!jobIds.has(j)) err(['triggers', kind, 'jobs', i], `unknown job "${j}"${suggestion(j, jobIds)}`);
    }
  }
}

function templateProblem(expr: string, params: Set<string>, checkParams: boolean, datasets: Set<string>, matrix: Set<string>): string | null {
  if (FIXED_TEMPLATE_NAMES.has(expr)) return null;
  const parts = expr.split('.');
  const [root, name, rest] = parts;
  if (root === 'params' && parts.length === 2 && name) {
    if (!checkParams || params.has(name)) return null;
    return `template \${{ ${expr} }}: param "${name}" is not declared in params.schema${suggestion(name, params)}`;
  }
  if (root === 'datasets' && name && parts.length <= 3) {
    if (rest !== 'path') return `template \${{ ${expr} }}: use \${{ datasets.${name}.path }}`;
    if (datasets.has(name)) return null;
    return `template \${{ ${expr} }}: dataset "${name}" is not declared in datasets${suggestion(name, datasets)}`;
  }
  if (root === 'matrix' && parts.length === 2 && name) {
    if (matrix.has(name)) return null;
    return `template \${{ ${expr} }}: "${name}" is not in this job's matrix${suggestion(name, matrix)}`;
  }
  const known = ['params.<name>', 'datasets.<name>.path', 'matrix.<name>', ...FIXED_TEMPLATE_NAMES];
  const hint = suggestion(expr, FIXED_TEMPLATE_NAMES);
  return `unknown template \${{ ${expr} }}${hint}${hint ? '' : ` (known: ${known.join(', ')})`}`;
}

function walkStrings(value: unknown, segments: Segment[], visit: (segments: Segment[], value: string) => void): void {
  if (typeof value === 'string') visit(segments, value);
  else if (Array.isArray(value)) value.forEach((v: unknown, i) => walkStrings(v, [...segments, i], visit));
  else if (isRecord(value)) for (const [k, v] of Object.entries(value)) walkStrings(v, [...segments, k], visit);
}

function checkImageTag(segments: Segment[], image: string, warn: (s: Segment[], m: string) => void): void {
  if (image.includes('@')) return; // pinned by digest
  const lastSegment = image.slice(image.lastIndexOf('/') + 1);
  const colon = lastSegment.lastIndexOf(':');
  if (colon < 0) warn(segments, `image "${image}" has no tag and means ":latest"; pin a tag or digest so runs are reproducible`);
  else if (lastSegment.slice(colon + 1) === 'latest') warn(segments, `image "${image}" uses ":latest"; pin a tag or digest so runs are reproducible`);
}

/** Literal directory prefix of a path or glob: `src/*.py` -> `src`, `data/` -> `data`, `a/b.txt` -> `a/b.txt`. */
export function literalPrefix(p: string): string {
  let s = p.replace(/^(\.\/)+/, '');
  const g = s.search(GLOB_CHARS);
  if (g >= 0) s = s.slice(0, s.lastIndexOf('/', g) + 1);
  return s.replace(/\/+$/, '');
}

/** Seconds in a duration string such as `1h30m`; null when it is not one. */
export function durationSeconds(d: string): number | null {
  const m = /^(?=[0-9])(?:([0-9]+)h)?(?:([0-9]+)m)?(?:([0-9]+)s)?$/.exec(d);
  if (!m) return null;
  return Number(m[1] ?? 0) * 3600 + Number(m[2] ?? 0) * 60 + Number(m[3] ?? 0);
}

const QUANTITY_UNITS: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, Ti: 1024 ** 4, k: 1e3, K: 1e3, M: 1e6, G: 1e9, T: 1e12 };

/** Bytes in a memory quantity such as `512Mi`; null when it is not one. */
export function quantityBytes(q: string): number | null {
  const m = /^([0-9]+(?:\.[0-9]+)?)(Ki|Mi|Gi|Ti|k|K|M|G|T)$/.exec(q);
  if (!m) return null;
  const unit = QUANTITY_UNITS[m[2] ?? ''];
  return unit === undefined ? null : Math.round(Number(m[1]) * unit);
}
