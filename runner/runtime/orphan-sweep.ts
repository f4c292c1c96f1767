import { randomUUID } from 'node:crypto';
import os from 'node:os';
import type Docker from 'dockerode';

/** On every job container: how a sweep finds them all. */
export const JOB_LABEL = 'io.mlgit.job';
/** Which runner process made the container: `<host>/<pid>/<instance>`. */
export const OWNER_LABEL = 'io.mlgit.runner';
/** How often a live runner looks for containers its dead peers left. */
export const ORPHAN_SWEEP_INTERVAL_MS = 60_000;

export interface RunnerProcess {
  readonly host: string;
  readonly pid: number;
  /** Unique per process start: a restarted runner in a container often gets its predecessor's pid. */
  readonly instance: string;
}

const SELF: RunnerProcess = { host: os.hostname(), pid: process.pid, instance: randomUUID() };

export function jobLabels(self: RunnerProcess = SELF): Record<string, string> {
  return { [JOB_LABEL]: 'true', [OWNER_LABEL]: `${self.host}/${self.pid}/${self.instance}` };
}

/**
 * Whether a job container's runner is surely gone. Only runners of this host can be judged (a
 * process is looked up by its pid): another host's orphans are its own runners' to sweep. A
 * container without an owner, or whose owner's pid is alive, is left alone: a pid reused by an
 * unrelated process keeps an orphan until that process ends, never kills a live job.
 */
export function isOrphan(owner: string | undefined, self: RunnerProcess, alive: (pid: number) => boolean): boolean {
  const match = owner === undefined ? null : /^(.*)\/(\d+)\/([^/]+)$/.exec(owner);
  if (!match) return false;
  const [, host, pid, instance] = match;
  if (host !== self.host || instance === self.instance) return false;
  if (Number(pid) === self.pid) return true;
  return !alive(Number(pid));
}

function processAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM: it exists, under another user.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** Removes (killing first) the job containers on this engine whose runner died; returns their ids. */
export async function sweepOrphans(docker: Docker, self: RunnerProcess = SELF, alive = processAlive): Promise<string[]> {
  const containers = await docker.listContainers({ all: true, filters: { label: [JOB_LABEL] } });
  const orphans = containers.filter((c) => isOrphan(c.Labels[OWNER_LABEL], self, alive));
  const removed: string[] = [];
  for (const orphan of orphans) {
    try {
      await docker.getContainer(orphan.Id).remove({ force: true });
      removed.push(orphan.Id);
    } catch (err) {
      // Removed meanwhile (another runner's sweep): nothing left to do.
      if ((err as { statusCode?: number }).statusCode !== 404) throw err;
    }
  }
  return removed;
}
