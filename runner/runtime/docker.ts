import { createRequire } from 'node:module';
import type { Readable } from 'node:stream';
import type Docker from 'dockerode';
import { checkSpec, JOB_PATH, jobArgv, jobEnv } from './job-spec.ts';
import { handOver, jobUser } from './job-user.ts';
import { OutputPump } from './output-pump.ts';
import { DEFAULT_RELAY_IMAGE, relayArgv } from './port-relay.ts';
import { jobLabels, sweepOrphans } from './orphan-sweep.ts';
import { watchForStop } from './stop-watch.ts';
import { RuntimeError, type ContainerRuntime, type RunResult, type RunSpec } from './types.ts';

export interface DockerRuntimeOptions {
  /** Unix socket of the Docker Engine API (Docker's /var/run/docker.sock or Podman's `system service`). */
  socketPath: string;
  /** The image the port relay of a deployment runs in (any image with python3); default the job image. */
  relayImage?: string;
}

/** Where the job sees its mounts; the same paths in every container so manifests can rely on them. */
const WORKSPACE = '/workspace';
const OUTPUTS = '/outputs';
/** SIGKILL's exit status: what the kernel's OOM killer leaves behind (Podman never sets OOMKilled). */
const KILLED_EXIT = 137;
const JOB_NOFILE = 8192;
const JOB_NPROC = 4096;

/**
 * Runs jobs as containers through the Docker Engine API. Explicit create + attach + start + wait
 * + remove rather than dockerode's run(): attaching before start is the only way not to lose the
 * first lines of output, and owning each step is what lets us kill, classify and always remove.
 */
export class DockerRuntime implements ContainerRuntime {
  readonly name = 'docker';
  readonly warnings: readonly string[] = [];
  private readonly docker: Docker;
  /** Cancels in-flight runs on close(): their containers are killed and removed, not orphaned. */
  private readonly closing = new AbortController();

  constructor(private readonly options: DockerRuntimeOptions) {
    // Required here, not imported: dockerode and its ssh2 stack cost ~25 MB of memory that a
    // server using the process runtime (the embedded default) never needs.
    const Dockerode = createRequire(import.meta.url)('dockerode') as typeof Docker;
    this.docker = new Dockerode({ socketPath: options.socketPath });
  }

  async run(spec: RunSpec): Promise<RunResult> {
    checkSpec(spec);
    if (spec.signal.aborted) return { outcome: 'cancelled', exitCode: null, durationMs: 0 };
    const user = jobUser();
    await handOver([spec.workspace, spec.outputs], user);
    const owner = `${user.uid}:${user.gid}`;
    const container = await this.create(spec, owner);
    try {
      return await this.runCreated(container, spec, owner);
    } finally {
      await container.remove({ force: true }).catch((error: unknown) => {
        if (statusCode(error) !== 404) throw this.infraError('could not remove the job container', error);
      });
    }
  }

  async close(): Promise<void> {
    this.closing.abort();
  }

  sweepOrphans(): Promise<string[]> {
    return sweepOrphans(this.docker);
  }

  private async create(spec: RunSpec, user: string): Promise<Docker.Container> {
    const memory = Math.round(spec.limits.memoryBytes);
    try {
      return await this.docker.createContainer({
        Image: spec.image,
        // No commands: the image's own entrypoint and command (a model server from an image).
        ...(spec.commands.length > 0 ? { Cmd: jobArgv(spec.commands) } : {}),
        Env: Object.entries(jobEnv(spec, { home: '/tmp', outputDir: OUTPUTS })).map(([name, value]) => `${name}=${value}`),
        WorkingDir: WORKSPACE,
        User: user,
        AttachStdout: true,
        AttachStderr: true,
        Tty: false,
        OpenStdin: false,
        NetworkDisabled: !spec.network,
        // Found by a sweep when this runner dies mid-job (orphan-sweep.ts).
        Labels: jobLabels(),
        HostConfig: {
          Binds: [`${spec.workspace}:${WORKSPACE}:rw`, `${spec.outputs}:${OUTPUTS}:rw`, ...(spec.readOnlyMounts ?? []).map((m) => `${m.source}:${m.target}:ro`)],
          ...(spec.network ? {} : { NetworkMode: 'none' }),
          ...confined({ memory, cpus: spec.limits.cpus, pids: spec.limits.pids }),
        },
      });
    } catch (error) {
      if (statusCode(error) === 404) {
        throw new RuntimeError(
          `image ${spec.image} is not available on the container engine at ${this.options.socketPath} (no registry is consulted). ` +
            `Build or load it there first: for localhost/mlgit-python:bookworm run scripts/podman-setup.sh; for your own image, ` +
            `\`docker build -t ${spec.image} .\` (or \`podman build\` against the same engine).`,
          { cause: error },
        );
      }
      throw this.infraError(`could not create a container from ${spec.image}`, error);
    }
  }

  /**
   * A deployment's port relay: a second container in the job container's network namespace (which
   * with NetworkMode none holds only loopback) that bridges a unix socket in the shared outputs to
   * the port. Its output joins the job's log; `ended` resolves when it stops.
   */
  private async startRelay(job: Docker.Container, spec: RunSpec, user: string): Promise<{ container: Docker.Container; ended: Promise<unknown> }> {
    const image = this.options.relayImage ?? DEFAULT_RELAY_IMAGE;
    let relay: Docker.Container;
    try {
      relay = await this.docker.createContainer({
        Image: image,
        Cmd: relayArgv(spec.relay!),
        Env: [`PATH=${JOB_PATH}`],
        User: user,
        AttachStdout: true,
        AttachStderr: true,
        Labels: jobLabels(),
        HostConfig: {
          Binds: [`${spec.outputs}:${OUTPUTS}:rw`],
          NetworkMode: `container:${job.id}`,
          ...confined({ memory: RELAY_MEMORY, cpus: spec.limits.cpus, pids: RELAY_PIDS }),
        },
      });
    } catch (error) {
      throw this.infraError(`could not create the port relay from ${image} (MLGIT_DEPLOY_RELAY_IMAGE: any image with python3)`, error);
    }
    try {
      const attached = (await relay.attach({ stream: true, stdout: true, stderr: true, hijack: true })) as unknown as Readable;
      const pump = new OutputPump(spec.onOutput);
      this.docker.modem.demuxStream(attached, pump.sink, pump.sink);
      void pump.drained(attached).catch(() => {});
      await relay.start();
    } catch (error) {
      await relay.remove({ force: true }).catch(() => {});
      throw this.infraError('could not start the port relay', error);
    }
    return { container: relay, ended: relay.wait().catch(() => {}) };
  }

  private async runCreated(container: Docker.Container, spec: RunSpec, user: string): Promise<RunResult> {
    let attached: Readable;
    try {
      // hijack: a raw duplex to the container's output; attached before start so no line is lost.
      attached = (await container.attach({ stream: true, stdout: true, stderr: true, hijack: true })) as unknown as Readable;
    } catch (error) {
      throw this.infraError('could not attach to the job container', error);
    }
    const pump = new OutputPump(spec.onOutput);
    // Docker multiplexes stdout and stderr in 8-byte-framed records; both go to the one log.
    this.docker.modem.demuxStream(attached, pump.sink, pump.sink);
    pump.throttle(attached);
    const output = pump.drained(attached);

    const stopSignal = AbortSignal.any([spec.signal, this.closing.signal]);
    try {
      await container.start();
    } catch (error) {
      attached.destroy();
      throw this.infraError('could not start the job container', error);
    }
    let relay: Docker.Container | undefined;
    // Set when the relay ended first: the job is then killed (a replica without its relay serves
    // nothing and restarts whole), and that SIGKILL is ours, not the OOM killer's.
    let relayEnded = false;
    if (spec.relay) {
      try {
        const started = await this.startRelay(container, spec, user);
        relay = started.container;
        void started.ended.then(() => {
          relayEnded = true;
          container.kill({ signal: 'SIGKILL' }).catch(() => {});
        });
      } catch (error) {
        // A model server that ended before its relay could join it: its own exit and output say why.
        const running = await container.inspect().then((info) => info.State.Running, () => false);
        if (running) {
          await container.kill({ signal: 'SIGKILL' }).catch(() => {});
          attached.destroy();
          throw error;
        }
      }
    }
    const started = Date.now();
    spec.onStart?.();
    // SIGKILL, not SIGTERM: the job's PID 1 is /bin/sh, which ignores SIGTERM, so a polite stop
    // would only add the engine's grace period to every timeout and cancel.
    const watch = watchForStop({ signal: stopSignal, timeoutMs: spec.timeoutMs }, () => {
      container.kill({ signal: 'SIGKILL' }).catch(() => {
        // Already exited (409/404): nothing left to stop.
      });
    });
    try {
      const [exitCode] = await Promise.all([exitCodeOf(container, output), output]);
      const durationMs = Date.now() - started;
      if (watch.reason !== undefined) return { outcome: watch.reason, exitCode: null, durationMs };
      if (relayEnded) {
        await spec.onOutput(Buffer.from('mlgit: the port relay ended; the model server was stopped with it\n'));
        return { outcome: 'exited', exitCode, durationMs };
      }
      // Every job has a memory limit, and a SIGKILL we did not send is the OOM killer's.
      return { outcome: exitCode === KILLED_EXIT ? 'oom' : 'exited', exitCode, durationMs };
    } catch (error) {
      attached.destroy();
      if (error instanceof RuntimeError) throw error;
      throw this.infraError('lost the job container while waiting for it', error);
    } finally {
      watch.dispose();
      await relay?.remove({ force: true }).catch(() => {});
    }
  }

  private infraError(what: string, error: unknown): RuntimeError {
    const detail = error instanceof Error ? error.message : String(error);
    return new RuntimeError(`${what} (engine at ${this.options.socketPath}): ${detail}`, { cause: error });
  }
}

/** The relay's own limits: one asyncio process. */
const RELAY_MEMORY = 64 * 1024 * 1024;
const RELAY_PIDS = 16;

/** The confinement of every container mlgit starts: limits, read-only root, no capabilities. */
function confined({ memory, cpus, pids }: { memory: number; cpus: number; pids: number }): Docker.HostConfig {
  return {
    NanoCpus: Math.round(cpus * 1e9),
    Memory: memory,
    // Equal to Memory: no swap on top, so the limit is the limit.
    MemorySwap: memory,
    PidsLimit: pids,
    ReadonlyRootfs: true,
    // HOME is /tmp: pip caches, matplotlib configs and the like land there. Its pages count
    // against the memory limit, so it needs no size of its own.
    Tmpfs: { '/tmp': 'rw,nosuid,nodev,mode=1777' },
    CapDrop: ['ALL'],
    SecurityOpt: ['no-new-privileges'],
    // Fixed, so a job sees the same limits on every engine. runc cannot raise a limit above the
    // engine's own (Podman's service runs with nproc 32768), and Podman wants nproc given
    // together with nofile. nproc counts per host user, so PidsLimit is the real pids bound.
    Ulimits: [
      { Name: 'nofile', Soft: JOB_NOFILE, Hard: JOB_NOFILE },
      { Name: 'nproc', Soft: JOB_NPROC, Hard: JOB_NPROC },
    ],
  };
}

/**
 * The container's exit code, as soon as the engine knows it. Podman's wait answers 0.5-1 s after
 * the exit (it polls); the output stream ends right at the exit, and inspect reports the code a
 * few hundred ms sooner than wait. So: wait, raced against inspect polled from the moment the
 * output ended (backing off, in case the job merely closed its stdout and runs on).
 */
async function exitCodeOf(container: Docker.Container, outputEnded: Promise<void>): Promise<number> {
  let settled = false;
  const waited = (container.wait() as Promise<{ StatusCode: number }>).then((result) => result.StatusCode);
  const polled = outputEnded.then(async () => {
    for (let delay = 10; !settled; delay = Math.min(delay * 2, 1000)) {
      const state = (await container.inspect()).State;
      if (state.Status === 'exited' || state.Status === 'stopped') return state.ExitCode;
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
    return new Promise<number>(() => {}); // the wait won; this branch never settles
  });
  // The loser is abandoned; its rejection (the container is removed under it) must not surface.
  waited.catch(() => {});
  polled.catch(() => {});
  try {
    return await Promise.race([waited, polled]);
  } finally {
    settled = true;
  }
}

function statusCode(error: unknown): number | undefined {
  return typeof error === 'object' && error !== null && 'statusCode' in error ? Number(error.statusCode) : undefined;
}
