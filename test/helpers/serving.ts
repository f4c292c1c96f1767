// A small model server for the serving tests (standard library only): it speaks enough of the
// Open Inference Protocol to deploy, answers with the version it was started as, and has routes
// that misbehave on purpose (never answer, answer an error in plain text, echo what reached it).
import type { Test } from 'tap';
import { loadConfig, type RunsConfig } from '../../server/config.ts';
import type { DeployConfig } from '../../server/deploy-config.ts';
import { GitClient } from './git-client.ts';
import { projectFiles } from './registry.ts';
import { eventually, pushProject, startRunsServer, waitForRuns } from './runs.ts';

export const PREDICTOR_PY = `import json, os, socketserver, sys, time
from http.server import BaseHTTPRequestHandler
NAME = os.environ['MLP_MODEL_NAME']
VERSION = os.environ['MLP_MODEL_VERSION']
MODEL_BYTES = os.path.getsize(os.environ['MLP_MODEL_PATH'])
# Tells replicas apart (a sandbox's own pid namespace makes pids alike).
INSTANCE = os.urandom(4).hex()
GREETING = os.environ.get('GREETING', '')
# Set by POST /sicken: the health paths answer 503 from then on.
SICK = False
class Handler(BaseHTTPRequestHandler):
    protocol_version = 'HTTP/1.1'
    def send(self, status, body, kind='application/json'):
        data = body.encode() if isinstance(body, str) else json.dumps(body).encode()
        self.send_response(status)
        self.send_header('Content-Type', kind)
        self.send_header('Content-Length', str(len(data)))
        self.end_headers()
        self.wfile.write(data)
    def do_GET(self):
        if self.path in ('/v2/health/ready', '/v2/health/live', f'/v2/models/{NAME}/ready'):
            return self.send(503 if SICK else 200, {'ready': not SICK})
        if self.path == f'/v2/models/{NAME}':
            return self.send(200, {'name': NAME, 'versions': [VERSION], 'model_bytes': MODEL_BYTES})
        if self.path == '/hang':
            time.sleep(3600)
        if self.path == '/text-error':
            return self.send(500, 'Traceback: something broke', 'text/plain')
        if self.path == '/json-error':
            return self.send(418, {'error': 'a teapot'})
        if self.path.startswith('/echo'):
            return self.send(200, {'path': self.path, 'headers': {k.lower(): v for k, v in self.headers.items()}, 'version': VERSION, 'instance': INSTANCE, 'greeting': GREETING})
        if self.path == '/try-write-model':
            try:
                open(os.environ['MLP_MODEL_PATH'], 'ab').write(b'x')
                return self.send(200, {'wrote': True})
            except OSError as e:
                return self.send(200, {'wrote': False, 'error': str(e)})
        if self.path == '/try-network':
            import socket
            try:
                socket.create_connection(('1.1.1.1', 53), timeout=2)
                return self.send(200, {'network': True})
            except OSError as e:
                return self.send(200, {'network': False, 'error': str(e)})
        self.send(404, {'error': 'no route ' + self.path})
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get('Content-Length') or 0))
        if self.path == '/sicken':
            global SICK
            SICK = True
            return self.send(200, {'instance': INSTANCE})
        if self.path == f'/v2/models/{NAME}/infer':
            try:
                time.sleep(float(json.loads(body).get('sleep', 0)))
            except (ValueError, AttributeError, TypeError):
                pass
            return self.send(200, {'model_name': NAME, 'model_version': VERSION, 'outputs': [{'name': 'bytes', 'shape': [1], 'datatype': 'INT64', 'data': [len(body)]}]})
        self.send(404, {'error': 'no route ' + self.path})
    def log_message(self, *args):
        pass
class Server(socketserver.ThreadingUnixStreamServer):
    daemon_threads = True
    request_queue_size = 128
class TcpServer(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128
# PREDICTOR_PORT: listen on that TCP port (a deployment's \`port\`, relayed by mlgit), else on the socket.
PORT = os.environ.get('PREDICTOR_PORT')
if PORT:
    server = TcpServer(('0.0.0.0', int(PORT)), Handler)
else:
    path = os.environ['MLGIT_SERVE_SOCKET']
    if os.path.exists(path):
        os.unlink(path)
    server = Server(path, Handler)
    os.chmod(path, 0o666)
print('predictor version', VERSION, 'listening', ('on port ' + PORT) if PORT else 'on the socket', flush=True)
server.serve_forever()
`;

/** The registry tests' project (model clf from its train job) plus the predictor. */
export function servingProject(acc: number): Record<string, string> {
  return { ...projectFiles(acc), 'predictor.py': PREDICTOR_PY };
}

export const PREDICTOR_COMMAND = 'python3 predictor.py';

/**
 * A server on the process runtime (or `runs`') with alice/clf pushed and trained (version 1 of model clf);
 * `deploy` creates its deployment of `latest` running the predictor, `untilReady` waits for it.
 */
export async function predictorRepo(t: Test, deploy: Partial<DeployConfig>, runs: Partial<RunsConfig> = { runtime: 'process' }) {
  const server = await startRunsServer(t, runs, { config: { deploy: { ...loadConfig({}).deploy, ...deploy } } });
  const client = await GitClient.create(t);
  const alice = await server.user('alice');
  const { sha, dir } = await pushProject(server, client, alice, 'clf', servingProject(0.9));
  const [train] = await waitForRuns(server, alice.basic, 'alice/clf', sha);
  if (train.status !== 'success') throw new Error(`train: ${train.status} ${train.message}`);
  await eventually(async () => (await server.api('GET', '/api/v1/repos/alice/clf/models/clf/versions', { auth: alice.basic })).body, (v) => Array.isArray(v) && v.length === 1, 'version 1');
  return {
    server,
    alice,
    /** The pushed working repository, for further commits. */
    client,
    dir,
    deploy: (body: Record<string, unknown>) => server.api('POST', '/api/v1/repos/alice/clf/deployments', { auth: alice.basic, body: { model: 'clf', alias: 'latest', command: PREDICTOR_COMMAND, ...body } }),
    deployment: async () => (await server.api('GET', '/api/v1/repos/alice/clf/deployments/clf', { auth: alice.basic })).body,
    untilReady: () => eventually(async () => (await server.api('GET', '/api/v1/repos/alice/clf/deployments/clf', { auth: alice.basic })).body, (d) => d.state === 'ready' || d.state === 'failing', 'deployment ready'),
  };
}

/**
 * Sends `send()` `perSecond` times a second for `seconds`, paced by the clock (a slow answer does
 * not slow the load down), calling `tick` with the elapsed milliseconds before each request;
 * resolves with every request's status (0: no answer) and answering version once all are done.
 */
export async function steadyLoad(
  perSecond: number,
  seconds: number,
  send: () => Promise<{ status: number; version: string | null }>,
  tick: (elapsedMs: number) => Promise<void> | void = () => {},
): Promise<{ sentAt: number; status: number; version: string | null }[]> {
  const results: { sentAt: number; status: number; version: string | null }[] = [];
  const pending: Promise<void>[] = [];
  const start = Date.now();
  for (let i = 0; i < perSecond * seconds; i += 1) {
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, start + (i * 1000) / perSecond - Date.now())));
    await tick(Date.now() - start);
    const sentAt = Date.now();
    pending.push(send().then((answer) => void results.push({ sentAt, ...answer }), () => void results.push({ sentAt, status: 0, version: null })));
  }
  await Promise.all(pending);
  return results.sort((a, b) => a.sentAt - b.sentAt);
}
