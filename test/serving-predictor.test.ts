// The digits example's predictor (issue 11, "Serving"): examples/digits/serve.py, standard library
// http.server plus joblib, speaks the Open Inference Protocol (KServe v2) for a model trained by
// the example's own train.py, with Debian's python3. Predictions match the model's own
// predict(); bad requests get a JSON 4xx and the server keeps answering.
import t from 'tap';
import { execFile, spawn } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';
const EXAMPLE = fileURLToPath(new URL('../examples/digits', import.meta.url));

t.test('serve.py answers v2 health, metadata and infer for the trained digits model', async (t) => {
  const dir = await mkdtemp(path.join(os.tmpdir(), 'mlgit-predictor-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  await cp(EXAMPLE, dir, { recursive: true, filter: (source) => path.basename(source) !== 'data' });
  await run(PYTHON, ['make_data.py'], { cwd: dir });
  await run(PYTHON, ['train.py', '--data', 'data/digits.csv', '--out', 'model.joblib'], { cwd: dir, timeout: 120_000 });

  const child = spawn(PYTHON, ['serve.py', '--model', 'model.joblib', '--port', '0', '--version', '3'], { cwd: dir, stdio: ['ignore', 'pipe', 'pipe'] });
  t.teardown(() => {
    child.kill('SIGKILL');
  });
  let stderr = '';
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const base = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error(`serve.py did not start: ${stderr}`)), 60_000);
    child.stdout.on('data', (c: Buffer) => {
      out += c.toString();
      const m = /listening on ([0-9.]+):(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(`http://${m[1]}:${m[2]}`);
      }
    });
    child.once('exit', (code) => reject(new Error(`serve.py exited (${code}): ${stderr}`)));
  });

  const rows = (await readFile(path.join(dir, 'data/digits.csv'), 'utf8')).trim().split('\n').slice(1, 6).map((line) => line.split(',').map(Number).slice(0, 64));
  const predict = `import joblib, json, sys\nm = joblib.load('model.joblib')\nprint(json.dumps([int(x) for x in m.predict(json.load(sys.stdin))]))`;
  const predictedByPython = JSON.parse(await runWithInput(PYTHON, ['-c', predict], dir, JSON.stringify(rows))) as number[];

  t.equal((await fetch(`${base}/v2/health/ready`)).status, 200);
  t.equal((await fetch(`${base}/v2/models/digits-clf/ready`)).status, 200);
  const meta = await (await fetch(`${base}/v2/models/digits-clf`)).json();
  t.match(meta, { name: 'digits-clf', versions: ['3'], inputs: [{ shape: [-1, 64] }] });

  const infer = await fetch(`${base}/v2/models/digits-clf/infer`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', 'x-request-id': 'r1' },
    body: JSON.stringify({ inputs: [{ name: 'pixels', shape: [rows.length, 64], datatype: 'FP32', data: rows.flat() }] }),
  });
  t.equal(infer.status, 200);
  const answer = await infer.json();
  t.match(answer, { model_name: 'digits-clf', model_version: '3', id: 'r1', outputs: [{ name: 'label', shape: [rows.length], datatype: 'INT64' }] });
  t.same(answer.outputs[0].data, predictedByPython, "the same labels as the model's own predict()");

  const bad: { name: string; body: string; status: number; error: RegExp; path?: string }[] = [
    { name: 'not JSON', body: '{"inputs": [', status: 400, error: /not JSON/ },
    { name: 'no inputs', body: '{}', status: 400, error: /expected \{"inputs"/ },
    { name: 'wrong width', body: JSON.stringify({ inputs: [{ shape: [1, 63], data: Array(63).fill(0) }] }), status: 400, error: /shape must be \[n, 64\]/ },
    { name: 'data shorter than shape', body: JSON.stringify({ inputs: [{ shape: [2, 64], data: Array(64).fill(0) }] }), status: 400, error: /2 x 64 numbers/ },
    { name: 'strings as pixels', body: JSON.stringify({ inputs: [{ shape: [1, 64], data: Array(64).fill('x') }] }), status: 400, error: /numbers/ },
    { name: 'unknown model', body: '{}', status: 404, error: /no route/, path: '/v2/models/other/infer' },
    { name: 'body over the cap', body: JSON.stringify({ pad: 'x'.repeat(1_100_000) }), status: 413, error: /over 1048576 bytes/ },
  ];
  for (const c of bad) {
    const response = await fetch(`${base}${c.path ?? '/v2/models/digits-clf/infer'}`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: c.body });
    t.equal(response.status, c.status, c.name);
    t.match((await response.json()).error, c.error, c.name);
  }
  t.equal((await fetch(`${base}/v2/health/live`)).status, 200, 'still serving after the bad requests');
});

function runWithInput(command: string, args: string[], cwd: string, input: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, stdio: ['pipe', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (err += c.toString()));
    child.once('exit', (code) => (code === 0 ? resolve(out) : reject(new Error(err))));
    child.stdin.end(input);
  });
}
