import { mkdir } from 'node:fs/promises';
import path from 'node:path';

/**
 * Environment for every git the benchmark runs (clients, generator, reference server): a scratch
 * HOME and no system config, so neither the developer's ~/.gitconfig nor /etc/gitconfig (a
 * credential helper, protocol.version, pack settings...) can tilt the comparison.
 */
export async function isolatedGitEnv(scratchDir: string): Promise<NodeJS.ProcessEnv> {
  const home = path.join(scratchDir, 'home');
  await mkdir(home, { recursive: true });
  return {
    PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin',
    HOME: home,
    XDG_CONFIG_HOME: path.join(home, '.config'),
    GIT_CONFIG_NOSYSTEM: '1',
    GIT_TERMINAL_PROMPT: '0',
    LC_ALL: 'C',
  };
}
