import { ensurePodman } from '../../bench/lib/podman.ts';

export { JOB_IMAGE } from '../../bench/lib/podman.ts';

/**
 * The Docker Engine API socket for tests: MLGIT_TEST_DOCKER_SOCKET when set (.ci/run exports it),
 * else whatever scripts/podman-setup.sh prints, so a plain `npx tap test/x.test.ts` needs no
 * manual step.
 */
export function dockerSocketForTests(): string {
  return process.env.MLGIT_TEST_DOCKER_SOCKET || ensurePodman();
}
