import http from 'node:http';
import type net from 'node:net';

/**
 * A small HTTP load balancer for tests and benches: each request goes to the next backend in turn,
 * as a round-robin proxy in front of several `mlgit serve` nodes would send it. A backend that
 * refuses the connection (a node killed) is skipped for that request and the next one is tried,
 * like a balancer's passive health check; the request body is not read until a backend accepted
 * the connection, so nothing is lost in the retry. Each request gets a fresh connection.
 */
export interface RoundRobinProxy {
  readonly url: string;
  /** Where each request went, by backend URL (failed connection attempts not counted). */
  readonly served: Map<string, number>;
  setBackends(urls: string[]): void;
  close(): Promise<void>;
}

export async function roundRobinProxy(backends: string[] = []): Promise<RoundRobinProxy> {
  let targets = backends.map((u) => new URL(u));
  let next = 0;
  const served = new Map<string, number>();
  const sockets = new Set<net.Socket>();

  /** Tries the backends in turn from `first` (this request's pick), each once. */
  function forward(req: http.IncomingMessage, res: http.ServerResponse, first: number, tries: number): void {
    if (targets.length === 0 || tries >= targets.length) {
      res.writeHead(502, { 'content-type': 'text/plain' }).end('no backend reachable\n');
      return;
    }
    const target = targets[(first + tries) % targets.length]!;
    const upstream = http.request({
      host: target.hostname,
      port: target.port,
      method: req.method,
      path: req.url,
      headers: { ...req.headers, 'x-forwarded-for': req.socket.remoteAddress ?? '' },
      agent: false,
    });
    let connected = false;
    upstream.on('socket', (socket) =>
      socket.once('connect', () => {
        connected = true;
        served.set(target.origin, (served.get(target.origin) ?? 0) + 1);
        req.pipe(upstream);
      }),
    );
    upstream.on('response', (answer) => {
      res.writeHead(answer.statusCode ?? 502, answer.rawHeaders);
      answer.pipe(res);
      answer.on('error', () => res.destroy());
    });
    upstream.on('error', () => {
      if (!connected) return forward(req, res, first, tries + 1);
      // The backend died mid-answer: the client sees its connection cut, as behind a real balancer.
      res.destroy();
    });
    res.on('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
  }

  const server = http.createServer((req, res) => forward(req, res, next++, 0));
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    served,
    setBackends(urls) {
      targets = urls.map((u) => new URL(u));
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
