// The Python client, huggingface_hub, against mlgit with HF_ENDPOINT: create_repo, upload_file
// (a text file and an LFS file), list_repo_files, model_info, get_hf_file_metadata (HEAD),
// hf_hub_download, snapshot_download, list_repo_commits, delete_file, and the errors it raises.
// Needs a Python with huggingface_hub: MLGIT_TEST_HF_PYTHON names it, else `python3` is tried;
// without one the test says so and skips (CI machines have no PyPI package of it installed).
import t from 'tap';
import { execFile, spawnSync } from 'node:child_process';
import { promisify } from 'node:util';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { hubFixture } from './helpers/hf-fixture.ts';

const python = process.env.MLGIT_TEST_HF_PYTHON ?? 'python3';
const hasClient = spawnSync(python, ['-c', 'import huggingface_hub'], { stdio: 'ignore' }).status === 0;
const script = path.join(path.dirname(fileURLToPath(import.meta.url)), 'fixtures', 'hf-python-client.py');

t.test('huggingface_hub (Python) against mlgit', { skip: hasClient ? false : `no huggingface_hub for ${python} (set MLGIT_TEST_HF_PYTHON)` }, async (t) => {
  const fx = await hubFixture(t);
  const cache = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-hf-py-cache-'));
  t.teardown(() => fs.rm(cache, { recursive: true, force: true }));
  // Asynchronously: the server answering the client runs in this process.
  const run = await promisify(execFile)(python, [script], {
    encoding: 'utf8',
    timeout: 240_000,
    // huggingface_hub 1.x and 2.x upload through Xet whenever hf_xet is installed, without asking the server.
    env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: fx.git.home, HF_ENDPOINT: fx.server.url, HF_TOKEN: fx.token, HF_HUB_DISABLE_XET: '1', HF_HUB_DISABLE_TELEMETRY: '1', CACHE: cache },
  });
  t.ok(run.stdout, run.stderr.slice(-2000));
  const said = Object.fromEntries(
    run.stdout
      .split('\n')
      .filter(Boolean)
      .map((line) => {
        const [first = '', second = ''] = line.split(' ');
        const key = ['after', 'missing'].includes(first) ? `${first} ${second}` : first;
        return [key, line.slice(key.length + 1)];
      }),
  );
  t.equal(said.whoami, 'alice');
  t.equal(said.created, `${fx.server.url}/alice/from-python`);
  t.match(said.commit, /^[0-9a-f]{40}$/);
  t.equal(said.files, '.gitattributes hello.txt weights/model.safetensors');
  t.equal(said.lfs, 'weights/model.safetensors', 'the binary file went to LFS');
  t.equal(said.metadata, 'True 256001', 'HEAD metadata: X-Repo-Commit and X-Linked-Size');
  t.equal(said.download, 'True', 'byte-identical');
  t.equal(said.cached, 'True', 'the second download: an ETag check, then the cache');
  t.equal(said.snapshot, '.gitattributes hello.txt weights');
  t.equal(said.commits, 'Upload weights/model.safetensors with huggingface_hub | py upload');
  t.equal(said['after delete'], '.gitattributes weights/model.safetensors');
  t.equal(said['missing file'], 'RemoteEntryNotFoundError');
  t.equal(said['missing repo'], 'RepositoryNotFoundError');
});
