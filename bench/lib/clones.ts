import { mkdir, rm } from 'node:fs/promises';
import path from 'node:path';
import { runCommand, runChecked, type RunResult } from './run.ts';

/**
 * Timed `git clone --bare` runs. The client side is identical for both servers (same git, same
 * isolated config, protocol v2 by default), so wall-time differences are the servers'.
 */
export interface CloneContext {
  readonly env: NodeJS.ProcessEnv;
  /** Where clone destinations go; each batch cleans up after itself. */
  readonly scratchDir: string;
}

export interface BatchResult {
  readonly seconds: number;
  readonly failures: number;
  /** stderr of the first failed clone, to say why. */
  readonly firstError?: string;
}

let sequence = 0;

function cloneDestination(context: CloneContext): string {
  sequence += 1;
  return path.join(context.scratchDir, `clone-${process.pid}-${sequence}`);
}

function cloneOnce(context: CloneContext, url: string, dest: string): Promise<RunResult> {
  return runCommand('git', ['clone', '--bare', '-q', url, dest], { env: context.env });
}

/** `count` clones started together; the batch takes as long as the slowest one. */
export async function cloneBatch(context: CloneContext, url: string, count: number): Promise<BatchResult> {
  await mkdir(context.scratchDir, { recursive: true });
  const dests = Array.from({ length: count }, () => cloneDestination(context));
  const started = process.hrtime.bigint();
  try {
    const results = await Promise.all(dests.map((dest) => cloneOnce(context, url, dest)));
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    const failed = results.filter((result) => result.code !== 0);
    const firstError = failed[0] ? (failed[0].stderr.trim() || `exit ${failed[0].signal ?? failed[0].code}`) : undefined;
    return { seconds, failures: failed.length, ...(firstError === undefined ? {} : { firstError }) };
  } finally {
    await Promise.all(dests.map((dest) => rm(dest, { recursive: true, force: true })));
  }
}

/**
 * Clones once and checks the result has exactly the source's branches and tags: a server that
 * silently sent less would otherwise look fast. git itself already verified object connectivity.
 */
export async function verifiedClone(context: CloneContext, url: string, sourceGitDir: string): Promise<void> {
  const dest = cloneDestination(context);
  try {
    const result = await cloneOnce(context, url, dest);
    if (result.code !== 0) throw new Error(`git clone ${url} failed: ${result.stderr.trim()}`);
    const [expected, actual] = await Promise.all([listRefs(context, sourceGitDir), listRefs(context, dest)]);
    if (expected !== actual) throw new Error(`clone of ${url} has different refs than the source:\n${actual}\nexpected:\n${expected}`);
  } finally {
    await rm(dest, { recursive: true, force: true });
  }
}

async function listRefs(context: CloneContext, gitDir: string): Promise<string> {
  const args = ['--git-dir', gitDir, 'for-each-ref', '--format=%(objectname) %(refname)', 'refs/heads', 'refs/tags'];
  return (await runChecked('git', args, { env: context.env })).stdout;
}
