import { readFile, readdir } from 'node:fs/promises';

/**
 * Samples the resident memory of a process tree from /proc while a benchmark phase runs.
 *
 * Node processes and git processes (the upload-pack / pack-objects children a git server forks)
 * are summed separately: the first is the server's own footprint, the second grows with the number
 * of clones and is mostly git's pack windows, which a server cannot shrink. Anything else in the
 * tree (tsx's esbuild helper) is neither and is left out.
 */
export interface RssPeak {
  /** Highest sum of VmRSS over the node processes of the tree (the server itself), in KiB. */
  readonly nodeKb: number;
  /**
   * Highest sum of Pss over the same node processes, in KiB: RSS counts the node binary's pages
   * once per process (the server and its git spawner share them), PSS splits them between them.
   */
  readonly nodePssKb: number;
  /** Highest sum of VmRSS over the git descendants, in KiB. */
  readonly gitKb: number;
  /** Most git processes seen at once: shows the clones really overlapped. */
  readonly maxGitProcesses: number;
  readonly samples: number;
  /**
   * Highest VmRSS of the root process alone, in KiB: the server without the hook processes it
   * forks (mlgit's git hooks are node programs, so they count in nodeKb).
   */
  readonly rootKb?: number;
}

export interface RssSampler {
  stop(): Promise<RssPeak>;
}

interface ProcEntry {
  readonly ppid: number;
  readonly comm: string;
}

export function startRssSampler(rootPid: number, intervalMs = 100): RssSampler {
  let peak: RssPeak = { nodeKb: 0, nodePssKb: 0, gitKb: 0, maxGitProcesses: 0, samples: 0, rootKb: 0 };
  let running: Promise<void> = Promise.resolve();
  const timer = setInterval(() => {
    // Never overlap two scans: a slow /proc walk must not pile up behind itself.
    running = running.then(async () => {
      const sample = await sampleTree(rootPid);
      peak = {
        nodeKb: Math.max(peak.nodeKb, sample.nodeKb),
        nodePssKb: Math.max(peak.nodePssKb, sample.nodePssKb),
        gitKb: Math.max(peak.gitKb, sample.gitKb),
        maxGitProcesses: Math.max(peak.maxGitProcesses, sample.gitProcesses),
        samples: peak.samples + 1,
        rootKb: Math.max(peak.rootKb ?? 0, sample.rootKb),
      };
    });
  }, intervalMs);
  return {
    async stop() {
      clearInterval(timer);
      await running;
      return peak;
    },
  };
}

/** One reading of the node memory of the tree, in KiB: the baseline the peak should be read against. */
export async function nodeMemoryKb(rootPid: number): Promise<{ rootKb: number; nodeKb: number; nodePssKb: number }> {
  const { rootKb, nodeKb, nodePssKb } = await sampleTree(rootPid);
  return { rootKb, nodeKb, nodePssKb };
}

/** How many git processes run below `rootPid` right now (a server's background repack, hooks...). */
export async function gitProcessCount(rootPid: number): Promise<number> {
  return (await sampleTree(rootPid)).gitProcesses;
}

/** One reading of the RSS of a single process (not its children), in KiB; 0 once it is gone. */
export function processRssKb(pid: number): Promise<number> {
  return vmRssKb(pid);
}

async function sampleTree(rootPid: number): Promise<{ nodeKb: number; nodePssKb: number; gitKb: number; gitProcesses: number; rootKb: number }> {
  const table = await readProcTable();
  let nodeKb = 0;
  let nodePssKb = 0;
  let gitKb = 0;
  let gitProcesses = 0;
  let rootKb = 0;
  for (const pid of descendantsAndSelf(rootPid, table)) {
    const comm = table.get(pid)?.comm ?? '';
    if (comm === 'node') {
      const kb = await vmRssKb(pid);
      nodeKb += kb;
      nodePssKb += await pssKb(pid);
      if (pid === rootPid) rootKb = kb;
    } else if (pid === rootPid) {
      rootKb = await vmRssKb(pid);
    } else if (comm.startsWith('git')) {
      gitKb += await vmRssKb(pid);
      gitProcesses += 1;
    }
  }
  return { nodeKb, nodePssKb, gitKb, gitProcesses, rootKb };
}

// /proc/<pid>/task/<tid>/children needs CONFIG_PROC_CHILDREN, which many kernels lack; walking the
// parent pids of /proc/*/stat works everywhere.
async function readProcTable(): Promise<Map<number, ProcEntry>> {
  const table = new Map<number, ProcEntry>();
  const names = await readdir('/proc');
  await Promise.all(
    names.filter((name) => /^\d+$/.test(name)).map(async (name) => {
      const stat = await readFile(`/proc/${name}/stat`, 'utf8').catch(() => undefined);
      if (stat === undefined) return; // exited between readdir and read
      // The command name is parenthesised and may contain spaces or parentheses itself.
      const open = stat.indexOf('(');
      const close = stat.lastIndexOf(')');
      const fields = stat.slice(close + 2).split(' ');
      table.set(Number(name), { comm: stat.slice(open + 1, close), ppid: Number(fields[1]) });
    }),
  );
  return table;
}

function descendantsAndSelf(rootPid: number, table: Map<number, ProcEntry>): number[] {
  const childrenOf = new Map<number, number[]>();
  for (const [pid, entry] of table) {
    const siblings = childrenOf.get(entry.ppid) ?? [];
    siblings.push(pid);
    childrenOf.set(entry.ppid, siblings);
  }
  const result: number[] = [];
  const queue = table.has(rootPid) ? [rootPid] : [];
  while (queue.length > 0) {
    const pid = queue.shift() as number;
    result.push(pid);
    queue.push(...(childrenOf.get(pid) ?? []));
  }
  return result;
}

async function vmRssKb(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, 'utf8').catch(() => '');
  const match = /^VmRSS:\s+(\d+)\s+kB/m.exec(status);
  return match?.[1] ? Number(match[1]) : 0;
}

async function pssKb(pid: number): Promise<number> {
  const rollup = await readFile(`/proc/${pid}/smaps_rollup`, 'utf8').catch(() => '');
  const match = /^Pss:\s+(\d+)\s+kB/m.exec(rollup);
  return match?.[1] ? Number(match[1]) : 0;
}
