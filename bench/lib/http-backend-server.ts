import { spawn, type ChildProcess } from 'node:child_process';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Readable } from 'node:stream';

/**
 * The reference server of the clone benchmark: git's own CGI `git http-backend` behind a minimal
 * node:http front end. It adds nothing but the CGI plumbing, so the time it takes is git's.
 */
export interface HttpBackend {
  readonly url: string;
  close(): Promise<void>;
}

export interface HttpBackendOptions {
  /**
   * Base environment of every `git http-backend` (PATH, HOME...). Defaults to PATH only, so the
   * caller's GIT_* variables and config never leak into the reference.
   */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Answer a push request that carries no credentials with 401 and a Basic challenge, as
   * git-http-backend(1)'s Apache example does for git-receive-pack: the client then makes the same
   * requests as against a server that, like mlgit, needs credentials to push. The credentials
   * themselves are not checked (git's server has no users; that work is the web server's).
   */
  readonly challengePushes?: boolean;
}

// CGI headers are a few short lines; anything bigger means the child is not speaking CGI.
const MAX_CGI_HEADER_BYTES = 64 * 1024;
const STDERR_TAIL_CHARS = 4096;

export async function startHttpBackend(root: string, options: HttpBackendOptions = {}): Promise<HttpBackend> {
  const baseEnv = options.env ?? { PATH: process.env.PATH ?? '/usr/bin:/bin' };
  const children = new Set<ChildProcess>();
  const server = createServer((req, res) => {
    if (options.challengePushes && isPush(req) && req.headers.authorization === undefined) {
      res.writeHead(401, { 'www-authenticate': 'Basic realm="git"', 'content-type': 'text/plain' }).end('authentication required\n');
      return;
    }
    serveCgi(root, baseEnv, children, req, res);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, close: () => closeServer(server, children) };
}

/** The advertisement for a push, or the push itself. */
function isPush(req: IncomingMessage): boolean {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  return url.pathname.endsWith('/git-receive-pack') || url.searchParams.get('service') === 'git-receive-pack';
}

function closeServer(server: Server, children: Set<ChildProcess>): Promise<void> {
  for (const child of children) child.kill('SIGKILL');
  server.closeAllConnections();
  return new Promise((resolve) => server.close(() => resolve()));
}

function serveCgi(
  root: string,
  baseEnv: NodeJS.ProcessEnv,
  children: Set<ChildProcess>,
  req: IncomingMessage,
  res: ServerResponse,
): void {
  const child = spawn('git', ['http-backend'], { env: cgiEnv(root, baseEnv, req), stdio: ['pipe', 'pipe', 'pipe'] });
  children.add(child);

  // git may answer (and exit) before reading the whole body, e.g. on a 404: EPIPE is expected then.
  child.stdin.on('error', () => undefined);
  req.pipe(child.stdin);

  let stderrTail = '';
  child.stderr.on('data', (chunk: Buffer) => {
    stderrTail = (stderrTail + chunk.toString('utf8')).slice(-STDERR_TAIL_CHARS);
  });

  forwardCgiResponse(child.stdout, res);

  // The client hung up mid-response: stop the pack generation nobody will read.
  res.on('close', () => {
    if (!res.writableFinished) child.kill('SIGKILL');
  });
  child.on('error', (error) => fail(res, 502, `cannot run git http-backend: ${error.message}`));
  child.on('close', (code, signal) => {
    children.delete(child);
    if (code !== 0 && signal === null) {
      process.stderr.write(`[http-backend] ${req.method} ${req.url} exited ${code}: ${stderrTail.trim()}\n`);
    }
    if (!res.headersSent) fail(res, 502, 'git http-backend produced no CGI headers');
  });
}

function cgiEnv(root: string, baseEnv: NodeJS.ProcessEnv, req: IncomingMessage): NodeJS.ProcessEnv {
  const url = new URL(req.url ?? '/', 'http://127.0.0.1');
  const env: NodeJS.ProcessEnv = {
    ...baseEnv,
    GIT_PROJECT_ROOT: root,
    GIT_HTTP_EXPORT_ALL: '1',
    GATEWAY_INTERFACE: 'CGI/1.1',
    SERVER_PROTOCOL: `HTTP/${req.httpVersion}`,
    REQUEST_METHOD: req.method ?? 'GET',
    PATH_INFO: decodeURIComponent(url.pathname),
    QUERY_STRING: url.search.slice(1),
    CONTENT_TYPE: req.headers['content-type'] ?? '',
    REMOTE_ADDR: req.socket.remoteAddress ?? '127.0.0.1',
    REMOTE_USER: basicAuthUser(req.headers.authorization) ?? '',
  };
  const contentLength = req.headers['content-length'];
  if (contentLength !== undefined) env.CONTENT_LENGTH = contentLength;
  const contentEncoding = req.headers['content-encoding'];
  if (contentEncoding !== undefined) env.HTTP_CONTENT_ENCODING = contentEncoding;
  // Without GIT_PROTOCOL, http-backend would silently fall back to protocol v0.
  const gitProtocol = req.headers['git-protocol'];
  if (typeof gitProtocol === 'string') env.GIT_PROTOCOL = gitProtocol;
  return env;
}

function basicAuthUser(authorization: string | undefined): string | undefined {
  const match = /^Basic\s+(\S+)$/i.exec(authorization ?? '');
  if (!match?.[1]) return undefined;
  const decoded = Buffer.from(match[1], 'base64').toString('utf8');
  const colon = decoded.indexOf(':');
  return colon >= 0 ? decoded.slice(0, colon) : decoded;
}

/**
 * Buffers stdout until the blank line that ends the CGI headers, writes them as the HTTP status
 * and headers, then pipes the body through untouched (no buffering: packs can be gigabytes).
 */
function forwardCgiResponse(stdout: Readable, res: ServerResponse): void {
  let pending = Buffer.alloc(0);
  const onData = (chunk: Buffer): void => {
    pending = Buffer.concat([pending, chunk]);
    const end = headerEnd(pending);
    if (end === undefined) {
      if (pending.length > MAX_CGI_HEADER_BYTES) {
        stdout.off('data', onData);
        stdout.resume();
        fail(res, 502, 'git http-backend sent oversized CGI headers');
      }
      return;
    }
    stdout.off('data', onData);
    writeCgiHead(pending.subarray(0, end.headerBytes).toString('latin1'), res);
    const body = pending.subarray(end.bodyStart);
    if (body.length > 0) res.write(body);
    stdout.pipe(res);
  };
  stdout.on('data', onData);
}

function headerEnd(buffer: Buffer): { headerBytes: number; bodyStart: number } | undefined {
  const crlf = buffer.indexOf('\r\n\r\n');
  const lf = buffer.indexOf('\n\n');
  if (crlf >= 0 && (lf < 0 || crlf < lf)) return { headerBytes: crlf, bodyStart: crlf + 4 };
  if (lf >= 0) return { headerBytes: lf, bodyStart: lf + 2 };
  return undefined;
}

function writeCgiHead(headerText: string, res: ServerResponse): void {
  let status = 200;
  for (const line of headerText.split(/\r?\n/)) {
    const colon = line.indexOf(':');
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim();
    const value = line.slice(colon + 1).trim();
    if (name.toLowerCase() === 'status') {
      status = Number.parseInt(value, 10) || 500;
    } else {
      const previous = res.getHeader(name);
      res.setHeader(name, previous === undefined ? value : [...[previous].flat().map(String), value]);
    }
  }
  res.writeHead(status);
}

function fail(res: ServerResponse, status: number, message: string): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  res.writeHead(status, { 'Content-Type': 'text/plain' });
  res.end(`${message}\n`);
}
