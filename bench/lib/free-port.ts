import { createServer, type AddressInfo } from 'node:net';

/** Asks the kernel for an unused port on 127.0.0.1. Racy in principle, fine for a local bench. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as AddressInfo;
      server.close(() => resolve(port));
    });
  });
}
