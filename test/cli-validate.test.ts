// `mlgit validate [path]`: the push-time manifest check run locally through the real CLI, inside
// and outside a git work tree, and as a git pre-commit hook.
import t from 'tap';
import { spawn } from 'node:child_process';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { GitClient } from './helpers/git-client.ts';

const CLI = path.join(fileURLToPath(new URL('..', import.meta.url)), 'scripts', 'mlgit.mjs');

function validate(cwd: string, args: string[] = [], env: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    // A configuration the server would refuse: validate must not need one.
    const child = spawn(process.execPath, [CLI, 'validate', ...args], {
      cwd,
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: cwd, LANG: 'C', PORT: 'not-a-port', DATABASE_URL: 'mysql://nope', GIT_CONFIG_NOSYSTEM: '1', ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

/** A scratch directory outside any git work tree (t.testdir lives inside this repository). */
async function scratch(t: { teardown(fn: () => Promise<void>): void }, files: Record<string, string>): Promise<string> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-validate-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  for (const [name, content] of Object.entries(files)) {
    await fs.mkdir(path.dirname(path.join(dir, name)), { recursive: true });
    await fs.writeFile(path.join(dir, name), content);
  }
  return dir;
}

const lines = (...ls: string[]): string => `${ls.join('\n')}\n`;
const MANIFEST = lines(
  'version: 1',
  'name: demo',
  'image: python:3.12-slim',
  'jobs:',
  '  train:',
  '    kind: train',
  '    command: python train.py',
  '    inputs: [train.py, data/]',
);

t.test('mlgit validate', async (t) => {
  const git = await GitClient.create(t);
  const repo = await git.workRepo('project', [{ 'train.py': 'print(1)\n', 'data/a.csv': '1\n', 'mlproject.yaml': MANIFEST }]);

  await t.test('a valid manifest in a git work tree (paths checked against the index): exit 0', async (t) => {
    const r = await validate(repo);
    t.equal(r.code, 0, r.stderr);
    t.equal(r.stdout, 'mlproject.yaml: valid\n');
    t.equal(r.stderr, '');
  });

  await t.test('errors: every one with its code frame and caret, exit 1', async (t) => {
    await fs.writeFile(path.join(repo, 'mlproject.yaml'), MANIFEST.replace('inputs: [train.py, data/]', 'inputs: [train.py, untracked.py]\n    depends_on: [prep]'));
    await fs.writeFile(path.join(repo, 'untracked.py'), 'exists on disk, not in the index\n');
    const r = await validate(repo);
    t.equal(r.code, 1);
    t.equal(
      r.stdout,
      lines(
        'mlproject.yaml:8:24: error: jobs.train.inputs[1]: path "untracked.py" is not in the git index (git add it?)',
        '    inputs: [train.py, untracked.py]',
        '                       ^',
        'mlproject.yaml:9:18: error: jobs.train.depends_on[0]: unknown job "prep"',
        '    depends_on: [prep]',
        '                 ^',
      ),
    );
    t.equal(r.stderr, 'mlproject.yaml: 2 errors\n');
  });

  await t.test('warnings only: printed, exit 0', async (t) => {
    await fs.writeFile(path.join(repo, 'mlproject.yaml'), MANIFEST.replace('python:3.12-slim', 'python:latest'));
    const r = await validate(repo);
    t.equal(r.code, 0);
    t.match(r.stdout, /^mlproject\.yaml:3:8: warning: image: image "python:latest" uses ":latest"/);
    t.match(r.stdout, /mlproject\.yaml: 1 warning\n$/);
  });

  await t.test('an explicit path: named as given, paths relative to the manifest; outside git, paths are not checked', async (t) => {
    const outside = await scratch(t, { 'sub/mlproject.yaml': MANIFEST });
    const r = await validate(outside, ['sub/mlproject.yaml']);
    t.equal(r.code, 0, r.stdout + r.stderr);
    t.equal(r.stdout, 'sub/mlproject.yaml: valid\n');
    const bad = await validate(outside, ['sub/../sub/mlproject.yaml', 'extra']);
    t.equal(bad.code, 2);
    t.match(bad.stderr, /usage: mlgit validate \[path\]/);
  });

  await t.test('files it cannot or must not read: exit 1 with a clear message', async (t) => {
    const dir = await scratch(t, { 'real.yaml': MANIFEST });
    await fs.mkdir(path.join(dir, 'dir.yaml'));
    await fs.symlink('real.yaml', path.join(dir, 'mlproject.yaml'));
    await fs.writeFile(path.join(dir, 'big.yaml'), Buffer.alloc(2 * 1024 * 1024, '#'));
    const cases: Array<[string[], RegExp]> = [
      [[], /^mlproject\.yaml:1:1: error: mlproject\.yaml is a symbolic link; the manifest must be a regular file/],
      [['missing.yaml'], /^missing\.yaml:1:1: error: cannot read missing\.yaml: no such file/],
      [['dir.yaml'], /^dir\.yaml:1:1: error: dir\.yaml is not a regular file/],
      [['big.yaml'], /^big\.yaml:1:1: error: manifest is 2097152 bytes; the limit is 1048576 bytes/],
    ];
    for (const [args, message] of cases) {
      const r = await validate(dir, args);
      t.equal(r.code, 1, args.join(' '));
      t.match(r.stdout, message);
    }
  });

  await t.test('as a git pre-commit hook: a broken manifest stops the commit', async (t) => {
    await fs.writeFile(path.join(repo, 'mlproject.yaml'), MANIFEST);
    await fs.rm(path.join(repo, 'untracked.py'));
    // The one-liner from the README, with the CLI's path spelled out for the test.
    await fs.writeFile(path.join(repo, '.git', 'hooks', 'pre-commit'), `#!/bin/sh\nexec "${process.execPath}" "${CLI}" validate\n`, { mode: 0o755 });
    await fs.writeFile(path.join(repo, 'mlproject.yaml'), MANIFEST.replace('kind: train', 'kind: trian'));
    await git.ok(['add', 'mlproject.yaml'], { cwd: repo });
    const refused = await git.run(['commit', '-m', 'typo'], { cwd: repo });
    t.not(refused.code, 0);
    t.match(refused.stdout + refused.stderr, /mlproject\.yaml:6:11: error: jobs\.train\.kind: "trian" is not one of train, evaluate, custom; did you mean "train"\?/);
    await fs.writeFile(path.join(repo, 'mlproject.yaml'), MANIFEST.replace('kind: train', 'kind: evaluate'));
    await git.ok(['add', 'mlproject.yaml'], { cwd: repo });
    const accepted = await git.run(['commit', '-m', 'fixed'], { cwd: repo });
    t.equal(accepted.code, 0, accepted.stderr);
  });
});
