// Bad inputs to the model registry, table-driven (issue 11): each gets a clear 4xx naming the
// problem, and nothing is lost or changed (the versions, aliases, history and refs are the same
// afterwards). Also `mlgit model register` from the server's shell against the same database.
import t from 'tap';
import { spawn } from 'node:child_process';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type { GitCliBackend } from '../server/adapters/git/git-cli-backend.ts';
import { GitClient } from './helpers/git-client.ts';
import { projectFiles } from './helpers/registry.ts';
import { eventually, pushProject, startRunsServer, waitForRuns } from './helpers/runs.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const REPO = 'alice/inputs';
const MODEL = `/api/v1/repos/${REPO}/models/clf`;

interface Case {
  name: string;
  method: string;
  path: string;
  body?: unknown;
  status: number;
  code: string;
  message: RegExp;
}

function cli(args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [path.join(ROOT, 'scripts', 'mlgit.mjs'), ...args], {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), LANG: 'C', MLGIT_LOG_LEVEL: 'warn', MLGIT_RUNNER: 'off', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

t.test('bad registry inputs are refused clearly and change nothing', async (t) => {
  const server = await startRunsServer(t, { runtime: 'process' });
  const client = await GitClient.create(t);
  const alice = await server.user('alice');
  const other = await server.user('carol');
  const { sha, push, dir } = await pushProject(server, client, alice, 'inputs', projectFiles(0.96));
  t.equal(push.code, 0, push.stderr);
  const runs = await waitForRuns(server, alice.basic, REPO, sha, { count: 2 });
  const train = runs.find((r) => r.job === 'train');
  const lint = runs.find((r) => r.job === 'lint');
  await eventually(async () => (await server.api('GET', `${MODEL}/versions`, { auth: alice.basic })).body, (v: any) => v.length === 1, 'version 1');
  t.equal((await server.api('PUT', `${MODEL}/aliases/staging`, { auth: alice.basic, body: { version: 1, expected_version: null } })).status, 200);
  const foreign = await pushProject(server, client, other, 'elsewhere', { 'README.md': 'x\n' });
  t.equal(foreign.push.code, 0);

  const snapshot = async () => ({
    versions: (await server.api('GET', `${MODEL}/versions`, { auth: alice.basic })).body,
    aliases: (await server.api('GET', `${MODEL}/aliases`, { auth: alice.basic })).body,
    history: (await server.api('GET', `${MODEL}/aliases/staging/history`, { auth: alice.basic })).body,
    refs: await client.ok(['ls-remote', 'origin', 'refs/models/clf/*'], { cwd: dir }),
  });
  const before = await snapshot();

  const cases: Case[] = [
    { name: 'register: no body', method: 'POST', path: `${MODEL}/versions`, status: 422, code: 'invalid', message: /body|run_id/ },
    { name: 'register: run_id as text', method: 'POST', path: `${MODEL}/versions`, body: { run_id: '1' }, status: 422, code: 'invalid', message: /run_id/ },
    { name: 'register: run_id negative', method: 'POST', path: `${MODEL}/versions`, body: { run_id: -3 }, status: 422, code: 'invalid', message: /run_id/ },
    { name: 'register: run that does not exist', method: 'POST', path: `${MODEL}/versions`, body: { run_id: 999999 }, status: 404, code: 'not_found', message: /run not found/ },
    { name: 'register: run of the wrong job', method: 'POST', path: `${MODEL}/versions`, body: { run_id: lint.id }, status: 422, code: 'invalid', message: /comes from job "train", but run \d+ is job "lint"/ },
    { name: 'register: model not declared', method: 'POST', path: `/api/v1/repos/${REPO}/models/other/versions`, body: { run_id: train.id }, status: 422, code: 'invalid', message: /model "other" is not declared/ },
    { name: 'register: bad model name', method: 'POST', path: `/api/v1/repos/${REPO}/models/Bad..Name/versions`, body: { run_id: train.id }, status: 422, code: 'invalid', message: /model name/ },
    { name: 'version: not a number', method: 'GET', path: `${MODEL}/versions/abc`, status: 422, code: 'invalid', message: /version must be a positive whole number/ },
    { name: 'version: zero', method: 'GET', path: `${MODEL}/versions/0`, status: 422, code: 'invalid', message: /version must be/ },
    { name: 'version: huge', method: 'GET', path: `${MODEL}/versions/99999999999999`, status: 422, code: 'invalid', message: /version must be/ },
    { name: 'version: missing', method: 'GET', path: `${MODEL}/versions/42`, status: 404, code: 'not_found', message: /model version not found/ },
    { name: 'download: missing version', method: 'GET', path: `${MODEL}/versions/42/download`, status: 404, code: 'not_found', message: /model version/ },
    { name: 'download: missing alias', method: 'GET', path: `${MODEL}/aliases/production/download`, status: 404, code: 'not_found', message: /alias not found/ },
    { name: 'download: model without versions', method: 'GET', path: `/api/v1/repos/${REPO}/models/nothing/aliases/latest/download`, status: 404, code: 'not_found', message: /model not found/ },
    { name: 'alias: move latest', method: 'PUT', path: `${MODEL}/aliases/latest`, body: { version: 1, expected_version: null }, status: 422, code: 'invalid', message: /implicit/ },
    { name: 'alias: upper case', method: 'PUT', path: `${MODEL}/aliases/Prod`, body: { version: 1, expected_version: null }, status: 422, code: 'invalid', message: /alias must be/ },
    { name: 'alias: no expected_version', method: 'PUT', path: `${MODEL}/aliases/staging`, body: { version: 1 }, status: 422, code: 'invalid', message: /expected_version/ },
    { name: 'alias: version as text', method: 'PUT', path: `${MODEL}/aliases/staging`, body: { version: '1', expected_version: 1 }, status: 422, code: 'invalid', message: /version/ },
    { name: 'alias: version that does not exist', method: 'PUT', path: `${MODEL}/aliases/staging`, body: { version: 9, expected_version: 1 }, status: 404, code: 'not_found', message: /model version not found/ },
    { name: 'alias: stale expectation', method: 'PUT', path: `${MODEL}/aliases/staging`, body: { version: 1, expected_version: 3 }, status: 409, code: 'conflict', message: /points at version 1 now/ },
    { name: 'alias: override not a boolean', method: 'PUT', path: `${MODEL}/aliases/staging`, body: { version: 1, expected_version: 1, override: 'yes' }, status: 422, code: 'invalid', message: /override/ },
    { name: 'alias: reason too long', method: 'PUT', path: `${MODEL}/aliases/staging`, body: { version: 1, expected_version: 1, reason: 'x'.repeat(5000) }, status: 422, code: 'invalid', message: /reason|1000/ },
    { name: 'alias: not JSON', method: 'PUT', path: `${MODEL}/aliases/staging`, body: '{"version": 1,', status: 400, code: 'bad_request', message: /not valid JSON/ },
    { name: 'approval: no alias', method: 'POST', path: `${MODEL}/versions/1/approvals`, body: {}, status: 422, code: 'invalid', message: /alias/ },
    { name: 'approval: latest', method: 'POST', path: `${MODEL}/versions/1/approvals`, body: { alias: 'latest' }, status: 422, code: 'invalid', message: /implicit/ },
    { name: 'approval: missing version', method: 'POST', path: `${MODEL}/versions/5/approvals`, body: { alias: 'production' }, status: 404, code: 'not_found', message: /model version/ },
    { name: 'history: bad alias', method: 'GET', path: `${MODEL}/aliases/-x/history`, status: 422, code: 'invalid', message: /alias must be/ },
  ];
  for (const c of cases) {
    const answer = await server.api(c.method, c.path, { auth: alice.basic, body: c.body });
    t.equal(answer.status, c.status, `${c.name}: status (${JSON.stringify(answer.body)})`);
    t.equal(answer.body?.error?.code, c.code, `${c.name}: code`);
    t.match(answer.body?.error?.message, c.message, `${c.name}: message`);
  }
  // A run of another repository is not found here, whoever asks.
  const otherRuns = await server.api('GET', `/api/v1/repos/carol/elsewhere/runs`, { auth: other.basic });
  if (Array.isArray(otherRuns.body) && otherRuns.body[0]) {
    t.equal((await server.api('POST', `${MODEL}/versions`, { auth: alice.basic, body: { run_id: otherRuns.body[0].id } })).status, 404);
  }
  t.same(await snapshot(), before, 'nothing changed: versions, aliases, history and refs are as they were');

  await t.test('mlgit model register', async (t) => {
    const env = { MLGIT_DATA_DIR: server.dataDir, DATABASE_URL: server.config.databaseUrl! };
    const again = await cli(['model', 'register', REPO, 'clf', '--run', String(train.id)], env);
    t.equal(again.code, 0, again.stderr);
    t.match(again.stdout, `already registered as clf v1 (run ${train.id}, commit ${sha.slice(0, 7)}`);
    const manual = await cli(['model', 'register', REPO, 'clf-manual', '--run', String(train.id), '--as', 'alice'], env);
    t.equal(manual.code, 0, manual.stderr);
    t.match(manual.stdout, `registered clf-manual v1 (run ${train.id}, commit ${sha.slice(0, 7)}`);
    const versions = await server.api('GET', `/api/v1/repos/${REPO}/models/clf-manual/versions`, { auth: alice.basic });
    t.match(versions.body, [{ version: 1, run_id: train.id }]);
    const wrong = await cli(['model', 'register', REPO, 'clf', '--run', String(lint.id)], env);
    t.equal(wrong.code, 1);
    t.match(wrong.stderr, 'comes from job "train"');
    const usage = await cli(['model', 'register', REPO, 'clf'], env);
    t.equal(usage.code, 1);
    t.match(usage.stderr, 'usage: mlgit model register');
    t.same(await snapshot(), before, 'still nothing changed');
  });

  await t.test('mlgit doctor restores model refs from the registry rows', async (t) => {
    // A git write that failed after its row committed, played by deleting the refs behind the server's back.
    const bare = (server.services.git as GitCliBackend).repoPath((await server.services.repos.authorize(null, 'alice', 'inputs', 'read')).repo.id);
    await client.ok(['update-ref', '-d', 'refs/models/clf/v1'], { cwd: bare });
    await client.ok(['update-ref', '-d', 'refs/models/clf/aliases/staging'], { cwd: bare });
    t.notOk((await client.ok(['ls-remote', 'origin', 'refs/models/*'], { cwd: dir })).includes('refs/models/clf/v1'), 'the ref is gone');
    const doctor = await cli(['doctor'], { MLGIT_DATA_DIR: server.dataDir, DATABASE_URL: server.config.databaseUrl! });
    t.match(doctor.stdout, 'fix  restored 2 model ref(s) under refs/models/ in alice/inputs', doctor.stderr);
    t.same(await snapshot(), before, 'the refs are back where the rows say');
  });
});
