import t from 'tap';
import { spawn, type ChildProcess } from 'node:child_process';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { connectDatabase, type Db } from '../server/db/connect.ts';
import { AccountService } from '../server/domain/accounts.ts';
import { GitClient } from './helpers/git-client.ts';
import { createTestDatabase } from './helpers/postgres.ts';

const ROOT = fileURLToPath(new URL('..', import.meta.url));
const CLI = path.join(ROOT, 'scripts', 'mlgit.mjs');
const ADMIN_PASSWORD = 'cli-admin-password';

interface Run {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** A clean environment: nothing from the developer's shell leaks into the CLI's configuration. */
function baseEnv(extra: Record<string, string>): Record<string, string> {
  return { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: os.tmpdir(), LANG: 'C', MLGIT_LOG_LEVEL: 'warn', ...extra };
}

function mlgit(args: string[], env: Record<string, string>, timeoutMs = 120_000): Promise<Run> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { cwd: ROOT, env: baseEnv(env), stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.on('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (address && typeof address !== 'string' ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

async function tempDir(t: { teardown(fn: () => Promise<void>): void }, prefix: string): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  return dir;
}

async function findFiles(dir: string, name: string): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await fs.readdir(dir, { withFileTypes: true, recursive: true })) {
    if (entry.name === name && entry.isFile()) found.push(path.join(entry.parentPath, entry.name));
  }
  return found;
}

t.test('configuration errors and usage (exit 2)', async (t) => {
  const dataDir = await tempDir(t, 'mlgit-cli-config-');
  const env = { MLGIT_DATA_DIR: dataDir, MLGIT_ADMIN_PASSWORD: ADMIN_PASSWORD };
  const cases: [string[], Record<string, string>, RegExp][] = [
    [['serve'], { PORT: 'abc' }, /PORT/],
    [['migrate'], { DATABASE_URL: 'mysql://x' }, /DATABASE_URL/],
  ];
  const [results, [unknown, help]] = await Promise.all([
    Promise.all(cases.map(([args, bad]) => mlgit(args, { ...env, ...bad }))),
    Promise.all([mlgit(['frobnicate'], env), mlgit(['help'], env)]),
  ]);
  for (const [i, result] of results.entries()) {
    const [args, bad, name] = cases[i]!;
    const label = `${args.join(' ')} with ${JSON.stringify(bad)}`;
    t.equal(result.code, 2, label);
    t.match(result.stderr, name, `${label}: ${result.stderr.trim()}`);
    t.match(result.stderr, /configuration error/);
    t.notMatch(result.stderr, /\n\s+at /, 'no stack trace');
  }
  t.same(await fs.readdir(dataDir), [], 'nothing was started or written');

  t.equal(unknown.code, 2, 'unknown command -> exit 2');
  t.match(unknown.stderr, /usage: mlgit <command>/);
  t.match(unknown.stderr, /user create <name>/);
  t.match(unknown.stderr, /repo create <owner>\/<name>/);
  t.equal(help.code, 0, 'help -> exit 0');
  t.match(help.stderr + help.stdout, /usage: mlgit/);
});

t.test('admin commands against Postgres', async (t) => {
  const database = await createTestDatabase();
  t.teardown(database.drop);
  const dataDir = await tempDir(t, 'mlgit-cli-');
  const env = { MLGIT_DATA_DIR: dataDir, DATABASE_URL: database.url, MLGIT_ADMIN_PASSWORD: ADMIN_PASSWORD };
  let db: Db | undefined;
  t.teardown(async () => {
    await db?.destroy();
  });
  const openDb = async () => (db ??= await connectDatabase(database.url, dataDir));

  await t.test('migrate', async (t) => {
    const first = await mlgit(['migrate'], env);
    t.equal(first.code, 0, first.stderr);
    t.match(first.stdout, /accounts_and_repos/, 'names the applied migration');
    const again = await mlgit(['migrate'], env);
    t.equal(again.code, 0, again.stderr);
    t.match(again.stdout, /up to date/);
  });

  await t.test('user create (the first commands race to create the admin)', async (t) => {
    // Four processes start at once on a database without users: each tries to create the first
    // admin; exactly one must win and none may fail because of it.
    const [bob, carol, duplicate, shortPassword] = await Promise.all([
      mlgit(['user', 'create', 'bob', '--password', 'bob-password-1'], env),
      mlgit(['user', 'create', 'carol', '--admin'], env),
      mlgit(['user', 'create', 'ADMIN', '--password', 'whatever-123'], env),
      mlgit(['user', 'create', 'dave', '--password', 'short'], env),
    ]);
    t.equal(bob.code, 0, bob.stderr);
    t.match(bob.stdout, /created user "bob"/);
    t.notMatch(bob.stdout, /bob-password-1/, 'a chosen password is not echoed');
    const accounts = new AccountService(await openDb());
    const user = await accounts.checkPassword('bob', 'bob-password-1');
    t.ok(user, 'bob can sign in with that password');
    t.equal(user?.isAdmin, false);
    t.ok(await accounts.checkPassword('admin', ADMIN_PASSWORD), 'the first admin was created from MLGIT_ADMIN_PASSWORD');
    const admins = await (await openDb()).selectFrom('users').select('username').where('is_admin', '=', true).orderBy('username').execute();
    t.same(admins.map((a) => a.username), ['admin', 'carol'], 'one first admin, plus carol');

    t.equal(carol.code, 0, carol.stderr);
    t.match(carol.stdout, /created user "carol".*as admin/);
    const generated = /password: (\S+)/.exec(carol.stdout)?.[1];
    t.ok(generated, 'a generated password is printed');
    const carolUser = await accounts.checkPassword('carol', generated ?? '');
    t.equal(carolUser?.isAdmin, true, 'carol is an admin and the printed password works');

    t.equal(duplicate.code, 1, 'duplicate (any case) -> exit 1');
    t.match(duplicate.stderr, /^mlgit: user "ADMIN" already exists/);
    t.equal(shortPassword.code, 1);
    t.match(shortPassword.stderr, /^mlgit: password/);
    t.equal(await accounts.findUser('dave').then(() => true, () => false), false, 'nothing created by the failures');
  });

  await t.test('token create', async (t) => {
    const [created, rw, badScope] = await Promise.all([
      mlgit(['token', 'create', 'bob', '--scopes', 'read'], env),
      mlgit(['token', 'create', 'bob', '--scopes', 'write', '--name', 'ci'], env),
      mlgit(['token', 'create', 'nobody', '--scopes', 'read,root'], env),
    ]);
    t.equal(created.code, 0, created.stderr);
    const token = created.stdout.trim();
    t.match(token, /^mlg_[A-Za-z0-9_-]{43}$/, 'prints just the token');
    const accounts = new AccountService(await openDb());
    const principal = await accounts.authenticateToken(token);
    t.equal(principal?.user.username, 'bob');
    t.same([...(principal?.scopes ?? [])], ['read']);

    t.equal(rw.code, 0, rw.stderr);
    const rwPrincipal = await accounts.authenticateToken(rw.stdout.trim());
    t.same([...(rwPrincipal?.scopes ?? [])].sort(), ['read', 'write'], 'scopes are normalised');
    const names = (await (await openDb()).selectFrom('tokens').select('name').execute()).map((r) => r.name).sort();
    t.same(names, ['ci', 'cli']);

    t.equal(badScope.code, 1);
    t.match(badScope.stderr, /scopes/);
  });

  await t.test('repo create', async (t) => {
    const [created, dataset, noOwner] = await Promise.all([
      mlgit(['repo', 'create', 'bob/proj', '--private'], env),
      mlgit(['repo', 'create', 'carol/images', '--kind', 'dataset', '--description', 'some images'], env),
      mlgit(['repo', 'create', 'nobody/proj'], env),
    ]);
    t.equal(created.code, 0, created.stderr);
    t.match(created.stdout, /created bob\/proj \(private\)/);
    const row = await (await openDb()).selectFrom('repos').selectAll().where('name', '=', 'proj').executeTakeFirst();
    t.equal(row?.private, true);
    t.equal(row?.kind, 'model');
    t.equal(dataset.code, 0, dataset.stderr);
    const images = await (await openDb()).selectFrom('repos').selectAll().where('name', '=', 'images').executeTakeFirst();
    t.equal(images?.kind, 'dataset');
    t.equal(images?.description, 'some images');
    const hooks = await findFiles(path.join(dataDir, 'repos'), 'pre-receive');
    t.equal(hooks.length, 2, 'bare repos with hooks on disk');
    t.equal(noOwner.code, 1, noOwner.stderr);
    t.match(noOwner.stderr, /^mlgit: user "nobody" not found\n$/, 'a one-line message, no stack trace');
    const again = await mlgit(['repo', 'create', 'bob/PROJ'], env);
    t.equal(again.code, 1);
    t.match(again.stderr, /already exists/);
  });

  await t.test('doctor checks and repairs hooks', async (t) => {
    const healthy = await mlgit(['doctor'], env);
    t.equal(healthy.code, 0, healthy.stdout + healthy.stderr);
    t.match(healthy.stdout, /ok +git: git version/);
    t.match(healthy.stdout, /ok +database reachable \(postgres\)/);
    t.match(healthy.stdout, /hooks present in 2 repositories \(0 repaired\)/);
    t.match(healthy.stdout, /ok +job isolation: jobs run in the bubblewrap sandbox/, 'says which sandbox jobs run in');
    t.match(healthy.stdout, /all checks passed/);

    const repoId = async (name: string) => (await (await openDb()).selectFrom('repos').select('id').where('name', '=', name).executeTakeFirstOrThrow()).id;
    const bare = (id: number) => path.join(dataDir, 'repos', (id % 256).toString(16).padStart(2, '0'), `${id}.git`);
    const projHook = path.join(bare(await repoId('proj')), 'hooks', 'pre-receive');
    const imagesHook = path.join(bare(await repoId('images')), 'hooks', 'pre-receive');
    // What older versions installed and the server now does itself: removed, and only mlgit's own.
    const retiredHook = path.join(bare(await repoId('images')), 'hooks', 'post-receive');
    await fs.writeFile(retiredHook, (await fs.readFile(imagesHook, 'utf8')).replace(/ pre-receive\n$/, ' post-receive\n'), { mode: 0o700 });
    const foreignHook = path.join(bare(await repoId('proj')), 'hooks', 'post-receive');
    await fs.writeFile(foreignHook, '#!/bin/sh\nexit 0\n', { mode: 0o700 });
    const original = await fs.readFile(projHook, 'utf8');
    await fs.rm(projHook);
    // A hook that lost its executable bit is broken too: git skips it silently.
    await fs.chmod(imagesHook, 0o644);
    const repaired = await mlgit(['doctor'], env);
    t.equal(repaired.code, 0, repaired.stdout + repaired.stderr);
    t.match(repaired.stdout, /fix +re-installed hooks in bob\/proj/);
    t.match(repaired.stdout, /fix +re-installed hooks in carol\/images/);
    t.match(repaired.stdout, /\(2 repaired\)/);
    t.equal(await fs.readFile(projHook, 'utf8'), original, 'the deleted hook is back');
    // Executable for the server's own user, and private like the rest of the data dir.
    t.equal((await fs.stat(projHook)).mode & 0o777, 0o700, 'and executable');
    t.equal((await fs.stat(imagesHook)).mode & 0o777, 0o700, 'the other one is executable again');
    t.equal(await fs.access(retiredHook).then(() => 'present', () => 'removed'), 'removed', 'mlgit\'s old post-receive hook is removed');
    t.equal(await fs.readFile(foreignHook, 'utf8'), '#!/bin/sh\nexit 0\n', 'a hook mlgit did not install is left alone');

    // A repository missing on disk is a failure, reported with a non-zero exit.
    const projDir = bare(await repoId('proj'));
    await fs.rename(projDir, `${projDir}.moved`);
    const missing = await mlgit(['doctor'], env);
    await fs.rename(`${projDir}.moved`, projDir);
    t.equal(missing.code, 1);
    t.match(missing.stdout, /FAIL repository bob\/proj .*missing on disk/);
    t.match(missing.stdout, /1 problem\(s\) found/);
  });
});

/** Waits for `serve` to print something on stdout, or fails after the timeout. */
function waitFor(child: ChildProcess, output: { stdout: string }, pattern: RegExp, timeoutMs: number): Promise<RegExpExecArray> {
  return new Promise((resolve, reject) => {
    const check = () => {
      const match = pattern.exec(output.stdout);
      if (match) {
        cleanup();
        resolve(match);
      }
    };
    const onExit = () => {
      cleanup();
      reject(new Error(`serve exited before printing ${pattern}:\n${output.stdout}`));
    };
    const timer = setTimeout(() => {
      cleanup();
      reject(new Error(`timed out waiting for ${pattern}`));
    }, timeoutMs);
    const cleanup = () => {
      clearTimeout(timer);
      child.stdout?.off('data', check);
      child.off('exit', onExit);
    };
    child.stdout?.on('data', check);
    child.on('exit', onExit);
    check();
  });
}

async function waitReady(url: string, timeoutMs: number): Promise<number> {
  const deadline = Date.now() + timeoutMs;
  let status = 0;
  while (Date.now() < deadline) {
    status = await fetch(`${url}/readyz`).then((r) => r.status, () => 0);
    if (status === 200) return status;
    await new Promise((r) => setTimeout(r, 200));
  }
  return status;
}

function startServe(dataDir: string, port: number) {
  // Exactly what `npm start` gets on a fresh machine: a data dir and a port, nothing else.
  const env = { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: dataDir, MLGIT_DATA_DIR: dataDir, PORT: String(port) };
  const child = spawn(process.execPath, [CLI, 'serve'], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output = { stdout: '', stderr: '' };
  child.stdout.on('data', (c: Buffer) => (output.stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (output.stderr += c.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('exit', (code, signal) => resolve({ code, signal })));
  return { child, output, exited };
}

t.test('embedded boot: `mlgit serve` with only MLGIT_DATA_DIR and PORT', async (t) => {
  const dataDir = await tempDir(t, 'mlgit-embedded-');
  const port = await freePort();
  const url = `http://127.0.0.1:${port}`;
  const { child, output, exited } = startServe(dataDir, port);
  t.teardown(() => {
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  });

  const match = await waitFor(child, output, /created user "admin" with password: (\S+)/, 180_000);
  const password = match[1]!;
  t.ok(password.length >= 16, 'a generated password is printed');
  t.equal(await waitReady(url, 60_000), 200, '/readyz becomes 200');
  t.equal(output.stdout.split(password).length - 1, 1, 'the password is printed exactly once');
  t.notMatch(output.stderr, password, 'and never on stderr');
  t.ok(await fs.stat(path.join(dataDir, 'pglite')).then((s) => s.isDirectory()), 'embedded PGlite lives in the data dir');

  // A push with that password works.
  const auth = `Basic ${Buffer.from(`admin:${password}`).toString('base64')}`;
  const created = await fetch(`${url}/api/v1/repos`, { method: 'POST', headers: { authorization: auth, 'content-type': 'application/json' }, body: JSON.stringify({ name: 'first' }) });
  t.equal(created.status, 201);
  const git = await GitClient.create(t);
  const work = await git.workRepo('first', [{ 'README.md': '# first\n' }]);
  const pushUrl = `http://admin:${encodeURIComponent(password)}@127.0.0.1:${port}/admin/first.git`;
  const push = await git.run(['push', pushUrl, 'main'], { cwd: work });
  t.equal(push.code, 0, push.stderr);
  const clone = await git.run(['clone', `${url}/admin/first`, path.join(git.home, 'clone')]);
  t.equal(clone.code, 0, clone.stderr);
  t.equal(await fs.readFile(path.join(git.home, 'clone', 'README.md'), 'utf8'), '# first\n');
  const wrong = await git.run(['push', `http://admin:wrong@127.0.0.1:${port}/admin/first.git`, 'main'], { cwd: work });
  t.not(wrong.code, 0, 'a wrong password is refused');

  child.kill('SIGTERM');
  let timer: NodeJS.Timeout | undefined;
  const exit = await Promise.race([exited, new Promise<null>((r) => (timer = setTimeout(() => r(null), 15_000)))]);
  clearTimeout(timer);
  t.same(exit, { code: 0, signal: null }, 'SIGTERM -> clean exit 0');
});
