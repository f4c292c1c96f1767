import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SETUP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/podman-setup.sh');

/** The job image scripts/podman-setup.sh builds: python3, numpy, scikit-learn, joblib. */
export const JOB_IMAGE = 'localhost/mlgit-python:bookworm';

/**
 * The Docker Engine API socket for tests: MLGIT_TEST_DOCKER_SOCKET when set (.ci/run exports it),
 * else whatever scripts/podman-setup.sh prints. The script is idempotent and takes ~0.3 s once the
 * service runs and the image is loaded, so a plain `npx tap test/x.test.ts` needs no manual step.
 */
export function dockerSocketForTests(): string {
  const fromEnv = process.env.MLGIT_TEST_DOCKER_SOCKET;
  if (fromEnv) return fromEnv;
  return execFileSync(SETUP, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000 }).trim();
}
