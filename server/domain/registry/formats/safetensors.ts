// The header of a safetensors file (https://huggingface.co/docs/safetensors, "Format"): 8 bytes of
// little-endian u64 N, then N bytes of JSON naming each tensor's dtype, shape and byte range in
// the data that follows. Read with two range reads, never the whole file, and checked the way the
// reference implementation checks it (sizes agree with shapes, ranges inside the file).

export interface SafetensorsHeader {
  readonly tensors: number;
  readonly parameters: number;
  /** Parameters per dtype. */
  readonly dtypes: Readonly<Record<string, number>>;
  readonly metadata: Readonly<Record<string, string>>;
  /** The first MAX_LISTED tensors by name. */
  readonly list: readonly { readonly name: string; readonly dtype: string; readonly shape: readonly number[] }[];
  readonly listTruncated: boolean;
}

/** The reference implementation refuses headers over 100 MB; a model card needs far less. */
export const MAX_HEADER_BYTES = 16 * 1024 * 1024;
const MAX_LISTED = 1000;
const DTYPE_BYTES: Record<string, number> = { BOOL: 1, U8: 1, I8: 1, F8_E5M2: 1, F8_E4M3: 1, I16: 2, U16: 2, F16: 2, BF16: 2, I32: 4, U32: 4, F32: 4, F64: 8, I64: 8, U64: 8 };

export class SafetensorsError extends Error {}

/** `read(start, end)` answers bytes [start, end] inclusive of the file of `size` bytes. */
export async function readSafetensorsHeader(size: number, read: (start: number, end: number) => Promise<Buffer>): Promise<SafetensorsHeader> {
  if (size < 8) throw new SafetensorsError(`file is ${size} bytes; a safetensors file starts with an 8-byte header length`);
  const lengthBytes = await read(0, 7);
  const length = Number(lengthBytes.readBigUInt64LE(0));
  if (length < 2 || length > MAX_HEADER_BYTES) throw new SafetensorsError(`header length ${length} is outside 2..${MAX_HEADER_BYTES} bytes`);
  if (8 + length > size) throw new SafetensorsError(`header length ${length} runs past the end of the ${size}-byte file`);
  const text = (await read(8, 8 + length - 1)).toString('utf8');
  let header: unknown;
  try {
    header = JSON.parse(text);
  } catch {
    throw new SafetensorsError('header is not valid JSON');
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new SafetensorsError('header is not a JSON object');
  const dataBytes = size - 8 - length;
  let parameters = 0;
  const dtypes: Record<string, number> = {};
  const list: { name: string; dtype: string; shape: number[] }[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, value] of Object.entries(header as Record<string, unknown>).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) {
    if (name === '__metadata__') {
      metadata = checkedMetadata(value);
      continue;
    }
    const tensor = checkedTensor(name, value, dataBytes);
    const count = tensor.shape.reduce((product, dim) => product * dim, 1);
    parameters += count;
    dtypes[tensor.dtype] = (dtypes[tensor.dtype] ?? 0) + count;
    list.push({ name, dtype: tensor.dtype, shape: tensor.shape });
  }
  return { tensors: list.length, parameters, dtypes, metadata, list: list.slice(0, MAX_LISTED), listTruncated: list.length > MAX_LISTED };
}

function checkedMetadata(value: unknown): Record<string, string> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new SafetensorsError('__metadata__ must be an object of strings');
  for (const [key, v] of Object.entries(value)) if (typeof v !== 'string') throw new SafetensorsError(`__metadata__.${key} must be a string`);
  return value as Record<string, string>;
}

function checkedTensor(name: string, value: unknown, dataBytes: number): { dtype: string; shape: number[] } {
  const t = value as { dtype?: unknown; shape?: unknown; data_offsets?: unknown } | null;
  if (t === null || typeof t !== 'object') throw new SafetensorsError(`tensor ${name}: not an object`);
  const width = typeof t.dtype === 'string' ? DTYPE_BYTES[t.dtype] : undefined;
  if (width === undefined) throw new SafetensorsError(`tensor ${name}: unknown dtype ${JSON.stringify(t.dtype)}`);
  if (!Array.isArray(t.shape) || !t.shape.every((d) => Number.isSafeInteger(d) && (d as number) >= 0)) throw new SafetensorsError(`tensor ${name}: shape must be a list of whole numbers`);
  const offsets = t.data_offsets;
  if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isSafeInteger(o) && (o as number) >= 0)) throw new SafetensorsError(`tensor ${name}: data_offsets must be [begin, end]`);
  const [begin, end] = offsets as [number, number];
  const shape = t.shape as number[];
  const expected = shape.reduce((product, dim) => product * dim, 1) * width;
  if (end < begin || end > dataBytes) throw new SafetensorsError(`tensor ${name}: data_offsets [${begin}, ${end}] are outside the ${dataBytes} bytes of data`);
  if (end - begin !== expected) throw new SafetensorsError(`tensor ${name}: ${end - begin} bytes for shape [${shape.join(', ')}] of ${t.dtype as string} (${expected} expected)`);
  return { dtype: t.dtype as string, shape };
}
