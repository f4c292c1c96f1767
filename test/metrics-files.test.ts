// Metrics files (mlproject.md, "jobs.<id>.metrics"; issue 4, "Results"): json/yaml flatten to
// dotted names, jsonl/csv are series with a step; anything that is not a finite number, and any
// garbage file, becomes a problem naming the key, never a throw or a stored value.
import t from 'tap';
import { parseMetricsFile, type MetricsFormat, type MetricsLimits } from '../server/domain/metrics-files.ts';

interface Case {
  name: string;
  format: MetricsFormat;
  text: string;
  limits?: MetricsLimits;
  summary: Record<string, number>;
  points?: { key: string; step: number; value: number }[];
  /** Each must match one problem; the count must match too. */
  problems?: RegExp[];
}

const lines = (...ls: string[]): string => `${ls.join('\n')}\n`;

const cases: Case[] = [
  // --- well-formed files
  { name: 'json: flat numbers', format: 'json', text: '{"accuracy": 0.9611, "loss": 0.12, "epochs": 10}', summary: { accuracy: 0.9611, epochs: 10, loss: 0.12 } },
  {
    name: 'json: nested objects become dotted names',
    format: 'json',
    text: '{"eval": {"f1": {"macro": 0.9598, "micro": 0.96}}, "train": {"loss": -1.5e-3}}',
    summary: { 'eval.f1.macro': 0.9598, 'eval.f1.micro': 0.96, 'train.loss': -0.0015 },
  },
  { name: 'json: BOM and surrounding whitespace', format: 'json', text: '\uFEFF\n  {"a": 1}\n\n', summary: { a: 1 } },
  { name: 'json: empty object is fine and empty', format: 'json', text: '{}', summary: {} },
  {
    name: 'yaml: nested mapping and numbers in all notations',
    format: 'yaml',
    text: lines('accuracy: 0.9611', 'eval:', '  f1_macro: 0.9598', '  count: 0x10', '  big: 1e3'),
    summary: { accuracy: 0.9611, 'eval.big': 1000, 'eval.count': 16, 'eval.f1_macro': 0.9598 },
  },
  {
    name: 'jsonl: series with step, last value is the summary',
    format: 'jsonl',
    text: lines('{"step": 0, "loss": 2.0, "acc": 0.1}', '{"step": 10, "loss": 1.0}', '', '{"step": 20, "loss": 0.5, "acc": 0.9}'),
    summary: { acc: 0.9, loss: 0.5 },
    points: [
      { key: 'acc', step: 0, value: 0.1 },
      { key: 'acc', step: 20, value: 0.9 },
      { key: 'loss', step: 0, value: 2 },
      { key: 'loss', step: 10, value: 1 },
      { key: 'loss', step: 20, value: 0.5 },
    ],
  },
  {
    name: 'jsonl: missing step -> row index; nested objects flatten; CRLF',
    format: 'jsonl',
    text: '{"loss": 3}\r\n{"loss": 2, "val": {"acc": 0.5}}\r\n',
    summary: { loss: 2, 'val.acc': 0.5 },
    points: [
      { key: 'loss', step: 0, value: 3 },
      { key: 'loss', step: 1, value: 2 },
      { key: 'val.acc', step: 1, value: 0.5 },
    ],
  },
  {
    name: 'csv: header, step column, empty cells are metrics not logged at that step',
    format: 'csv',
    text: lines('step,loss,val_acc', '0,2.5,', '100,1.25,0.5', '200,0.75,'),
    summary: { loss: 0.75, val_acc: 0.5 },
    points: [
      { key: 'loss', step: 0, value: 2.5 },
      { key: 'loss', step: 100, value: 1.25 },
      { key: 'loss', step: 200, value: 0.75 },
      { key: 'val_acc', step: 100, value: 0.5 },
    ],
  },
  {
    name: 'csv: no step column -> row index; quoted header and cells; CRLF; no final newline',
    format: 'csv',
    text: '"loss", "acc"\r\n"1.5",0.25\r\n1.0 , .5',
    summary: { acc: 0.5, loss: 1 },
    points: [
      { key: 'acc', step: 0, value: 0.25 },
      { key: 'acc', step: 1, value: 0.5 },
      { key: 'loss', step: 0, value: 1.5 },
      { key: 'loss', step: 1, value: 1 },
    ],
  },
  {
    name: 'csv: a repeated step keeps the later value and says so',
    format: 'csv',
    text: lines('step,loss', '1,3', '2,2', '2,1.5'),
    summary: { loss: 1.5 },
    points: [
      { key: 'loss', step: 1, value: 3 },
      { key: 'loss', step: 2, value: 1.5 },
    ],
    problems: [/1 values repeat a step/],
  },

  // --- values that are not finite numbers: reported per key, not stored
  {
    name: 'json: strings, null, booleans, arrays are problems naming the key',
    format: 'json',
    text: '{"acc": 0.9, "note": "good", "nothing": null, "ok": true, "curve": [1, 2], "nested": {"s": "0.5"}}',
    summary: { acc: 0.9 },
    problems: [/"note": value is a string \("good"\)/, /"nothing": value is null/, /"ok": value is a boolean/, /"curve": value is an array/, /"nested.s": value is a string/],
  },
  {
    name: 'yaml: .nan and .inf are NaN/Infinity problems',
    format: 'yaml',
    text: lines('acc: .nan', 'loss: -.inf', 'f1: 0.5'),
    summary: { f1: 0.5 },
    problems: [/"acc": value is NaN/, /"loss": value is Infinity/],
  },
  {
    name: 'jsonl: NaN-ish strings, nulls, booleans, counted per key',
    format: 'jsonl',
    text: lines('{"step": 0, "loss": "NaN", "acc": 0.1}', '{"step": 1, "loss": "NaN", "acc": null}', '{"step": 2, "loss": 1, "flag": false}'),
    summary: { acc: 0.1, loss: 1 },
    points: [
      { key: 'acc', step: 0, value: 0.1 },
      { key: 'loss', step: 2, value: 1 },
    ],
    problems: [/"loss": 2 values are a string \("NaN"\)/, /"acc": value is null/, /"flag": value is a boolean/],
  },
  {
    name: 'csv: nan, inf, text and overflowing numbers',
    format: 'csv',
    text: lines('step,loss,acc,big', '0,nan,0.1,1e400', '1,Infinity,abc,1', '2,1,0.3,2'),
    summary: { acc: 0.3, big: 2, loss: 1 },
    points: [
      { key: 'acc', step: 0, value: 0.1 },
      { key: 'acc', step: 2, value: 0.3 },
      { key: 'big', step: 1, value: 1 },
      { key: 'big', step: 2, value: 2 },
      { key: 'loss', step: 2, value: 1 },
    ],
    problems: [/"loss": value is NaN/, /"loss": value is Infinity/, /"acc": value is a string \("abc"\)/, /"big": value is Infinity \("1e400"\)/],
  },
  {
    name: 'csv: hex, empty-looking and signed-word numbers are not decimals',
    format: 'csv',
    text: lines('a,b', '0x10,+inf'),
    summary: {},
    problems: [/"a": value is a string \("0x10"\)/, /"b": value is Infinity/],
  },

  // --- bad steps and rows
  {
    name: 'jsonl: bad steps skip the line',
    format: 'jsonl',
    text: lines('{"step": -1, "a": 1}', '{"step": 1.5, "a": 2}', '{"step": "3", "a": 3}', '{"step": 4, "a": 4}'),
    summary: { a: 4 },
    points: [{ key: 'a', step: 4, value: 4 }],
    problems: [/3 line\(s\) have a "step" that is not a whole number >= 0/],
  },
  {
    name: 'csv: ragged rows and bad steps are skipped and counted',
    format: 'csv',
    text: lines('step,a', '0,1', '1,2,3', '2', 'x,5', '3,4'),
    summary: { a: 4 },
    points: [
      { key: 'a', step: 0, value: 1 },
      { key: 'a', step: 3, value: 4 },
    ],
    problems: [/2 csv row\(s\) do not have 2 fields/, /1 csv row\(s\) have a step that is not a whole number/],
  },
  {
    name: 'csv: duplicate and empty column names',
    format: 'csv',
    text: lines('a,,a,b', '1,2,3,4'),
    summary: { a: 1, b: 4 },
    points: [
      { key: 'a', step: 0, value: 1 },
      { key: 'b', step: 0, value: 4 },
    ],
    problems: [/column 2 has an empty name/, /column "a" appears more than once/],
  },

  // --- keys
  {
    name: 'keys outside the charset or too long are refused by name',
    format: 'json',
    text: JSON.stringify({ 'val loss': 1, 'a\nb': 2, '../x': 3, '': 4, ok: 5, ['x'.repeat(201)]: 6, 'a..b': 7, 'grp/top@5:k-1.x': 8 }),
    summary: { 'grp/top@5:k-1.x': 8, ok: 5 },
    problems: [/key "val loss" must start/, /key "a\\nb" must start/, /key "..\/x" must start/, /key "" must start/, /is 201 characters long; the limit is 200/, /key "a..b" must start/],
  },
  {
    name: 'a dotted name that flattening produces twice keeps the last, once, and says so',
    format: 'json',
    text: '{"a.b": 1, "a": {"b": 2}}',
    summary: { 'a.b': 2 },
    problems: [/"a.b" appears more than once after nesting is flattened; the last value was kept/],
  },

  // --- caps
  {
    name: 'key cap: extra keys are cut and the problem says how many and which first',
    format: 'json',
    text: JSON.stringify(Object.fromEntries(Array.from({ length: 12 }, (_, i) => [`m${String(i).padStart(2, '0')}`, i]))),
    limits: { maxKeys: 10 },
    summary: Object.fromEntries(Array.from({ length: 10 }, (_, i) => [`m${String(i).padStart(2, '0')}`, i])),
    problems: [/more than 10 metric keys: 2 more were not stored \(the first was "m10"\)/],
  },
  {
    name: 'point cap: summary keeps the true last value, points stop at the cap',
    format: 'csv',
    text: lines('step,loss', ...Array.from({ length: 8 }, (_, i) => `${i},${8 - i}`)),
    limits: { maxPoints: 5 },
    summary: { loss: 1 },
    points: Array.from({ length: 5 }, (_, i) => ({ key: 'loss', step: i, value: 8 - i })),
    problems: [/more than 5 points: 3 more were not stored/],
  },
  {
    name: 'key length cap is configurable',
    format: 'json',
    text: '{"abcdef": 1, "abc": 2}',
    limits: { maxKeyLength: 4 },
    summary: { abc: 2 },
    problems: [/"abcdef" is 6 characters long; the limit is 4/],
  },
  {
    name: 'byte cap: the file is not parsed at all',
    format: 'json',
    text: `{"a": ${'1'.repeat(100)}}`,
    limits: { maxBytes: 50 },
    summary: {},
    problems: [/metrics file is 107 bytes; the limit is 50 bytes/],
  },

  // --- garbage
  { name: 'empty file', format: 'json', text: '', summary: {}, problems: [/metrics file is empty; expected json/] },
  { name: 'whitespace only', format: 'csv', text: ' \n\n', summary: {}, problems: [/metrics file is empty; expected csv/] },
  { name: 'binary', format: 'json', text: '\u0000\u0001PK\u0003\u0004', summary: {}, problems: [/looks binary/] },
  { name: 'invalid JSON', format: 'json', text: '{"a": 1,', summary: {}, problems: [/invalid JSON/] },
  { name: 'JSON that is an array', format: 'json', text: '[1, 2]', summary: {}, problems: [/must be an object .* it is an array/] },
  { name: 'JSON that is a number', format: 'json', text: '0.95', summary: {}, problems: [/it is a number/] },
  { name: 'JSON null', format: 'json', text: 'null', summary: {}, problems: [/it is null/] },
  { name: 'jsonl handed to the json parser (wrong format)', format: 'json', text: lines('{"a": 1}', '{"a": 2}'), summary: {}, problems: [/invalid JSON/] },
  { name: 'csv handed to the json parser (wrong format)', format: 'json', text: lines('a,b', '1,2'), summary: {}, problems: [/invalid JSON/] },
  {
    name: 'json handed to the csv parser (wrong format): header names are refused',
    format: 'csv',
    text: '{"a": 1, "b": 2}\n',
    summary: {},
    problems: [/header but no data rows/, /key "\{\\"a\\": 1" must start/, /key "b: 2}" must start/],
  },
  { name: 'csv header only', format: 'csv', text: 'step,loss\n', summary: {}, problems: [/header but no data rows/] },
  {
    name: 'csv with an unterminated quote',
    format: 'csv',
    text: 'a,b\n1,"2\n3,4\n',
    summary: { a: 1 },
    points: [{ key: 'a', step: 0, value: 1 }],
    problems: [/quoted field is never closed/, /"b": value is a string/],
  },
  {
    name: 'jsonl with garbage lines',
    format: 'jsonl',
    text: lines('{"a": 1}', 'not json', '[1,2]', '42', '{"a": 2}'),
    summary: { a: 2 },
    points: [
      { key: 'a', step: 0, value: 1 },
      { key: 'a', step: 1, value: 2 },
    ],
    problems: [/3 line\(s\) are not JSON objects and were skipped \(first: line 2: /],
  },
  { name: 'jsonl with only garbage', format: 'jsonl', text: 'garbage\n', summary: {}, problems: [/1 line\(s\) are not JSON objects/] },
  { name: 'invalid YAML (two errors)', format: 'yaml', text: 'a: [1, 2\nb: }', summary: {}, problems: [/invalid YAML: Flow sequence/, /invalid YAML: Unexpected flow-map-end/] },
  { name: 'YAML duplicate keys', format: 'yaml', text: 'a: 1\na: 2\n', summary: {}, problems: [/invalid YAML: .*(unique|duplicate)/i] },
  { name: 'YAML scalar document', format: 'yaml', text: 'just text\n', summary: {}, problems: [/it is a string/] },
  {
    name: 'YAML alias bomb',
    format: 'yaml',
    text: lines(
      'a: &a [x, x, x, x, x, x, x, x, x, x]',
      'b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]',
      'c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]',
      'd: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]',
      'e: &e [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]',
      'f: [*e, *e, *e, *e, *e, *e, *e, *e, *e, *e]',
    ),
    summary: {},
    problems: [/too many YAML alias expansions .*YAML bomb/],
  },
  { name: 'unknown format', format: 'xml' as MetricsFormat, text: '<a/>', summary: {}, problems: [/unknown metrics format "xml"/] },
];

t.test('parseMetricsFile: table of inputs', async (t) => {
  for (const c of cases) {
    const r = parseMetricsFile(c.text, c.format, c.limits);
    t.same(r.summary, c.summary, `${c.name}: summary`);
    t.same(r.points, c.points ?? [], `${c.name}: points`);
    const expected = c.problems ?? [];
    t.equal(r.problems.length, expected.length, `${c.name}: ${expected.length} problem(s), got ${JSON.stringify(r.problems)}`);
    for (const pattern of expected) t.ok(r.problems.some((p) => pattern.test(p)), `${c.name}: a problem matches ${pattern}`);
  }
});

t.test('deep nesting is reported, not a stack overflow', async (t) => {
  let doc = '1';
  for (let i = 0; i < 5000; i++) doc = `{"k": ${doc}}`;
  const r = parseMetricsFile(doc, 'json');
  t.same(r.summary, {});
  t.equal(r.problems.length, 1);
  t.match(r.problems[0], /nested deeper than 32 levels/);
});

t.test('a flood of bad keys is summarised after 50 problems', async (t) => {
  const doc = Object.fromEntries(Array.from({ length: 500 }, (_, i) => [`bad key ${i}`, i]));
  const r = parseMetricsFile(JSON.stringify(doc), 'json');
  t.same(r.summary, {});
  t.equal(r.problems.length, 51);
  t.equal(r.problems[50], '... and 450 more problems');
});

t.test('default caps: 1000 keys and 100 000 points', async (t) => {
  const wide = Object.fromEntries(Array.from({ length: 1200 }, (_, i) => [`k${i}`, i]));
  const keys = parseMetricsFile(JSON.stringify(wide), 'json');
  t.equal(Object.keys(keys.summary).length, 1000);
  t.match(keys.problems, [/more than 1000 metric keys: 200 more were not stored/]);

  const rows = Array.from({ length: 60_000 }, (_, i) => `${i},${i / 2},${i / 3}`);
  const series = parseMetricsFile(`step,a,b\n${rows.join('\n')}\n`, 'csv');
  t.equal(series.points.length, 100_000);
  t.equal(series.summary.a, 59_999 / 2, 'summary is the true last value');
  t.match(series.problems, [/more than 100000 points: 20000 more were not stored/]);
});

t.test('random garbage never throws', async (t) => {
  let seed = 42;
  const rand = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff);
  const alphabet = '{}[]",:.0123456789eE-+ \n\r\tabcnulltrue#&*!|>-?\\\'';
  for (let i = 0; i < 300; i++) {
    const text = Array.from({ length: 1 + Math.floor(rand() * 80) }, () => alphabet[Math.floor(rand() * alphabet.length)]).join('');
    for (const format of ['json', 'yaml', 'jsonl', 'csv'] as const) {
      const r = parseMetricsFile(text, format);
      for (const v of [...Object.values(r.summary), ...r.points.map((p) => p.value)]) {
        if (!Number.isFinite(v)) t.fail(`${format} stored a non-finite value from ${JSON.stringify(text)}`);
      }
    }
  }
  t.pass('300 random texts x 4 formats parsed without a throw or a non-finite value');
});
