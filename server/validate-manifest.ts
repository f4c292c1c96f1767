// `mlgit validate [path]`: the push-time manifest check, run locally (a pre-commit hook, CI, an
// editor task). Same parser and format as pre-receive; inside a git work tree the paths the
// manifest names are checked against the index, as pre-receive checks them against the pushed
// tree. Loads nothing of the server.
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { DEFAULT_FILE, DEFAULT_MAX_BYTES, fileIssue, formatIssue, parseManifest, tooLargeIssue, type ManifestIssue } from '../schema/manifest.ts';

export interface ValidateOutput {
  out(text: string): void;
  err(text: string): void;
}

/** Exit code: 0 valid (warnings printed), 1 errors or an unreadable file, 2 usage. */
export function validateCommand(args: string[], io: ValidateOutput, cwd: string = process.cwd()): number {
  if (args.length > 1 || args.some((a) => a.startsWith('-'))) {
    io.err('usage: mlgit validate [path]   (default ./mlproject.yaml)\n');
    return 2;
  }
  const shown = args[0] ?? DEFAULT_FILE;
  const file = path.resolve(cwd, shown);
  const { errors, warnings } = check(file, shown);
  for (const issue of [...errors, ...warnings]) io.out(`${formatIssue(issue)}\n`);
  const summary = [errors.length ? `${errors.length} error${errors.length === 1 ? '' : 's'}` : '', warnings.length ? `${warnings.length} warning${warnings.length === 1 ? '' : 's'}` : '']
    .filter(Boolean)
    .join(', ');
  (errors.length ? io.err : io.out)(`${shown}: ${summary || 'valid'}\n`);
  return errors.length ? 1 : 0;
}

function check(file: string, shown: string): { errors: ManifestIssue[]; warnings: ManifestIssue[] } {
  const only = (issue: ManifestIssue) => ({ errors: [issue], warnings: [] });
  let stat: fs.Stats;
  try {
    stat = fs.lstatSync(file);
  } catch (err) {
    return only(fileIssue(`cannot read ${shown}: ${(err as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (err as Error).message}`, shown));
  }
  // What pre-receive refuses, refused here first.
  if (stat.isSymbolicLink()) return only(fileIssue(`${shown} is a symbolic link; the manifest must be a regular file at the repository root`, shown));
  if (!stat.isFile()) return only(fileIssue(`${shown} is not a regular file`, shown));
  if (stat.size > DEFAULT_MAX_BYTES) return only(tooLargeIssue(stat.size, DEFAULT_MAX_BYTES, shown));
  const tree = trackedPaths(path.dirname(file));
  return parseManifest(fs.readFileSync(file, 'utf8'), { file: shown, ...(tree ? { treeHasPath: (p: string) => tree.has(p), treeName: 'the git index (git add it?)' } : {}) });
}

/**
 * Files in the git index under `dir`, relative to it, with every directory above them; null
 * outside a work tree (then paths are not checked).
 */
function trackedPaths(dir: string): Set<string> | null {
  const env = { ...process.env, GIT_OPTIONAL_LOCKS: '0' };
  const inside = spawnSync('git', ['rev-parse', '--is-inside-work-tree'], { cwd: dir, env, encoding: 'utf8' });
  if (inside.status !== 0 || inside.stdout.trim() !== 'true') return null;
  const listed = spawnSync('git', ['ls-files', '-z', '--cached'], { cwd: dir, env, maxBuffer: 256 * 1024 * 1024 });
  if (listed.status !== 0) return null;
  const paths = new Set<string>();
  for (const p of listed.stdout.toString('utf8').split('\0')) {
    if (!p) continue;
    paths.add(p);
    for (let slash = p.indexOf('/'); slash > 0; slash = p.indexOf('/', slash + 1)) paths.add(p.slice(0, slash));
  }
  return paths;
}
