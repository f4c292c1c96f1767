import { execFileSync } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const SETUP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../scripts/podman-setup.sh');

/** The job image scripts/podman-setup.sh builds: python3, numpy, scikit-learn, joblib. */
export const JOB_IMAGE = 'localhost/mlgit-python:bookworm';

/**
 * Runs scripts/podman-setup.sh (idempotent; ~0.3 s once the service runs and the image is
 * loaded, minutes the very first time on a machine) and returns the Docker Engine API socket.
 */
export function ensurePodman(): string {
  return execFileSync(SETUP, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'], timeout: 30 * 60_000 }).trim();
}

/**
 * `podman` with the same storage, run root and containers.conf as the service the setup script
 * starts (the same defaults and MLGIT_PODMAN_* overrides), so the CLI and the API share one engine.
 */
export function podmanCli(): { command: string; args: string[]; env: NodeJS.ProcessEnv } {
  const state = process.env.MLGIT_PODMAN_STATE ?? '/var/lib/mlgit-podman';
  const run = process.env.MLGIT_PODMAN_RUN ?? '/run/mlgit-podman';
  return {
    command: 'podman',
    args: ['--root', path.join(state, 'root'), '--runroot', path.join(run, 'runroot'), '--storage-driver', 'overlay'],
    env: { PATH: process.env.PATH ?? '/usr/local/bin:/usr/bin:/bin', CONTAINERS_CONF: path.join(state, 'containers.conf') },
  };
}
