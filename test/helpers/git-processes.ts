import fs from 'node:fs/promises';
import path from 'node:path';

/** Git processes a server spawned for its repos (found by their repo path under its data dir). */
export async function gitProcesses(dataDir: string): Promise<string[]> {
  const found: string[] = [];
  for (const pid of await fs.readdir('/proc')) {
    if (!/^\d+$/.test(pid)) continue;
    const cmdline = await fs.readFile(`/proc/${pid}/cmdline`, 'utf8').catch(() => '');
    if (cmdline.startsWith('git\0') && cmdline.includes(path.join(dataDir, 'repos'))) found.push(cmdline.replace(/\0/g, ' ').trim());
  }
  return found;
}
