import { MAX_POINTER_BYTES, parseLfsPointer } from '../../../schema/lfs-pointer.ts';
import type { LfsPointer } from '../../domain/ports.ts';
import { runGit, runGitOk } from './run-git.ts';

/**
 * LFS pointers among the blobs that `tips` add to the repository (reachable from them but
 * from no existing ref), read with the push's quarantine environment.
 */
export async function newLfsPointers(cwd: string, tips: string[], env: Record<string, string>): Promise<LfsPointer[]> {
  if (tips.length === 0) return [];
  // The walk itself keeps only blobs small enough to be pointers, so one more git process
  // (cat-file --batch) reads them all and nothing sizes or reads the big ones.
  // "<sha> <path>" for blobs (paths may contain spaces), bare "<sha>" for commits.
  const filter = `--filter=combine:object:type=blob+blob:limit=${MAX_POINTER_BYTES + 1}`;
  const listed = await runGitOk(['rev-list', '--objects', filter, '--stdin', '--not', '--all'], { cwd, env, input: tips.join('\n') + '\n' });
  const pathOf = new Map<string, string>();
  for (const line of listed.split('\n')) {
    if (line.length > 41 && line[40] === ' ' && !pathOf.has(line.slice(0, 40))) pathOf.set(line.slice(0, 40), line.slice(41));
  }
  const small = [...pathOf.keys()];
  if (small.length === 0) return [];
  const contents = (await runGit(['cat-file', '--batch'], { cwd, env, input: small.join('\n') + '\n' })).stdout;
  const pointers: LfsPointer[] = [];
  let offset = 0;
  while (offset < contents.length) {
    const headerEnd = contents.indexOf(0x0a, offset);
    if (headerEnd < 0) break;
    const [sha = '', , size = '0'] = contents.toString('latin1', offset, headerEnd).split(' ');
    const body = contents.toString('utf8', headerEnd + 1, headerEnd + 1 + Number(size));
    offset = headerEnd + 1 + Number(size) + 1;
    const pointer = parseLfsPointer(body);
    if (pointer) pointers.push({ path: pathOf.get(sha) ?? sha, ...pointer });
  }
  return pointers;
}
