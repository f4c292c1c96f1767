// The production shape, end to end: docker/Dockerfile built with Podman on a local Node 20 base
// image (no registry is reachable here; scripts/podman-stack-images.sh builds it from Debian
// packages), the services of docker/compose.yaml started one by one with `podman run` in the order
// and with the health gates compose.yaml declares, with the environment, ports, volumes and
// group_add compose.yaml gives them (read from the file with docker/.env.example's values), then
// examples/digits pushed with git and git-lfs through the published port, trained by the runner
// container through the engine socket, and the note with accuracy= and f1_macro= fetched back.
//
// Postgres, Redis and MinIO are the compose file's images, which cannot be pulled here: Debian's
// postgresql-15 and redis-server stand in for the first two (started as their official images
// start), s3rver for MinIO (it creates the bucket itself, so minio-init is not run).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import t from 'tap';
import { readComposeFile, readEnvFile, type ComposeService } from './helpers/compose-file.ts';
import { GitClient } from './helpers/git-client.ts';
import { freePort, hostAddress, podman, podmanOk, podmanUnavailable, startEngineSocket, waitHealthy } from './helpers/podman-stack.ts';

const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const NODE_BASE = 'localhost/mlgit-node:20-bookworm';
const SERVICES_IMAGE = 'localhost/mlgit-services:bookworm';
/** The runner's uid in docker/Dockerfile; the shared work directory must be its. */
const RUNNER_UID = 10001;
/** The group the test's engine socket belongs to, as the `docker` group owns Docker's. */
const ENGINE_GID = 2375;
const HEALTHY_MS = 180_000;
const RUNS_MS = 10 * 60_000;

// Postgres as the official image's entrypoint starts it: POSTGRES_USER with POSTGRES_PASSWORD
// (password auth over TCP), the POSTGRES_DB database, data in the volume.
const POSTGRES_ENTRY = `set -e
D=/var/lib/postgresql/data
install -d -o postgres -g postgres -m 0700 "$D" /run/postgresql
printf '%s\\n' "$POSTGRES_PASSWORD" > /tmp/pw && chown postgres /tmp/pw
runuser -u postgres -- initdb -D "$D" -U "$POSTGRES_USER" --pwfile=/tmp/pw --auth-local=trust --auth-host=scram-sha-256 >/dev/null
rm /tmp/pw
echo 'host all all 0.0.0.0/0 scram-sha-256' >> "$D/pg_hba.conf"
runuser -u postgres -- pg_ctl -D "$D" -w -o "-c listen_addresses=''" start >/dev/null
runuser -u postgres -- createdb -U "$POSTGRES_USER" "$POSTGRES_DB"
runuser -u postgres -- pg_ctl -D "$D" -w stop >/dev/null
exec runuser -u postgres -- postgres -D "$D" -c listen_addresses='*' -c fsync=off`;

const S3RVER_ENTRY = `const S3rver = require('/s3rver/node_modules/s3rver');
new S3rver({ port: 9000, address: '0.0.0.0', silent: true, directory: '/data', configureBuckets: [{ name: process.env.S3_BUCKET, configs: [] }] })
  .run().then(() => console.log('s3rver listening'), (err) => { console.error(err); process.exit(1); });`;

const unavailable = podmanUnavailable();

t.test('docker/: the image, the compose stack, and a push that trains', { skip: unavailable ?? false }, async (t) => {
  const started = Date.now();
  t.teardown(() => t.comment(`docker-image: ${((Date.now() - started) / 1000).toFixed(0)} s`));
  const id = `mlgit-t${process.pid}`;
  const scratch = await fs.mkdtemp(path.join(os.tmpdir(), `${id}-`));
  const cleanups: (() => Promise<unknown>)[] = [];
  t.teardown(async () => {
    for (const cleanup of cleanups.reverse()) await cleanup().catch((err: unknown) => t.comment(`cleanup: ${String(err)}`));
    await fs.rm(scratch, { recursive: true, force: true });
  });

  // --- the image ---------------------------------------------------------------------------------
  execFileSync(path.join(ROOT, 'scripts/podman-stack-images.sh'), { stdio: ['ignore', 'ignore', 'inherit'], timeout: 30 * 60_000 });
  const version = (JSON.parse(await fs.readFile(path.join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
  const commit = execFileSync('git', ['rev-parse', 'HEAD'], { cwd: ROOT, encoding: 'utf8' }).trim();
  const image = `localhost/mlgit:${id}`;
  const buildStarted = Date.now();
  await podmanOk(
    // --format docker: OCI image configs (podman's default) have no HEALTHCHECK; Docker's have.
    ['build', '-q', '--format', 'docker', '-f', 'docker/Dockerfile', '--build-arg', `NODE_IMAGE=${NODE_BASE}`, '--build-arg', `VERSION=${version}`, '--build-arg', `COMMIT=${commit}`, '-t', image, '.'],
    { cwd: ROOT, timeoutMs: 30 * 60_000 },
  );
  cleanups.push(() => podman(['rmi', image]));
  const size = Number(await podmanOk(['image', 'inspect', '--format', '{{.Size}}', image]));
  t.comment(`image built in ${((Date.now() - buildStarted) / 1000).toFixed(0)} s, ${(size / 1e6).toFixed(0)} MB`);

  t.test('the image: labels, non-root user, init, health check, git and git-lfs, no dev dependencies', async (t) => {
    const [inspect] = JSON.parse(await podmanOk(['image', 'inspect', image])) as any[];
    t.equal(inspect.Config.Labels['org.opencontainers.image.version'], version);
    t.equal(inspect.Config.Labels['org.opencontainers.image.revision'], commit);
    t.equal(inspect.Config.User, 'mlgit');
    t.same(inspect.Config.Entrypoint, ['/usr/bin/tini', '--', '/usr/local/bin/mlgit']);
    t.same(inspect.Config.Cmd, ['serve']);
    t.same(inspect.Healthcheck?.Test, ['CMD', 'node', '/app/docker/healthcheck.mjs'], 'HEALTHCHECK kept (docker format)');
    const inside = await podmanOk([
      'run', '--rm', '--entrypoint', '/bin/sh', image, '-c',
      'id -u; git --version; git lfs version; node --version; for p in tap typescript eslint s3rver playwright-core; do [ -e node_modules/$p ] && echo "dev dependency $p"; done; [ -e node_modules/tsx ] && echo tsx present; true',
    ]);
    t.match(inside, new RegExp(`^${RUNNER_UID}\n`), 'runs as uid 10001');
    t.match(inside, /git version 2\./);
    t.match(inside, /git-lfs\/3\./);
    t.match(inside, /v20\./);
    t.notMatch(inside, /dev dependency/);
    t.match(inside, /tsx present/, 'runtime dependencies are there');
  });

  // --- compose.yaml, with .env.example's values and the test's own -------------------------------
  const host = hostAddress();
  const workDir = path.join(scratch, 'runner-work');
  await fs.mkdir(workDir, { mode: 0o700 });
  await fs.chown(workDir, RUNNER_UID, RUNNER_UID);
  const engine = await startEngineSocket(scratch, ENGINE_GID);
  cleanups.push(engine.stop);
  const secret = () => randomBytes(24).toString('hex');
  const env = {
    ...readEnvFile(path.join(ROOT, 'docker/.env.example')),
    MLGIT_HOSTNAME: host,
    MLGIT_PORT: String(await freePort(host)),
    S3_PORT: String(await freePort(host)),
    MLGIT_ADMIN_PASSWORD: secret(),
    MLGIT_JWT_SECRET: secret(),
    MLGIT_SECRET_KEY: secret(),
    MLGIT_RUNNER_TOKEN: secret(),
    POSTGRES_PASSWORD: secret(),
    // s3rver's fixed credentials (MinIO takes whatever root user and password it is given).
    S3_ACCESS_KEY_ID: 'S3RVER',
    S3_SECRET_ACCESS_KEY: 'S3RVER',
    DOCKER_GID: String(ENGINE_GID),
    DOCKER_SOCKET: engine.socket,
    MLGIT_RUNNER_WORK_DIR: workDir,
    MLGIT_IMAGE: image,
  };
  const compose = readComposeFile(path.join(ROOT, 'docker/compose.yaml'), env);
  const services = compose.services;

  t.test('compose.yaml gates the start order on health', async (t) => {
    t.same(services.mlgit!.depends_on, { postgres: { condition: 'service_healthy' }, redis: { condition: 'service_healthy' }, 'minio-init': { condition: 'service_completed_successfully' } });
    t.same(services['minio-init']!.depends_on, { minio: { condition: 'service_healthy' } });
    t.same(services.runner!.depends_on, { mlgit: { condition: 'service_healthy' } });
    t.equal(services.mlgit!.image, image);
    t.equal(services.runner!.image, image);
  });

  const network = id;
  await podmanOk(['network', 'create', network]);
  cleanups.push(() => podman(['network', 'rm', '-f', network]));

  const start = async (name: string, service: ComposeService, override: { image?: string; command?: string[]; healthCmd?: string } = {}) => {
    const container = `${id}-${name}`;
    const args = ['run', '-d', '--name', container, '--network', network, '--network-alias', name];
    for (const [key, value] of Object.entries(service.environment ?? {})) args.push('-e', `${key}=${value}`);
    for (const port of service.ports ?? []) args.push('-p', `${host}:${port}`);
    for (const volume of service.volumes ?? []) {
      const [source, target] = volume.split(':') as [string, string];
      // Named volumes get the stack's prefix, as compose names them <project>_<volume>.
      args.push('-v', `${path.isAbsolute(source) ? source : `${id}-${source}`}:${target}`);
      if (!path.isAbsolute(source)) cleanups.push(() => podman(['volume', 'rm', '-f', `${id}-${source}`]));
    }
    for (const group of service.group_add ?? []) args.push('--group-add', group);
    const check = override.healthCmd ?? (service.healthcheck?.test[0] === 'CMD' ? service.healthcheck.test.slice(1).join(' ') : undefined);
    if (check) args.push('--health-cmd', check);
    // No timer (it needs systemd, which these machines lack): waitHealthy runs the check itself.
    args.push('--health-interval', 'disable');
    args.push(override.image ?? service.image!, ...(override.command ?? service.command ?? []));
    // -v: also the anonymous volume of the image's VOLUME (the runner's /var/lib/mlgit).
    cleanups.push(() => podman(['rm', '-f', '-v', '-t', '2', container]));
    await podmanOk(args);
    return container;
  };

  // --- the stack, in compose's order ---------------------------------------------------------------
  const postgres = await start('postgres', services.postgres!, { image: SERVICES_IMAGE, command: ['sh', '-c', POSTGRES_ENTRY] });
  const redis = await start('redis', services.redis!, { image: SERVICES_IMAGE, command: [...services.redis!.command!, '--dir', '/data', '--protected-mode', 'no'] });
  const s3 = await start(
    'minio',
    { ...services.minio!, environment: { S3_BUCKET: services.mlgit!.environment!.S3_BUCKET! }, volumes: [...(services.minio!.volumes ?? []), `${path.join(ROOT, 'node_modules')}:/s3rver/node_modules:ro`] },
    { image: NODE_BASE, command: ['node', '-e', S3RVER_ENTRY], healthCmd: `node -e "fetch('http://127.0.0.1:9000/').then(() => process.exit(0), () => process.exit(1))"` },
  );
  await Promise.all([postgres, redis, s3].map((c) => waitHealthy(c, HEALTHY_MS)));
  const server = await start('mlgit', services.mlgit!);
  await waitHealthy(server, HEALTHY_MS);
  const runner = await start('runner', services.runner!);
  await waitHealthy(runner, HEALTHY_MS);
  const logsOf = async (container: string) => (await podman(['logs', '--tail', '80', container])).stderr;

  const url = `http://${host}:${env.MLGIT_PORT}`;
  const auth = `Basic ${Buffer.from(`admin:${env.MLGIT_ADMIN_PASSWORD}`).toString('base64')}`;
  const api = async (method: string, route: string, body?: unknown) => {
    const response = await fetch(`${url}${route}`, { method, headers: { authorization: auth, 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await response.text();
    if (!response.ok) throw new Error(`${method} ${route}: ${response.status} ${text}`);
    return JSON.parse(text) as any;
  };

  t.test('the published port serves the server, ready on Postgres and Redis', async (t) => {
    const ready = await fetch(`${url}/readyz`);
    t.equal(ready.status, 200);
    t.match(await ready.json(), { status: 'ready', queue: 'ok' });
    // The web UI's static files and Swagger UI (from node_modules) made it into the image.
    for (const route of ['/', '/api/docs/']) {
      const page = await fetch(`${url}${route}`, { headers: { accept: 'text/html' } });
      t.equal(page.status, 200, route);
      t.match(page.headers.get('content-type'), /text\/html/, route);
      await page.text();
    }
  });

  t.test('examples/digits pushed with git and git-lfs trains in a job container, and the note comes back', async (t) => {
    await api('POST', '/api/v1/repos', { name: 'digits' });
    const client = await GitClient.create(t);
    await client.enableLfs();
    const work = path.join(client.home, 'digits');
    await fs.cp(path.join(ROOT, 'examples/digits'), work, { recursive: true, filter: (source) => path.basename(source) !== 'data' });
    execFileSync('/usr/bin/python3', ['make_data.py'], { cwd: work, stdio: 'ignore' });
    await client.ok(['init', '-q', '-b', 'main'], { cwd: work });
    await client.ok(['add', '-A'], { cwd: work });
    await client.ok(['commit', '-q', '-m', 'digits classifier'], { cwd: work });
    const remote = `http://admin:${env.MLGIT_ADMIN_PASSWORD}@${host}:${env.MLGIT_PORT}/admin/digits.git`;
    const push = await client.run(['push', remote, 'main'], { cwd: work });
    t.equal(push.code, 0, push.stderr);
    t.match(push.stderr, /queued run \d+ \(train\)/);
    const sha = (await client.ok(['rev-parse', 'HEAD'], { cwd: work })).trim();
    const lfs = await api('GET', '/api/v1/repos/admin/digits/lfs/objects');
    t.equal(lfs.objects.length, 1, 'the data file went through git-lfs');
    const stored = await podmanOk(['exec', s3, 'find', '/data', '-type', 'f']);
    t.match(stored, `/lfs/${lfs.objects[0].oid.slice(0, 2)}/`, 'into the S3 bucket, by a presigned upload');

    let runs: any[] = [];
    for (const deadline = Date.now() + RUNS_MS; ; await new Promise((resolve) => setTimeout(resolve, 1000))) {
      runs = await api('GET', `/api/v1/repos/admin/digits/runs?commit=${sha}`);
      if (runs.length >= 2 && runs.every((run) => !['queued', 'running'].includes(run.status))) break;
      if (Date.now() > deadline) throw new Error(`the runs did not finish: ${JSON.stringify(runs)}\n${await logsOf(runner)}`);
    }
    const failed = runs.filter((run) => run.status !== 'success');
    for (const run of failed) {
      const log = await fetch(`${url}/api/v1/repos/admin/digits/runs/${run.id}/logs`, { headers: { authorization: auth } });
      t.comment(`run ${run.id} (${run.job}) ${run.status}: ${run.message}\n${await log.text()}\nrunner:\n${await logsOf(runner)}`);
    }
    t.same(runs.map((run) => [run.job, run.status]).sort(), [['evaluate', 'success'], ['train', 'success']]);

    // The note is rewritten after each run turns final: fetch until it carries both metrics.
    let note = '';
    for (const deadline = Date.now() + 60_000; Date.now() < deadline; await new Promise((resolve) => setTimeout(resolve, 500))) {
      // Until the first note is written the ref does not exist: not there yet, fetch again.
      if ((await client.run(['fetch', '-q', remote, '+refs/notes/mlproject:refs/notes/mlproject'], { cwd: work })).code !== 0) continue;
      note = await client.ok(['log', '--notes=mlproject', '-1'], { cwd: work });
      if (/accuracy=[\d.]+/.test(note) && /f1_macro=[\d.]+/.test(note)) break;
    }
    t.match(note, /Notes \(mlproject\):[\s\S]*accuracy=[\d.]+[\s\S]*f1_macro=[\d.]+/, 'the note carries accuracy= and f1_macro=');

    // A clone gets the LFS file back from the bucket through a presigned URL on MLGIT_HOSTNAME.
    const copy = path.join(client.home, 'digits-clone');
    await client.ok(['clone', '-q', remote, copy]);
    const [original, cloned] = await Promise.all([fs.readFile(path.join(work, 'data/digits.csv')), fs.readFile(path.join(copy, 'data/digits.csv'))]);
    t.ok(cloned.equals(original), 'the cloned data file is the pushed one, not its pointer');
  });

  t.test('tini is PID 1 and hands SIGTERM on: both roles stop by themselves, not by SIGKILL', async (t) => {
    for (const container of [runner, server]) {
      t.match(await podmanOk(['exec', container, 'cat', '/proc/1/cmdline']), /^\/usr\/bin\/tini\0--\0\/usr\/local\/bin\/mlgit\0/, `${container}: PID 1`);
      // 30 s of grace: a SIGKILL (exit 137) would mean mlgit never saw the SIGTERM or hung on it.
      await podmanOk(['stop', '-t', '30', container], { timeoutMs: 60_000 });
      const exit = Number((await podmanOk(['inspect', '--format', '{{.State.ExitCode}}', container])).trim());
      t.not(exit, 137, `${container} exited ${exit} on SIGTERM`);
    }
  });
});
