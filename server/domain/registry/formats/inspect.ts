// What the registry tells about a model file before anyone loads it (issue 11, "Format
// awareness"): a safetensors header (tensors, dtypes, shapes, parameter count) read by range, or
// for pickle/joblib files an "unsafe to load from untrusted sources" mark and the imports their
// opcodes name. Run once at registration and kept with the version (it never changes).
import zlib from 'node:zlib';
import type { ObjectStore } from '../../ports.ts';
import { scanPickle, type PickleScan } from './pickle-scan.ts';
import { readSafetensorsHeader, SafetensorsError, type SafetensorsHeader } from './safetensors.ts';

/** Pickles are scanned up to this many bytes (after decompression): enough for every import of a model's object graph. */
export const MAX_SCAN_BYTES = 64 * 1024 * 1024;
export const UNSAFE_WARNING = 'unsafe to load from untrusted sources: loading a pickle runs the code it names';

export type Inspection =
  | { kind: 'safetensors'; header: SafetensorsHeader }
  | { kind: 'pickle'; unsafe_to_load: true; warning: string; compression: 'gzip' | 'zlib' | null; scan: PickleScan }
  | { kind: 'unreadable'; format: string; error: string }
  | { kind: 'none' };

const PICKLE_SUFFIXES = ['.pkl', '.pickle', '.joblib', '.sav'];

export async function inspectModel(store: ObjectStore, file: { oid: string; size: number; format: string; path: string }): Promise<Inspection> {
  if (file.format === 'safetensors' || file.path.endsWith('.safetensors')) {
    try {
      return { kind: 'safetensors', header: await readSafetensorsHeader(file.size, (start, end) => readRange(store, file.oid, start, end)) };
    } catch (err) {
      if (err instanceof SafetensorsError) return { kind: 'unreadable', format: 'safetensors', error: err.message };
      throw err;
    }
  }
  // Two bytes decide; only a pickle is read further (up to the scan cap).
  const magic = file.size === 0 ? Buffer.alloc(0) : await readRange(store, file.oid, 0, Math.min(file.size, 2) - 1);
  const looksPickled = magic[0] === 0x80 || PICKLE_SUFFIXES.some((s) => file.path.endsWith(s));
  if (file.format !== 'pickle' && file.format !== 'sklearn' && !looksPickled) return { kind: 'none' };
  const compression = magic[0] === 0x1f && magic[1] === 0x8b ? 'gzip' : magic[0] === 0x78 && [0x01, 0x5e, 0x9c, 0xda].includes(magic[1] ?? -1) ? 'zlib' : null;
  const head = file.size <= magic.length ? magic : await readRange(store, file.oid, 0, Math.min(file.size, MAX_SCAN_BYTES) - 1);
  const bytes = compression ? await decompress(head, compression) : head;
  return { kind: 'pickle', unsafe_to_load: true, warning: UNSAFE_WARNING, compression, scan: scanPickle(bytes) };
}

/**
 * Inflates at most MAX_SCAN_BYTES; a stream cut short (the compressed file is larger than what was
 * read) or corrupt yields whatever came out before, and the scan reports where it stopped.
 */
function decompress(bytes: Buffer, kind: 'gzip' | 'zlib'): Promise<Buffer> {
  return new Promise((resolve) => {
    const inflate = kind === 'gzip' ? zlib.createGunzip() : zlib.createInflate();
    const chunks: Buffer[] = [];
    let total = 0;
    const done = () => {
      inflate.removeAllListeners('data');
      inflate.destroy();
      resolve(Buffer.concat(chunks).subarray(0, MAX_SCAN_BYTES));
    };
    inflate.on('data', (chunk: Buffer) => {
      chunks.push(chunk);
      total += chunk.length;
      if (total >= MAX_SCAN_BYTES) done();
    });
    inflate.once('end', done);
    inflate.once('error', done);
    inflate.end(bytes);
  });
}

async function readRange(store: ObjectStore, oid: string, start: number, end: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const chunk of await store.get(oid, { start, end })) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}
