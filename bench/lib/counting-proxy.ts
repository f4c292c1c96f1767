import { createConnection, createServer, type AddressInfo, type Socket } from 'node:net';

/**
 * A TCP proxy on 127.0.0.1 that counts the bytes it forwards in each direction. Put in front of
 * a server, it shows how much a client really sent to (and received from) that server, whatever
 * the protocol: request bodies, headers and all, with no change to the server.
 */
export interface ByteCounts {
  /** Bytes the clients sent to the server. */
  readonly upstream: number;
  /** Bytes the server sent back. */
  readonly downstream: number;
  readonly connections: number;
}

export interface CountingProxy {
  readonly url: string;
  counts(): ByteCounts;
  close(): Promise<void>;
}

export async function startCountingProxy(targetPort: number, targetHost = '127.0.0.1'): Promise<CountingProxy> {
  let upstream = 0;
  let downstream = 0;
  let connections = 0;
  const sockets = new Set<Socket>();
  const track = (socket: Socket): void => {
    sockets.add(socket);
    socket.once('close', () => sockets.delete(socket));
  };

  const server = createServer((client) => {
    connections += 1;
    const target = createConnection({ port: targetPort, host: targetHost });
    track(client);
    track(target);
    client.on('data', (chunk: Buffer) => (upstream += chunk.length));
    target.on('data', (chunk: Buffer) => (downstream += chunk.length));
    // pipe() handles back-pressure both ways; an error or close on one side ends the other.
    client.pipe(target);
    target.pipe(client);
    const teardown = (): void => {
      client.destroy();
      target.destroy();
    };
    client.once('error', teardown);
    target.once('error', teardown);
    client.once('close', teardown);
    target.once('close', teardown);
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    counts: () => ({ upstream, downstream, connections }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}
