// `npm run demo`: the whole loop on this machine with embedded defaults. Starts mlgit, creates a
// user and a repo, pushes examples/digits with the real git and git-lfs clients, waits for the
// train and evaluate runs, fetches the notes and prints them with the metrics, then registers the
// model version, moves `production` to it, deploys it and prints a prediction made through mlgit.
import { spawnSync } from 'node:child_process';
import { cp, mkdtemp, readFile, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { cleanupOnSignals, onCleanup, runBenchMain } from '../bench/lib/cleanup.ts';
import { freePort } from '../bench/lib/free-port.ts';
import { isolatedGitEnv } from '../bench/lib/git-env.ts';
import { installLfs, withIdentity } from '../bench/lib/lfs-repo.ts';
import { basicAuth, startMlgit } from '../bench/lib/mlgit-server.ts';
import { runChecked } from '../bench/lib/run.ts';
import { FINAL_STATUSES as FINAL, type RunSummary } from '../bench/lib/run-summary.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const ADMIN_PASSWORD = 'demo-admin-password';
const USER = { name: 'demo', password: 'demo-password-123' };
const RUN_TIMEOUT_MS = 10 * 60_000;

function say(line: string): void {
  process.stdout.write(`${line}\n`);
}

/** git-lfs for the push, and Debian's python3 with scikit-learn for the jobs (the embedded runtime runs them as local processes). */
function ensurePrerequisites(): void {
  const missing: string[] = [];
  if (spawnSync('git', ['lfs', 'version']).status !== 0) missing.push('git-lfs');
  if (spawnSync('/usr/bin/python3', ['-c', 'import sklearn, joblib']).status !== 0) missing.push('python3-sklearn');
  if (missing.length === 0) return;
  const canInstall = process.getuid?.() === 0 && spawnSync('apt-get', ['--version']).status === 0;
  if (!canInstall) {
    throw new Error(`the demo needs ${missing.join(' and ')}: run  sudo apt-get install -y ${missing.join(' ')}  and start it again`);
  }
  say(`installing ${missing.join(', ')} (apt-get) ...`);
  for (const args of [['update', '-qq'], ['install', '-y', '-qq', '--no-install-recommends', ...missing]]) {
    const result = spawnSync('apt-get', args, { stdio: 'inherit', env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } });
    if (result.status !== 0) throw new Error(`apt-get ${args.join(' ')} failed`);
  }
}

async function api<T = unknown>(url: string, auth: string, method: string, body?: unknown): Promise<T> {
  const response = await fetch(url, { method, headers: { authorization: auth, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
  const text = await response.text();
  if (!response.ok) throw new Error(`${method} ${url}: ${response.status} ${text}`);
  return (text ? JSON.parse(text) : null) as T;
}

async function main(): Promise<number> {
  ensurePrerequisites();
  cleanupOnSignals();
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'mlgit-demo-'));
  // Registered first, so it runs last: after the server that writes into it has stopped.
  onCleanup(() => rm(scratch, { recursive: true, force: true }));
  const port = await freePort();
  say(`starting mlgit (embedded defaults, data in ${scratch}/data) on port ${port} ...`);
  const server = await startMlgit({ repoRoot: ROOT, dataDir: path.join(scratch, 'data'), port, adminPassword: ADMIN_PASSWORD });
  onCleanup(() => server.stop());
  const admin = basicAuth('admin', ADMIN_PASSWORD);
  await api(`${server.url}/api/v1/users`, admin, 'POST', { username: USER.name, password: USER.password });
  const auth = basicAuth(USER.name, USER.password);
  await api(`${server.url}/api/v1/repos`, auth, 'POST', { name: 'digits', description: 'scikit-learn digits classifier' });
  say(`created user "${USER.name}" and repo ${USER.name}/digits`);

  const env = withIdentity(await isolatedGitEnv(scratch));
  await installLfs(env);
  const work = path.join(scratch, 'digits');
  // Only the example's source: a data/ left behind by an earlier make_data.py is regenerated.
  await cp(path.join(ROOT, 'examples', 'digits'), work, { recursive: true, filter: (source) => path.basename(source) !== 'data' });
  say('$ python3 make_data.py');
  say(`  ${(await runChecked('/usr/bin/python3', ['make_data.py'], { cwd: work })).stdout.trim()}`);
  const git = (...args: string[]) => runChecked('git', args, { env, cwd: work });
  await git('init', '-q', '-b', 'main');
  await git('add', '-A');
  await git('commit', '-q', '-m', 'digits classifier');
  const remote = `http://${USER.name}:${USER.password}@127.0.0.1:${port}/${USER.name}/digits.git`;
  await git('remote', 'add', 'origin', remote);
  say('$ git push origin main');
  const push = await git('push', 'origin', 'main');
  process.stdout.write(push.stderr.split('\n').filter((l) => l.startsWith('remote:') || l.includes('LFS')).map((l) => `  ${l}\n`).join(''));
  const sha = (await git('rev-parse', 'HEAD')).stdout.trim();

  say('waiting for the runs ...');
  const deadline = Date.now() + RUN_TIMEOUT_MS;
  let runs: RunSummary[] = [];
  let shown = '';
  for (;;) {
    runs = await api<RunSummary[]>(`${server.url}/api/v1/repos/${USER.name}/digits/runs?commit=${sha}`, auth, 'GET');
    const line = runs.map((r) => `${r.job}: ${r.status}`).sort().join(', ');
    if (line !== shown) say(`  ${(shown = line)}`);
    if (runs.length >= 2 && runs.every((r) => FINAL.includes(r.status))) break;
    if (Date.now() > deadline) throw new Error('the runs did not finish within 10 minutes');
    await new Promise((resolve) => setTimeout(resolve, 500));
  }

  // The note is rewritten right after each run turns final: wait until it has caught up.
  let note = '';
  for (const noteDeadline = Date.now() + 60_000; Date.now() < noteDeadline; await new Promise((resolve) => setTimeout(resolve, 300))) {
    await git('fetch', '-q', 'origin', '+refs/notes/mlproject:refs/notes/mlproject');
    note = (await git('log', '--notes=mlproject', '-1')).stdout;
    if (runs.every((r) => new RegExp(`"run":${r.id},"status":"${r.status}"`).test(note))) break;
  }
  say('\n$ git log --notes=mlproject -1');
  say(note);
  const metrics = await api<{ jobs: (RunSummary & { metrics: Record<string, number> })[] }>(`${server.url}/api/v1/repos/${USER.name}/digits/commits/${sha}/metrics`, auth, 'GET');
  say(`$ curl ${server.url}/api/v1/repos/${USER.name}/digits/commits/${sha.slice(0, 7)}/metrics`);
  for (const job of metrics.jobs) say(`  ${job.job.padEnd(10)} ${job.status.padEnd(8)} run ${job.id}  ${JSON.stringify(job.metrics)}`);
  const train = runs.find((r) => r.job === 'train');
  if (train) {
    // The runtime says at the top of every run log how the job was isolated.
    const log = await (await fetch(`${server.url}/api/v1/repos/${USER.name}/digits/runs/${train.id}/logs`, { headers: { authorization: auth } })).text();
    for (const line of log.split('\n').filter((l) => /sandbox/i.test(l))) say(`  ${line}`);
  }
  const registered = await showRegistry(server.url, auth);
  const served = registered && (await showServing(server.url, auth, path.join(work, 'data', 'digits.csv')));
  const failed = runs.filter((r) => r.status !== 'success');
  for (const run of failed) {
    say(`\nrun ${run.id} (${run.job}) ended ${run.status}: ${run.message ?? ''}; its log:`);
    say(await (await fetch(`${server.url}/api/v1/repos/${USER.name}/digits/runs/${run.id}/logs`, { headers: { authorization: auth } })).text());
  }
  return failed.length === 0 && registered && served ? 0 : 1;
}

/** Deploys `production` (examples/digits/serve.py, sandboxed, no network) and asks it for one digit through mlgit. */
async function showServing(url: string, auth: string, dataFile: string): Promise<boolean> {
  const repo = `${url}/api/v1/repos/${USER.name}/digits`;
  const spec = { model: 'digits-clf', alias: 'production', command: 'python3 serve.py' };
  say(`\n$ curl -X POST ${repo}/deployments -d '${JSON.stringify(spec)}'`);
  await api(`${repo}/deployments`, auth, 'POST', spec);
  let deployment: { state: string; version: number | null; message: string | null } = { state: 'starting', version: null, message: null };
  for (const deadline = Date.now() + 120_000; deployment.state === 'starting' && Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 300))) {
    deployment = await api(`${repo}/deployments/digits-clf`, auth, 'GET');
  }
  say(`  state ${deployment.state}, serving version ${deployment.version}${deployment.message ? ` (${deployment.message})` : ''}`);
  if (deployment.state !== 'ready') {
    say(await (await fetch(`${repo}/deployments/digits-clf/logs`, { headers: { authorization: auth } })).text());
    return false;
  }
  const [, first] = (await readFile(dataFile, 'utf8')).split('\n');
  const values = first!.split(',').map(Number);
  const infer = `${url}/serve/${USER.name}/digits/v2/models/digits-clf/infer`;
  const answer = await api<{ model_version: string; outputs: { data: number[] }[] }>(infer, auth, 'POST', { inputs: [{ name: 'pixels', shape: [1, 64], datatype: 'FP32', data: values.slice(0, 64) }] });
  say(`$ curl -X POST ${infer} -d '{"inputs": [{"name": "pixels", "shape": [1, 64], "datatype": "FP32", "data": [...]}]}'`);
  say(`  prediction: ${answer.outputs[0]!.data[0]} (the digit is a ${values[64]}), from digits-clf v${answer.model_version} served through mlgit`);
  return true;
}

/** The version the train run registered, and production moved to it through the promotion gates. */
async function showRegistry(url: string, auth: string): Promise<boolean> {
  const model = `${url}/api/v1/repos/${USER.name}/digits/models/digits-clf`;
  const versions = await api<{ version: number; sha256: string; size: number; metrics: Record<string, number>; unsafe_to_load: boolean }[]>(`${model}/versions`, auth, 'GET');
  const version = versions[0];
  if (!version) {
    say('\nno model version was registered');
    return false;
  }
  say(`\n$ curl ${model}/versions`);
  say(`  digits-clf v${version.version}  sha256 ${version.sha256.slice(0, 12)}  ${version.size} bytes  accuracy=${version.metrics.accuracy}${version.unsafe_to_load ? '  (pickle: unsafe to load from untrusted sources)' : ''}`);
  const moved = await fetch(`${model}/aliases/production`, {
    method: 'PUT',
    headers: { authorization: auth, 'content-type': 'application/json' },
    body: JSON.stringify({ version: version.version, expected_version: null, reason: 'demo' }),
  });
  say(`$ curl -X PUT ${model}/aliases/production -d '{"version": ${version.version}, "expected_version": null}'`);
  say(`  ${moved.status} ${await moved.text()}`);
  return moved.ok;
}

await runBenchMain('demo', main);
