// A server with a model repository pushed by the real git and git-lfs clients, for the Hugging
// Face API tests: a text file, a folder, an LFS file over the HF clients' LFS threshold, a tag and
// a second branch.
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import type { Config } from '../../server/config.ts';
import { GitClient } from './git-client.ts';
import { startS3rver, S3RVER_BUCKET } from './s3rver.ts';
import { startServer, type TestServer } from './server.ts';

type Teardown = { teardown(fn: () => Promise<void> | void): void };

export interface HubFixture {
  server: TestServer;
  git: GitClient;
  /** `hf_` + alice's mlgit token, as HF clients want it. */
  token: string;
  owner: string;
  files: { readme: string; config: string; weights: Buffer };
  /** Commits of `main` (first, second) and of branch `dev`. */
  commits: { first: string; main: string; dev: string };
  /** A clone of the repository with git-lfs set up, remote `origin` with alice's credentials. */
  workdir: string;
}

export const README = '---\nlibrary_name: scikit-learn\npipeline_tag: tabular-classification\nlicense: mit\ntags:\n  - digits\n---\n# Tiny model\n';

/** The object stores to run against: mlgit's local store, and S3 (s3rver: presigned URLs). */
export const STORES: Record<'local' | 's3', (t: Teardown) => Promise<Partial<Config>>> = {
  local: async () => ({}),
  s3: async (t) => {
    const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-s3rver-'));
    const s3 = await startS3rver(dir);
    t.teardown(async () => {
      await s3.stop();
      await fs.rm(dir, { recursive: true, force: true });
    });
    return { s3: { endpoint: `http://127.0.0.1:${s3.port}`, bucket: S3RVER_BUCKET, region: 'us-east-1', accessKeyId: 'S3RVER', secretAccessKey: 'S3RVER', forcePathStyle: true } };
  },
};

export async function hubFixture(t: Teardown, options: { config?: Partial<Config>; repo?: string; private?: boolean } = {}): Promise<HubFixture> {
  const server = await startServer(t, { config: options.config });
  const alice = await server.user('alice', ['read', 'write', 'tokens']);
  const git = await GitClient.create(t);
  await git.enableLfs();
  const name = options.repo ?? 'tiny';
  const created = await server.api('POST', '/api/v1/repos', { auth: alice.token, body: { name, private: options.private ?? false } });
  if (created.status !== 201) throw new Error(`create repo: ${created.status}`);
  const files = { readme: README, config: '{"n_estimators": 10}\n', weights: randomBytes(300 * 1024) };
  const workdir = await git.workRepo(name, []);
  await git.ok(['lfs', 'track', '*.bin'], { cwd: workdir });
  const first = await git.commit(workdir, { 'README.md': files.readme, 'config.json': '{}\n' }, 'first');
  const main = await git.commit(workdir, { 'config.json': files.config, 'model/weights.bin': files.weights, 'model/notes.txt': 'notes\n' }, 'add weights');
  await git.ok(['tag', 'v1', first], { cwd: workdir });
  await git.ok(['checkout', '-q', '-b', 'dev'], { cwd: workdir });
  const dev = await git.commit(workdir, { 'dev.txt': 'dev only\n' }, 'dev work');
  await git.ok(['checkout', '-q', 'main'], { cwd: workdir });
  await git.ok(['remote', 'add', 'origin', server.gitUrl('alice', name, alice.tokenBasic)], { cwd: workdir });
  await git.ok(['push', '-q', 'origin', 'main', 'dev', 'v1'], { cwd: workdir });
  return { server, git, token: `hf_${alice.token}`, owner: 'alice', files, commits: { first, main, dev }, workdir };
}
