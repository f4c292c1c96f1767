// One proxied request to a model server over its unix socket: mlgit's credentials stripped, a
// deadline on the whole exchange (504), headers that keep the model's content from acting on
// mlgit's origin, and one retry on another replica when the connection to the first was lost
// before any answer (a replica that died). Small answers and errors are read whole (an error
// without JSON becomes mlgit's JSON error carrying the model's status); a large answer with a
// Content-Length streams through.
import http from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Lease } from '../../domain/deployments/supervisor.ts';

export interface ForwardLimits {
  /** Whole exchange with the model, from connect to the last byte of its answer. */
  timeoutMs: number;
  maxResponseBytes: number;
}

/**
 * Pooled per socket path (the agent keys its pools by it): a ready replica is one connect away at
 * most. At most 32 connections to one model server: servers with a thread per connection (the
 * stdlib's) run out of threads long before that many requests help; more requests wait here.
 */
const agent = new http.Agent({ keepAlive: true, maxSockets: 32, maxFreeSockets: 32 });

/** Hop-by-hop and credential headers: never sent on to the model (it must not see the caller's token). */
const DROP_REQUEST = new Set(['host', 'connection', 'keep-alive', 'proxy-authorization', 'proxy-connection', 'te', 'trailer', 'transfer-encoding', 'upgrade', 'authorization', 'cookie', 'content-length', 'expect']);
/** What of the model's answer reaches the client; never Set-Cookie (mlgit's origin). */
const KEEP_RESPONSE = ['content-type', 'cache-control', 'etag', 'last-modified', 'content-language', 'content-disposition', 'vary'];
/** The model's bytes are served from mlgit's origin: never as a page that could run script there. */
const CONTAINED = { 'content-security-policy': "sandbox; default-src 'none'", 'x-content-type-options': 'nosniff' };

/**
 * Answers up to this size are read whole: they come in one or two socket reads, so holding them
 * costs no time, and one write sends them on (a pipe costs more CPU per request than the copy).
 * Larger ones that declare their length stream, holding no more than a socket buffer in mlgit.
 */
const STREAM_FROM_BYTES = 64 * 1024;

interface Answer {
  status: number;
  headers: http.IncomingHttpHeaders;
  /** The whole answer, or the model's response still arriving (a large one that declared its length). */
  body: Buffer | http.IncomingMessage;
}

/**
 * `another` leases a replica other than the given one; null when the request may not be sent
 * twice (the model may have acted on it before its connection broke).
 */
export async function forward(request: FastifyRequest, reply: FastifyReply, lease: Lease, upstreamPath: string, limits: ForwardLimits, another: ((lost: Lease) => Promise<Lease>) | null): Promise<FastifyReply> {
  const body = Buffer.isBuffer(request.body) ? request.body : null;
  const headers = upstreamHeaders(request, body);
  if (lease.coldStartMs !== null) reply.header('X-Mlgit-Cold-Start-Ms', String(lease.coldStartMs));
  reply.headers(CONTAINED);
  let answer: Answer;
  let serving = lease;
  try {
    try {
      answer = await exchange(serving.socketPath, request.method, upstreamPath, headers, body, limits);
    } catch (error) {
      const retry = error instanceof ReplicaLost && another !== null ? await another(serving).catch(() => null) : null;
      if (retry === null) throw error;
      serving.release();
      serving = retry;
      request.log.warn({ err: error, upstream: upstreamPath }, 'lost the connection to a replica; sent to another');
      answer = await exchange(serving.socketPath, request.method, upstreamPath, headers, body, limits);
    }
  } catch (final) {
    serving.release();
    const failure = final instanceof UpstreamFailure ? final : new UpstreamFailure(502, 'model_unreachable', `the model server could not be reached: ${final instanceof Error ? final.message : String(final)}`);
    request.log.warn({ err: final, upstream: upstreamPath }, 'model request failed');
    return reply.code(failure.status).type('application/json').send({ error: { code: failure.code, message: failure.message } });
  }
  // A streamed answer holds its replica (a switch drains it) until its last byte is through.
  if (Buffer.isBuffer(answer.body)) serving.release();
  else {
    const held = serving;
    answer.body.once('close', () => held.release());
    reply.header('content-length', answer.headers['content-length']);
  }
  reply.header('X-Mlgit-Model-Version', String(serving.version));
  for (const name of KEEP_RESPONSE) {
    const value = answer.headers[name];
    if (value !== undefined) reply.header(name, value);
  }
  if (Buffer.isBuffer(answer.body) && answer.status >= 400 && !isJson(answer.headers, answer.body)) {
    const text = answer.body.toString('utf8', 0, Math.min(answer.body.length, 2000)).trim();
    return reply.code(answer.status).type('application/json').send({ error: { code: 'model_error', message: text || `the model answered ${answer.status}`, model_status: answer.status } });
  }
  return reply.code(answer.status).send(answer.body);
}

/** The caller's headers less hop-by-hop ones and credentials, with the request's id and address. */
function upstreamHeaders(request: FastifyRequest, body: Buffer | null): http.OutgoingHttpHeaders {
  const incoming = request.headers;
  const headers: http.OutgoingHttpHeaders = {};
  for (const name in incoming) {
    const value = incoming[name];
    if (value !== undefined && !DROP_REQUEST.has(name)) headers[name] = value;
  }
  headers['x-request-id'] = request.id;
  headers['x-forwarded-for'] = request.ip;
  if (body !== null) headers['content-length'] = body.length;
  return headers;
}

class UpstreamFailure extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

function isJson(headers: http.IncomingHttpHeaders, body: Buffer): boolean {
  if (!/^application\/(?:[\w.+-]+\+)?json\b/i.test(headers['content-type'] ?? '')) return false;
  try {
    JSON.parse(body.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

/** Tries of one request whose connection failed before the model saw it (10, 20, 40 ms apart). */
const ATTEMPTS = 4;

/**
 * Sends the request and reads the whole answer. A pooled connection the model server closed
 * while idle fails before any answer byte, a unix socket whose backlog is full refuses a connect
 * at once (EAGAIN), and a model server that cannot start a thread for a connection closes it
 * unread (EPIPE): the model never saw the request, so it is sent again on a fresh connection,
 * as Node's docs advise for the first case.
 */
async function exchange(socketPath: string, method: string, path: string, headers: http.OutgoingHttpHeaders, body: Buffer | null, limits: ForwardLimits): Promise<Answer> {
  const deadline = Date.now() + limits.timeoutMs;
  for (let attempt = 1; ; attempt += 1) {
    try {
      return await once(socketPath, method, path, headers, body, limits, deadline);
    } catch (error) {
      if (!(error instanceof StaleConnection) || attempt >= ATTEMPTS) throw error instanceof StaleConnection ? new ReplicaLost(error.message, { cause: error.cause }) : error;
      await new Promise((resolve) => setTimeout(resolve, 10 * 2 ** (attempt - 1)));
    }
  }
}

class StaleConnection extends Error {}

function tooLarge(limits: ForwardLimits): UpstreamFailure {
  return new UpstreamFailure(502, 'model_answer_too_large', `the model's answer is over ${limits.maxResponseBytes} bytes`);
}

/** No answer byte came and the connection is gone: the model server behind it died or is dying. */
class ReplicaLost extends Error {}

/** Connection failures before any answer that mean the model server is gone (its socket refuses, or is removed). */
const GONE = new Set(['ECONNREFUSED', 'ENOENT', 'ECONNRESET']);

/** One try of the request. Listeners are added with on, not once: each of these events comes once at most, and once wraps every listener in a closure of its own. */
function once(socketPath: string, method: string, path: string, headers: http.OutgoingHttpHeaders, body: Buffer | null, limits: ForwardLimits, deadline: number): Promise<Answer> {
  return new Promise<Answer>((resolve, reject) => {
    const upstream = http.request({ socketPath, method, path, headers, agent });
    const timer = setTimeout(() => {
      upstream.destroy(new UpstreamFailure(504, 'model_timeout', `the model did not answer within ${Math.round(limits.timeoutMs / 1000)} s`));
    }, Math.max(1, deadline - Date.now()));
    let answered = false;
    upstream.on('response', (response) => {
      answered = true;
      const status = response.statusCode ?? 502;
      const declared = Number(response.headers['content-length'] ?? 0);
      if (declared > limits.maxResponseBytes) {
        upstream.destroy(tooLarge(limits));
        return;
      }
      if (status >= 200 && status < 300 && declared > STREAM_FROM_BYTES) {
        // The deadline covers the streamed body too: a model stalling in the middle of it has its
        // connection and the client's closed (the status is already sent).
        response.on('close', () => clearTimeout(timer));
        resolve({ status, headers: response.headers, body: response });
        return;
      }
      const chunks: Buffer[] = [];
      let size = 0;
      response.on('data', (chunk: Buffer) => {
        size += chunk.length;
        if (size > limits.maxResponseBytes) upstream.destroy(tooLarge(limits));
        else chunks.push(chunk);
      });
      response.on('end', () => {
        clearTimeout(timer);
        resolve({ status, headers: response.headers, body: Buffer.concat(chunks, size) });
      });
      const broken = (error: Error) => {
        clearTimeout(timer);
        reject(error);
      };
      response.on('error', broken);
      response.on('close', () => {
        if (!response.complete) broken(new UpstreamFailure(502, 'model_unreachable', 'the model server closed the connection in the middle of its answer'));
      });
    });
    upstream.on('error', (error: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      // EPIPE: our request never got through; EAGAIN: no connection; ECONNRESET on a reused
      // connection: closed while idle. A reset of a fresh one may be the model dying mid-request: not retried.
      const unseen = !answered && (error.code === 'EPIPE' || error.code === 'EAGAIN' || (upstream.reusedSocket && error.code === 'ECONNRESET'));
      if (unseen) reject(new StaleConnection(error.message, { cause: error }));
      else reject(!answered && GONE.has(error.code ?? '') ? new ReplicaLost(error.message, { cause: error }) : error);
    });
    upstream.end(body ?? undefined);
  });
}
