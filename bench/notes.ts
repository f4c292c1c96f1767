/**
 * Results-notes benchmark (issue 4, "Quality bars", bench (d)): 50 runs finishing at once on one
 * commit, their refreshes split over two NotesWriters with separate git backends (two server
 * processes racing through the compare-and-swap on refs/notes/mlproject of one bare repo).
 * Reports, per round and as the median over rounds: time from the first completion until every
 * refresh has resolved (the note has converged), JSON lines lost (must be 0), CAS conflicts,
 * notes commits written and renders.
 *
 *   node --import tsx bench/notes.ts [--rounds 5] [--completions 50] [--writers 2]
 *                                    [--render-ms 2] [--spread-ms 0]
 *
 * (or BENCH_NOTES_ROUNDS, BENCH_NOTES_COMPLETIONS, BENCH_NOTES_WRITERS, BENCH_NOTES_RENDER_MS,
 * BENCH_NOTES_SPREAD_MS). `--render-ms` stands for the Postgres query that renders the note;
 * `--spread-ms` spreads the completions over that window instead of one instant. Exits non-zero
 * when a line is lost or a refresh fails.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { GitCliBackend } from '../server/adapters/git/git-cli-backend.ts';
import { parseNoteJson, renderNote, type NoteRun } from '../server/domain/note-format.ts';
import { NotesWriter } from '../server/domain/notes-writer.ts';
import { NOTES_REF } from '../server/domain/ports.ts';
import { cleanupOnSignals, onCleanup, runBenchMain } from './lib/cleanup.ts';
import { isolatedGitEnv } from './lib/git-env.ts';
import { parseKnobs, type Knob } from './lib/options.ts';
import { runChecked } from './lib/run.ts';
import { median } from './lib/stats.ts';

const KNOBS = {
  rounds: { flag: 'rounds', env: 'BENCH_NOTES_ROUNDS', fallback: 5, min: 1 },
  completions: { flag: 'completions', env: 'BENCH_NOTES_COMPLETIONS', fallback: 50, min: 1 },
  writers: { flag: 'writers', env: 'BENCH_NOTES_WRITERS', fallback: 2, min: 1 },
  renderMs: { flag: 'render-ms', env: 'BENCH_NOTES_RENDER_MS', fallback: 2, min: 0 },
  spreadMs: { flag: 'spread-ms', env: 'BENCH_NOTES_SPREAD_MS', fallback: 0, min: 0 },
} as const satisfies Record<string, Knob>;

type Options = { readonly [K in keyof typeof KNOBS]: number };

interface Round {
  seconds: number;
  lines: number;
  lost: number;
  conflicts: number;
  writes: number;
  renders: number;
  failures: number;
}

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** A commit on main of a fresh bare repo, made with plumbing (no hooks, no server). */
async function repoWithCommit(git: GitCliBackend, repoId: number, env: NodeJS.ProcessEnv): Promise<string> {
  await git.create(repoId, 'main');
  const cwd = git.repoPath(repoId);
  const blob = (await runChecked('git', ['hash-object', '-w', '--stdin'], { cwd, env, input: `round ${repoId}\n` })).stdout.trim();
  const tree = (await runChecked('git', ['mktree'], { cwd, env, input: `100644 blob ${blob}\tREADME\n` })).stdout.trim();
  const commit = (await runChecked('git', ['commit-tree', tree, '-m', 'train'], { cwd, env })).stdout.trim();
  await runChecked('git', ['update-ref', 'refs/heads/main', commit], { cwd, env });
  return commit;
}

async function runRound(dataDir: string, repoId: number, options: Options, env: NodeJS.ProcessEnv): Promise<Round> {
  const backends = Array.from({ length: options.writers }, () => new GitCliBackend(dataDir, 1024 * 1024 * 1024));
  const commit = await repoWithCommit(backends[0] as GitCliBackend, repoId, env);
  // The source of truth the writers render from (Postgres in production).
  const runs: NoteRun[] = [];
  let renders = 0;
  const render = async (_repoId: number, sha: string): Promise<string | null> => {
    renders += 1;
    if (options.renderMs > 0) await sleep(options.renderMs);
    return renderNote({ project: 'bench', commitSha: sha, runs: [...runs] });
  };
  const writers = backends.map((git) => new NotesWriter(git, render));

  let failures = 0;
  const started = performance.now();
  await Promise.all(
    Array.from({ length: options.completions }, async (_, i) => {
      if (options.spreadMs > 0) await sleep(Math.random() * options.spreadMs);
      runs.push({ job: `job-${String(i).padStart(3, '0')}`, status: 'success', durationMs: 1000, runId: i + 1, metrics: { accuracy: i / options.completions } });
      await (writers[i % writers.length] as NotesWriter).refresh(repoId, commit).catch(() => (failures += 1));
    }),
  );
  const seconds = (performance.now() - started) / 1000;

  const note = await runChecked('git', ['notes', `--ref=${NOTES_REF}`, 'show', commit], { cwd: backends[0]!.repoPath(repoId), env });
  const ids = new Set(parseNoteJson(note.stdout).map((row) => row.run));
  let lost = 0;
  for (let i = 1; i <= options.completions; i += 1) if (!ids.has(i)) lost += 1;
  return {
    seconds,
    lines: ids.size,
    lost,
    conflicts: writers.reduce((sum, w) => sum + w.conflicts, 0),
    writes: writers.reduce((sum, w) => sum + w.writes, 0),
    renders,
    failures,
  };
}

async function main(): Promise<number> {
  cleanupOnSignals();
  const options: Options = parseKnobs(process.argv.slice(2), process.env, KNOBS, {});
  const scratch = await mkdtemp(path.join(os.tmpdir(), 'mlgit-bench-notes-'));
  onCleanup(() => rm(scratch, { recursive: true, force: true }));
  const env = { ...(await isolatedGitEnv(scratch)), GIT_AUTHOR_NAME: 'bench', GIT_AUTHOR_EMAIL: 'bench@localhost', GIT_COMMITTER_NAME: 'bench', GIT_COMMITTER_EMAIL: 'bench@localhost' };
  const dataDir = path.join(scratch, 'data');

  console.log(
    `notes: ${options.completions} completions on one commit, ${options.writers} writer(s), render ${options.renderMs} ms, ` +
      `spread ${options.spreadMs} ms, ${options.rounds} round(s)`,
  );
  const rounds: Round[] = [];
  for (let r = 1; r <= options.rounds; r += 1) {
    const round = await runRound(dataDir, r, options, env);
    rounds.push(round);
    console.log(
      `  round ${r}: converged in ${round.seconds.toFixed(3)} s, ${round.lines}/${options.completions} lines, lost ${round.lost}, ` +
        `conflicts ${round.conflicts}, writes ${round.writes}, renders ${round.renders}${round.failures ? `, FAILED refreshes ${round.failures}` : ''}`,
    );
  }
  const lost = rounds.reduce((sum, r) => sum + r.lost, 0);
  const failures = rounds.reduce((sum, r) => sum + r.failures, 0);
  console.log(
    `notes: time to converge median ${median(rounds.map((r) => r.seconds)).toFixed(3)} s (of ${rounds.length}); ` +
      `lines lost ${lost} (must be 0) ${lost === 0 ? 'PASS' : 'FAIL'}; ` +
      `conflicts ${rounds.map((r) => r.conflicts).join(' ')} (median ${median(rounds.map((r) => r.conflicts))}); ` +
      `writes median ${median(rounds.map((r) => r.writes))}; failed refreshes ${failures}`,
  );
  return lost === 0 && failures === 0 ? 0 : 1;
}

await runBenchMain('notes benchmark', main);
