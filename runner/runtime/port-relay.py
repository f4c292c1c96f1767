# Bridges a unix socket to a TCP port on loopback, inside a job's own network namespace: a model
# server that listens on a port (an image's own entrypoint) stays without network, and mlgit
# reaches it through the socket file in the directory it shares with the sandbox or container.
# Standard library only: it runs on the job image's or the runner machine's python3.
# argv: PORT SOCKET_PATH
import asyncio
import os
import sys

PORT = int(sys.argv[1])
SOCKET = sys.argv[2]
CHUNK = 64 * 1024


async def pump(reader, writer):
    try:
        while True:
            data = await reader.read(CHUNK)
            if not data:
                break
            writer.write(data)
            await writer.drain()
        # Half-close: the other direction may still carry the answer.
        if writer.can_write_eof():
            writer.write_eof()
    except OSError:
        writer.close()


async def relay(client_reader, client_writer):
    try:
        upstream_reader, upstream_writer = await asyncio.open_connection('127.0.0.1', PORT)
    except OSError:
        # Not listening yet (still starting) or gone: the caller sees a closed connection.
        client_writer.close()
        return
    await asyncio.gather(pump(client_reader, upstream_writer), pump(upstream_reader, client_writer))
    upstream_writer.close()
    client_writer.close()


async def main():
    if os.path.exists(SOCKET):
        os.unlink(SOCKET)
    server = await asyncio.start_unix_server(relay, SOCKET, backlog=128)
    # mlgit connects as its own user, the relay runs as the job's.
    os.chmod(SOCKET, 0o666)
    print(f'mlgit relay: {SOCKET} -> 127.0.0.1:{PORT}', flush=True)
    async with server:
        await server.serve_forever()


asyncio.run(main())
