// The checks a JSON Schema cannot express (mlproject.md, "Errors"): the job graph, templates,
// dataset refs, matrix size, paths against the pushed tree, image tags. They run on the plain
// data even when the schema failed, so one push reports every problem at once.
import { isScalar } from 'yaml';
import { formatPath, type Reporter, type Segment } from './issues.ts';
import { checkDeployments } from './deployments.ts';
import { findCycles } from './job-graph.ts';
import { matrixSize } from './matrix.ts';
import { literalPrefix, pathProblem } from './paths.ts';
import { entries, isRecord, strings } from './plain-data.ts';
import { scanShellTemplates, TemplateError } from './shell-interpolation.ts';
import type { Locator } from './source-locations.ts';
import { suggestion } from './suggestions.ts';
import { TEMPLATE_RE, templateProblem } from './templates.ts';
import { durationSeconds } from './units.ts';

const FULL_SHA_RE = /^([0-9a-f]{40}|[0-9a-f]{64})$/;
const TAG_RE = /^(refs\/tags\/.+|v?[0-9]+(\.[0-9]+)*([-+._][0-9A-Za-z][0-9A-Za-z.+_-]*)?)$/;

export interface SemanticOptions {
  maxMatrixExpansions: number;
  treeHasPath?: ((path: string) => boolean) | undefined;
  treeName?: string | undefined;
}

/** Names a template may refer to, as declared by the manifest. */
interface Declared {
  params: ReadonlySet<string>;
  /** Params from a committed file without a schema cannot be known here. */
  checkParams: boolean;
  datasets: ReadonlySet<string>;
  jobs: ReadonlySet<string>;
}

/** Reporting helpers bound to one document. */
class Checker {
  constructor(
    readonly text: string,
    readonly r: Reporter,
    readonly loc: Locator,
    readonly opts: SemanticOptions,
  ) {}

  err(segments: Segment[], message: string, target: 'value' | 'key' = 'value'): void {
    this.r.at(this.loc.offset(segments, target), formatPath(segments), message);
  }

  warn(segments: Segment[], message: string): void {
    this.r.at(this.loc.offset(segments), formatPath(segments), message, 'warning');
  }

  /** Paths are never absolute and never climb with `..`; with `inTree`, they must exist in the pushed tree. */
  path(segments: Segment[], p: string, inTree: boolean): void {
    const problem = pathProblem(p);
    if (problem) return this.err(segments, problem);
    if (inTree && this.opts.treeHasPath && !p.includes('${{')) {
      const literal = literalPrefix(p);
      if (literal && !this.opts.treeHasPath(literal)) this.err(segments, `path ${JSON.stringify(literal)} is not in ${this.opts.treeName ?? 'the pushed tree'}`);
    }
  }

  imageTag(segments: Segment[], image: string): void {
    if (image.includes('@')) return; // pinned by digest
    const lastSegment = image.slice(image.lastIndexOf('/') + 1);
    const colon = lastSegment.lastIndexOf(':');
    if (colon < 0) this.warn(segments, `image "${image}" has no tag and means ":latest"; pin a tag or digest so runs are reproducible`);
    else if (lastSegment.slice(colon + 1) === 'latest') this.warn(segments, `image "${image}" uses ":latest"; pin a tag or digest so runs are reproducible`);
  }

  /** Template names in one string; in a shell command also where they sit (see shell-interpolation.ts). */
  templates(segments: Segment[], value: string, declared: Declared, matrix: ReadonlySet<string>, isCommand: boolean): void {
    const found = this.loc.find(segments);
    const node = found.node;
    const range = node && isScalar(node) ? node.range : null;
    const source = range ? this.text.slice(range[0], range[1]) : '';
    const offsetOf = (needle: string): number => {
      const i = source.indexOf(needle);
      return i >= 0 && range ? range[0] + i : found.offset;
    };
    const path = formatPath(segments);
    let consumed = 0;
    for (const m of value.matchAll(TEMPLATE_RE)) {
      consumed = (m.index ?? 0) + m[0].length;
      const expr = (m[1] ?? '').trim();
      const problem = templateProblem(expr, declared.params, declared.checkParams, declared.datasets, matrix);
      if (problem) this.r.at(offsetOf(m[0]), path, problem);
    }
    if (value.indexOf('${{', consumed) >= 0) {
      this.r.at(offsetOf('${{'), path, 'unterminated template: "${{" without a closing "}}"');
      return;
    }
    if (!isCommand) return;
    try {
      scanShellTemplates(value);
    } catch (e) {
      if (!(e instanceof TemplateError)) throw e;
      const end = value.indexOf('}}', e.index);
      this.r.at(offsetOf(value.slice(e.index, end < 0 ? undefined : end + 2)), path, e.message);
    }
  }
}

export function checkSemantics(data: Record<string, unknown>, text: string, r: Reporter, loc: Locator, opts: SemanticOptions): void {
  const c = new Checker(text, r, loc, opts);
  const jobs = entries(data.jobs);
  const params = isRecord(data.params) ? data.params : {};
  const paramSchema = isRecord(params.schema) ? params.schema : null;
  const datasets = entries(data.datasets);
  const declared: Declared = {
    params: new Set(paramSchema ? Object.keys(paramSchema) : []),
    checkParams: paramSchema !== null || params.file === undefined,
    datasets: new Set(datasets.map(([name]) => name)),
    jobs: new Set(jobs.map(([id]) => id)),
  };

  if (typeof params.file === 'string') c.path(['params', 'file'], params.file, false);
  checkParamSchema(c, paramSchema);
  checkDatasets(c, datasets);
  const topImage = typeof data.image === 'string' ? data.image : null;
  if (topImage) c.imageTag(['image'], topImage);
  for (const [id, job] of jobs) {
    if (isRecord(job)) checkJob(c, id, job, declared, topImage !== null);
  }
  walkStrings(data.env, ['env'], (segments, value) => {
    if (value.includes('${{')) c.templates(segments, value, declared, new Set(), false);
  });
  checkCycles(c, jobs, declared.jobs);
  checkTriggers(c, data.triggers, declared.jobs);
  checkModels(c, data.models, jobs);
  checkDeployments((segments, message, target) => c.err(segments, message, target), data.deployments, new Set(entries(data.models).map(([name]) => name)), topImage !== null);
}

function checkParamSchema(c: Checker, paramSchema: Record<string, unknown> | null): void {
  for (const [name, spec] of entries(paramSchema)) {
    if (!isRecord(spec)) continue;
    const at: Segment[] = ['params', 'schema', name];
    if (spec.type === 'enum' && !Array.isArray(spec.values)) c.err(at, `param "${name}" has type enum but no values`);
    if (typeof spec.min === 'number' && typeof spec.max === 'number' && spec.min > spec.max) c.err([...at, 'min'], `min ${spec.min} is greater than max ${spec.max}`);
    if (spec.default === undefined) continue;
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
      c.err([...at, 'default'], `default ${JSON.stringify(d)} ${what}`);
    } else if (typeof d === 'number') {
      if (typeof spec.min === 'number' && d < spec.min) c.err([...at, 'default'], `default ${d} is below min ${spec.min}`);
      if (typeof spec.max === 'number' && d > spec.max) c.err([...at, 'default'], `default ${d} is above max ${spec.max}`);
    }
  }
}

/** In-repo dataset paths must be in the tree; refs to other repos must be immutable (tag or full SHA). */
function checkDatasets(c: Checker, datasets: Array<[string, unknown]>): void {
  for (const [name, ds] of datasets) {
    if (!isRecord(ds)) continue;
    const remote = ds.repo !== undefined;
    if (typeof ds.path === 'string') c.path(['datasets', name, 'path'], ds.path, !remote);
    if (typeof ds.ref !== 'string') continue;
    const ref = ds.ref;
    const at: Segment[] = ['datasets', name, 'ref'];
    if (/^[0-9a-f]{7,39}$/.test(ref)) c.err(at, `dataset ref "${ref}" is a short SHA; use the full 40-character commit SHA`);
    else if (!FULL_SHA_RE.test(ref) && !TAG_RE.test(ref)) {
      c.err(at, `dataset ref "${ref}" looks like a branch; use a tag (such as v1.0) or a full 40-character commit SHA so runs are reproducible`);
    }
  }
}

function checkJob(c: Checker, id: string, job: Record<string, unknown>, declared: Declared, hasTopImage: boolean): void {
  const base: Segment[] = ['jobs', id];
  if (typeof job.image === 'string') c.imageTag([...base, 'image'], job.image);
  else if (!hasTopImage) c.err(base, `job "${id}" has no image and there is no top-level image`, 'key');

  for (const [i, dep] of strings(job.depends_on)) {
    if (!declared.jobs.has(dep)) c.err([...base, 'depends_on', i], `unknown job "${dep}"${suggestion(dep, declared.jobs)}`);
  }
  if (declared.checkParams) {
    for (const [i, p] of strings(job.params)) {
      if (!declared.params.has(p)) c.err([...base, 'params', i], `unknown param "${p}"${suggestion(p, declared.params)}`);
    }
  }
  for (const [i, d] of strings(job.datasets)) {
    if (!declared.datasets.has(d)) c.err([...base, 'datasets', i], `unknown dataset "${d}"${suggestion(d, declared.datasets)}`);
  }
  for (const [i, p] of strings(job.inputs)) c.path([...base, 'inputs', i], p, true);
  if (Array.isArray(job.outputs)) {
    job.outputs.forEach((o: unknown, i) => {
      if (isRecord(o) && typeof o.path === 'string') c.path([...base, 'outputs', i, 'path'], o.path, false);
    });
  }
  if (isRecord(job.metrics) && typeof job.metrics.path === 'string') c.path([...base, 'metrics', 'path'], job.metrics.path, false);

  if (typeof job.timeout === 'string' && /^[0-9hms]+$/.test(job.timeout) && durationSeconds(job.timeout) === 0) {
    c.err([...base, 'timeout'], `timeout "${job.timeout}" must be longer than zero`);
  }

  const matrix = isRecord(job.matrix) ? job.matrix : null;
  if (matrix) {
    const size = matrixSize(Object.fromEntries(Object.entries(matrix).filter(([, v]) => Array.isArray(v))) as Record<string, unknown[]>);
    if (size > c.opts.maxMatrixExpansions) c.err([...base, 'matrix'], `matrix expands to ${size} jobs; the limit is ${c.opts.maxMatrixExpansions}`);
  }
  const matrixNames = new Set(matrix ? Object.keys(matrix) : []);

  // Templates anywhere in the job (command, env, paths...); commands are also shell-checked.
  walkStrings(job, base, (segments, value) => {
    if (value.includes('${{')) c.templates(segments, value, declared, matrixNames, segments[2] === 'command');
  });
}

function checkCycles(c: Checker, jobs: Array<[string, unknown]>, jobIds: ReadonlySet<string>): void {
  const graph = new Map<string, Array<[number, string]>>();
  for (const [id, job] of jobs) {
    graph.set(id, isRecord(job) ? strings(job.depends_on).filter(([, d]) => jobIds.has(d)) : []);
  }
  for (const edge of findCycles(graph)) c.err(['jobs', edge.job, 'depends_on', edge.index], `cycle: ${edge.cycle.join(' -> ')}`);
}

function checkTriggers(c: Checker, value: unknown, jobIds: ReadonlySet<string>): void {
  const triggers = isRecord(value) ? value : {};
  for (const kind of ['push', 'tag', 'manual']) {
    const t = triggers[kind];
    if (!isRecord(t)) continue;
    for (const [i, j] of strings(t.jobs)) {
      if (!jobIds.has(j)) c.err(['triggers', kind, 'jobs', i], `unknown job "${j}"${suggestion(j, jobIds)}`);
    }
  }
}

/** A model comes from a declared job's declared output; `latest` is every model's implicit alias. */
function checkModels(c: Checker, value: unknown, jobs: Array<[string, unknown]>): void {
  const byId = new Map(jobs);
  for (const [name, model] of entries(value)) {
    if (name.endsWith('.lock')) c.err(['models', name], `model name "${name}" may not end with ".lock" (it names git refs)`, 'key');
    if (!isRecord(model)) continue;
    const at: Segment[] = ['models', name];
    if (typeof model.path === 'string') c.path([...at, 'path'], model.path, false);
    if (typeof model.from === 'string') {
      const job = byId.get(model.from);
      if (!isRecord(job)) c.err([...at, 'from'], `unknown job "${model.from}"${suggestion(model.from, new Set(byId.keys()))}`);
      else if (typeof model.path === 'string') {
        const outputs = Array.isArray(job.outputs) ? job.outputs.filter(isRecord).map((o) => o.path) : [];
        if (!outputs.includes(model.path)) c.err([...at, 'path'], `"${model.path}" is not an output of job "${model.from}"; add {path: ${model.path}} to jobs.${model.from}.outputs`);
      }
    }
    for (const [alias] of entries(model.promote)) {
      if (alias === 'latest') c.err([...at, 'promote', alias], 'alias "latest" is implicit (the newest version) and cannot have gates', 'key');
    }
  }
}

function walkStrings(value: unknown, segments: Segment[], visit: (segments: Segment[], value: string) => void): void {
  if (typeof value === 'string') visit(segments, value);
  else if (Array.isArray(value)) value.forEach((v: unknown, i) => walkStrings(v, [...segments, i], visit));
  else if (isRecord(value)) for (const [k, v] of Object.entries(value)) walkStrings(v, [...segments, k], visit);
}
