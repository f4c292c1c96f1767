import { readFile } from 'node:fs/promises';
import { runChecked } from './run.ts';

/**
 * CPU time from /proc, to say where a phase's wall time went: the server process's own
 * (utime + stime) and the client commands' (cutime + cstime of this process, which grows by the
 * CPU time of every child it reaps, including the children those children reaped).
 */
let ticksPerSecond: number | undefined;

async function clockTicks(): Promise<number> {
  ticksPerSecond ??= Number((await runChecked('getconf', ['CLK_TCK'])).stdout.trim()) || 100;
  return ticksPerSecond;
}

async function statFields(pid: number | 'self'): Promise<string[]> {
  const stat = await readFile(`/proc/${pid}/stat`, 'utf8');
  // Fields after the parenthesised command name, which may itself contain spaces.
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ');
}

/** utime + stime of one process, in seconds (not its children). */
export async function processCpuSeconds(pid: number): Promise<number> {
  const ticks = await clockTicks();
  const fields = await statFields(pid);
  // proc(5): utime is field 14, stime 15; fields[0] here is field 3 (state).
  return (Number(fields[11]) + Number(fields[12])) / ticks;
}

/** cutime + cstime of this process: CPU used by the children it has waited for, in seconds. */
export async function reapedChildrenCpuSeconds(): Promise<number> {
  const ticks = await clockTicks();
  const fields = await statFields('self');
  return (Number(fields[13]) + Number(fields[14])) / ticks;
}
