import { execFile, spawn, spawnSync } from 'node:child_process';
import { once } from 'node:events';
import fs from 'node:fs/promises';
import net from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { ensurePodman, podmanCli } from '../../bench/lib/podman.ts';

/**
 * Podman for the docker/ stack test: the same engine (storage, run root, containers.conf) that
 * scripts/podman-setup.sh serves, driven through the CLI, plus the pieces a compose stack needs
 * around it: a free published port, this machine's address, health waits, an engine socket of the
 * test's own for the runner container.
 */

/** Why the stack cannot be tested here, or null. Only a missing Podman is a reason to skip. */
export function podmanUnavailable(): string | null {
  try {
    ensurePodman(); // installs podman with apt when it is missing, starts the engine
    return null;
  } catch (error) {
    if (spawnSync('podman', ['--version']).status === 0) throw error; // Podman is here: a real failure
    return `Podman is not available on this machine and scripts/podman-setup.sh could not install it (${error instanceof Error ? error.message.split('\n')[0] : String(error)})`;
  }
}

export interface PodmanResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export function podman(args: string[], options: { timeoutMs?: number; cwd?: string } = {}): Promise<PodmanResult> {
  const cli = podmanCli();
  return new Promise((resolve, reject) => {
    execFile(
      cli.command,
      [...cli.args, ...args],
      { env: cli.env, cwd: options.cwd, timeout: options.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        if (error && typeof error.code !== 'number') reject(error);
        else resolve({ code: error ? (error.code as number) : 0, stdout, stderr });
      },
    );
  });
}

/** Like podman(), but throws with podman's stderr when it fails. */
export async function podmanOk(args: string[], options: { timeoutMs?: number; cwd?: string } = {}): Promise<string> {
  const result = await podman(args, options);
  if (result.code !== 0) throw new Error(`podman ${args.join(' ')} failed (${result.code}):\n${result.stderr.slice(-4000)}`);
  return result.stdout;
}

/** A TCP port free on this machine right now (the engine publishes the container's port on it). */
export async function freePort(host: string): Promise<number> {
  const server = net.createServer();
  server.listen(0, host);
  await once(server, 'listening');
  const { port } = server.address() as net.AddressInfo;
  server.close();
  await once(server, 'close');
  return port;
}

/**
 * This machine's first non-loopback IPv4 address: what compose's MLGIT_HOSTNAME stands for, an
 * address both the git client on the host and the containers (through the bridge) reach.
 */
export function hostAddress(): string {
  for (const addresses of Object.values(os.networkInterfaces())) {
    const found = addresses?.find((a) => a.family === 'IPv4' && !a.internal);
    if (found) return found.address;
  }
  throw new Error('this machine has no non-loopback IPv4 address for the containers to reach it by');
}

/** Runs the container's health check (its image's HEALTHCHECK or --health-cmd) until it passes. */
export async function waitHealthy(container: string, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  let last: PodmanResult | undefined;
  for (let delay = 200; Date.now() < deadline; delay = Math.min(delay * 2, 2000)) {
    // Podman schedules health checks with systemd timers, which these machines lack: run it here.
    last = await podman(['healthcheck', 'run', container]);
    if (last.code === 0) return;
    if (/no defined healthcheck/.test(last.stderr)) throw new Error(`${container} has no health check: ${last.stderr}`);
    const state = (await podman(['inspect', '--format', '{{.State.Status}}', container])).stdout.trim();
    if (state !== 'running') throw new Error(`${container} is ${state}, not running:\n${(await podman(['logs', '--tail', '60', container])).stderr}`);
    await new Promise((resolve) => setTimeout(resolve, delay));
  }
  throw new Error(`${container} did not become healthy in ${timeoutMs / 1000} s: ${last?.stdout}${last?.stderr}\n${(await podman(['logs', '--tail', '60', container])).stderr}`);
}

/**
 * A Docker Engine API socket of the test's own on the shared engine, owned by group `gid` with mode
 * 0660, as Docker's /var/run/docker.sock is by its `docker` group: the runner container (uid 10001,
 * not root) reaches it through compose's group_add, never by running as root.
 */
export async function startEngineSocket(dir: string, gid: number): Promise<{ socket: string; stop: () => Promise<void> }> {
  const cli = podmanCli();
  const socket = path.join(dir, 'engine.sock');
  const child = spawn(cli.command, [...cli.args, 'system', 'service', '--time=0', `unix://${socket}`], { env: cli.env, cwd: dir, stdio: 'ignore' });
  const exited = once(child, 'exit');
  for (let i = 0; ; i++) {
    if (child.exitCode !== null) throw new Error(`podman system service exited (${child.exitCode})`);
    const ready = await fs.stat(socket).then(
      () => true,
      () => false,
    );
    if (ready) break;
    if (i > 300) throw new Error('podman system service did not create its socket in 30 s');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  await fs.chown(socket, 0, gid);
  await fs.chmod(socket, 0o660);
  return {
    socket,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
}
