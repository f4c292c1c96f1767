// The note on refs/notes/mlproject (mlproject.md, "Results on the commit"): the documented
// example byte for byte, then a table of the other shapes a line can take, determinism, and the
// JSON-lines reader clients use.
import t from 'tap';
import { formatDuration, formatNumber, parseNoteJson, renderNote, type NoteInput, type NoteRun } from '../server/domain/note-format.ts';

const SHA = '3f2c9e1d5b8a7c6e4f3a2b1c0d9e8f7a6b5c4d3e';
const MAIN = 'a1b2c3d4e5f60718293a4b5c6d7e8f9012345678';
const lines = (...ls: string[]): string => `${ls.join('\n')}\n`;

const train: NoteRun = { job: 'train', status: 'success', durationMs: 41_000, runId: 12, metrics: { accuracy: 0.9611 }, primary: 'accuracy' };
const evaluate: NoteRun = {
  job: 'evaluate',
  status: 'success',
  durationMs: 5_200,
  runId: 13,
  metrics: { f1_macro: 0.9598 },
  baseline: { ref: 'main', sha: MAIN, deltas: { f1_macro: 0.9598 - 0.9557 } },
};

interface Case {
  name: string;
  input: NoteInput;
  expected: string;
}

const cases: Case[] = [
  {
    name: 'the example of mlproject.md, exactly',
    input: { project: 'digits-classifier', commitSha: SHA, runs: [evaluate, train] },
    expected: lines(
      'mlproject: digits-classifier @ 3f2c9e1',
      '  train     success   0m41s  run 12  accuracy=0.9611',
      '  evaluate  success   0m05s  run 13  f1_macro=0.9598 (+0.0041 vs main@a1b2c3d)',
      '--',
      '{"job":"evaluate","metrics":{"f1_macro":0.9598},"run":13,"status":"success","v":1}',
      '{"job":"train","metrics":{"accuracy":0.9611},"run":12,"status":"success","v":1}',
    ),
  },
  {
    name: 'no runs: header and separator only',
    input: { project: 'p', commitSha: SHA, runs: [] },
    expected: lines('mlproject: p @ 3f2c9e1', '--'),
  },
  {
    name: 'regression, cached run, running job without metrics or duration',
    input: {
      project: 'p',
      commitSha: SHA,
      runs: [
        { job: 'train', status: 'cached', durationMs: null, runId: 20, metrics: { accuracy: 0.95, loss: 0.2 }, primary: 'accuracy', cachedFrom: 12 },
        {
          job: 'evaluate',
          status: 'failed',
          durationMs: 3_723_000,
          runId: 21,
          metrics: { acc: 0.9 },
          baseline: { ref: 'main', sha: MAIN, deltas: { acc: -0.0611 } },
          regressed: ['acc'],
        },
        { job: 'export', status: 'running', durationMs: null, runId: 22, metrics: {} },
      ],
    },
    expected: lines(
      'mlproject: p @ 3f2c9e1',
      '  train     cached    -         run 20  accuracy=0.95  cached from run 12',
      '  evaluate  failed    1h02m03s  run 21  acc=0.9 (-0.0611 vs main@a1b2c3d)  REGRESSED acc',
      '  export    running   -         run 22',
      '--',
      '{"job":"evaluate","metrics":{"acc":0.9},"regressed":["acc"],"run":21,"status":"failed","v":1}',
      '{"job":"export","metrics":{},"run":22,"status":"running","v":1}',
      '{"cached_from":12,"job":"train","metrics":{"accuracy":0.95,"loss":0.2},"run":20,"status":"cached","v":1}',
    ),
  },
  {
    name: 'no primary: first three metrics by name, the count of the rest, deltas on each shown metric',
    input: {
      project: 'p',
      commitSha: SHA,
      runs: [
        {
          job: 'sweep[lr=0.1]',
          status: 'timed_out',
          durationMs: 600_000,
          runId: 7,
          metrics: { z: 1, b: 0.123456, a: 12345.678, c: -0.00001234, d: 2 },
          primary: 'missing',
          baseline: { ref: 'dev', sha: MAIN, deltas: { a: 0, c: 0.5 } },
          regressed: ['z', 'a', 'z'],
        },
      ],
    },
    expected: lines(
      'mlproject: p @ 3f2c9e1',
      '  sweep[lr=0.1]  timed_out  10m00s  run 7  a=12345.678 (+0 vs dev@a1b2c3d)  b=0.1235  c=-0.00001234 (+0.5 vs dev@a1b2c3d)  (+2 more)  REGRESSED a, z',
      '--',
      '{"job":"sweep[lr=0.1]","metrics":{"a":12345.678,"b":0.123456,"c":-0.00001234,"d":2,"z":1},"regressed":["a","z"],"run":7,"status":"timed_out","v":1}',
    ),
  },
  {
    name: 'non-finite metrics are left out of both blocks; control characters cannot forge lines',
    input: {
      project: 'evil\n--\n{"v":1}',
      commitSha: SHA,
      runs: [{ job: 'a\nb', status: 'success\r', durationMs: 999, runId: 1, metrics: { nan: Number.NaN, ok: 1, inf: Number.POSITIVE_INFINITY } }],
    },
    expected: lines(
      'mlproject: evil?--?{"v":1} @ 3f2c9e1',
      '  a?b  success?  0m01s  run 1  ok=1',
      '--',
      '{"job":"a\\nb","metrics":{"ok":1},"run":1,"status":"success\\r","v":1}',
    ),
  },
  {
    name: 'several runs of one job: JSON sorted by job then run',
    input: {
      project: 'p',
      commitSha: SHA,
      runs: [
        { job: 'b', status: 'success', durationMs: 0, runId: 3, metrics: {} },
        { job: 'a', status: 'error', durationMs: 59_500, runId: 2, metrics: {} },
        { job: 'b', status: 'cancelled', durationMs: 60_000, runId: 1, metrics: {} },
      ],
    },
    expected: lines(
      'mlproject: p @ 3f2c9e1',
      '  b  cancelled  1m00s  run 1',
      '  a  error      1m00s  run 2',
      '  b  success    0m00s  run 3',
      '--',
      '{"job":"a","metrics":{},"run":2,"status":"error","v":1}',
      '{"job":"b","metrics":{},"run":1,"status":"cancelled","v":1}',
      '{"job":"b","metrics":{},"run":3,"status":"success","v":1}',
    ),
  },
];

t.test('renderNote: table', async (t) => {
  for (const c of cases) {
    const text = renderNote(c.input);
    t.equal(text, c.expected, c.name);
    t.equal(parseNoteJson(text).length, c.input.runs.length, `${c.name}: one JSON line per run`);
  }
});

t.test('rendering is deterministic: input order and metric key order do not matter', async (t) => {
  const a = renderNote({ project: 'p', commitSha: SHA, runs: [train, evaluate] });
  const shuffled = { ...evaluate, metrics: { f1_macro: 0.9598 } };
  const trainReordered = { ...train, metrics: Object.fromEntries(Object.entries(train.metrics).reverse()) };
  const b = renderNote({ project: 'p', commitSha: SHA, runs: [shuffled, trainReordered] });
  t.equal(a, b);
  const wide = { ...train, metrics: { z: 1, y: 2, x: 3, w: 4 }, primary: undefined };
  const wideReversed = { ...wide, metrics: { w: 4, x: 3, y: 2, z: 1 } };
  t.equal(renderNote({ project: 'p', commitSha: SHA, runs: [wide] }), renderNote({ project: 'p', commitSha: SHA, runs: [wideReversed] }));
});

t.test('formatNumber and formatDuration', async (t) => {
  const numbers: [number, string][] = [
    [0, '0'],
    [-0, '0'],
    [42, '42'],
    [0.9611, '0.9611'],
    [0.96114999, '0.9611'],
    [0.95, '0.95'],
    [1 / 3, '0.3333'],
    [-2.5, '-2.5'],
    [12345.678, '12345.678'],
    [0.001, '0.001'],
    [0.00012346, '0.0001235'],
    [1.5e-9, '1.5e-9'],
    [-0.00004, '-0.00004'],
    [1e21, '1e+21'],
  ];
  for (const [value, text] of numbers) t.equal(formatNumber(value), text, `formatNumber(${value})`);
  const durations: [number | null, string][] = [
    [null, '-'],
    [-1, '-'],
    [Number.NaN, '-'],
    [0, '0m00s'],
    [499, '0m00s'],
    [500, '0m01s'],
    [41_000, '0m41s'],
    [59_999, '1m00s'],
    [3_599_000, '59m59s'],
    [3_600_000, '1h00m00s'],
    [90_061_000, '25h01m01s'],
  ];
  for (const [ms, text] of durations) t.equal(formatDuration(ms), text, `formatDuration(${ms})`);
});

t.test('parseNoteJson reads the lines after --, and refuses what is not a note', async (t) => {
  const text = renderNote({ project: 'p', commitSha: SHA, runs: [train, evaluate] });
  t.same(parseNoteJson(text), [
    { job: 'evaluate', metrics: { f1_macro: 0.9598 }, run: 13, status: 'success', v: 1 },
    { job: 'train', metrics: { accuracy: 0.9611 }, run: 12, status: 'success', v: 1 },
  ]);
  const bad: [string, RegExp][] = [
    ['', /no "--" line/],
    ['just some note\n', /no "--" line/],
    ['x\n--\n{"a":1}\nnot json\n', /note JSON line 2: /],
    ['x\n--\n[1]\n', /note JSON line 1: not a JSON object/],
    ['x\n--\nnull\n', /note JSON line 1: not a JSON object/],
  ];
  for (const [input, message] of bad) t.throws(() => parseNoteJson(input), message, JSON.stringify(input));
  t.same(parseNoteJson('x\n--\n\n{"v":1}\n\n'), [{ v: 1 }], 'blank lines are skipped');
});
