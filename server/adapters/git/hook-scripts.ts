import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The hook program in hooks/ (bash: see its header); the per-repo scripts only source it with the hook's name. */
export const HOOK_PROGRAM = fileURLToPath(new URL('../../../hooks/mlgit-hook.bash', import.meta.url));
export const HOOK_NAMES = ['pre-receive'] as const;
/** Hooks older versions installed that the server now does itself (post-receive: server/http/git/post-receive.ts). */
export const RETIRED_HOOKS = ['post-receive'] as const;
/** The line every hook mlgit installs carries, so only mlgit's own retired hooks are removed. */
export const INSTALLED_MARK = '# Installed by mlgit;';

export function hookScript(name: string): string {
  return [
    '#!/usr/bin/env bash',
    `${INSTALLED_MARK} \`mlgit doctor\` re-installs it when missing or changed.`,
    // Sourced rather than exec'd: one bash start per hook, not two.
    `. ${shellQuote(path.resolve(HOOK_PROGRAM))} ${name}`,
    '',
  ].join('\n');
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
