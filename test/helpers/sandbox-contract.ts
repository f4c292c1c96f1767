import { execFileSync, spawn } from 'node:child_process';
import { chmod, mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import type t from 'tap';
import { ProcessRuntime } from '../../runner/runtime/process.ts';
import type { SandboxName } from '../../runner/runtime/sandbox/types.ts';
import type { RunResult, RunSpec } from '../../runner/runtime/types.ts';

type TapTest = Parameters<Parameters<typeof t.test>[0]>[0];

/** One hostile (or, for the last ones, ordinary) thing a job tried, and whether the sandbox held. */
export interface Check {
  name: string;
  ok: boolean;
  detail: string;
}

const MiB = 1024 * 1024;
/** The job's python: Debian's, with joblib (python3-sklearn), not a pyenv shim. */
const PYTHON = '/usr/bin/python3';
const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));

/**
 * Runs hostile jobs through the process runtime forced to one sandbox, as the current user (a root
 * runner, or an unprivileged one when run by sandbox-contract-driver.ts), and says what held.
 * Plain data, not tap assertions, so an unprivileged child process can report it as JSON.
 */
export async function hostileChecks(sandbox: SandboxName): Promise<Check[]> {
  const secret = `mlgit-secret-${process.pid}-${Date.now()}`;
  process.env.MLGIT_FAKE_SERVER_SECRET = secret;
  const runtime = new ProcessRuntime({ sandbox });
  const base = await mkdtemp(path.join(tmpdir(), 'mlgit-hostile-'));
  try {
    // A data dir like the server's, world-readable so that only the sandbox stands in the way,
    // with the runner's work dir inside it (the embedded default) and a repository next to it.
    await chmod(base, 0o755);
    const data = path.join(base, 'data');
    const repo = path.join(data, 'repos', '01', '1.git');
    await mkdir(path.join(data, 'runner'), { recursive: true, mode: 0o700 });
    await writeFile(path.join(data, 'jwt-secret'), secret, { mode: 0o644 });
    execFileSync('git', ['init', '-q', '--bare', repo]);
    await writeFile(path.join(repo, 'description'), secret, { mode: 0o644 });
    const otherData = await mkdtemp(path.join(tmpdir(), 'mlgit-fake-data-'));
    await chmod(otherData, 0o755);
    await writeFile(path.join(otherData, 'jwt-secret'), secret, { mode: 0o644 });

    const run = async (commands: string[], overrides: Partial<RunSpec> = {}, files: Record<string, string> = {}) => {
      // As the runner makes them: mkdtemp (0700) below the work dir, workspace and outputs inside.
      const dir = await mkdtemp(path.join(data, 'runner', 'run-'));
      const workspace = path.join(dir, 'workspace');
      const outputs = path.join(dir, 'outputs');
      await mkdir(workspace);
      await mkdir(outputs);
      for (const [name, text] of Object.entries(files)) await writeFile(path.join(workspace, name), text);
      let output = '';
      const started = Date.now();
      const result: RunResult = await runtime.run({
        image: 'ignored',
        commands,
        workspace,
        outputs,
        env: {},
        limits: { cpus: 1, memoryBytes: 512 * MiB, pids: 64 },
        timeoutMs: 60_000,
        network: false,
        signal: new AbortController().signal,
        onOutput: async (chunk) => void (output += chunk.toString('utf8')),
        ...overrides,
      });
      return { result, output, dir, workspace, outputs, ms: Date.now() - started };
    };
    const checks: Check[] = [];
    const check = (name: string, ok: boolean, detail: string) => checks.push({ name, ok, detail });

    {
      const reads = [
        `${data}/jwt-secret`, '../../../jwt-secret', `${otherData}/jwt-secret`, `/proc/${process.pid}/environ`, '/proc/*/environ', `${repo}/description`,
      ];
      const { output } = await run([`for f in ${reads.join(' ')}; do cat "$f" 2>&1; echo; done; ls ${repo} 2>&1; find / -name jwt-secret 2>/dev/null; true`]);
      check('cannot read the data dir, the runner environment or another repository', !output.includes(secret), output.slice(0, 2000));
    }

    {
      let connections = 0;
      const server = createServer((socket) => {
        connections += 1;
        socket.end('hello\n');
      });
      await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
      const { port } = server.address() as AddressInfo;
      const probe = [
        'import socket',
        `for host, port in [('127.0.0.1', ${port}), ('127.0.0.1', 6379), ('127.0.0.1', 5432), ('1.1.1.1', 443)]:`,
        '    try:',
        '        socket.create_connection((host, port), timeout=2); print("CONNECTED", host, port)',
        '    except OSError as e: print("refused", host, port, e)',
        'try:',
        '    print("RESOLVED", socket.getaddrinfo("example.com", 443)[0][4])',
        'except OSError as e: print("unresolved", e)',
      ].join('\n');
      const { output } = await run([`${PYTHON} probe.py`], {}, { 'probe.py': probe });
      server.close();
      check('no network: the server port, Redis, Postgres and outside hosts are unreachable', connections === 0 && !/CONNECTED|RESOLVED/.test(output), output);
    }

    {
      const marker = `mlgit-hostile-${process.pid}-${Date.now()}`;
      const targets = [`${data}/${marker}`, `${data}/runner/${marker}`, `../${marker}`, `/var/tmp/${marker}`, `/tmp/${marker}`, `/dev/shm/${marker}`, `${tmpdir()}/${marker}`];
      const { output, dir } = await run([`for f in ${targets.join(' ')}; do touch "$f" 2>/dev/null && echo "wrote $f"; done; true`]);
      const leaked: string[] = [];
      for (const target of targets.map((t) => (t.startsWith('/') ? t : path.resolve(dir, 'workspace', t)))) {
        if (await stat(target).then(() => true, () => false)) leaked.push(target);
      }
      await Promise.all(leaked.map((file) => rm(file, { force: true })));
      check('writes outside workspace and outputs never reach the host', leaked.length === 0, `${output}reached the host: ${leaked.join(', ') || 'none'}`);
    }

    {
      const bomb = 'import os, time\nn = 0\ntry:\n    while n < 1000:\n        if os.fork() == 0:\n            time.sleep(30); os._exit(0)\n        n += 1\nexcept OSError:\n    print("FORK FAILED after", n, flush=True)\n';
      const { output } = await run([`${PYTHON} bomb.py`], { limits: { cpus: 1, memoryBytes: 512 * MiB, pids: 48 } }, { 'bomb.py': bomb });
      const forked = Number(/FORK FAILED after (\d+)/.exec(output)?.[1]);
      check('no more processes than the pids limit (48)', forked < 48, output.slice(0, 500));
    }

    {
      const { result, output } = await run([`${PYTHON} -c "b = bytearray(2 * 1024 ** 3); print('ALLOCATED', len(b))"`], { limits: { cpus: 1, memoryBytes: 256 * MiB, pids: 64 } });
      check('a 2 GB allocation fails under a 256 MiB limit', !output.includes('ALLOCATED') && result.exitCode !== 0, output.slice(0, 500));
    }

    {
      const marker = `mlgit-outlive-${process.pid}-${Date.now()}`;
      const { outputs, result } = await run([
        `setsid sh -c 'sleep 1; touch /outputs/late; sleep 30 # ${marker}' >/dev/null 2>&1 &`,
        `(setsid sh -c 'sleep 1; touch /outputs/late2; sleep 30 # ${marker}' >/dev/null 2>&1 &); echo forked`,
      ]);
      const survivors = execPgrep(marker);
      await sleep(2000);
      const late = await Promise.all(['late', 'late2'].map((name) => stat(path.join(outputs, name)).then(() => name, () => '')));
      check('setsid and double-forked children die with the job', result.exitCode === 0 && survivors === '' && late.join('') === '', `survivors: ${survivors || 'none'}; late files: ${late.filter(Boolean).join(', ') || 'none'}`);
    }

    {
      // scikit-learn loads numpy's BLAS through /etc/alternatives; and the server runs with umask
      // 077 (its data dir is private), which the sandbox's own mount points must not inherit.
      const joblib = `${PYTHON} -c "import sklearn.linear_model, joblib; from joblib import Parallel, delayed; print('SUM', sum(Parallel(n_jobs=2)(delayed(abs)(-i) for i in range(10))))"`;
      const umask = process.umask(0o077);
      const normal = await run([joblib, 'echo model > model.bin && echo 0.9 > "$MLP_OUTPUT_DIR/metrics.txt"']).finally(() => process.umask(umask));
      const { result, output, workspace, outputs, ms } = normal;
      const wrote = (await readFile(path.join(workspace, 'model.bin'), 'utf8').catch(() => '')) === 'model\n' && (await readFile(path.join(outputs, 'metrics.txt'), 'utf8').catch(() => '')) === '0.9\n';
      check('a normal job: scikit-learn, joblib with /dev/shm, writes to workspace and outputs, under the server\'s umask', result.exitCode === 0 && output.includes('SUM 45') && !/Errno 13|serial mode/.test(output) && wrote, `${output.slice(0, 1000)} (${ms} ms)`);
    }

    {
      const timings: number[] = [];
      for (let i = 0; i < 5; i++) timings.push((await run(['true'])).ms);
      const median = timings.sort((a, b) => a - b)[2] ?? 0;
      check('starts fast (median of 5 `true` jobs)', median < 1000, `${median} ms`);
    }
    await rm(otherData, { recursive: true, force: true });
    return checks;
  } finally {
    await runtime.close();
    await rm(base, { recursive: true, force: true });
  }
}

function execPgrep(marker: string): string {
  try {
    return execFileSync('pgrep', ['-a', '-f', marker], { encoding: 'utf8' }).trim();
  } catch {
    return ''; // exit 1: no process matched
  }
}

const DRIVER = path.join(path.dirname(fileURLToPath(import.meta.url)), 'sandbox-contract-driver.ts');
const TEST_USER = 'mlgit-test';

/**
 * The contract each sandbox passes: every hostile check holds, run by a root runner (this
 * process, when root) and by an unprivileged one (a child process as the `mlgit-test` user).
 */
export function sandboxContract(t: TapTest, sandbox: SandboxName): void {
  const asserted = (t: TapTest, checks: Check[]) => {
    for (const { name, ok, detail } of checks) t.ok(ok, name, ok ? {} : { detail });
    if (checks.length > 0) t.comment(`timing: ${checks.at(-1)?.detail}`);
  };
  const root = (process.getuid?.() ?? 0) === 0;
  t.test(`${sandbox}: as ${root ? 'root' : 'an ordinary user'}`, async (t) => asserted(t, await hostileChecks(sandbox)));
  t.test(`${sandbox}: as an ordinary user`, { skip: !root && 'already ran as one' }, async (t) => {
    ensureTestUser();
    const { stdout, stderr, code } = await runAs(TEST_USER, [process.execPath, '--import', 'tsx', DRIVER, sandbox]);
    t.equal(code, 0, 'the unprivileged runner finished', code === 0 ? {} : { stderr });
    asserted(t, JSON.parse(stdout) as Check[]);
  });
}

function ensureTestUser(): void {
  try {
    execFileSync('id', [TEST_USER], { stdio: 'ignore' });
  } catch {
    execFileSync('useradd', ['--system', '--no-create-home', '--shell', '/usr/sbin/nologin', TEST_USER]);
  }
}

function runAs(user: string, argv: string[]): Promise<{ stdout: string; stderr: string; code: number | null }> {
  const uid = execFileSync('id', ['-u', user], { encoding: 'utf8' }).trim();
  const gid = execFileSync('id', ['-g', user], { encoding: 'utf8' }).trim();
  const child = spawn('setpriv', [`--reuid=${uid}`, `--regid=${gid}`, '--clear-groups', '--', ...argv], {
    cwd: path.dirname(DRIVER),
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: tmpdir() },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  return new Promise((resolve) => child.once('exit', (code) => resolve({ stdout, stderr, code })));
}
