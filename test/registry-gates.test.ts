// Promotion gates (issue 11): each condition failing alone, all of them together, and the ones
// that pass, against unmetGates, the pure function alias moves call with the facts they read.
import t from 'tap';
import type { Promotion } from '../schema/manifest.ts';
import { unmetGates, type GateFacts } from '../server/domain/registry/gates.ts';

const passing: GateFacts = {
  metrics: { accuracy: 0.97, loss: 0.1 },
  goals: { accuracy: 'maximize', loss: 'minimize' },
  runRegressed: [],
  current: { version: 4, metrics: { accuracy: 0.96, loss: 0.2 } },
  thresholds: {},
  statuses: { 'ci/integration': 'success', 'ci/lint': 'success' },
  approvals: ['alice', 'bob'],
};
const rule: Promotion = {
  require: { metrics: { accuracy: '>= 0.95', loss: '< 0.5' }, not_regressed: true, statuses: ['ci/integration'] },
  approvers: 2,
};

t.test('a version that meets every condition passes', async (t) => {
  t.same(unmetGates(rule, passing), []);
  t.same(unmetGates(undefined, { ...passing, metrics: {} }), [], 'no rule: no gates');
  t.same(unmetGates({}, passing), []);
});

const alone: { name: string; facts: Partial<GateFacts>; rule?: Promotion; unmet: string[] }[] = [
  { name: 'a metric below its bound', facts: { metrics: { accuracy: 0.9, loss: 0.1 } }, unmet: ['metric accuracy: 0.9, must be >= 0.95', 'not_regressed: accuracy 0.9 is worse than 0.96 of version 4'] },
  { name: 'a metric below its bound (no regression gate)', rule: { require: { metrics: { accuracy: '>= 0.95' } } }, facts: { metrics: { accuracy: 0.9 } }, unmet: ['metric accuracy: 0.9, must be >= 0.95'] },
  { name: 'a metric the version does not have', rule: { require: { metrics: { f1: '> 0.5' } } }, facts: {}, unmet: ['metric f1: missing, must be > 0.5'] },
  { name: 'strict bound met exactly', rule: { require: { metrics: { accuracy: '> 0.97' } } }, facts: {}, unmet: ['metric accuracy: 0.97, must be > 0.97'] },
  { name: 'equality', rule: { require: { metrics: { loss: '== 0' } } }, facts: {}, unmet: ['metric loss: 0.1, must be == 0'] },
  { name: 'inequality', rule: { require: { metrics: { loss: '!= 0.1' } } }, facts: {}, unmet: ['metric loss: 0.1, must be != 0.1'] },
  { name: 'a condition that is not a comparison', rule: { require: { metrics: { loss: 'about 1' } } }, facts: {}, unmet: ['metric loss: condition "about 1" is not a comparison such as ">= 0.95"'] },
  { name: 'worse than the current version (maximize)', rule: { require: { not_regressed: true } }, facts: { metrics: { accuracy: 0.95, loss: 0.1 } }, unmet: ['not_regressed: accuracy 0.95 is worse than 0.96 of version 4'] },
  { name: 'worse than the current version (minimize)', rule: { require: { not_regressed: true } }, facts: { metrics: { accuracy: 0.97, loss: 0.3 } }, unmet: ['not_regressed: loss 0.3 is worse than 0.2 of version 4'] },
  { name: 'worse, but within the manifest threshold', rule: { require: { not_regressed: true } }, facts: { metrics: { accuracy: 0.955, loss: 0.1 }, thresholds: { accuracy: { max_drop: 0.01 } } }, unmet: [] },
  { name: 'the run regressed against its baseline', rule: { require: { not_regressed: true } }, facts: { runRegressed: ['accuracy'] }, unmet: ["not_regressed: accuracy regressed against the run's baseline"] },
  { name: 'first promotion: nothing to regress against', rule: { require: { not_regressed: true } }, facts: { current: null, metrics: { accuracy: 0.1 } }, unmet: [] },
  { name: 'a status not reported', facts: { statuses: {} }, unmet: ['status ci/integration: not reported, must be success'] },
  { name: 'a status failing', facts: { statuses: { 'ci/integration': 'failure' } }, unmet: ['status ci/integration: failure, must be success'] },
  { name: 'a status pending', facts: { statuses: { 'ci/integration': 'pending' } }, unmet: ['status ci/integration: pending, must be success'] },
  { name: 'too few approvals', facts: { approvals: ['alice'] }, unmet: ['approvals: 1 of 2 needed'] },
];

for (const c of alone) {
  t.test(`fails alone: ${c.name}`, async (t) => {
    t.same(unmetGates(c.rule ?? rule, { ...passing, ...c.facts }), c.unmet);
  });
}

t.test('every condition failing together is listed, in rule order', async (t) => {
  const facts: GateFacts = { ...passing, metrics: { accuracy: 0.5, loss: 0.9 }, runRegressed: ['loss'], statuses: { 'ci/integration': 'error' }, approvals: [] };
  t.same(unmetGates(rule, facts), [
    'metric accuracy: 0.5, must be >= 0.95',
    'metric loss: 0.9, must be < 0.5',
    "not_regressed: loss regressed against the run's baseline",
    'not_regressed: accuracy 0.5 is worse than 0.96 of version 4',
    'not_regressed: loss 0.9 is worse than 0.2 of version 4',
    'status ci/integration: error, must be success',
    'approvals: 0 of 2 needed',
  ]);
});
