// The git spawner (issue 15): a small long-lived process that starts git for the server.
//
// Why: Node 20's libuv spawns with fork(), which copies the page tables of the calling process.
// For the server (250-350 MB with PGlite) that is 40-200 ms per git process, during which its
// event loop is blocked. This process stays ~40 MB, so each fork costs ~3 ms and blocks only it.
//
// Plain JS with node builtins only, so it starts without tsx and stays small.
//
// Protocol (IPC, JSON), see spawner-client.ts:
//   in:  { type: 'spawn', id, file, args, cwd, env, stdio: [bool, bool, bool] }
//        { type: 'kill', id, signal }
//   out: { type: 'spawned', id, pid } | { type: 'exit', id, code, signal } | { type: 'error', id, message, code }
// For each stdio stream wanted, this process connects to the server's private UNIX socket, writes
// an 8-byte tag (id, stream number) and hands the socket to git as that stream: git's bytes then
// flow straight to the server, never through this process.
import { spawn } from 'node:child_process';
import net from 'node:net';

const socketPath = process.argv[2];
const TAG_BYTES = 8;
const children = new Map(); // id -> ChildProcess
const starting = new Set(); // ids whose stdio is still connecting
const pendingKills = new Map(); // id -> signal, for kills that arrive before git has started

function send(message) {
  if (process.connected) process.send(message);
}

function connectTagged(id, stream) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(socketPath);
    // Never read: bytes the server writes to git's stdin must stay in the kernel for git.
    socket.pause();
    socket.once('error', reject);
    const tag = Buffer.alloc(TAG_BYTES);
    tag.writeUInt32BE(id, 0);
    tag.writeUInt8(stream, 4);
    // The tag must be in the kernel before git gets the socket and writes after it.
    socket.write(tag, (err) => (err ? reject(err) : resolve(socket)));
  });
}

async function start(request) {
  const { id } = request;
  starting.add(id);
  const connecting = request.stdio.map((wanted, stream) => (wanted ? connectTagged(id, stream) : Promise.resolve(null)));
  let sockets;
  try {
    sockets = await Promise.all(connecting);
  } catch (err) {
    starting.delete(id);
    pendingKills.delete(id);
    for (const result of await Promise.allSettled(connecting)) if (result.status === 'fulfilled') result.value?.destroy();
    send({ type: 'error', id, message: `git spawner could not connect its stdio: ${err.message}`, code: err.code ?? null });
    return;
  }
  starting.delete(id);
  const child = spawn(request.file, request.args, {
    cwd: request.cwd,
    env: request.env,
    stdio: sockets.map((socket) => socket ?? 'ignore'),
  });
  // git holds its own copies of the descriptors now; ours would keep the server's reads from
  // ever seeing end-of-file.
  for (const socket of sockets) socket?.destroy();
  child.on('error', (err) => {
    children.delete(id);
    pendingKills.delete(id);
    send({ type: 'error', id, message: err.message, code: err.code ?? null });
  });
  if (child.pid === undefined) return;
  children.set(id, child);
  send({ type: 'spawned', id, pid: child.pid });
  child.on('exit', (code, signal) => {
    children.delete(id);
    send({ type: 'exit', id, code, signal });
  });
  const signal = pendingKills.get(id);
  if (signal) {
    pendingKills.delete(id);
    child.kill(signal);
  }
}

process.on('message', (message) => {
  if (message.type === 'spawn') void start(message);
  else if (message.type === 'kill') {
    const child = children.get(message.id);
    if (child) child.kill(message.signal);
    else if (starting.has(message.id)) pendingKills.set(message.id, message.signal);
  }
});
// The server is gone: nobody is left to report to. Running gits finish on their own.
process.on('disconnect', () => process.exit(0));
