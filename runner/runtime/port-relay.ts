// The relay that makes a model server listening on a TCP port reachable through a unix socket
// without giving it network (port-relay.py; README, Decisions: "Deployments").
import { readFileSync } from 'node:fs';

/** The docker runtime's relay image unless MLGIT_DEPLOY_RELAY_IMAGE names another: the job image (it has python3). */
export const DEFAULT_RELAY_IMAGE = 'localhost/mlgit-python:bookworm';

let script: string | undefined;

/** Inside a job: a TCP port on its loopback, relayed to a unix socket in its outputs directory. */
export interface PortRelay {
  port: number;
  /** The socket's path as the job sees it (under /outputs). */
  socket: string;
}

/** The relay's command line, run with the job's python3 (PATH is the job's). */
export function relayArgv(relay: PortRelay): string[] {
  script ??= readFileSync(new URL('./port-relay.py', import.meta.url), 'utf8');
  return ['python3', '-c', script, String(relay.port), relay.socket];
}
