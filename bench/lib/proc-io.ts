import { readFile } from 'node:fs/promises';

/**
 * I/O counters of one process from /proc/<pid>/io. `rchar` counts every byte the process read
 * through read()-like calls (sockets and files alike), so its growth over a phase is an upper
 * bound on the request bytes a server received in that phase.
 */
export interface ProcIo {
  readonly rchar: number;
  readonly wchar: number;
  /** Bytes actually fetched from the storage layer. */
  readonly readBytes: number;
  /** Bytes sent to the storage layer. */
  readonly writeBytes: number;
}

export async function readProcIo(pid: number): Promise<ProcIo> {
  const text = await readFile(`/proc/${pid}/io`, 'utf8');
  const field = (name: string): number => {
    const match = new RegExp(`^${name}:\\s+(\\d+)`, 'm').exec(text);
    if (!match?.[1]) throw new Error(`/proc/${pid}/io has no ${name}`);
    return Number(match[1]);
  };
  return { rchar: field('rchar'), wchar: field('wchar'), readBytes: field('read_bytes'), writeBytes: field('write_bytes') };
}

export function ioDelta(before: ProcIo, after: ProcIo): ProcIo {
  return {
    rchar: after.rchar - before.rchar,
    wchar: after.wchar - before.wchar,
    readBytes: after.readBytes - before.readBytes,
    writeBytes: after.writeBytes - before.writeBytes,
  };
}
