// The runs a push creates use what pre-receive read of the pushed commit (the params file and the
// ids of the inputs: server/domain/manifest-gate.ts readsForRuns), where a manual run of the same
// commit reads them from git (GitBackend.readFileAt, pathIds). Both must give the same params and
// the same cache keys, for every kind of input: a directory, a glob, a file, a dataset in the
// repository, a pattern without a literal prefix (the whole tree) and no inputs at all.
import t from 'tap';
import { GitClient } from './helpers/git-client.ts';
import { manifest, pushProject, startRunsServer } from './helpers/runs.ts';

// No job but uses-data takes the dataset (by default every job does).
const job = (name: string, inputs: string | null) =>
  `  ${name}:\n    kind: train\n    command: echo \${{ params.lr }} \${{ params.depth }}\n    datasets: []\n${inputs === null ? '' : `    inputs: ${inputs}\n`}`;

const PROJECT = manifest(`params:
  schema:
    lr: {type: float, default: 0.1}
    depth: {type: int, default: 3}
datasets:
  local: {path: data/}
jobs:
${job('dir', '[src/]')}${job('glob', '["data/*.csv", train.py]')}${job('nested', '[src/lib/util.py]')}${job('anywhere', '["**/*.py"]')}${job('whole', null)}  uses-data:
    kind: train
    command: echo \${{ datasets.local.path }}
    datasets: [local]
    inputs: [train.py]
`);

const FILES = {
  'mlproject.yaml': PROJECT,
  'params.yaml': 'lr: 0.5\n',
  'train.py': 'print(1)\n',
  'src/main.py': 'print(2)\n',
  'src/lib/util.py': 'print(3)\n',
  'data/a.csv': 'x\n1\n',
  'data/b.csv': 'x\n2\n',
  'data/notes.txt': 'not an input of glob\n',
  'README.md': 'not an input of most jobs\n',
};

interface RunView {
  job: string;
  cache_key: string | null;
}

t.test('a pushed commit and a manual run of it: same params, same cache keys', async (t) => {
  const server = await startRunsServer(t, { runner: 'off' }, { database: 'pglite' });
  const client = await GitClient.create(t);
  const alice = await server.user('alice');
  const runsOf = async (sha: string, trigger: string): Promise<RunView[]> => {
    const listed = await server.api('GET', `/api/v1/repos/alice/reads/runs?commit=${sha}&per_page=100`, { auth: alice.basic });
    const ids = (listed.body as { id: number; trigger: string }[]).filter((r) => r.trigger === trigger).map((r) => r.id);
    const runs = await Promise.all(ids.map(async (id) => (await server.api('GET', `/api/v1/repos/alice/reads/runs/${id}`, { auth: alice.basic })).body as RunView));
    return runs.sort((a, b) => a.job.localeCompare(b.job));
  };
  const keysOf = (runs: RunView[]) => runs.map((r) => [r.job, r.cache_key]);
  const movedBetween = (before: RunView[], after: RunView[]) => after.filter((run, i) => run.cache_key !== before[i]!.cache_key).map((r) => r.job);

  const { sha, push, dir } = await pushProject(server, client, alice, 'reads', FILES);
  t.equal(push.code, 0, push.stderr);
  const pushed = await runsOf(sha, 'push');
  t.equal(pushed.length, 6, 'one run per job');
  t.ok(pushed.every((r) => typeof r.cache_key === 'string' && r.cache_key.length === 64), 'every run has a cache key');
  const manual = await server.api('POST', '/api/v1/repos/alice/reads/runs', { auth: alice.basic, body: { ref: sha } });
  t.equal(manual.status, 201, JSON.stringify(manual.body));
  t.same(keysOf(await runsOf(sha, 'manual')), keysOf(pushed), 'read from git: the same keys');

  // Changing one file moves exactly the keys of the jobs that take it as an input.
  const next = await client.commit(dir, { 'data/b.csv': 'x\n3\n' }, 'new data');
  const second = await client.run(['push', 'origin', 'main'], { cwd: dir });
  t.equal(second.code, 0, second.stderr);
  const after = await runsOf(next, 'push');
  // A pattern without a literal prefix (**/*.py) takes the whole tree, as no inputs do; it must not
  // hide the other jobs' inputs (it once made every prefixed input read as missing).
  t.same(movedBetween(pushed, after), ['anywhere', 'glob', 'uses-data', 'whole'], 'the glob over data/*.csv, the dataset data/ and the whole tree; not src/ or src/lib/util.py');

  // The params file is read at the commit too: a new value moves every key.
  const third = await client.commit(dir, { 'params.yaml': 'lr: 0.25\n' }, 'new lr');
  t.equal((await client.run(['push', 'origin', 'main'], { cwd: dir })).code, 0);
  const retuned = await runsOf(third, 'push');
  t.same(movedBetween(after, retuned), ['anywhere', 'dir', 'glob', 'nested', 'uses-data', 'whole'], 'params.yaml read at the pushed commit');
  const manualThird = await server.api('POST', '/api/v1/repos/alice/reads/runs', { auth: alice.basic, body: { ref: third } });
  t.equal(manualThird.status, 201);
  t.same(keysOf(await runsOf(third, 'manual')), keysOf(retuned), 'and from git: the same keys');});
