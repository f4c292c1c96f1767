import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

export const S3RVER_BUCKET = 'mlgit-test';
const BUCKET = S3RVER_BUCKET;

/**
 * s3rver in a child process of its own, like a real S3: its memory must not count in the
 * flat-memory case, and its buffering must not slow the store under test.
 */
export async function startS3rver(directory: string): Promise<{ port: number; stop: () => Promise<void> }> {
  const script = `
    const S3rver = require(process.argv[1]);
    new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: process.argv[2], configureBuckets: [{ name: process.argv[3], configs: [] }] })
      .run().then(({ port }) => console.log(port), (err) => { console.error(err); process.exit(1); });
    process.stdin.on('end', () => process.exit(0)).resume(); // the test process is gone`;
  const s3rverPath = createRequire(import.meta.url).resolve('s3rver');
  const child = spawn(process.execPath, ['-e', script, s3rverPath, directory, BUCKET], { stdio: ['pipe', 'pipe', 'inherit'] });
  const exited = once(child, 'exit');
  const [line] = (await Promise.race([once(createInterface({ input: child.stdout }), 'line'), exited])) as [string];
  const port = Number(line);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`s3rver did not start: ${String(line)}`);
  return {
    port,
    stop: async () => {
      if (child.exitCode === null) child.kill();
      await exited;
    },
  };
}

