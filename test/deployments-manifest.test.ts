// The `deployments:` section of mlproject.yaml (issue 11, "Serving"): a valid section parses;
// each bad one is an error at the right YAML path and line with a message that says what to do
// (the same check a push runs).
import t from 'tap';
import { parseManifest } from '../schema/manifest.ts';

const BASE = `version: 1
name: demo
image: python:3.12-slim
jobs: {train: {kind: train, command: python train.py, outputs: [{path: model.joblib, type: model}]}}
models:
  digits-clf: {from: train, path: model.joblib}
  other: {from: train, path: model.joblib}
`;
/** The line of `deployments:` after BASE. */
const SECTION_LINE = 8;

t.test('a full deployments section is valid', async (t) => {
  const r = parseManifest(`${BASE}deployments:
  digits:
    model: digits-clf
    alias: production
    command: python3 serve.py --socket $MLGIT_SERVE_SOCKET
    image: localhost/mlgit-python:bookworm
    health_path: /v2/health/ready
    replicas: 3
    resources: {cpu: 0.5, memory: 512Mi}
    env: {THREADS: "2"}
    public: false
  other: {command: python3 serve.py}
`);
  t.same(r.errors, []);
  t.same(r.warnings, []);
  t.match(r.manifest?.deployments, { digits: { model: 'digits-clf', replicas: 3, resources: { memory: '512Mi' } }, other: { command: 'python3 serve.py' } });
});

t.test('a model server on a port: an image\'s own entrypoint, or a command', async (t) => {
  const r = parseManifest(`${BASE}deployments:
  digits-clf: {image: ghcr.io/acme/digits-server:1, port: 8080}
  other: {command: python3 -m my_server --port 9000, port: 9000}
`);
  t.same(r.errors, []);
  t.match(r.manifest?.deployments, { 'digits-clf': { image: 'ghcr.io/acme/digits-server:1', port: 8080 }, other: { port: 9000 } });
  t.equal(r.manifest?.deployments?.['digits-clf']?.command, undefined);
});

const bad: { name: string; section: string; path: string; message: RegExp; line?: number; base?: string }[] = [
  { name: 'no command and no port', section: '  digits-clf: {alias: production}', path: 'deployments.digits-clf', message: /command or port is required/ },
  { name: 'empty command', section: '  digits-clf: {command: ""}', path: 'deployments.digits-clf.command', message: /fewer than 1 characters|NOT have fewer/i },
  { name: 'unknown model (by entry name)', section: '  digits-cfl: {command: x}', path: 'deployments.digits-cfl', message: /unknown model "digits-cfl"; did you mean "digits-clf"/ },
  { name: 'unknown model (by model)', section: '  web: {model: nope, command: x}', path: 'deployments.web.model', message: /unknown model "nope"; a deployment serves one of models: \(declare it there\)/ },
  { name: 'one model deployed twice', section: '  digits-clf: {command: x}\n  again: {model: digits-clf, command: y}', path: 'deployments.again.model', message: /model "digits-clf" is deployed by deployments.digits-clf already; one deployment per model/, line: SECTION_LINE + 2 },
  { name: 'port zero', section: '  digits-clf: {port: 0}', path: 'deployments.digits-clf.port', message: />= 1/ },
  { name: 'port too high', section: '  digits-clf: {command: x, port: 70000}', path: 'deployments.digits-clf.port', message: /<= 65535/ },
  { name: 'port as text', section: '  digits-clf: {port: "8080"}', path: 'deployments.digits-clf.port', message: /expected integer/ },
  { name: 'unknown key', section: '  digits-clf: {command: x, replica: 2}', path: 'deployments.digits-clf.replica', message: /unknown key "replica"; did you mean "replicas"/ },
  { name: 'zero replicas', section: '  digits-clf: {command: x, replicas: 0}', path: 'deployments.digits-clf.replicas', message: />= 1/ },
  { name: 'fractional replicas', section: '  digits-clf: {command: x, replicas: 1.5}', path: 'deployments.digits-clf.replicas', message: /expected integer/ },
  { name: 'too many replicas for any server', section: '  digits-clf: {command: x, replicas: 100}', path: 'deployments.digits-clf.replicas', message: /<= 64/ },
  { name: 'alias with capitals', section: '  digits-clf: {command: x, alias: Prod}', path: 'deployments.digits-clf.alias', message: /pattern/ },
  { name: 'memory not a quantity', section: '  digits-clf: {command: x, resources: {memory: lots}}', path: 'deployments.digits-clf.resources.memory', message: /invalid memory quantity "lots"/ },
  { name: 'gpu asked for', section: '  digits-clf: {command: x, resources: {gpu: 1}}', path: 'deployments.digits-clf.resources.gpu', message: /unknown key "gpu"/ },
  { name: 'negative cpu', section: '  digits-clf: {command: x, resources: {cpu: -1}}', path: 'deployments.digits-clf.resources.cpu', message: />\s*0/ },
  { name: 'env set by mlgit', section: '  digits-clf: {command: x, env: {MLP_MODEL_PATH: /etc/passwd}}', path: 'deployments.digits-clf.env.MLP_MODEL_PATH', message: /env MLP_MODEL_PATH is set by mlgit/ },
  { name: 'env value not a string', section: '  digits-clf: {command: x, env: {THREADS: 2}}', path: 'deployments.digits-clf.env.THREADS', message: /env values must be strings/ },
  { name: 'health path climbing', section: '  digits-clf: {command: x, health_path: /a/../b}', path: 'deployments.digits-clf.health_path', message: /may not hold "\." or "\.\." segments/ },
  { name: 'health path not absolute', section: '  digits-clf: {command: x, health_path: ready}', path: 'deployments.digits-clf.health_path', message: /pattern/ },
  { name: 'public not a boolean', section: '  digits-clf: {command: x, public: "yes"}', path: 'deployments.digits-clf.public', message: /expected boolean/ },
  { name: 'image with a space', section: '  digits-clf: {command: x, image: "a b"}', path: 'deployments.digits-clf.image', message: /invalid image reference/ },
  { name: 'entry name with capitals', section: '  Digits: {command: x}', path: 'deployments.Digits', message: /pattern|name/ },
  { name: 'entry not a mapping', section: '  digits-clf: python3 serve.py', path: 'deployments.digits-clf', message: /expected mapping/ },
  { name: 'no image anywhere', section: '  digits-clf: {command: x}', path: 'deployments.digits-clf', message: /deployment "digits-clf" has no image and there is no top-level image/, base: BASE.replace('image: python:3.12-slim\n', '').replace('kind: train,', 'kind: train, image: python:3.12-slim,') },
];

for (const c of bad) {
  t.test(`refused: ${c.name}`, async (t) => {
    const base = c.base ?? BASE;
    const r = parseManifest(`${base}deployments:\n${c.section}\n`);
    t.equal(r.manifest, null, 'no manifest');
    const found = r.errors.find((e) => e.path === c.path);
    t.ok(found, `an error at ${c.path}; got ${JSON.stringify(r.errors.map((e) => [e.path, e.line, e.message]))}`);
    if (!found) return;
    t.match(found.message, c.message);
    const sectionLine = base.split('\n').length;
    t.equal(found.line, c.line === undefined ? sectionLine + 1 : c.line + (sectionLine - SECTION_LINE), 'it points at the entry\'s line');
    t.match(found.frame, /\^/, 'with a code frame');
  });
}
