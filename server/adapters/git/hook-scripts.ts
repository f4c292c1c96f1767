import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The hook program in hooks/ (bash: see its header); the per-repo scripts only source it with the hook's name. */
export const HOOK_PROGRAM = fileURLToPath(new URL('../../../hooks/mlgit-hook.bash', import.meta.url));
export const HOOK_NAMES = ['pre-receive', 'post-receive'] as const;

export function hookScript(name: string): string {
  return [
    '#!/usr/bin/env bash',
    '# Installed by mlgit; `mlgit doctor` re-installs it when missing or changed.',
    // Sourced rather than exec'd: one bash start per hook, not two.
    `. ${shellQuote(path.resolve(HOOK_PROGRAM))} ${name}`,
    '',
  ].join('\n');
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
