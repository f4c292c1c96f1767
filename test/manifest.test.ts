// mlproject.yaml v1 parser (../shared/design/mlproject.md, "Fields" and "Errors"): the documented
// example is valid; each invalid manifest yields an error at the exact line:col and YAML path;
// hostile inputs (YAML bombs, huge files) are refused quickly; validation stays fast.
import t from 'tap';
import { expandMatrix, formatIssue, parseManifest, type ManifestIssue, type ParseOptions } from '../schema/manifest.ts';
import { generateLargeManifest } from '../bench/lib/large-manifest.ts';

const lines = (...ls: string[]): string => `${ls.join('\n')}\n`;

// The example from mlproject.md, "A realistic example", verbatim.
const EXAMPLE = lines(
  'version: 1',
  'name: digits-classifier',
  'image: localhost/mlgit-python:bookworm',
  'resources: {cpu: 1, memory: 1Gi}',
  'params:',
  '  schema:',
  '    C:    {type: float, default: 1.0, min: 0.0001}',
  '    seed: {type: int, default: 0}',
  'datasets:',
  '  digits: {path: data/digits.csv}          # tracked with git lfs',
  'jobs:',
  '  train:',
  '    kind: train',
  '    command: python train.py --data ${{ datasets.digits.path }} --C ${{ params.C }} --out ${{ outputs_dir }}/model.joblib',
  '    inputs: [train.py, data/]',
  '    outputs: [{path: model.joblib, type: model}]',
  '    metrics: {path: metrics.json, format: json, primary: accuracy, goals: {accuracy: maximize}}',
  '    timeout: 10m',
  '  evaluate:',
  '    kind: evaluate',
  '    depends_on: [train]',
  '    command: python evaluate.py --model model.joblib',
  '    metrics: {path: eval.json, format: json, goals: {f1_macro: maximize}}',
  'compare:',
  '  baseline: main',
  '  thresholds: {accuracy: {max_drop: 0.01}}',
  'triggers:',
  '  push: {branches: [main, "exp/**"], jobs: [train, evaluate]}',
);

/** A small valid manifest; cases append or replace lines. Lines 1-10. */
const HEAD = ['version: 1', 'name: demo', 'image: python:3.12-slim'];
const JOBS = ['jobs:', '  prepare:', '    kind: custom', '    command: python prepare.py', '  train:', '    kind: train', '    command: python train.py'];

t.test('the realistic example from mlproject.md parses with no errors or warnings', async (t) => {
  const tree = new Set(['train.py', 'data', 'data/digits.csv', 'evaluate.py']);
  const r = parseManifest(EXAMPLE, { treeHasPath: (p) => tree.has(p) });
  t.same(r.errors, []);
  t.same(r.warnings, []);
  t.ok(r.manifest);
  t.equal(r.manifest?.jobs.train?.kind, 'train');
  t.same(r.manifest?.jobs.evaluate?.depends_on, ['train']);
  t.equal(r.manifest?.params?.schema?.C?.default, 1);
  t.equal(r.manifest?.datasets?.digits?.path, 'data/digits.csv');
});

t.test('the small base manifest is valid', async (t) => {
  const r = parseManifest(lines(...HEAD, ...JOBS));
  t.same(r.errors, []);
  t.same(r.warnings, []);
});

interface Case {
  name: string;
  text: string;
  options?: ParseOptions;
  line: number;
  column: number;
  path: string;
  message: string;
  severity?: 'error' | 'warning';
}

const cases: Case[] = [
  {
    name: 'unknown key with did-you-mean',
    text: lines(...HEAD, ...JOBS, '    timout: 10m'),
    line: 11, column: 5, path: 'jobs.train.timout', message: 'unknown key "timout"; did you mean "timeout"?',
  },
  {
    name: 'unknown top-level key with did-you-mean',
    text: lines(...HEAD, 'datset: {}', ...JOBS),
    line: 4, column: 1, path: 'datset', message: 'unknown key "datset"; did you mean "datasets"?',
  },
  {
    name: '`on:` instead of `triggers:`',
    text: lines(...HEAD, ...JOBS, 'on:', '  push: {branches: [main]}'),
    line: 11, column: 1, path: 'on', message: 'use "triggers:" instead (YAML 1.1 parsers such as PyYAML read a bare "on" key as true)',
  },
  {
    name: 'unknown job in depends_on with a suggestion',
    text: lines(...HEAD, ...JOBS, '    depends_on: [prep]'),
    line: 11, column: 18, path: 'jobs.train.depends_on[0]', message: 'unknown job "prep"; did you mean "prepare"?',
  },
  {
    name: 'cycle in depends_on',
    text: lines(...HEAD, 'jobs:', '  prepare:', '    kind: custom', '    command: x', '    depends_on: [train]', '  train:', '    kind: train', '    command: y', '    depends_on: [prepare]'),
    line: 12, column: 18, path: 'jobs.train.depends_on[0]', message: 'cycle: prepare -> train -> prepare',
  },
  {
    name: 'a job that depends on itself',
    text: lines(...HEAD, ...JOBS, '    depends_on: [train]'),
    line: 11, column: 18, path: 'jobs.train.depends_on[0]', message: 'cycle: train -> train',
  },
  {
    name: 'template with an undeclared param',
    text: lines(...HEAD, 'params:', '  schema:', '    lr: {type: float, default: 0.1}', 'jobs:', '  train:', '    kind: train', '    command: python train.py --depth ${{ params.depth }}'),
    line: 10, column: 38, path: 'jobs.train.command', message: 'template ${{ params.depth }}: param "depth" is not declared in params.schema',
  },
  {
    name: 'template with an undeclared dataset',
    text: lines(...HEAD, 'jobs:', '  train:', '    kind: train', '    command: ["python train.py", "ls ${{ datasets.digits.path }}"]'),
    line: 7, column: 38, path: 'jobs.train.command[1]', message: 'dataset "digits" is not declared in datasets',
  },
  {
    name: 'template with a matrix name the job does not have',
    text: lines(...HEAD, 'jobs:', '  train:', '    kind: train', '    command: python train.py --lr ${{ matrix.lr }}', '    matrix: {rate: [0.1, 0.2]}'),
    line: 7, column: 35, path: 'jobs.train.command', message: '"lr" is not in this job\'s matrix',
  },
  {
    name: 'branch as a dataset ref',
    text: lines(...HEAD, 'datasets:', '  mnist: {repo: alice/mnist, ref: main, path: data/mnist.npz}', ...JOBS),
    line: 5, column: 35, path: 'datasets.mnist.ref', message: 'dataset ref "main" looks like a branch',
  },
  {
    name: 'short SHA as a dataset ref',
    text: lines(...HEAD, 'datasets:', '  mnist: {repo: alice/mnist, ref: a1b2c3d, path: data/mnist.npz}', ...JOBS),
    line: 5, column: 35, path: 'datasets.mnist.ref', message: 'is a short SHA; use the full 40-character commit SHA',
  },
  {
    name: 'matrix over the cap',
    text: lines(...HEAD, ...JOBS, '    matrix:', '      a: [1, 2, 3, 4, 5, 6, 7, 8, 9]', '      b: [1, 2, 3, 4, 5, 6, 7, 8]'),
    line: 12, column: 7, path: 'jobs.train.matrix', message: 'matrix expands to 72 jobs; the limit is 64',
  },
  {
    name: 'matrix over a custom cap',
    text: lines(...HEAD, ...JOBS, '    matrix: {a: [1, 2, 3]}'),
    options: { maxMatrixExpansions: 2 },
    line: 11, column: 13, path: 'jobs.train.matrix', message: 'matrix expands to 3 jobs; the limit is 2',
  },
  {
    name: 'bad duration',
    text: lines(...HEAD, ...JOBS, '    timeout: 10 minutes'),
    line: 11, column: 14, path: 'jobs.train.timeout', message: 'invalid duration "10 minutes"',
  },
  {
    name: 'zero duration',
    text: lines(...HEAD, ...JOBS, '    timeout: 0m'),
    line: 11, column: 14, path: 'jobs.train.timeout', message: 'timeout "0m" must be longer than zero',
  },
  {
    name: 'bad memory quantity',
    text: lines(...HEAD, 'resources: {cpu: 2, memory: 8GB}', ...JOBS),
    line: 4, column: 29, path: 'resources.memory', message: 'invalid memory quantity "8GB"',
  },
  {
    name: 'numeric env value',
    text: lines(...HEAD, 'env:', '  THREADS: 4', ...JOBS),
    line: 5, column: 12, path: 'env.THREADS', message: 'env values must be strings; quote it: THREADS: "4"',
  },
  {
    name: 'version 2',
    text: lines('version: 2', ...HEAD.slice(1), ...JOBS),
    line: 1, column: 10, path: 'version', message: 'unsupported version 2; supported versions: 1',
  },
  {
    name: 'missing jobs',
    text: lines(...HEAD),
    line: 1, column: 1, path: '', message: 'missing required key "jobs"',
  },
  {
    name: 'empty jobs',
    text: lines(...HEAD, 'jobs: {}'),
    line: 4, column: 7, path: 'jobs', message: 'at least one job is required',
  },
  {
    name: 'invalid job id',
    text: lines(...HEAD, 'jobs:', '  Train:', '    kind: train', '    command: x'),
    line: 5, column: 3, path: 'jobs.Train', message: 'invalid job id "Train"',
  },
  {
    name: 'absolute input path',
    text: lines(...HEAD, ...JOBS, '    inputs: [train.py, /etc/passwd]'),
    line: 11, column: 24, path: 'jobs.train.inputs[1]', message: 'path "/etc/passwd" is absolute',
  },
  {
    name: '`..` in an output path',
    text: lines(...HEAD, ...JOBS, '    outputs:', '      - {path: ../../secrets, type: dir}'),
    line: 12, column: 16, path: 'jobs.train.outputs[0].path', message: 'path "../../secrets" contains ".."',
  },
  {
    name: '`..` in a dataset path even without a tree',
    text: lines(...HEAD, 'datasets:', '  d: {path: data/../../x}', ...JOBS),
    line: 5, column: 13, path: 'datasets.d.path', message: 'contains ".."',
  },
  {
    name: 'input not in the pushed tree (glob: literal prefix only)',
    text: lines(...HEAD, ...JOBS, '    inputs: [train.py, "src/**/*.py"]'),
    options: { treeHasPath: (p) => p === 'train.py' },
    line: 11, column: 24, path: 'jobs.train.inputs[1]', message: 'path "src" is not in the pushed tree',
  },
  {
    name: 'dataset path not in the pushed tree',
    text: lines(...HEAD, 'datasets:', '  digits: {path: data/digits.csv}', ...JOBS),
    options: { treeHasPath: () => false },
    line: 5, column: 18, path: 'datasets.digits.path', message: 'path "data/digits.csv" is not in the pushed tree',
  },
  {
    name: 'duplicate keys',
    text: lines(...HEAD, ...JOBS, '    kind: evaluate'),
    line: 11, column: 5, path: '', message: 'duplicate key "kind"',
  },
  {
    name: 'job without an image and no top-level image',
    text: lines('version: 1', 'name: demo', 'jobs:', '  train: {kind: train, command: x}', '  test: {kind: custom, command: y, image: "python:3.12"}'),
    line: 4, column: 3, path: 'jobs.train', message: 'job "train" has no image and there is no top-level image',
  },
  {
    name: 'bad job kind with did-you-mean',
    text: lines(...HEAD, 'jobs:', '  train:', '    kind: trian', '    command: x'),
    line: 6, column: 11, path: 'jobs.train.kind', message: '"trian" is not one of train, evaluate, custom; did you mean "train"?',
  },
  {
    name: 'unknown job in triggers',
    text: lines(...HEAD, ...JOBS, 'triggers:', '  push: {branches: [main], jobs: [trian]}'),
    line: 12, column: 35, path: 'triggers.push.jobs[0]', message: 'unknown job "trian"; did you mean "train"?',
  },
  {
    name: 'dataset repo without ref',
    text: lines(...HEAD, 'datasets:', '  d: {repo: alice/mnist, path: x.npz}', ...JOBS),
    line: 5, column: 6, path: 'datasets.d', message: '"repo" requires "ref"',
  },
  {
    name: 'retries over 3',
    text: lines(...HEAD, ...JOBS, '    retries: {max: 5}'),
    line: 11, column: 20, path: 'jobs.train.retries.max', message: 'must be <= 3',
  },
  {
    name: 'command of the wrong type',
    text: lines(...HEAD, 'jobs:', '  train:', '    kind: train', '    command: 42'),
    line: 7, column: 14, path: 'jobs.train.command', message: 'expected string or list, got integer',
  },
  {
    name: 'not a mapping',
    text: lines('- version: 1'),
    line: 1, column: 1, path: '', message: 'manifest must be a mapping, got list',
  },
  {
    name: 'warning for an image tagged :latest',
    text: lines('version: 1', 'name: demo', 'image: python:latest', ...JOBS),
    severity: 'warning',
    line: 3, column: 8, path: 'image', message: 'uses ":latest"',
  },
  {
    name: 'warning for an untagged job image (a registry port is not a tag)',
    text: lines(...HEAD, ...JOBS, '    image: localhost:5000/trainer'),
    severity: 'warning',
    line: 11, column: 12, path: 'jobs.train.image', message: 'has no tag',
  },
];

for (const c of cases) {
  t.test(c.name, async (t) => {
    const r = parseManifest(c.text, c.options);
    const list = c.severity === 'warning' ? r.warnings : r.errors;
    const hit = list.find((i) => i.message.includes(c.message));
    if (!hit) {
      t.fail(`no ${c.severity ?? 'error'} containing ${JSON.stringify(c.message)}`, { got: list.map((i) => formatIssue(i)) });
      return;
    }
    t.equal(hit.path, c.path, 'path');
    t.equal(`${hit.line}:${hit.column}`, `${c.line}:${c.column}`, 'line:column');
    t.equal(hit.severity, c.severity ?? 'error');
    if (c.severity === 'warning') {
      t.same(r.errors, [], 'warnings never come with errors here');
      t.ok(r.manifest, 'warnings do not block');
    } else {
      t.equal(r.manifest, null, 'no manifest when there are errors');
    }
  });
}

t.test('all errors are collected in one run, sorted by position', async (t) => {
  const text = lines(
    'version: 3',                                       // 1
    'name: Demo',                                       // 2
    'on: {push: {}}',                                   // 3
    'jobs:',                                            // 4
    '  train:',                                         // 5
    '    kind: train',                                  // 6
    '    comand: python train.py ${{ params.lr }}',     // 7
    '    command: python train.py ${{ params.lr }}',    // 8
    '    depends_on: [eval]',                           // 9
    '    timeout: forever',                             // 10
    '  evaluate:',                                      // 11
    '    kind: evaluate',                               // 12
    '    command: x',                                   // 13
    '    depends_on: [train]',                          // 14
    '    inputs: [/abs]',                               // 15
  );
  const r = parseManifest(text);
  const got = r.errors.map((i) => `${i.line}:${i.column} ${i.path}`);
  t.same(got, [
    '1:10 version',
    '2:7 name',
    '3:1 on',
    '5:3 jobs.train',
    '7:5 jobs.train.comand',
    '7:29 jobs.train.comand',
    '8:30 jobs.train.command',
    '9:18 jobs.train.depends_on[0]',
    '10:14 jobs.train.timeout',
    '11:3 jobs.evaluate',
    '15:14 jobs.evaluate.inputs[0]',
  ]);
  t.match(r.errors[3]?.message, /no image and there is no top-level image/);
  t.match(r.errors[5]?.message, /param "lr" is not declared/);
  t.match(r.errors[7]?.message, /unknown job "eval"; did you mean "evaluate"\?/);
  t.equal(r.manifest, null);
});

t.test('formatIssue renders the documented format', async (t) => {
  const text = lines(...HEAD, ...JOBS, '    depends_on: [prep]');
  const r = parseManifest(text);
  t.equal(r.errors.length, 1);
  const issue = r.errors[0] as ManifestIssue;
  t.equal(
    formatIssue(issue),
    [
      'mlproject.yaml:11:18: error: jobs.train.depends_on[0]: unknown job "prep"; did you mean "prepare"?',
      '    depends_on: [prep]',
      '                 ^',
    ].join('\n'),
  );
  t.equal(issue.frame, '    depends_on: [prep]\n                 ^');
  t.match(formatIssue(issue, 'models/mlproject.yaml'), /^models\/mlproject\.yaml:11:18: error: /);
  const named = parseManifest(text, { file: 'repo/mlproject.yaml' });
  t.match(formatIssue(named.errors[0] as ManifestIssue), /^repo\/mlproject\.yaml:11:18: error: /);
  const warning = parseManifest(lines('version: 1', 'name: demo', 'image: python', ...JOBS)).warnings[0] as ManifestIssue;
  t.equal(formatIssue(warning).split('\n')[0], 'mlproject.yaml:3:8: warning: image: image "python" has no tag and means ":latest"; pin a tag or digest so runs are reproducible');
});

t.test('a YAML bomb (billion laughs) is rejected quickly', async (t) => {
  const bomb = lines(
    'version: 1',
    'name: bomb',
    'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]',
    'b: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a]',
    'c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b]',
    'd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c]',
    'e: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d]',
    'f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e]',
    'g: &g [*f,*f,*f,*f,*f,*f,*f,*f,*f]',
    'h: &h [*g,*g,*g,*g,*g,*g,*g,*g,*g]',
    'i: &i [*h,*h,*h,*h,*h,*h,*h,*h,*h]',
    'jobs: *i',
  );
  const start = performance.now();
  const r = parseManifest(bomb);
  const ms = performance.now() - start;
  t.equal(r.manifest, null);
  t.equal(r.errors.length, 1);
  t.match(r.errors[0]?.message, /too many alias expansions/);
  t.equal(`${r.errors[0]?.line}:${r.errors[0]?.column}`, '4:8', 'points at the first alias');
  t.ok(ms < 500, `rejected in ${ms.toFixed(1)} ms`);
});

t.test('a few aliases for shared values are fine', async (t) => {
  const text = lines(...HEAD, 'env: &shared {OMP_NUM_THREADS: "4"}', 'jobs:', '  train: {kind: train, command: x, env: *shared}', '  test: {kind: custom, command: y, env: *shared}');
  const r = parseManifest(text);
  t.same(r.errors, []);
  t.same(r.manifest?.jobs.test?.env, { OMP_NUM_THREADS: '4' });
});

t.test('a 10 MB manifest is rejected by size before parsing', async (t) => {
  const big = lines(...HEAD, ...JOBS) + `# ${'x'.repeat(10 * 1024 * 1024)}\n`;
  const start = performance.now();
  const r = parseManifest(big);
  const ms = performance.now() - start;
  t.equal(r.manifest, null);
  t.equal(r.errors.length, 1);
  t.match(r.errors[0]?.message, /^manifest is \d+ bytes; the limit is 1048576 bytes$/);
  t.equal(`${r.errors[0]?.line}:${r.errors[0]?.column}`, '1:1');
  t.ok(ms < 200, `rejected in ${ms.toFixed(1)} ms`);
  t.match(parseManifest(lines(...HEAD, ...JOBS), { maxBytes: 10 }).errors[0]?.message, /the limit is 10 bytes/);
});

t.test('invalid YAML reports the parser error with a position', async (t) => {
  const r = parseManifest(lines(...HEAD, 'jobs:', '  train: {kind: train, command: x', 'name2: y'));
  t.equal(r.manifest, null);
  t.ok(r.errors.length >= 1);
  t.match(r.errors[0]?.message, /^invalid YAML: /);
});

t.test('empty manifest', async (t) => {
  const r = parseManifest('');
  t.match(r.errors[0]?.message, /manifest is empty/);
});

t.test('expandMatrix', async (t) => {
  t.same(expandMatrix('train', {}).map((e) => e.name), ['train']);
  const ex = expandMatrix('train', { matrix: { lr: [0.1, 0.01], depth: [3, 5] } });
  t.same(ex.map((e) => e.name), ['train[lr=0.1,depth=3]', 'train[lr=0.1,depth=5]', 'train[lr=0.01,depth=3]', 'train[lr=0.01,depth=5]']);
  t.same(ex[1]?.values, { lr: 0.1, depth: 5 });
  t.throws(() => expandMatrix('train', { matrix: { a: Array.from({ length: 100 }, (_, i) => i) } }), /expands to 100 jobs; the limit is 64/);
  const r = parseManifest(lines(...HEAD, ...JOBS, '    matrix: {lr: [0.1, 0.01], depth: [3]}'));
  t.same(r.errors, []);
  const job = r.manifest?.jobs.train;
  t.ok(job);
  if (job) t.same(expandMatrix('train', job).map((e) => e.name), ['train[lr=0.1,depth=3]', 'train[lr=0.01,depth=3]']);
});

t.test('a 300-line manifest validates cleanly (its speed is measured by bench:manifest)', async (t) => {
  const text = generateLargeManifest();
  const lineCount = text.split('\n').length - 1;
  t.ok(lineCount >= 290 && lineCount <= 320, `${lineCount} lines`);
  const opts: ParseOptions = { treeHasPath: () => true };
  const first = parseManifest(text, opts);
  t.same(first.errors, []);
  for (let i = 0; i < 20; i++) parseManifest(text, opts); // warm up the JIT
  const times: number[] = [];
  for (let i = 0; i < 20; i++) {
    const start = performance.now();
    parseManifest(text, opts);
    times.push(performance.now() - start);
  }
  times.sort((a, b) => a - b);
  const median = ((times[9] ?? 0) + (times[10] ?? 0)) / 2;
  // Shown, not asserted: speed is bench:manifest's job (a timed assertion fails on a loaded machine).
  t.comment(`manifest validation, ${lineCount} lines: median ${median.toFixed(2)} ms over 20 runs (bench:manifest target < 20 ms)`);
});
