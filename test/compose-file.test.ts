// docker/compose.yaml and docker/.env.example without an engine: every value .env.example leaves
// for the user to fill is required by compose (it refuses to start, naming it), the filled-in
// environment of the mlgit and runner services is a configuration mlgit accepts, and the
// interpolation the stack test relies on behaves as compose's does, bad inputs included.
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import fs from 'node:fs/promises';
import os from 'node:os';
import t from 'tap';
import { loadConfig } from '../server/config.ts';
import { interpolate, readComposeFile, readEnvFile } from './helpers/compose-file.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const COMPOSE = path.join(ROOT, 'docker/compose.yaml');
const example = readEnvFile(path.join(ROOT, 'docker/.env.example'));
const MUST_CHANGE = ['MLGIT_HOSTNAME', 'MLGIT_ADMIN_PASSWORD', 'MLGIT_JWT_SECRET', 'MLGIT_SECRET_KEY', 'MLGIT_RUNNER_TOKEN', 'POSTGRES_PASSWORD', 'S3_SECRET_ACCESS_KEY', 'DOCKER_GID'];
const filled: Record<string, string> = {
  ...example,
  MLGIT_HOSTNAME: 'git.example.com',
  ...Object.fromEntries(MUST_CHANGE.slice(1, -1).map((name) => [name, `${name.toLowerCase()}-0123456789abcdef0123456789abcdef`])),
  DOCKER_GID: '999',
};

t.test('.env.example leaves exactly the values to change empty, and compose refuses to start without each', async (t) => {
  t.same(Object.keys(example).filter((name) => example[name] === '').sort(), [...MUST_CHANGE].sort());
  for (const name of MUST_CHANGE) {
    t.throws(() => readComposeFile(COMPOSE, { ...filled, [name]: '' }), new RegExp(`required variable ${name} is missing a value: set ${name} in docker/\\.env`), `${name} empty`);
  }
  t.doesNotThrow(() => readComposeFile(COMPOSE, filled));
});

t.test('the filled-in environments are configurations mlgit accepts', async (t) => {
  const { services } = readComposeFile(COMPOSE, filled);
  const server = loadConfig(services.mlgit!.environment!);
  t.equal(server.runs.runner, 'off', 'the server runs no jobs itself');
  t.match(server.databaseUrl, /^postgres:\/\/mlgit:postgres_password-[0-9a-f]+@postgres:5432\/mlgit$/);
  t.equal(server.redisUrl, 'redis://redis:6379');
  t.equal(server.publicUrl, 'http://git.example.com:3000');
  t.match(server.s3, { endpoint: 'http://git.example.com:9000', bucket: 'mlgit', accessKeyId: 'mlgit', forcePathStyle: true });
  const runner = loadConfig(services.runner!.environment!);
  t.equal(runner.runs.runtime, 'docker');
  t.equal(runner.runs.serverUrl, 'http://mlgit:3000');
  t.equal(runner.runs.runnerToken, server.runs.runnerToken, 'one runner token on both sides');
  t.equal(runner.redisUrl, server.redisUrl);
  t.same(services.runner!.volumes, ['/var/run/docker.sock:/var/run/docker.sock', '/var/lib/mlgit-runner:/var/lib/mlgit-runner']);
  t.same(services.runner!.group_add, ['999']);
});

t.test('interpolation, as compose does it', async (t) => {
  const env = { SET: 'v', EMPTY: '' };
  const cases: [string, string | RegExp][] = [
    ['${SET}', 'v'],
    ['$SET/x', 'v/x'],
    ['${UNSET}', ''],
    ['${UNSET:-d}', 'd'],
    ['${EMPTY:-d}', 'd'],
    ['${EMPTY-d}', ''],
    ['${UNSET-d}', 'd'],
    ['${UNSET:-${SET}}', /nested interpolation is not supported here/],
    ['$$SET and $${SET}', '$SET and ${SET}'],
    ['${SET:?needed}', 'v'],
    ['${EMPTY:?set EMPTY}', /required variable EMPTY is missing a value: set EMPTY/],
    ['${UNSET?gone}', /required variable UNSET is missing a value: gone/],
  ];
  for (const [input, expected] of cases) {
    if (typeof expected === 'string') t.equal(interpolate(input, env), expected, input);
    else t.throws(() => interpolate(input, env), expected, input);
  }
});

t.test('.env files: comments ignored, a malformed line named', async (t) => {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-envfile-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const cases: [string, Record<string, string> | RegExp][] = [
    ['A=1\n# comment\n\nB=two words   # note\nC=a#b\n', { A: '1', B: 'two words', C: 'a#b' }],
    ['A=1\nnot a setting\n', /env:2: not KEY=value: not a setting/],
    ['1A=x\n', /env:1: not KEY=value/],
  ];
  for (const [index, [text, expected]] of cases.entries()) {
    const file = path.join(dir, `${index}.env`);
    await fs.writeFile(file, text);
    if (expected instanceof RegExp) t.throws(() => readEnvFile(file), expected, JSON.stringify(text));
    else t.same(readEnvFile(file), expected, JSON.stringify(text));
  }
});
