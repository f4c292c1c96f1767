// First contact, as a newcomer meets mlgit: a clean `git clone` of this checkout, `npm ci`, and
// the README's `npm run demo` with the embedded defaults, which must end with a note carrying
// both metrics. Three machines in one: root with bubblewrap, root without it (the `unshare`
// sandbox runs the jobs), and an ordinary user. The clone is of HEAD: what is committed is
// what a newcomer gets, so an ignored or untracked file cannot make this pass.
import { spawn } from 'node:child_process';
import { chmod, mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { freePort } from '../bench/lib/free-port.ts';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t, { type Test } from 'tap';

const CHECKOUT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NEWCOMER = 'mlgit-newcomer';
const isRoot = process.getuid?.() === 0;

interface Result {
  code: number | null;
  output: string;
}

function run(argv: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<Result> {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0] as string, argv.slice(1), { cwd: options.cwd, env: options.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    let output = '';
    const keep = (chunk: Buffer) => {
      output += chunk.toString('utf8');
    };
    child.stdout.on('data', keep);
    child.stderr.on('data', keep);
    child.once('error', reject);
    child.once('close', (code) => resolve({ code, output }));
  });
}

async function runChecked(argv: string[], options: { cwd?: string; env?: NodeJS.ProcessEnv } = {}): Promise<string> {
  const result = await run(argv, options);
  if (result.code !== 0) throw new Error(`${argv.join(' ')} exited ${result.code}:\n${result.output.slice(-4000)}`);
  return result.output;
}

async function waitFor<T>(probe: () => T | undefined, timeoutMs: number, explain: () => string): Promise<T> {
  for (const deadline = Date.now() + timeoutMs; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 200))) {
    const value = probe();
    if (value !== undefined) return value;
  }
  throw new Error(`timed out; output so far:\n${explain()}`);
}

/** The environment a newcomer's shell has: none of the suite's settings (test databases, sockets). */
function newcomerEnv(home: string): NodeJS.ProcessEnv {
  return { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', HOME: home, LANG: 'C.UTF-8' };
}

t.test('a fresh clone runs the demo to a note with both metrics', async (t) => {
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'mlgit-first-contact-'));
  t.teardown(() => rm(scratch, { recursive: true, force: true }));
  const clone = path.join(scratch, 'mlgit');
  await runChecked(['git', 'clone', '-q', '--no-local', CHECKOUT, clone]);
  await runChecked(['npm', 'ci', '--no-audit', '--no-fund', '--prefer-offline'], { cwd: clone, env: { ...newcomerEnv(os.homedir()), npm_config_cache: path.join(os.homedir(), '.npm') } });

  const demo = async (t: Test, wrap: string[], env: NodeJS.ProcessEnv, sandbox: RegExp) => {
    const result = await run([...wrap, 'npm', 'run', 'demo'], { cwd: clone, env });
    t.equal(result.code, 0, 'npm run demo exits 0', { output: result.output.slice(-6000) });
    t.match(result.output, /Notes \(mlproject\):[\s\S]*accuracy=[\d.]+[\s\S]*f1_macro=[\d.]+/, 'the note carries accuracy= and f1_macro=');
    t.match(result.output, sandbox, 'the jobs ran in the expected sandbox');
    t.notMatch(result.output, /infrastructure error/, 'no run ended with an infrastructure error');
  };

  await t.test('the quickstart: npm start, create a repo, push, clone', async (t) => {
    const port = await freePort();
    const server = spawn('npm', ['start'], { cwd: clone, env: { ...newcomerEnv(os.homedir()), PORT: String(port) }, stdio: ['ignore', 'pipe', 'pipe'], detached: true });
    const exited = new Promise((resolve) => server.once('close', resolve));
    t.teardown(async () => {
      try {
        process.kill(-(server.pid as number), 'SIGTERM');
      } catch {
        // already gone
      }
      await exited;
      // The next cases share the clone (one reads it as another user): no server data left in it.
      await rm(path.join(clone, 'data'), { recursive: true, force: true });
    });
    let printed = '';
    server.stdout.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
    server.stderr.on('data', (chunk: Buffer) => (printed += chunk.toString('utf8')));
    const password = await waitFor(() => /created user "admin" with password: (\S+)/.exec(printed)?.[1], 180_000, () => printed);
    const base = `http://localhost:${port}`;
    const created = await fetch(`${base}/api/v1/repos`, {
      method: 'POST',
      headers: { authorization: `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`, 'content-type': 'application/json' },
      body: '{"name":"hello"}',
    });
    t.equal(created.status, 201, 'the repository is created');
    const project = path.join(scratch, 'hello');
    const git = { ...newcomerEnv(os.homedir()), GIT_CONFIG_NOSYSTEM: '1', GIT_AUTHOR_NAME: 'N', GIT_AUTHOR_EMAIL: 'n@example.com', GIT_COMMITTER_NAME: 'N', GIT_COMMITTER_EMAIL: 'n@example.com' };
    await runChecked(['git', 'init', '-q', '-b', 'main', project], { env: git });
    await runChecked(['sh', '-c', "echo '# hello' > README.md && git add README.md && git commit -q -m 'first commit'"], { cwd: project, env: git });
    await runChecked(['git', 'push', '-q', `http://admin:${password}@localhost:${port}/admin/hello.git`, 'main'], { cwd: project, env: git });
    await runChecked(['git', 'clone', '-q', `${base}/admin/hello`, path.join(scratch, 'hello-copy')], { env: git });
    t.equal(await readFile(path.join(scratch, 'hello-copy', 'README.md'), 'utf8'), '# hello\n', 'the clone has the pushed file');
    t.equal((await stat(path.join(clone, 'data'))).mode & 0o777, 0o700, 'the data dir is private');
    const exposed = (await runChecked(['find', path.join(clone, 'data'), '-perm', '/077'])).trim();
    t.equal(exposed, '', 'nothing under the data dir is readable by other users');
  });

  await t.test('as root, with bubblewrap', { skip: !isRoot && 'needs root' }, async (t) => {
    await demo(t, [], newcomerEnv(os.homedir()), /sandbox[^\n]*bubblewrap/i);
  });

  await t.test('as root, without bubblewrap (the unshare sandbox)', { skip: !isRoot && 'needs root to hide bubblewrap' }, async (t) => {
    const bwrap = (await run(['sh', '-c', 'command -v bwrap'])).output.trim();
    // A private mount namespace in which bwrap is /dev/null: not executable, as if not installed.
    const hide = bwrap ? ['unshare', '--mount', '--propagation', 'private', 'sh', '-c', `mount --bind /dev/null ${bwrap} && exec "$@"`, 'hide-bwrap'] : [];
    await demo(t, hide, newcomerEnv(os.homedir()), /sandbox[^\n]*unshare/i);
  });

  await t.test('as an ordinary user', { skip: !isRoot && 'needs root to create the user' }, async (t) => {
    const home = `/home/${NEWCOMER}`;
    if ((await run(['id', '-u', NEWCOMER])).code !== 0) await runChecked(['useradd', '--create-home', '--home-dir', home, '--shell', '/bin/sh', NEWCOMER]);
    // The newcomer reads the clone (and its node_modules) but owns nothing in it but what npm writes.
    await chmod(scratch, 0o755);
    await runChecked(['chmod', '-R', 'go+rX', clone]);
    await demo(t, ['runuser', '-u', NEWCOMER, '--'], newcomerEnv(home), /sandbox[^\n]*(bubblewrap|unshare)/i);
  });
});
