// Reads a pickle's opcodes without unpickling it (issue 11, "Format awareness"): unpickling runs
// whatever callables the file names (a class whose __reduce__ returns os.system runs a shell
// command on load), so the server only walks the byte stream, as pickletools.genops does, and
// reports every global it imports (GLOBAL, INST, STACK_GLOBAL), marking those outside an
// allow-list of the modules plain numpy/scikit-learn/PyTorch models need. Opcode table:
// CPython Lib/pickletools.py (protocols 0-5).

export interface PickleImport {
  readonly module: string;
  readonly name: string;
  readonly allowed: boolean;
}

export interface PickleScan {
  /** The highest protocol a PROTO opcode declared (0 when none did). */
  readonly protocol: number;
  readonly imports: readonly PickleImport[];
  /** `module.name` of each import outside the allow-list, in order of first appearance. */
  readonly disallowed: readonly string[];
  /** The walk reached STOP of the first pickle; false when it stopped early (`stoppedAt` says why). */
  readonly complete: boolean;
  readonly stoppedAt: { readonly offset: number; readonly reason: string } | null;
  readonly bytesScanned: number;
}

type Arg = 'none' | 'u1' | 'u2' | 'u4' | 'u8' | 'line' | 'twolines' | 'len1' | 'len4' | 'len8' | 'f8';

/** Opcode byte -> how its argument is laid out, and whether it pushes a string (for STACK_GLOBAL). */
const OPS: Record<number, { name: string; arg: Arg; pushesText?: boolean }> = {};
function op(code: string, name: string, arg: Arg, pushesText = false): void {
  OPS[code.charCodeAt(0)] = { name, arg, pushesText };
}
op('(', 'MARK', 'none'); op('.', 'STOP', 'none'); op('0', 'POP', 'none'); op('1', 'POP_MARK', 'none'); op('2', 'DUP', 'none');
op('F', 'FLOAT', 'line'); op('I', 'INT', 'line'); op('J', 'BININT', 'u4'); op('K', 'BININT1', 'u1'); op('L', 'LONG', 'line'); op('M', 'BININT2', 'u2');
op('N', 'NONE', 'none'); op('P', 'PERSID', 'line'); op('Q', 'BINPERSID', 'none'); op('R', 'REDUCE', 'none');
op('S', 'STRING', 'line', true); op('T', 'BINSTRING', 'len4', true); op('U', 'SHORT_BINSTRING', 'len1', true);
op('V', 'UNICODE', 'line', true); op('X', 'BINUNICODE', 'len4', true);
op('a', 'APPEND', 'none'); op('b', 'BUILD', 'none'); op('c', 'GLOBAL', 'twolines'); op('d', 'DICT', 'none'); op('}', 'EMPTY_DICT', 'none');
op('e', 'APPENDS', 'none'); op('g', 'GET', 'line'); op('h', 'BINGET', 'u1'); op('i', 'INST', 'twolines'); op('j', 'LONG_BINGET', 'u4');
op('l', 'LIST', 'none'); op(']', 'EMPTY_LIST', 'none'); op('o', 'OBJ', 'none'); op('p', 'PUT', 'line'); op('q', 'BINPUT', 'u1'); op('r', 'LONG_BINPUT', 'u4');
op('s', 'SETITEM', 'none'); op('t', 'TUPLE', 'none'); op(')', 'EMPTY_TUPLE', 'none'); op('u', 'SETITEMS', 'none'); op('G', 'BINFLOAT', 'f8');
op('\x80', 'PROTO', 'u1'); op('\x81', 'NEWOBJ', 'none'); op('\x82', 'EXT1', 'u1'); op('\x83', 'EXT2', 'u2'); op('\x84', 'EXT4', 'u4');
op('\x85', 'TUPLE1', 'none'); op('\x86', 'TUPLE2', 'none'); op('\x87', 'TUPLE3', 'none'); op('\x88', 'NEWTRUE', 'none'); op('\x89', 'NEWFALSE', 'none');
op('\x8a', 'LONG1', 'len1'); op('\x8b', 'LONG4', 'len4');
op('B', 'BINBYTES', 'len4'); op('C', 'SHORT_BINBYTES', 'len1');
op('\x8c', 'SHORT_BINUNICODE', 'len1', true); op('\x8d', 'BINUNICODE8', 'len8', true); op('\x8e', 'BINBYTES8', 'len8'); op('\x8f', 'EMPTY_SET', 'none');
op('\x90', 'ADDITEMS', 'none'); op('\x91', 'FROZENSET', 'none'); op('\x92', 'NEWOBJ_EX', 'none'); op('\x93', 'STACK_GLOBAL', 'none'); op('\x94', 'MEMOIZE', 'none');
op('\x95', 'FRAME', 'u8'); op('\x96', 'BYTEARRAY8', 'len8'); op('\x97', 'NEXT_BUFFER', 'none'); op('\x98', 'READONLY_BUFFER', 'none');

/** Modules whose globals a plain model pickle needs; anything else is reported. */
const ALLOWED_MODULES = ['numpy', 'sklearn', 'scipy.sparse', 'scipy.special', 'joblib.numpy_pickle', 'torch._utils', 'torch._tensor', 'collections'];
const ALLOWED_EXACT = new Set([
  'numpy dtype',
  'numpy ndarray',
  'copyreg _reconstructor',
  'copy_reg _reconstructor',
  '_codecs encode',
  'torch FloatStorage',
  'torch HalfStorage',
  'torch DoubleStorage',
  'torch LongStorage',
  'torch IntStorage',
  'torch BFloat16Storage',
  'torch Size',
  ...['object', 'set', 'frozenset', 'slice', 'complex', 'bytearray', 'dict', 'list', 'tuple', 'int', 'float', 'str', 'bytes', 'range', 'bool'].flatMap((n) => [`builtins ${n}`, `__builtin__ ${n}`]),
]);

export function isAllowedImport(module: string, name: string): boolean {
  if (ALLOWED_EXACT.has(`${module} ${name}`)) return true;
  // Dunder names reach into an allowed module's internals (numpy.__builtins__...): never allowed.
  if (name.startsWith('__') || name.includes('.__')) return false;
  return ALLOWED_MODULES.some((allowed) => module === allowed || module.startsWith(`${allowed}.`));
}

/**
 * Walks the opcodes of the first pickle in `bytes`. Never throws on hostile input: a truncated
 * argument, an unknown opcode (joblib's raw array bytes after a NumpyArrayWrapper look like one)
 * or an absurd length ends the walk with `complete: false`.
 */
export function scanPickle(bytes: Buffer): PickleScan {
  const imports: PickleImport[] = [];
  const seen = new Set<string>();
  const disallowed: string[] = [];
  // What recent ops pushed, as text where the op pushed text: STACK_GLOBAL takes its module and
  // name from the two pushes before it (directly, or through the memo), as picklescan does.
  const pushes: (string | null)[] = [];
  const memo = new Map<number, string | null>();
  let protocol = 0;
  let offset = 0;
  const record = (module: string | null, name: string | null) => {
    const m = module ?? '?';
    const n = name ?? '?';
    const allowed = module !== null && name !== null && isAllowedImport(module, name);
    imports.push({ module: m, name: n, allowed });
    const key = `${m}.${n}`;
    if (!allowed && !seen.has(key)) disallowed.push(key);
    seen.add(key);
  };
  const stop = (reason: string): PickleScan => ({ protocol, imports, disallowed, complete: false, stoppedAt: { offset, reason }, bytesScanned: offset });

  while (offset < bytes.length) {
    const at = offset;
    const code = bytes[offset]!;
    const spec = OPS[code];
    if (!spec) return stop(`byte 0x${code.toString(16).padStart(2, '0')} is not a pickle opcode (joblib array data, compression, or not a pickle)`);
    offset += 1;
    let text: string | null = null;
    let number = 0;
    switch (spec.arg) {
      case 'none':
        break;
      case 'u1':
      case 'u2':
      case 'u4':
      case 'u8':
      case 'f8': {
        const width = spec.arg === 'u1' ? 1 : spec.arg === 'u2' ? 2 : spec.arg === 'u4' ? 4 : 8;
        if (offset + width > bytes.length) return stop(`${spec.name} at ${at} is cut short`);
        number = width === 1 ? bytes[offset]! : width === 2 ? bytes.readUInt16LE(offset) : width === 4 ? bytes.readUInt32LE(offset) : Number(bytes.readBigUInt64LE(offset));
        offset += width;
        break;
      }
      case 'line':
      case 'twolines': {
        const lines: string[] = [];
        for (let k = 0; k < (spec.arg === 'line' ? 1 : 2); k += 1) {
          const end = bytes.indexOf(0x0a, offset);
          if (end < 0 || end - offset > 65_536) return stop(`${spec.name} at ${at} has no end of line`);
          lines.push(bytes.toString('latin1', offset, end));
          offset = end + 1;
        }
        text = lines.join('\n');
        break;
      }
      case 'len1':
      case 'len4':
      case 'len8': {
        const width = spec.arg === 'len1' ? 1 : spec.arg === 'len4' ? 4 : 8;
        if (offset + width > bytes.length) return stop(`${spec.name} at ${at} is cut short`);
        const length = width === 1 ? bytes[offset]! : width === 4 ? bytes.readUInt32LE(offset) : Number(bytes.readBigUInt64LE(offset));
        offset += width;
        if (!Number.isSafeInteger(length) || offset + length > bytes.length) return stop(`${spec.name} at ${at} claims ${length} bytes past the end`);
        if (spec.pushesText) text = bytes.toString(spec.name.includes('UNICODE') ? 'utf8' : 'latin1', offset, offset + length);
        offset += length;
        break;
      }
    }

    switch (spec.name) {
      case 'PROTO':
        protocol = Math.max(protocol, number);
        break;
      case 'GLOBAL':
      case 'INST': {
        const [module = '', name = ''] = (text ?? '').split('\n');
        record(module, name);
        pushes.push(null);
        break;
      }
      case 'STACK_GLOBAL': {
        const name = pushes.pop() ?? null;
        const module = pushes.pop() ?? null;
        record(module, name);
        pushes.push(null);
        break;
      }
      case 'MEMOIZE':
        memo.set(memo.size, pushes.at(-1) ?? null);
        break;
      case 'PUT':
      case 'BINPUT':
      case 'LONG_BINPUT':
        memo.set(spec.name === 'PUT' ? Number(text) : number, pushes.at(-1) ?? null);
        break;
      case 'GET':
      case 'BINGET':
      case 'LONG_BINGET':
        pushes.push(memo.get(spec.name === 'GET' ? Number(text) : number) ?? null);
        break;
      case 'STOP':
        return { protocol, imports, disallowed, complete: true, stoppedAt: null, bytesScanned: offset };
      case 'FRAME':
      case 'MARK':
        break;
      default:
        pushes.push(spec.pushesText ? stripQuotes(spec.name, text) : null);
    }
    // Keep the look-back small: only the last few pushes ever feed a STACK_GLOBAL.
    if (pushes.length > 64) pushes.splice(0, pushes.length - 16);
  }
  return stop('the file ended before STOP');
}

/** Protocol 0 STRING/UNICODE arguments are repr-quoted text. */
function stripQuotes(opName: string, text: string | null): string | null {
  if (text === null || opName !== 'STRING') return text;
  const quoted = /^(['"])(.*)\1$/s.exec(text);
  return quoted ? quoted[2]! : text;
}
