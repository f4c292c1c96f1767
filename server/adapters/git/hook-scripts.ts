import path from 'node:path';
import { fileURLToPath } from 'node:url';

/** The hook program in hooks/; the per-repo scripts only exec it with the hook's name. */
export const HOOK_PROGRAM = fileURLToPath(new URL('../../../hooks/mlgit-hook.mjs', import.meta.url));
export const HOOK_NAMES = ['pre-receive', 'post-receive'] as const;

export function hookScript(name: string): string {
  return [
    '#!/bin/sh',
    '# Installed by mlgit; `mlgit doctor` re-installs it when missing or changed.',
    `exec ${shellQuote(process.execPath)} ${shellQuote(path.resolve(HOOK_PROGRAM))} ${name}`,
    '',
  ].join('\n');
}

function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}
