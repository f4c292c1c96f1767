import fs from 'node:fs/promises';

/**
 * Makes the data dir private before anything is written into it. It holds password hashes (in
 * the database files and WAL), secrets, private repositories and LFS objects: with the usual
 * umask 022 any local user could read them. The dir itself becomes 0700 (also an existing one
 * we own), and the process umask 077 makes everything the server and its git children create
 * below it owner-only.
 */
export async function preparePrivateDataDir(dataDir: string): Promise<void> {
  process.umask(0o077);
  await fs.mkdir(dataDir, { recursive: true, mode: 0o700 });
  const info = await fs.stat(dataDir);
  if (info.uid === process.getuid?.() && (info.mode & 0o077) !== 0) await fs.chmod(dataDir, 0o700);
}
