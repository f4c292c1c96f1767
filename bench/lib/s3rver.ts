import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { createRequire } from 'node:module';
import { createInterface } from 'node:readline';

/** A local S3-protocol server (the s3rver devDependency), as the tests use it. */
export interface S3rver {
  readonly endpoint: string;
  readonly port: number;
  readonly bucket: string;
  readonly pid: number;
  stop(): Promise<void>;
}

/**
 * Starts s3rver in a child process of its own, like a real S3: its CPU and memory must not land
 * in the bench process or in mlgit. Objects are stored as files under `directory`.
 */
export async function startS3rver(directory: string, bucket: string): Promise<S3rver> {
  const script = `
    const S3rver = require(process.argv[1]);
    new S3rver({ port: 0, address: '127.0.0.1', silent: true, directory: process.argv[2], configureBuckets: [{ name: process.argv[3], configs: [] }] })
      .run().then(({ port }) => console.log(port), (err) => { console.error(err); process.exit(1); });
    process.stdin.on('end', () => process.exit(0)).resume(); // the bench is gone`;
  const s3rverPath = createRequire(import.meta.url).resolve('s3rver');
  const child = spawn(process.execPath, ['-e', script, s3rverPath, directory, bucket], { stdio: ['pipe', 'pipe', 'inherit'] });
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not spawn s3rver');
  const exited = once(child, 'exit');
  const first = await Promise.race([once(createInterface({ input: child.stdout }), 'line'), exited]);
  const port = Number(first[0]);
  if (!Number.isInteger(port) || port <= 0) throw new Error(`s3rver did not start: ${String(first[0])}`);
  return {
    endpoint: `http://127.0.0.1:${port}`,
    port,
    bucket,
    pid,
    stop: async () => {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill();
      await exited;
    },
  };
}
