import t from 'tap';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRuntime, type RunSpec } from '../runner/runtime/index.ts';
import { ProcessRuntime } from '../runner/runtime/process.ts';
import { containerRuntimeContract } from './helpers/container-runtime-contract.ts';
import { dockerSocketForTests, JOB_IMAGE } from './helpers/podman.ts';

t.test('docker runtime (Podman service, real image)', async (t) => {
  const runtime = createRuntime({ kind: 'docker', dockerSocket: dockerSocketForTests() });
  t.teardown(() => runtime.close());
  t.same(runtime.warnings, [], 'nothing to warn about');
  containerRuntimeContract(t, {
    runtime,
    image: JOB_IMAGE,
    python: 'python3',
    reportsOom: true,
    limitsPids: true,
    usesImages: true,
    engineEnv: ['HOSTNAME', 'container', 'TERM', 'PWD', 'SHLVL', 'OLDPWD', '_'],
  });
});

for (const sandbox of ['bwrap', 'unshare'] as const) {
  t.test(`process runtime (${sandbox} sandbox)`, async (t) => {
    // bwrap is what `auto` picks on these machines; unshare is forced.
    const runtime = sandbox === 'bwrap' ? createRuntime({ kind: 'process' }) : new ProcessRuntime({ sandbox });
    t.teardown(() => runtime.close());
    t.match(runtime.warnings.join('\n'), sandbox === 'bwrap' ? /sandboxed with bubblewrap/ : /sandboxed with util-linux unshare/);
    containerRuntimeContract(t, {
      runtime,
      image: JOB_IMAGE,
      // Debian's python3 has scikit-learn (python3-sklearn); the job PATH finds it, not a pyenv shim.
      python: 'python3',
      reportsOom: false,
      limitsPids: true,
      usesImages: false,
        engineEnv: ['PWD', 'SHLVL', 'OLDPWD', '_'],
    });
  });
}

t.test('MLGIT_UNSAFE_NO_SANDBOX: a plain process, and every run log starts by saying so', async (t) => {
  const runtime = createRuntime({ kind: 'process', unsafeNoSandbox: true });
  t.teardown(() => runtime.close());
  t.match(runtime.warnings[0], /^UNSAFE: MLGIT_UNSAFE_NO_SANDBOX is set: this job runs WITHOUT a sandbox/, 'the first line of every run log');
  const dir = await mkdtemp(join(tmpdir(), 'mlgit-runtime-unsafe-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  let output = '';
  const result = await runtime.run({ ...validSpec(), workspace: dir, outputs: dir, commands: ['pwd; echo "$MLP_OUTPUT_DIR"'], onOutput: async (chunk) => void (output += chunk.toString()) });
  t.match(result, { outcome: 'exited', exitCode: 0 });
  t.equal(output, `${dir}\n${dir}\n`, 'host paths: nothing is mounted anywhere');
});

t.test('an unreachable engine is a RuntimeError naming the socket', async (t) => {
  const runtime = createRuntime({ kind: 'docker', dockerSocket: '/nonexistent/mlgit/docker.sock' });
  const dir = await mkdtemp(join(tmpdir(), 'mlgit-runtime-unreachable-'));
  t.teardown(() => rm(dir, { recursive: true, force: true }));
  const spec = { ...validSpec(), workspace: dir, outputs: dir };
  await t.rejects(runtime.run(spec), { name: 'RuntimeError', message: /\/nonexistent\/mlgit\/docker\.sock/ });
  await t.rejects(runtime.run({ ...spec, workspace: join(dir, 'missing') }), { name: 'RuntimeError', message: /missing/ }, 'a missing workspace too');
});

t.test('a spec no runtime can run faithfully is refused before anything starts', async (t) => {
  const bad: Array<[string, Partial<RunSpec>, RegExp]> = [
    ['env name with =', { env: { 'A=B': 'x' } }, /env name "A=B"/],
    ['env name with a space', { env: { 'A B': 'x' } }, /env name "A B"/],
    ['env value with NUL', { env: { A: 'x\0y' } }, /env A contains a NUL/],
    ['command with NUL', { commands: ['echo \0'] }, /commands\[0\] contains a NUL/],
    ['zero memory', { limits: { cpus: 1, memoryBytes: 0, pids: 10 } }, /limits\.memoryBytes must be a positive number/],
    ['NaN cpus', { limits: { cpus: Number.NaN, memoryBytes: 1, pids: 10 } }, /limits\.cpus/],
    ['fractional pids', { limits: { cpus: 1, memoryBytes: 1, pids: 1.5 } }, /limits\.pids must be a whole number/],
    ['negative timeout', { timeoutMs: -1 }, /timeoutMs must be a positive number/],
    ['relative workspace', { workspace: 'ws' }, /workspace must be an absolute path/],
    ['bind syntax in outputs', { outputs: '/tmp/a:/etc' }, /outputs must not contain ':'/],
  ];
  for (const kind of ['docker', 'process'] as const) {
    // The docker runtime must refuse before touching the (here unreachable) engine.
    const runtime = createRuntime({ kind, dockerSocket: '/nonexistent/mlgit/docker.sock' });
    for (const [name, override, message] of bad) {
      await t.rejects(runtime.run({ ...validSpec(), ...override }), { name: 'TypeError', message }, `${kind}: ${name}`);
    }
  }
});

function validSpec(): RunSpec {
  return {
    image: JOB_IMAGE,
    commands: ['true'],
    workspace: '/nonexistent/mlgit/ws',
    outputs: '/nonexistent/mlgit/out',
    env: {},
    limits: { cpus: 1, memoryBytes: 64 * 1024 * 1024, pids: 16 },
    timeoutMs: 10_000,
    network: false,
    signal: new AbortController().signal,
    onOutput: async () => {},
  };
}
