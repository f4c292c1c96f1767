// The `models:` section of mlproject.yaml (issue 11): a valid section parses; each bad one is an
// error at the right YAML path with a message that says what to do (the same check a push runs).
import t from 'tap';
import { parseManifest } from '../schema/manifest.ts';

const BASE = `version: 1
name: demo
image: python:3.12-slim
jobs:
  train:
    kind: train
    command: python train.py
    outputs: [{path: model.joblib, type: model}]
    metrics: {path: metrics.json, format: json}
`;

t.test('a full models section is valid', async (t) => {
  const r = parseManifest(`${BASE}models:
  digits-clf:
    from: train
    path: model.joblib
    format: sklearn
    register: manual
    description: the classifier
    promote:
      production:
        require: {metrics: {accuracy: ">= 0.95", loss: "<1e-2"}, not_regressed: true, statuses: [ci/integration]}
        approvers: 1
        protected: true
      staging: {}
`);
  t.same(r.errors, []);
  t.equal(r.manifest?.models?.['digits-clf']?.promote?.production?.require?.metrics?.accuracy, '>= 0.95');
});

const bad: { name: string; models: string; path: string; message: RegExp }[] = [
  { name: 'unknown job', models: '  clf: {from: trian, path: model.joblib}', path: 'models.clf.from', message: /unknown job "trian"; did you mean "train"/ },
  { name: 'path not an output of the job', models: '  clf: {from: train, path: weights.bin}', path: 'models.clf.path', message: /"weights.bin" is not an output of job "train"/ },
  { name: 'path climbing out', models: '  clf: {from: train, path: ../model.joblib}', path: 'models.clf.path', message: /\.\./ },
  { name: 'missing from', models: '  clf: {path: model.joblib}', path: 'models.clf', message: /from/ },
  { name: 'missing path', models: '  clf: {from: train}', path: 'models.clf', message: /path/ },
  { name: 'unknown format', models: '  clf: {from: train, path: model.joblib, format: h5}', path: 'models.clf.format', message: /sklearn/ },
  { name: 'upper-case model name', models: '  Clf: {from: train, path: model.joblib}', path: 'models.Clf', message: /pattern|name/ },
  { name: 'model name with ..', models: '  a..b: {from: train, path: model.joblib}', path: 'models["a..b"]', message: /pattern|name/ },
  { name: 'model name ending in .lock', models: '  clf.lock: {from: train, path: model.joblib}', path: 'models["clf.lock"]', message: /\.lock/ },
  { name: 'gates on latest', models: '  clf: {from: train, path: model.joblib, promote: {latest: {approvers: 1}}}', path: 'models.clf.promote.latest', message: /implicit/ },
  { name: 'alias with a slash', models: '  clf: {from: train, path: model.joblib, promote: {"prod/eu": {}}}', path: 'models.clf.promote["prod/eu"]', message: /pattern|name/ },
  { name: 'metric condition not a comparison', models: '  clf: {from: train, path: model.joblib, promote: {production: {require: {metrics: {accuracy: high}}}}}', path: 'models.clf.promote.production.require.metrics.accuracy', message: /pattern|match/ },
  { name: 'unknown gate', models: '  clf: {from: train, path: model.joblib, promote: {production: {require: {coverage: 1}}}}', path: 'models.clf.promote.production.require', message: /coverage/ },
  { name: 'unknown register mode', models: '  clf: {from: train, path: model.joblib, register: sometimes}', path: 'models.clf.register', message: /auto, manual/ },
  { name: 'approvers out of range', models: '  clf: {from: train, path: model.joblib, promote: {production: {approvers: 50}}}', path: 'models.clf.promote.production.approvers', message: /10/ },
];

for (const c of bad) {
  t.test(`refused: ${c.name}`, async (t) => {
    const r = parseManifest(`${BASE}models:\n${c.models}\n`);
    t.equal(r.manifest, null, 'no manifest');
    const found = r.errors.find((e) => e.path === c.path || e.path.startsWith(`${c.path}.`) || e.path.startsWith(`${c.path}[`));
    t.ok(found, `an error at ${c.path}; got ${JSON.stringify(r.errors.map((e) => [e.path, e.message]))}`);
    if (found) t.match(found.message, c.message);
    t.ok(found && found.line >= 10, 'it points into the models section');
  });
}
