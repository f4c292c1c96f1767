// Metric comparison (issue 4, "Results": base, head, delta, relative delta, goal, regressed;
// mlproject.md `compare.thresholds`): table of goals, thresholds and edge values.
import t from 'tap';
import { compareMetrics, type CompareInput, type MetricComparison } from '../server/domain/compare.ts';

interface Case {
  name: string;
  input: Partial<CompareInput>;
  expected: MetricComparison[];
}

const row = (metric: string, fields: Partial<MetricComparison>): MetricComparison => ({
  metric,
  base: null,
  head: null,
  delta: null,
  relative: null,
  goal: null,
  regressed: false,
  ...fields,
});

const cases: Case[] = [
  {
    name: 'no goals, no thresholds: deltas only, never regressed, sorted by name',
    input: { base: { loss: 0.5, acc: 0.9 }, head: { acc: 0.8, loss: 1 } },
    expected: [row('acc', { base: 0.9, head: 0.8, delta: 0.8 - 0.9, relative: (0.8 - 0.9) / 0.9 }), row('loss', { base: 0.5, head: 1, delta: 0.5, relative: 1 })],
  },
  {
    name: 'metrics on one side only have null delta',
    input: { base: { old: 1 }, head: { new: 2 }, goals: { old: 'maximize' }, thresholds: { old: { max_drop: 0 } } },
    expected: [row('new', { head: 2 }), row('old', { base: 1, goal: 'maximize', threshold: 'max_drop 0' })],
  },
  {
    name: 'maximize with an absolute max_drop: within, exactly at (float-safe), beyond',
    input: {
      base: { a: 0.96, b: 0.96, c: 0.96, d: 0.96 },
      head: { a: 0.955, b: 0.95, c: 0.9499, d: 0.99 },
      goals: { a: 'maximize', b: 'maximize', c: 'maximize', d: 'maximize' },
      thresholds: { a: { max_drop: 0.01 }, b: { max_drop: 0.01 }, c: { max_drop: 0.01 }, d: { max_drop: 0.01 } },
    },
    expected: [
      row('a', { base: 0.96, head: 0.955, delta: 0.955 - 0.96, relative: (0.955 - 0.96) / 0.96, goal: 'maximize', threshold: 'max_drop 0.01' }),
      row('b', { base: 0.96, head: 0.95, delta: 0.95 - 0.96, relative: (0.95 - 0.96) / 0.96, goal: 'maximize', threshold: 'max_drop 0.01' }),
      row('c', { base: 0.96, head: 0.9499, delta: 0.9499 - 0.96, relative: (0.9499 - 0.96) / 0.96, goal: 'maximize', threshold: 'max_drop 0.01', regressed: true }),
      row('d', { base: 0.96, head: 0.99, delta: 0.99 - 0.96, relative: (0.99 - 0.96) / 0.96, goal: 'maximize', threshold: 'max_drop 0.01' }),
    ],
  },
  {
    name: 'minimize with a relative max_rise',
    input: {
      base: { loss: 2, lat: 2 },
      head: { loss: 2.1, lat: 2.2 },
      goals: { loss: 'minimize', lat: 'minimize' },
      thresholds: { loss: { max_rise: '5%' }, lat: { max_rise: '5%' } },
    },
    expected: [
      row('lat', { base: 2, head: 2.2, delta: 2.2 - 2, relative: (2.2 - 2) / 2, goal: 'minimize', threshold: 'max_rise 5%', regressed: true }),
      row('loss', { base: 2, head: 2.1, delta: 2.1 - 2, relative: (2.1 - 2) / 2, goal: 'minimize', threshold: 'max_rise 5%' }),
    ],
  },
  {
    name: 'relative thresholds use |base| for negative metrics',
    input: { base: { score: -10 }, head: { score: -10.6 }, thresholds: { score: { max_drop: '5%' } } },
    expected: [row('score', { base: -10, head: -10.6, delta: -10.6 + 10, relative: (-10.6 + 10) / 10, goal: 'maximize', threshold: 'max_drop 5%', regressed: true })],
  },
  {
    name: 'a threshold without a goal implies it',
    input: { base: { acc: 0.9, loss: 1 }, head: { acc: 0.7, loss: 1.5 }, thresholds: { acc: { max_drop: 0.1 }, loss: { max_rise: 0.1 } } },
    expected: [
      row('acc', { base: 0.9, head: 0.7, delta: 0.7 - 0.9, relative: (0.7 - 0.9) / 0.9, goal: 'maximize', threshold: 'max_drop 0.1', regressed: true }),
      row('loss', { base: 1, head: 1.5, delta: 0.5, relative: 0.5, goal: 'minimize', threshold: 'max_rise 0.1', regressed: true }),
    ],
  },
  {
    name: 'a threshold for the other direction does not apply to the declared goal',
    input: { base: { acc: 0.9 }, head: { acc: 0.1 }, goals: { acc: 'maximize' }, thresholds: { acc: { max_rise: 0.01 } } },
    expected: [row('acc', { base: 0.9, head: 0.1, delta: 0.1 - 0.9, relative: (0.1 - 0.9) / 0.9, goal: 'maximize' })],
  },
  {
    name: 'a goal without a threshold never regresses',
    input: { base: { acc: 0.9 }, head: { acc: 0.1 }, goals: { acc: 'maximize' } },
    expected: [row('acc', { base: 0.9, head: 0.1, delta: 0.1 - 0.9, relative: (0.1 - 0.9) / 0.9, goal: 'maximize' })],
  },
  {
    name: 'base 0 with a % threshold: any worsening regresses, staying or improving does not; relative is null',
    input: {
      base: { errs: 0, same: 0, better: 0, acc: 0 },
      head: { errs: 1, same: 0, better: -1, acc: -0.001 },
      thresholds: { errs: { max_rise: '10%' }, same: { max_rise: '10%' }, better: { max_rise: '10%' }, acc: { max_drop: '50%' } },
    },
    expected: [
      row('acc', { base: 0, head: -0.001, delta: -0.001, relative: null, goal: 'maximize', threshold: 'max_drop 50%', regressed: true }),
      row('better', { base: 0, head: -1, delta: -1, relative: null, goal: 'minimize', threshold: 'max_rise 10%' }),
      row('errs', { base: 0, head: 1, delta: 1, relative: null, goal: 'minimize', threshold: 'max_rise 10%', regressed: true }),
      row('same', { base: 0, head: 0, delta: 0, relative: 0, goal: 'minimize', threshold: 'max_rise 10%' }),
    ],
  },
  {
    name: 'a zero absolute threshold: any worsening regresses',
    input: { base: { acc: 0.5 }, head: { acc: 0.4999 }, thresholds: { acc: { max_drop: 0 } } },
    expected: [row('acc', { base: 0.5, head: 0.4999, delta: 0.4999 - 0.5, relative: (0.4999 - 0.5) / 0.5, goal: 'maximize', threshold: 'max_drop 0', regressed: true })],
  },
  {
    name: 'non-finite values count as missing',
    input: { base: { a: Number.NaN, b: 1 }, head: { a: 1, b: Number.POSITIVE_INFINITY }, thresholds: { a: { max_drop: 0 }, b: { max_drop: 0 } } },
    expected: [row('a', { head: 1, goal: 'maximize', threshold: 'max_drop 0' }), row('b', { base: 1, goal: 'maximize', threshold: 'max_drop 0' })],
  },
  {
    name: 'goals and thresholds for metrics that neither side has are not listed',
    input: { base: {}, head: { a: 1 }, goals: { z: 'minimize' }, thresholds: { y: { max_drop: 1 } } },
    expected: [row('a', { head: 1 })],
  },
  {
    name: 'prototype-looking metric names are plain keys',
    input: { base: { constructor: 1 }, head: { constructor: 2 } },
    expected: [row('constructor', { base: 1, head: 2, delta: 1, relative: 1 })],
  },
];

t.test('compareMetrics: table', async (t) => {
  for (const c of cases) {
    const actual = compareMetrics({ base: {}, head: {}, goals: {}, thresholds: {}, ...c.input });
    t.same(actual, c.expected, c.name);
    t.same(actual.map((r) => r.metric), [...c.expected.map((r) => r.metric)].sort(), `${c.name}: sorted by name`);
  }
});

t.test('invalid thresholds are a clear error naming the metric and rule', async (t) => {
  const bad: { rule: 'max_drop' | 'max_rise'; value: number | string; message: RegExp }[] = [
    { rule: 'max_drop', value: '5', message: /^compare\.thresholds\.m\.max_drop: "5" is not a number >= 0 or a percentage like "5%"$/ },
    { rule: 'max_drop', value: '-1%', message: /^compare\.thresholds\.m\.max_drop: "-1%" is not/ },
    { rule: 'max_rise', value: 'abc', message: /^compare\.thresholds\.m\.max_rise: "abc" is not/ },
    { rule: 'max_rise', value: -0.5, message: /^compare\.thresholds\.m\.max_rise: -0\.5 is not/ },
    { rule: 'max_drop', value: Number.NaN, message: /^compare\.thresholds\.m\.max_drop: null is not/ },
  ];
  for (const { rule, value, message } of bad) {
    t.throws(() => compareMetrics({ base: { m: 1 }, head: { m: 1 }, goals: {}, thresholds: { m: { [rule]: value } } }), { name: 'RangeError', message }, `${rule} ${String(value)}`);
  }
});
