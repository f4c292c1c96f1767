// The pure manifest helpers the dispatcher imports (schema/manifest.ts): template interpolation is
// proved safe by running its output with /bin/sh on hostile values; trigger, branch and path globs
// and push options are table-driven.
import t from 'tap';
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import {
  interpolate,
  looseTriggers,
  matchesGlob,
  parseManifest,
  parsePushOptions,
  pathMatchesGlob,
  pathsMatch,
  refMatchesTriggers,
  shellQuote,
  TemplateError,
  type Manifest,
} from '../schema/manifest.ts';

/** Runs `command` with /bin/sh; the script prints each of its arguments as `[arg]` on its own line. */
function sh(command: string, cwd: string, env: Record<string, string> = {}): { stdout: string; status: number | null } {
  const script = `args() { for a in "$@"; do printf '[%s]\\n' "$a"; done; }\n${command}\n`;
  const r = spawnSync('/bin/sh', ['-c', script], { cwd, env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ...env }, encoding: 'utf8' });
  return { stdout: r.stdout, status: r.status };
}

const HOSTILE: Array<[string, string]> = [
  ['command substitution', '$(touch pwned)'],
  ['backticks', '`touch pwned`'],
  ['semicolon', 'a; touch pwned'],
  ['single quote', "it's'; touch pwned; '"],
  ['double quote', 'say "hi" "; touch pwned; "'],
  ['newline', 'line1\ntouch pwned\nline3'],
  ['glob', '*'],
  ['and-and', 'x && touch pwned'],
  ['leading dash', '-rf'],
  ['dollar variable', '$HOME ${PATH}'],
  ['backslashes', '\\\\ \\n \\'],
  ['empty', ''],
  ['spaces', '  two  words  '],
  ['pipe and redirect', '| touch pwned > pwned'],
];

t.test('interpolated values reach /bin/sh as one literal argument, in every quoting context', async (t) => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlgit-interp-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  fs.writeFileSync(path.join(dir, 'some-file'), '');
  const contexts: Array<[string, string, (v: string) => string]> = [
    ['unquoted', 'args ${{ params.v }}', (v) => `[${v}]\n`],
    ['unquoted, glued to text', 'args pre-${{params.v}}-post', (v) => `[pre-${v}-post]\n`],
    ['inside double quotes', 'args "pre ${{ params.v }} post"', (v) => `[pre ${v} post]\n`],
    ['inside single quotes', "args 'pre ${{ params.v }} post'", (v) => `[pre ${v} post]\n`],
    ['twice, after a simple ${VAR}', 'args ${HOME} ${{ params.v }} "${{ params.v }}"', (v) => `[/h]\n[${v}]\n[${v}]\n`],
  ];
  for (const [contextName, template, expected] of contexts) {
    for (const [valueName, value] of HOSTILE) {
      const command = interpolate(template, { 'params.v': value });
      const r = sh(command, dir, { HOME: '/h' });
      t.equal(r.stdout, expected(value), `${contextName}: ${valueName}`);
      t.notOk(fs.existsSync(path.join(dir, 'pwned')), `${contextName}: ${valueName} executed nothing`);
    }
  }
});

t.test('interpolate: every documented name, and outputs_dir as a shell expansion the runtime fills', async (t) => {
  const values = {
    'params.C': '0.5',
    'datasets.digits.path': 'data/digits.csv',
    'matrix.lr': '0.01',
    'commit.sha': 'a'.repeat(40),
    'commit.short': 'aaaaaaa',
    ref: 'refs/heads/main',
    'job.name': 'train[lr=0.01]',
    'run.id': '12',
  };
  const template = Object.keys(values).map((name) => `\${{ ${name} }}`).join(' ');
  t.equal(interpolate(template, values), Object.values(values).map(shellQuote).join(' '));
  t.equal(interpolate('--out ${{ outputs_dir }}/model.joblib', {}), '--out "${MLP_OUTPUT_DIR}"/model.joblib');

  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'mlgit-interp-'));
  t.teardown(() => fs.rmSync(dir, { recursive: true, force: true }));
  const out = '/tmp/out dir $(touch pwned) *';
  for (const template of ['args ${{ outputs_dir }}/m', 'args "${{ outputs_dir }}/m"', "args '${{ outputs_dir }}/m'", 'args ${{outputs_dir}}_x']) {
    const suffix = template.includes('_x') ? '_x' : '/m';
    t.equal(sh(interpolate(template, {}), dir, { MLP_OUTPUT_DIR: out }).stdout, `[${out}${suffix}]\n`, template);
  }
  t.notOk(fs.existsSync(path.join(dir, 'pwned')));
  t.equal(shellQuote("it's"), `'it'\\''s'`);
});

t.test('interpolate refuses unknown names and places where a value cannot be quoted safely', async (t) => {
  const values = { 'params.v': 'x' };
  const cases: Array<[string, RegExp]> = [
    ['python ${{ params.nope }}', /unknown template \$\{\{ params.nope \}\}/],
    ['python ${{ secrets.token }}', /no value for "secrets.token"/],
    ['python ${{ params.v }', /unterminated template/],
    ['echo $(cat ${{ params.v }})', /after a \$\(\.\.\.\) command substitution/],
    ['echo "$(cat ${{ params.v }})"', /after a \$\(\.\.\.\) command substitution/],
    ['echo `cat ${{ params.v }}`', /after a `...` command substitution/],
    ['echo \\${{ params.v }}', /cannot follow a backslash/],
    ['echo "\\${{ params.v }}"', /cannot follow a backslash/],
    ['echo ok # ${{ params.v }}', /after a # comment/],
    ['cat <<EOF\n${{ params.v }}\nEOF', /after a here-document/],
    ['echo ${X:-${{ params.v }}}', /parameter expansion with operators/],
  ];
  for (const [template, message] of cases) {
    t.throws(() => interpolate(template, values), message, JSON.stringify(template));
    t.throws(() => interpolate(template, values), TemplateError);
  }
  // A `#` inside a word, `$VAR`, `${VAR}` and quotes before the template are fine.
  t.equal(interpolate('a#b $HOME ${HOME} "q" \'s\' ${{ params.v }}', values), `a#b $HOME \${HOME} "q" 's' 'x'`);
});

t.test('the parser reports unsafe template places in commands at push, with line and column', async (t) => {
  const text = [
    'version: 1',
    'name: demo',
    'image: python:3.12-slim',
    'params: {schema: {lr: {type: float, default: 0.1}}}',
    'jobs:',
    '  train:',
    '    kind: train',
    '    command: echo $(cat ${{ params.lr }})',
    '    env: {LR: "$(x) ${{ params.lr }}"}',
    '',
  ].join('\n');
  const r = parseManifest(text);
  t.equal(r.errors.length, 1, 'env values are not shell commands: only the command is flagged');
  t.match(r.errors[0], { line: 8, column: 25, path: 'jobs.train.command', message: /cannot be quoted safely/ });
});

t.test('globs: * stays in a segment, ** crosses, leading **/ matches no directory too', async (t) => {
  const cases: Array<[string, string, boolean]> = [
    ['main', 'main', true],
    ['main', 'main2', false],
    ['exp/*', 'exp/a', true],
    ['exp/*', 'exp/a/b', false],
    ['exp/**', 'exp/a/b', true],
    ['exp/**', 'exp', false],
    ['release-*', 'release-1.2', true],
    ['*', 'feature/x', false],
    ['**', 'feature/x', true],
    ['v?.*', 'v1.0', true],
    ['v?.*', 'v10.0', false],
    ['**/test', 'test', true],
    ['**/test', 'a/b/test', true],
    ['**/test', 'atest', false],
    ['a/**/b', 'a/b', true],
    ['a/**/b', 'a/x/y/b', true],
    ['src/*.py', 'src/train.py', true],
    ['src/*.py', 'src/sub/train.py', false],
    ['a.b', 'axb', false],
    ['(x)+[y]', '(x)+[y]', true],
    ['', '', true],
    ['', 'x', false],
  ];
  for (const [pattern, value, expected] of cases) t.equal(matchesGlob(pattern, value), expected, `${pattern} ~ ${value}`);
  // A pattern built to make a backtracking matcher explode stays linear here.
  const start = performance.now();
  t.equal(matchesGlob('*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b', 'a'.repeat(5000)), false);
  t.ok(performance.now() - start < 1000, 'pathological pattern answers quickly');

  const paths: Array<[string, string, boolean]> = [
    ['data', 'data/digits.csv', true],
    ['data/', 'data/digits.csv', true],
    ['data/**', 'data/a/b.csv', true],
    ['./train.py', 'train.py', true],
    ['data', 'database.csv', false],
    ['*.md', 'README.md', true],
    ['*.md', 'docs/a.md', false],
    ['**/*.md', 'docs/a.md', true],
    ['docs/*', 'docs/a/b.md', true],
    ['', 'x', false],
  ];
  for (const [pattern, p, expected] of paths) t.equal(pathMatchesGlob(pattern, p), expected, `path ${pattern} ~ ${p}`);
});

t.test('refMatchesTriggers', async (t) => {
  const triggers: Manifest['triggers'] = {
    push: { branches: ['main', 'exp/**'], branches_ignore: ['exp/wip-*'], jobs: ['train'] },
    tag: { tags: ['v*'], jobs: ['train', 'evaluate'] },
  };
  const cases: Array<[string, { triggers?: Manifest['triggers'] }, string, { push: boolean; jobs: string[] | null }]> = [
    ['no triggers: default branch runs everything', {}, 'refs/heads/main', { push: true, jobs: null }],
    ['no triggers: other branches do not run', {}, 'refs/heads/dev', { push: false, jobs: [] }],
    ['no triggers: tags do not run', {}, 'refs/tags/v1', { push: false, jobs: [] }],
    ['branch in the list', { triggers }, 'refs/heads/main', { push: true, jobs: ['train'] }],
    ['branch under a ** glob', { triggers }, 'refs/heads/exp/a/b', { push: true, jobs: ['train'] }],
    ['ignored branch', { triggers }, 'refs/heads/exp/wip-1', { push: false, jobs: [] }],
    ['branch not listed', { triggers }, 'refs/heads/dev', { push: false, jobs: [] }],
    ['tag matching', { triggers }, 'refs/tags/v1.0', { push: true, jobs: ['train', 'evaluate'] }],
    ['tag not matching', { triggers }, 'refs/tags/nightly', { push: false, jobs: [] }],
    ['notes never run', { triggers }, 'refs/notes/mlproject', { push: false, jobs: [] }],
    ['push without branches: every branch, every job', { triggers: { push: {} } }, 'refs/heads/anything/x', { push: true, jobs: null }],
    ['only ignore list', { triggers: { push: { branches_ignore: ['tmp/*'] } } }, 'refs/heads/tmp/x', { push: false, jobs: [] }],
    ['triggers without push: branches do not run', { triggers: { manual: { jobs: ['train'] } } }, 'refs/heads/main', { push: false, jobs: [] }],
    ['tag trigger without tags: every tag', { triggers: { tag: {} } }, 'refs/tags/x', { push: true, jobs: null }],
  ];
  for (const [name, manifest, ref, expected] of cases) t.same(refMatchesTriggers(manifest, ref, 'main'), expected, name);
  t.same(refMatchesTriggers({}, 'refs/heads/trunk', 'trunk'), { push: true, jobs: null }, 'the default branch is the repo setting');
});

t.test('looseTriggers reads triggers of an invalid manifest, counting doubt as "runs"', async (t) => {
  const runs = (data: unknown, ref: string): boolean => refMatchesTriggers(looseTriggers(data), ref, 'main').push;
  t.equal(runs(null, 'refs/heads/feature'), true, 'unreadable YAML: every ref');
  t.equal(runs('text', 'refs/tags/v1'), true, 'not a mapping: every ref');
  t.equal(runs({ version: 2 }, 'refs/heads/feature'), false, 'no triggers: only the default branch');
  t.equal(runs({ version: 2 }, 'refs/heads/main'), true);
  t.equal(runs({ on: { push: {} } }, 'refs/heads/feature'), false, '`on:` is not `triggers:`');
  t.equal(runs({ triggers: 'yes' }, 'refs/heads/feature'), true, 'malformed triggers: every ref');
  t.equal(runs({ triggers: { push: { branches: 'main' } } }, 'refs/heads/feature'), true, 'malformed branch list: every branch');
  t.equal(runs({ triggers: { push: { branches: ['main'], branches_ignore: 7 } } }, 'refs/heads/main'), true, 'malformed ignore list: ignores nothing');
  t.equal(runs({ triggers: { push: { branches: ['main'] }, jobs: 3 } }, 'refs/heads/feature'), false, 'a valid branch list still filters');
  t.equal(runs({ triggers: { manual: {} } }, 'refs/heads/main'), false);
});

t.test('pathsMatch', async (t) => {
  const cases: Array<[string, { paths?: string[]; paths_ignore?: string[] }, string[], boolean]> = [
    ['no filter', {}, ['x'], true],
    ['no filter, nothing changed', {}, [], true],
    ['paths hit', { paths: ['src/**', 'train.py'] }, ['README.md', 'src/a/b.py'], true],
    ['paths miss', { paths: ['src/**'] }, ['README.md'], false],
    ['a directory covers its files', { paths: ['data'] }, ['data/digits.csv'], true],
    ['all ignored', { paths_ignore: ['docs/**', '*.md'] }, ['docs/a.md', 'README.md'], false],
    ['one not ignored', { paths_ignore: ['docs/**'] }, ['docs/a.md', 'train.py'], true],
    ['paths and ignore', { paths: ['src/**'], paths_ignore: ['src/tests/**'] }, ['src/tests/t.py'], false],
    ['paths and ignore, one left', { paths: ['src/**'], paths_ignore: ['src/tests/**'] }, ['src/tests/t.py', 'src/m.py'], true],
    ['filter, nothing changed', { paths: ['src/**'] }, [], false],
  ];
  for (const [name, filter, changed, expected] of cases) t.equal(pathsMatch(filter, changed), expected, name);
});

t.test('parsePushOptions', async (t) => {
  const cases: Array<[string[], boolean]> = [
    [[], false],
    [['ci.skip'], true],
    [['ci.skip=true'], true],
    [['ci.skip=TRUE'], true],
    [['ci.skip=false'], false],
    [['ci.skip=no'], false],
    [['merge_request.create', 'ci.skip'], true],
    [['ci.skipped'], false],
    [['something=else', ''], false],
  ];
  for (const [options, ciSkip] of cases) t.same(parsePushOptions(options), { ciSkip }, JSON.stringify(options));
});
