// Format awareness (issue 11): a safetensors header read by range from a file the test writes (and
// hostile headers refused with a reason), and pickles scanned by opcode, never unpickled: real
// pickles made by Debian's python3 (every protocol; joblib-dumped scikit-learn models, plain and
// compressed) and hostile ones whose __reduce__ calls os.system, which must be reported and
// must never run (the marker file it would create stays absent).
import t from 'tap';
import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import fs from 'node:fs/promises';
import os from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { promisify } from 'node:util';
import { LocalObjectStore } from '../server/adapters/object-store/local-store.ts';
import { inspectModel } from '../server/domain/registry/formats/inspect.ts';
import { scanPickle } from '../server/domain/registry/formats/pickle-scan.ts';

const run = promisify(execFile);
const PYTHON = '/usr/bin/python3';

async function python(code: string): Promise<Buffer> {
  const { stdout } = await run(PYTHON, ['-c', code], { encoding: 'buffer', maxBuffer: 64 * 1024 * 1024 });
  return stdout;
}

/** A safetensors file written by hand from the format's description. */
function safetensors(header: Record<string, unknown>, dataBytes: number): Buffer {
  const json = Buffer.from(JSON.stringify(header));
  const length = Buffer.alloc(8);
  length.writeBigUInt64LE(BigInt(json.length));
  return Buffer.concat([length, json, Buffer.alloc(dataBytes, 7)]);
}

async function storeWith(t: { teardown(fn: () => Promise<void>): void }, files: Buffer[]): Promise<{ store: LocalObjectStore; oids: string[] }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-formats-'));
  t.teardown(() => fs.rm(dir, { recursive: true, force: true }));
  const store = new LocalObjectStore(dir);
  const oids: string[] = [];
  for (const bytes of files) {
    const oid = createHash('sha256').update(bytes).digest('hex');
    await store.put(oid, bytes.length, Readable.from([bytes]));
    oids.push(oid);
  }
  return { store, oids };
}

t.test('safetensors: tensors, dtypes, shapes and parameters read by range', async (t) => {
  const header = {
    __metadata__: { format: 'pt' },
    'encoder.weight': { dtype: 'F32', shape: [64, 32], data_offsets: [0, 8192] },
    'encoder.bias': { dtype: 'F32', shape: [64], data_offsets: [8192, 8448] },
    'head.weight': { dtype: 'BF16', shape: [10, 64], data_offsets: [8448, 9728] },
  };
  const file = safetensors(header, 9728);
  const { store, oids } = await storeWith(t, [file]);
  // Count what is read: the header, never the tensor data.
  let bytesRead = 0;
  const counting = Object.create(store) as LocalObjectStore;
  counting.get = async (oid, range) => {
    bytesRead += range ? range.end - range.start + 1 : file.length;
    return store.get(oid, range);
  };
  const found = await inspectModel(counting, { oid: oids[0]!, size: file.length, format: 'safetensors', path: 'model.safetensors' });
  t.equal(found.kind, 'safetensors');
  if (found.kind !== 'safetensors') return;
  t.same(found.header.metadata, { format: 'pt' });
  t.equal(found.header.tensors, 3);
  t.equal(found.header.parameters, 64 * 32 + 64 + 640);
  t.same(found.header.dtypes, { F32: 64 * 32 + 64, BF16: 640 });
  t.same(found.header.list.map((x) => [x.name, x.dtype, x.shape]), [
    ['encoder.bias', 'F32', [64]],
    ['encoder.weight', 'F32', [64, 32]],
    ['head.weight', 'BF16', [10, 64]],
  ]);
  t.equal(bytesRead, 8 + (file.length - 8 - 9728), 'only the length and the header were read');
});

const hostileHeaders: { name: string; file: () => Buffer; error: RegExp }[] = [
  { name: 'shorter than the length field', file: () => Buffer.from('abc'), error: /8-byte header length/ },
  { name: 'header length past the end', file: () => Buffer.concat([Buffer.from([0xff, 0xff, 0, 0, 0, 0, 0, 0]), Buffer.from('{}')]), error: /past the end|outside/ },
  { name: 'absurd header length', file: () => Buffer.from([0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f, 0x7b]), error: /outside 2\.\./ },
  { name: 'header not JSON', file: () => Buffer.concat([Buffer.from([4, 0, 0, 0, 0, 0, 0, 0]), Buffer.from('{{{{')]), error: /not valid JSON/ },
  { name: 'header a list', file: () => safetensors([] as unknown as Record<string, unknown>, 0), error: /not a JSON object/ },
  { name: 'unknown dtype', file: () => safetensors({ w: { dtype: 'F128', shape: [1], data_offsets: [0, 16] } }, 16), error: /unknown dtype/ },
  { name: 'negative dimension', file: () => safetensors({ w: { dtype: 'F32', shape: [-1], data_offsets: [0, 4] } }, 4), error: /shape/ },
  { name: 'size disagrees with shape', file: () => safetensors({ w: { dtype: 'F32', shape: [3], data_offsets: [0, 8] } }, 8), error: /12 expected/ },
  { name: 'offsets past the data', file: () => safetensors({ w: { dtype: 'U8', shape: [100], data_offsets: [0, 100] } }, 10), error: /outside the 10 bytes/ },
  { name: 'metadata not strings', file: () => safetensors({ __metadata__: { n: 1 } }, 0), error: /must be a string/ },
];

for (const c of hostileHeaders) {
  t.test(`safetensors refused: ${c.name}`, async (t) => {
    const bytes = c.file();
    const { store, oids } = await storeWith(t, [bytes]);
    const found = await inspectModel(store, { oid: oids[0]!, size: bytes.length, format: 'safetensors', path: 'm.safetensors' });
    t.equal(found.kind, 'unreadable');
    if (found.kind === 'unreadable') t.match(found.error, c.error);
  });
}

t.test('hostile pickles: os.system in __reduce__ is reported and never runs', async (t) => {
  const marker = path.join(await fs.mkdtemp(path.join(os.tmpdir(), 'mlgit-pickle-')), 'pwned');
  t.teardown(() => fs.rm(path.dirname(marker), { recursive: true, force: true }));
  for (const protocol of [0, 1, 2, 3, 4, 5]) {
    const bytes = await python(
      `import os, pickle, sys\nclass Evil:\n    def __reduce__(self):\n        return (os.system, (${JSON.stringify(`touch ${marker}`)},))\nsys.stdout.buffer.write(pickle.dumps({'weights': [1.0, 2.0], 'payload': Evil()}, protocol=${protocol}))`,
    );
    const scan = scanPickle(bytes);
    t.ok(scan.complete, `protocol ${protocol}: walked to STOP`);
    t.same(scan.disallowed, ['posix.system'], `protocol ${protocol}: os.system reported (as posix.system, where it lives)`);
  }
  const builtins = await python(`import pickle, sys\nclass E:\n    def __reduce__(self):\n        return (eval, ("__import__('os').system('touch ${marker}')",))\nsys.stdout.buffer.write(pickle.dumps(E(), protocol=4))`);
  t.same(scanPickle(builtins).disallowed, ['builtins.eval']);
  const { store, oids } = await storeWith(t, [builtins]);
  const found = await inspectModel(store, { oid: oids[0]!, size: builtins.length, format: 'pickle', path: 'model.pkl' });
  t.match(found, { kind: 'pickle', unsafe_to_load: true, warning: /unsafe to load from untrusted sources/, scan: { disallowed: ['builtins.eval'] } });
  await t.rejects(fs.stat(marker), { code: 'ENOENT' }, 'nothing was ever unpickled');
});

t.test('a scikit-learn model dumped with joblib: allowed imports only, plain and compressed', async (t) => {
  const dump = (compress: number) =>
    python(
      `import io, sys, joblib\nfrom sklearn.linear_model import LogisticRegression\nm = LogisticRegression(max_iter=50).fit([[0, 1], [1, 0], [1, 1], [0, 0]], [0, 1, 1, 0])\nb = io.BytesIO()\njoblib.dump(m, b, compress=${compress})\nsys.stdout.buffer.write(b.getvalue())`,
    );
  for (const [compress, compression] of [[0, null], [3, 'zlib']] as const) {
    const bytes = await dump(compress);
    const { store, oids } = await storeWith(t, [bytes]);
    const found = await inspectModel(store, { oid: oids[0]!, size: bytes.length, format: 'sklearn', path: 'model.joblib' });
    t.equal(found.kind, 'pickle');
    if (found.kind !== 'pickle') continue;
    t.equal(found.compression, compression, `compress=${compress}`);
    t.same(found.scan.disallowed, [], `compress=${compress}: nothing outside the allow-list`);
    t.ok(found.scan.imports.some((i) => i.module.startsWith('sklearn.linear_model') && i.name === 'LogisticRegression'), 'the estimator class is listed');
  }
});

const brokenPickles: { name: string; bytes: Buffer; reason: RegExp }[] = [
  { name: 'empty', bytes: Buffer.alloc(0), reason: /ended before STOP/ },
  { name: 'not a pickle', bytes: Buffer.from([0x00, 0x01, 0x02]), reason: /not a pickle opcode/ },
  { name: 'length past the end', bytes: Buffer.from([0x80, 4, 0x8d, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x7f]), reason: /past the end/ },
  { name: 'GLOBAL without newline', bytes: Buffer.from('cos\nsystem'), reason: /no end of line/ },
  { name: 'cut-off argument', bytes: Buffer.from([0x80]), reason: /cut short/ },
];

for (const c of brokenPickles) {
  t.test(`broken pickle: ${c.name}`, async (t) => {
    const scan = scanPickle(c.bytes);
    t.equal(scan.complete, false);
    t.match(scan.stoppedAt?.reason, c.reason);
  });
}

t.test('a GLOBAL before the cut is still reported', async (t) => {
  const scan = scanPickle(Buffer.from('cos\nsystem\n(S"id"\ntR'));
  t.same(scan.disallowed, ['os.system']);
  t.equal(scan.complete, false);
});
