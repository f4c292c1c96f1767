import { mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type t from 'tap';
import { RuntimeError, type ContainerRuntime, type RunResult, type RunSpec } from '../../runner/runtime/index.ts';

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

export interface RuntimeUnderTest {
  runtime: ContainerRuntime;
  /** An image with python3 and scikit-learn (ignored by the process runtime). */
  image: string;
  /** The python3 that has scikit-learn, as the job must call it. */
  python: string;
  /** Out-of-memory is told apart from other failures (docker); else the limit only makes the job fail. */
  reportsOom: boolean;
  /** The pids limit holds a fork bomb for this runtime. */
  limitsPids: boolean;
  /** A missing image is a RuntimeError (docker); the process runtime ignores images instead. */
  usesImages: boolean;
  /** Variables the engine or /bin/sh add on their own (never the runner's). */
  engineEnv: readonly string[];
  /**
   * How many times the job's output passes through this test process: 1 for the runner alone;
   * 2 when a fake engine runs here too (the fake Kubernetes API server reads the pod's output
   * from Podman and serves it to the runner). Each pass may use the runner's memory bound in
   * garbage before V8 collects it; buffering the output whole would take 100 MB per pass.
   */
  outputPassesInProcess?: number;
}

const MiB = 1024 * 1024;
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
/** A secret in the runner's environment: no job may see it. */
export const FAKE_SECRET = 'mlgit-fake-server-secret-7c1d';

/**
 * tap's processinfo plugin patches child_process.spawn in the test process and adds these to
 * every child's environment, whatever env the caller passed; outside tap (the runner, the
 * benchmark) the process runtime's jobs see exactly the spec's environment.
 */
const TAP_INJECTED = /^(_TAPJS_\w*|TAP|TAP_\w*|NODE_OPTIONS)$/;

interface JobRun {
  result: RunResult;
  output: string;
  workspace: string;
  outputs: string;
}

/**
 * The behaviour both ContainerRuntime adapters share; see runner/runtime/types.ts. Each case
 * gets fresh workspace and outputs directories, as the runner creates them (mode 0700, owned by
 * the runner).
 */
export function containerRuntimeContract(t: TapTest, subject: RuntimeUnderTest): void {
  const { runtime } = subject;
  process.env.MLGIT_FAKE_SERVER_SECRET = FAKE_SECRET;
  let scratch = '';
  t.before(async () => {
    // 0700, as the runner's: a root runner's job user (nobody) reaches its workspace only through
    // the container's or sandbox's bind mounts, never by the host path.
    scratch = await mkdtemp(join(tmpdir(), `mlgit-runtime-${runtime.name}-`));
  });
  t.teardown(() => rm(scratch, { recursive: true, force: true }));

  async function run(overrides: Partial<RunSpec> & { commands: string[] }, prepare?: (workspace: string) => Promise<void>): Promise<JobRun> {
    const workspace = await mkdtemp(join(scratch, 'ws-'));
    const outputs = await mkdtemp(join(scratch, 'out-'));
    await prepare?.(workspace);
    const chunks: Buffer[] = [];
    const result = await runtime.run({
      image: subject.image,
      workspace,
      outputs,
      env: {},
      limits: { cpus: 1, memoryBytes: 512 * MiB, pids: 128 },
      timeoutMs: 60_000,
      network: false,
      signal: new AbortController().signal,
      onOutput: async (chunk) => {
        chunks.push(chunk);
      },
      ...overrides,
    });
    return { result, output: Buffer.concat(chunks).toString('utf8'), workspace, outputs };
  }

  t.test('exit codes', async (t) => {
    for (const code of [0, 1, 42]) {
      const { result } = await run({ commands: [`exit ${code}`] });
      t.match(result, { outcome: 'exited', exitCode: code }, `exit ${code}`);
      t.ok(result.durationMs >= 0 && result.durationMs < 30_000, 'duration measured');
    }
  });

  t.test('commands run in order and stop at the first failure', async (t) => {
    const { result, output, outputs } = await run({ commands: ['echo one', 'echo two; exit 3', 'echo three; touch "$MLP_OUTPUT_DIR/ran"'] });
    t.match(result, { outcome: 'exited', exitCode: 3 });
    t.equal(output, 'one\ntwo\n');
    await t.rejects(readFile(join(outputs, 'ran')), { code: 'ENOENT' }, 'the command after the failure never ran');
  });

  t.test('stdout and stderr arrive interleaved in order, complete', async (t) => {
    const { result, output } = await run({ commands: ['i=1; while [ $i -le 300 ]; do echo "out $i"; echo "err $i" >&2; i=$((i+1)); done'] });
    t.match(result, { outcome: 'exited', exitCode: 0 });
    const expected = Array.from({ length: 300 }, (_, i) => `out ${i + 1}\nerr ${i + 1}\n`).join('');
    t.equal(output, expected);
  });

  t.test('the environment is exactly the given one plus MLP_OUTPUT_DIR, HOME and PATH', async (t) => {
    const env = { MLP_PARAM_LR: '0.01', QUOTED: "it's $HOME `id`" };
    // NUL-separated: a value may hold newlines (tap puts a list of test files in one).
    const { result, output, outputs } = await run({ env, commands: ['env -0', 'echo written > "$MLP_OUTPUT_DIR/marker"'] });
    t.match(result, { outcome: 'exited', exitCode: 0 });
    t.notMatch(output, FAKE_SECRET, "the runner's secret is not visible");
    const seen = new Map(output.split('\0').filter((entry) => entry.includes('=')).map((line) => [line.slice(0, line.indexOf('=')), line.slice(line.indexOf('=') + 1)]));
    const names = [...seen.keys()].filter((name) => !subject.engineEnv.includes(name) && !TAP_INJECTED.test(name)).sort();
    t.same(names, ['HOME', 'MLP_OUTPUT_DIR', 'MLP_PARAM_LR', 'PATH', 'QUOTED']);
    t.equal(seen.get('QUOTED'), env.QUOTED, 'values are passed verbatim');
    t.equal(seen.get('PATH'), '/usr/local/bin:/usr/bin:/bin');
    t.equal(await readFile(join(outputs, 'marker'), 'utf8'), 'written\n', 'MLP_OUTPUT_DIR is the outputs directory');
  });

  t.test('workspace is the cwd, read-write; outputs writable; /tmp writable', async (t) => {
    const { result, output, workspace, outputs } = await run(
      { commands: ['cat input.txt', 'echo model > model.bin', 'mkdir -p "$MLP_OUTPUT_DIR/sub" && echo 0.97 > "$MLP_OUTPUT_DIR/sub/metrics.txt"', 'echo t > /tmp/x && cat /tmp/x'] },
      (dir) => writeFile(join(dir, 'input.txt'), 'from the repo\n'),
    );
    t.match(result, { outcome: 'exited', exitCode: 0 });
    t.equal(output, 'from the repo\nt\n');
    t.equal(await readFile(join(workspace, 'model.bin'), 'utf8'), 'model\n');
    t.equal(await readFile(join(outputs, 'sub', 'metrics.txt'), 'utf8'), '0.97\n');
  });

  t.test('cannot write outside workspace, outputs and /tmp; not root', async (t) => {
    const targets = ['/evil', '/usr/evil', '/etc/evil', '/bin/evil', '/var/evil'];
    const { result, output } = await run({ commands: [`for f in ${targets.join(' ')}; do touch "$f" 2>/dev/null && echo "wrote $f"; done; id -u`] });
    t.match(result, { outcome: 'exited', exitCode: 0 });
    t.notMatch(output, /wrote/, 'no write outside the mounts succeeded');
    t.not(output.trim(), '0', 'the job does not run as root');
  });

  t.test('no network: cannot reach a listener on the host loopback', async (t) => {
    let connections = 0;
    const server = createServer((socket) => {
      connections += 1;
      socket.end('hello\n');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    t.teardown(() => new Promise<void>((resolve) => server.close(() => resolve())));
    const { port } = server.address() as AddressInfo;
    const probe = `import socket; s = socket.create_connection(('127.0.0.1', ${port}), timeout=3); print('CONNECTED', s.recv(10))`;
    const { result, output } = await run({ commands: [`${subject.python} -c "${probe}"`] });
    t.match(result, { outcome: 'exited' });
    t.not(result.exitCode, 0, 'the connection failed');
    t.notMatch(output, 'CONNECTED');
    t.equal(connections, 0, 'the listener saw nobody');
  });

  t.test('timeout kills the job for good', async (t) => {
    const heartbeat = 'while true; do date +%s%N > "$MLP_OUTPUT_DIR/beat"; sleep 0.1; done';
    const started = Date.now();
    const { result, outputs } = await run({ timeoutMs: 1500, commands: [heartbeat] });
    t.match(result, { outcome: 'timeout', exitCode: null });
    t.ok(Date.now() - started < 15_000, `returned promptly (${Date.now() - started} ms)`);
    const beat = await readFile(join(outputs, 'beat'), 'utf8');
    await sleep(600);
    t.equal(await readFile(join(outputs, 'beat'), 'utf8'), beat, 'no heartbeat after the timeout: the job is dead');
  });

  t.test('cancel stops the job within about a second', async (t) => {
    const controller = new AbortController();
    let abortedAt = 0;
    const { result } = await run({
      signal: controller.signal,
      commands: ['echo started', 'sleep 60'],
      onStart: () => {
        setTimeout(() => {
          abortedAt = Date.now();
          controller.abort();
        }, 300);
      },
      onOutput: async () => {},
    });
    const stoppedIn = Date.now() - abortedAt;
    t.match(result, { outcome: 'cancelled', exitCode: null });
    t.ok(abortedAt > 0 && stoppedIn < 2000, `stopped ${stoppedIn} ms after the abort`);
  });

  t.test('the memory limit holds', async (t) => {
    // Touches every page: 512 MiB really resident, four times the limit.
    const hog = `${subject.python} -c "b = bytearray(512 * 1024 * 1024); print('ALLOCATED', len(b))"`;
    const { result, output } = await run({ limits: { cpus: 1, memoryBytes: 128 * MiB, pids: 128 }, commands: [hog] });
    t.notMatch(output, 'ALLOCATED', 'the allocation did not succeed');
    if (subject.reportsOom) {
      t.match(result, { outcome: 'oom', exitCode: 137 });
    } else {
      t.match(result, { outcome: 'exited' });
      t.not(result.exitCode, 0, 'the job failed');
    }
  });

  if (subject.limitsPids) {
    t.test('the pids limit holds a fork bomb', async (t) => {
      const bomb = [
        'import os, time',
        'n = 0',
        'try:',
        '    while n < 1000:',
        '        if os.fork() == 0:',
        '            time.sleep(60); os._exit(0)',
        '        n += 1',
        'except OSError as e:',
        '    print("FORK FAILED after", n, flush=True)',
      ].join('\n');
      const { result, output } = await run(
        { limits: { cpus: 1, memoryBytes: 512 * MiB, pids: 48 }, commands: [`${subject.python} bomb.py`] },
        (dir) => writeFile(join(dir, 'bomb.py'), bomb),
      );
      t.match(result, { outcome: 'exited', exitCode: 0 });
      const forked = Number(/FORK FAILED after (\d+)/.exec(output)?.[1]);
      t.ok(forked < 48, `forks stopped at ${forked} (limit 48)`);
    });
  }

  t.test('a symlink in the workspace cannot reach host files', async (t) => {
    const outside = await mkdtemp(join(scratch, 'host-'));
    await writeFile(join(outside, 'server-secret'), `${FAKE_SECRET}\n`);
    const { result, output } = await run({ commands: ['cat leak shadow 2>&1; true'] }, async (dir) => {
      await symlink(join(outside, 'server-secret'), join(dir, 'leak'));
      await symlink('/etc/shadow', join(dir, 'shadow'));
    });
    t.match(result, { outcome: 'exited', exitCode: 0 });
    t.notMatch(output, FAKE_SECRET, 'the host file stays unreadable');
    t.notMatch(output, /^root:/m, '/etc/shadow stays unreadable');
  });

  t.test('100 MB of output through a slow consumer: all bytes, flat memory', async (t) => {
    const total = 100 * MiB;
    let received = 0;
    let sinceSleep = 0;
    const baseline = process.memoryUsage().rss;
    let peak = baseline;
    const sampler = setInterval(() => (peak = Math.max(peak, process.memoryUsage().rss)), 20);
    const { result } = await run({
      timeoutMs: 300_000,
      commands: [`head -c ${total} /dev/zero | tr '\\0' x`],
      onOutput: async (chunk) => {
        received += chunk.length;
        sinceSleep += chunk.length;
        // Slower than the job can print: about 100 ms per 4 MiB.
        if (sinceSleep >= 4 * MiB) {
          sinceSleep = 0;
          await sleep(100);
        }
      },
    });
    clearInterval(sampler);
    t.match(result, { outcome: 'exited', exitCode: 0 });
    t.equal(received, total, 'every byte arrived');
    const growthMb = (peak - baseline) / MiB;
    const boundMb = 64 * (subject.outputPassesInProcess ?? 1);
    t.ok(growthMb < boundMb, `runner RSS grew by ${growthMb.toFixed(1)} MB (bound ${boundMb} MB)`);
  });

  if (subject.usesImages) {
    t.test('a missing image is a RuntimeError naming it', async (t) => {
      await t.rejects(run({ image: 'localhost/mlgit-no-such-image:never', commands: ['true'] }), RuntimeError);
      await t.rejects(run({ image: 'localhost/mlgit-no-such-image:never', commands: ['true'] }), { message: /localhost\/mlgit-no-such-image:never.*podman-setup\.sh/s });
    });
  } else {
    t.test('the image is ignored, and the warnings say so', async (t) => {
      const { result } = await run({ image: 'localhost/mlgit-no-such-image:never', commands: ['true'] });
      t.match(result, { outcome: 'exited', exitCode: 0 });
      t.match(runtime.warnings.join('\n'), /ignore/);
    });
  }

  t.test('python3 with scikit-learn trains a model', async (t) => {
    const script = [
      'from sklearn.datasets import load_digits',
      'from sklearn.linear_model import LogisticRegression',
      'X, y = load_digits(return_X_y=True)',
      'model = LogisticRegression(max_iter=300).fit(X[:1000], y[:1000])',
      'print("accuracy", model.score(X[1000:], y[1000:]))',
    ].join('\n');
    const { result, output } = await run(
      { limits: { cpus: 1, memoryBytes: 1024 * MiB, pids: 128 }, commands: [`${subject.python} train.py`] },
      (dir) => writeFile(join(dir, 'train.py'), script),
    );
    if (result.exitCode !== 0) t.comment(output);
    t.match(result, { outcome: 'exited', exitCode: 0 }, 'the training script succeeded');
    const accuracy = Number(/accuracy ([\d.]+)/.exec(output)?.[1]);
    t.ok(accuracy > 0.85, `accuracy ${accuracy}`);
  });
}
