import fs from 'node:fs/promises';
import { sql } from 'kysely';
import { describeSandbox } from '../runner/runtime/index.ts';
import type { Services } from './app.ts';
import type { Config } from './config.ts';
import { listAllRepos } from './db/repos.ts';

const MIN_GIT = [2, 31];

/** Checks what mlgit depends on and repairs what it safely can (hooks). Returns the exit code. */
export async function runDoctor(services: Services, config: Config, say: (line: string) => void): Promise<number> {
  let problems = 0;
  const check = (ok: boolean, line: string) => {
    say(`${ok ? 'ok  ' : 'FAIL'} ${line}`);
    if (!ok) problems++;
  };

  const version = await services.git.version().catch(() => 'not found');
  const [major = 0, minor = 0] = (/(\d+)\.(\d+)/.exec(version) ?? []).slice(1).map(Number);
  check(major > MIN_GIT[0]! || (major === MIN_GIT[0] && minor >= MIN_GIT[1]!), `git: ${version} (need >= ${MIN_GIT.join('.')})`);

  const writable = await fs.access(config.dataDir, fs.constants.W_OK).then(() => true, () => false);
  check(writable, `data dir ${config.dataDir} is writable`);

  const dbOk = await sql`select 1`.execute(services.db).then(() => true, () => false);
  check(dbOk, `database reachable (${config.databaseUrl ? 'postgres' : 'embedded PGlite'})`);

  const { runs } = config;
  const sandbox = describeSandbox({ kind: runs.runtime, dockerSocket: runs.dockerSocket, unsafeNoSandbox: runs.unsafeNoSandbox, kubernetes: runs.kubernetes });
  check(sandbox.ok, `job isolation: ${sandbox.summary}`);

  const repos = await listAllRepos(services.db);
  let repaired = 0;
  let repairedRefs = 0;
  for (const repo of repos) {
    if (!(await services.git.exists(repo.id))) {
      check(false, `repository ${repo.owner}/${repo.name} (id ${repo.id}) is missing on disk`);
      continue;
    }
    if (await services.git.ensureHooks(repo.id)) {
      repaired++;
      say(`fix  re-installed hooks in ${repo.owner}/${repo.name}`);
    }
    // Model refs follow the registry's rows; a git write that failed after its row committed is redone here.
    const refs = await services.registry.repairRefs(repo.id);
    if (refs > 0) {
      repairedRefs += refs;
      say(`fix  restored ${refs} model ref(s) under refs/models/ in ${repo.owner}/${repo.name}`);
    }
  }
  check(true, `hooks present in ${repos.length} repositories (${repaired} repaired)`);
  check(true, `model refs match the registry (${repairedRefs} restored)`);
  say(problems === 0 ? 'all checks passed' : `${problems} problem(s) found`);
  return problems === 0 ? 0 : 1;
}
