// A pickle reader that cannot run code. Python's unpickler imports and calls whatever a
// pickle names, which is how a malicious checkpoint runs `os.system`. Here a pickle only
// builds JS values: every global it names is looked up in a fixed allow-list when the
// GLOBAL/STACK_GLOBAL opcode is read (before any REDUCE could call it), and any name that
// is not on the list stops the load with an error naming it. The allowed "functions" are
// JS code that builds plain descriptions (a tensor's storage key, shape and strides).
//
// Supported: protocols 0-5, every opcode that plain data and torch state dicts use.
// Not supported (refused): extension registry (EXT1/2/4) and out-of-band buffers (protocol 5).
import { VplError } from '../../diagnostics/error.ts';

/** A Python dict (insertion-ordered); `attributes` holds state set on it by BUILD. */
export class PyDict {
  readonly items = new Map<PyValue, PyValue>();
  attributes: PyValue = null;

  get(key: PyValue): PyValue | undefined {
    return this.items.get(key);
  }
}

/** Values a pickle can produce. Tuples and lists are both JS arrays (tuples frozen). */
export type PyValue =
  | null
  | boolean
  | number
  | bigint
  | string
  | Uint8Array
  | PyValue[]
  | readonly PyValue[]
  | PyDict
  | Set<PyValue>
  | PyObject;

/** A value built by an allowed global (a tensor reference, a storage type, ...). */
export interface PyObject {
  readonly pyClass: string;
  /** Receives BUILD state; objects that take none ignore it. */
  setState?(state: PyValue): void;
}

/** What an allowed global does when called (REDUCE, NEWOBJ) with its arguments. */
export interface AllowedGlobal {
  /** The value the global itself stands for (a class or function marker). */
  value?: PyObject;
  call?(args: readonly PyValue[]): PyValue;
}

export interface UnpickleOptions {
  /** The file the pickle came from, for error messages. */
  file: string;
  /** `module.name` -> implementation. Everything else is refused. */
  globals: ReadonlyMap<string, AllowedGlobal>;
  /** Resolves persistent ids (torch uses them for tensor storages). */
  persistentLoad?(pid: PyValue): PyValue;
}

/** The value that stands for a global on the stack until something calls it. */
export class GlobalRef implements PyObject {
  readonly pyClass = 'global';
  constructor(
    readonly qualifiedName: string,
    readonly impl: AllowedGlobal,
  ) {}
}

const mark = Symbol('mark');
type StackItem = PyValue | GlobalRef | typeof mark;

const refusedHelp =
  'only tensor checkpoints (state dicts) can be read. If you trust the file, convert it in Python ' +
  '(torch.load it and save the tensors with safetensors.torch.save_file), then point vplc at the .safetensors file';

export function refuseGlobal(file: string, qualifiedName: string): VplError {
  return new VplError(
    'VPL7020',
    `refusing to load: the pickle asks for '${qualifiedName}', which is not needed to rebuild tensors (loading it in Python could run code)`,
    { file, help: refusedHelp },
  );
}

function malformed(file: string, message: string): VplError {
  return new VplError('VPL7021', `the pickle is malformed: ${message}`, {
    file,
    help: 'the file is corrupt or not a PyTorch checkpoint; re-download it or re-save it with torch.save',
  });
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8', { fatal: true });

/** Runs the pickle in `bytes` and returns the value it builds. */
export function unpickle(bytes: Uint8Array, options: UnpickleOptions): PyValue {
  const { file } = options;
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const stack: StackItem[] = [];
  const memo = new Map<number, StackItem>();
  let pos = 0;

  const need = (n: number, what: string): void => {
    if (n < 0 || pos + n > bytes.byteLength) throw malformed(file, `${what} at byte ${pos} runs past the end of the data`);
  };
  const take = (n: number, what: string): Uint8Array => {
    need(n, what);
    const out = bytes.subarray(pos, pos + n);
    pos += n;
    return out;
  };
  const u8 = (): number => (need(1, 'an argument'), bytes[pos++]!);
  const u16 = (): number => (need(2, 'an argument'), (pos += 2), view.getUint16(pos - 2, true));
  const u32 = (): number => (need(4, 'an argument'), (pos += 4), view.getUint32(pos - 4, true));
  const i32 = (): number => (need(4, 'an argument'), (pos += 4), view.getInt32(pos - 4, true));
  const u64 = (): number => {
    need(8, 'an argument');
    const value = view.getBigUint64(pos, true);
    pos += 8;
    if (value > BigInt(bytes.byteLength)) throw malformed(file, `a length of ${value} bytes at byte ${pos - 8} is larger than the pickle`);
    return Number(value);
  };
  const line = (): string => {
    const end = bytes.indexOf(0x0a, pos);
    if (end < 0) throw malformed(file, `a text argument at byte ${pos} has no end of line`);
    const text = latin1.decode(bytes.subarray(pos, end));
    pos = end + 1;
    return text;
  };
  const text = (n: number): string => {
    try {
      return utf8.decode(take(n, 'a string'));
    } catch (error) {
      if (error instanceof VplError) throw error;
      throw malformed(file, `a string before byte ${pos} is not valid UTF-8`);
    }
  };

  const pop = (): StackItem => {
    if (stack.length === 0) throw malformed(file, `the stack is empty at byte ${pos - 1}`);
    return stack.pop()!;
  };
  const top = (): StackItem => {
    if (stack.length === 0) throw malformed(file, `the stack is empty at byte ${pos - 1}`);
    return stack[stack.length - 1]!;
  };
  const value = (item: StackItem): PyValue => {
    if (item === mark) throw malformed(file, `a MARK is used as a value at byte ${pos - 1}`);
    return item as PyValue;
  };
  const popValue = (): PyValue => value(pop());
  const popToMark = (): PyValue[] => {
    const at = stack.lastIndexOf(mark);
    if (at < 0) throw malformed(file, `no MARK before byte ${pos - 1}`);
    const items = stack.splice(at).slice(1);
    return items.map(value);
  };
  const resolve = (module: string, name: string): GlobalRef => {
    const qualifiedName = `${module}.${name}`;
    const impl = options.globals.get(qualifiedName);
    if (impl === undefined) throw refuseGlobal(file, qualifiedName);
    return new GlobalRef(qualifiedName, impl);
  };
  const call = (callee: StackItem, args: PyValue): PyValue => {
    if (!(callee instanceof GlobalRef)) throw malformed(file, `a call at byte ${pos - 1} is applied to a value that is not a global`);
    if (callee.impl.call === undefined) throw malformed(file, `'${callee.qualifiedName}' cannot be called`);
    if (!Array.isArray(args)) throw malformed(file, `'${callee.qualifiedName}' is called with arguments that are not a tuple`);
    return callee.impl.call(args);
  };
  const asValue = (item: StackItem): PyValue => (item instanceof GlobalRef ? (item.impl.value ?? item) : value(item));
  const setItems = (target: StackItem, flat: PyValue[]): void => {
    if (!(target instanceof PyDict)) throw malformed(file, `SETITEM(S) at byte ${pos - 1} targets something that is not a dict`);
    if (flat.length % 2 !== 0) throw malformed(file, `SETITEMS at byte ${pos - 1} has an odd number of items`);
    for (let i = 0; i < flat.length; i += 2) target.items.set(flat[i]!, flat[i + 1]!);
  };
  const appendItems = (target: StackItem, items: PyValue[]): void => {
    if (!Array.isArray(target) || Object.isFrozen(target)) throw malformed(file, `APPEND(S) at byte ${pos - 1} targets something that is not a list`);
    (target as PyValue[]).push(...items);
  };
  const int = (n: bigint): number | bigint => (n >= BigInt(Number.MIN_SAFE_INTEGER) && n <= BigInt(Number.MAX_SAFE_INTEGER) ? Number(n) : n);
  const longFrom = (raw: Uint8Array): number | bigint => {
    let n = 0n;
    for (let i = raw.length - 1; i >= 0; i--) n = (n << 8n) | BigInt(raw[i]!);
    if (raw.length > 0 && raw[raw.length - 1]! & 0x80) n -= 1n << BigInt(raw.length * 8);
    return int(n);
  };
  const parseTextInt = (s: string): PyValue => {
    const t = s.replace(/L$/, '');
    if (t === '00') return false; // protocol 0 spells booleans as INT 00 / 01
    if (t === '01') return true;
    if (!/^[-+]?\d+$/.test(t)) throw malformed(file, `'${s}' is not an integer`);
    return int(BigInt(t));
  };

  while (true) {
    if (pos >= bytes.byteLength) throw malformed(file, 'the data ends before the STOP opcode');
    const opAt = pos;
    const op = bytes[pos++]!;
    switch (op) {
      case 0x80: { // PROTO
        const version = u8();
        if (version > 5) throw malformed(file, `pickle protocol ${version} is newer than vplc knows (0-5)`);
        break;
      }
      case 0x95: // FRAME: a hint for buffered readers; the data follows inline
        u64();
        break;
      case 0x2e: // STOP
        return asValue(pop());

      // ---- stack and memo
      case 0x28: stack.push(mark); break; // MARK
      case 0x30: pop(); break; // POP
      case 0x31: popToMark(); break; // POP_MARK
      case 0x32: stack.push(top()); break; // DUP
      case 0x70: memo.set(Number(parseTextInt(line())), top()); break; // PUT
      case 0x71: memo.set(u8(), top()); break; // BINPUT
      case 0x72: memo.set(u32(), top()); break; // LONG_BINPUT
      case 0x94: memo.set(memo.size, top()); break; // MEMOIZE
      case 0x67: case 0x68: case 0x6a: { // GET, BINGET, LONG_BINGET
        const index = op === 0x67 ? Number(parseTextInt(line())) : op === 0x68 ? u8() : u32();
        if (!memo.has(index)) throw malformed(file, `memo entry ${index} is read before it is written (byte ${opAt})`);
        stack.push(memo.get(index)!);
        break;
      }

      // ---- scalars
      case 0x4e: stack.push(null); break; // NONE
      case 0x88: stack.push(true); break; // NEWTRUE
      case 0x89: stack.push(false); break; // NEWFALSE
      case 0x4a: stack.push(i32()); break; // BININT
      case 0x4b: stack.push(u8()); break; // BININT1
      case 0x4d: stack.push(u16()); break; // BININT2
      case 0x8a: stack.push(longFrom(take(u8(), 'a LONG1'))); break; // LONG1
      case 0x8b: { // LONG4
        const n = i32();
        if (n < 0) throw malformed(file, `LONG4 at byte ${opAt} has a negative length`);
        stack.push(longFrom(take(n, 'a LONG4')));
        break;
      }
      case 0x49: case 0x4c: stack.push(parseTextInt(line())); break; // INT, LONG
      case 0x47: need(8, 'a BINFLOAT'); stack.push(view.getFloat64(pos, false)); pos += 8; break; // BINFLOAT (big-endian)
      case 0x46: { // FLOAT
        const s = line();
        const n = Number(s);
        if (Number.isNaN(n) && !/nan/i.test(s)) throw malformed(file, `'${s}' is not a float`);
        stack.push(n);
        break;
      }

      // ---- strings and bytes
      case 0x58: stack.push(text(u32())); break; // BINUNICODE
      case 0x8c: stack.push(text(u8())); break; // SHORT_BINUNICODE
      case 0x8d: stack.push(text(u64())); break; // BINUNICODE8
      case 0x56: stack.push(line().replace(/\\u([0-9a-fA-F]{4})/g, (_, h: string) => String.fromCharCode(parseInt(h, 16)))); break; // UNICODE
      case 0x53: { // STRING: a Python 2 str literal, quoted
        const s = line();
        const quoted = /^(['"])(.*)\1$/.exec(s);
        if (quoted === null) throw malformed(file, `STRING at byte ${opAt} is not quoted`);
        stack.push(quoted[2]!.replace(/\\(.)/g, '$1'));
        break;
      }
      case 0x54: stack.push(latin1.decode(take(i32(), 'a BINSTRING'))); break; // BINSTRING (Python 2 str)
      case 0x55: stack.push(latin1.decode(take(u8(), 'a SHORT_BINSTRING'))); break; // SHORT_BINSTRING
      case 0x42: stack.push(take(u32(), 'BINBYTES').slice()); break; // BINBYTES
      case 0x43: stack.push(take(u8(), 'SHORT_BINBYTES').slice()); break; // SHORT_BINBYTES
      case 0x8e: case 0x96: stack.push(take(u64(), 'BINBYTES8').slice()); break; // BINBYTES8, BYTEARRAY8

      // ---- containers
      case 0x5d: stack.push([]); break; // EMPTY_LIST
      case 0x6c: stack.push(popToMark()); break; // LIST
      case 0x29: stack.push(Object.freeze([])); break; // EMPTY_TUPLE
      case 0x74: stack.push(Object.freeze(popToMark())); break; // TUPLE
      case 0x85: stack.push(Object.freeze([popValue()])); break; // TUPLE1
      case 0x86: { const b = popValue(); const a = popValue(); stack.push(Object.freeze([a, b])); break; } // TUPLE2
      case 0x87: { const c = popValue(); const b = popValue(); const a = popValue(); stack.push(Object.freeze([a, b, c])); break; } // TUPLE3
      case 0x7d: stack.push(new PyDict()); break; // EMPTY_DICT
      case 0x64: { const d = new PyDict(); setItems(d, popToMark()); stack.push(d); break; } // DICT
      case 0x8f: stack.push(new Set<PyValue>()); break; // EMPTY_SET
      case 0x91: stack.push(new Set<PyValue>(popToMark())); break; // FROZENSET
      case 0x61: { const item = popValue(); appendItems(top(), [item]); break; } // APPEND
      case 0x65: { const items = popToMark(); appendItems(top(), items); break; } // APPENDS
      case 0x73: { const v = popValue(); const k = popValue(); setItems(top(), [k, v]); break; } // SETITEM
      case 0x75: { const flat = popToMark(); setItems(top(), flat); break; } // SETITEMS
      case 0x90: { // ADDITEMS
        const items = popToMark();
        const target = top();
        if (!(target instanceof Set)) throw malformed(file, `ADDITEMS at byte ${opAt} targets something that is not a set`);
        for (const item of items) target.add(item);
        break;
      }

      // ---- globals and calls: the only place code could run, hence the allow-list
      case 0x63: { const module = line(); const name = line(); stack.push(resolve(module, name)); break; } // GLOBAL
      case 0x93: { // STACK_GLOBAL
        const name = popValue();
        const module = popValue();
        if (typeof module !== 'string' || typeof name !== 'string') throw malformed(file, `STACK_GLOBAL at byte ${opAt} needs two strings`);
        stack.push(resolve(module, name));
        break;
      }
      case 0x69: { // INST: a class named inline, called with the items since MARK
        const module = line();
        const name = line();
        const callee = resolve(module, name);
        stack.push(call(callee, popToMark()));
        break;
      }
      case 0x6f: { // OBJ: MARK class args... OBJ
        const at = stack.lastIndexOf(mark);
        if (at < 0) throw malformed(file, `no MARK before OBJ at byte ${opAt}`);
        const items = stack.splice(at);
        if (items.length < 2) throw malformed(file, `OBJ at byte ${opAt} has no class`);
        stack.push(call(items[1]!, items.slice(2).map(value)));
        break;
      }
      case 0x52: { const args = popValue(); stack.push(call(pop(), args)); break; } // REDUCE
      case 0x81: { const args = popValue(); stack.push(call(pop(), args)); break; } // NEWOBJ: cls.__new__(cls, *args)
      case 0x92: { // NEWOBJ_EX
        const kwargs = popValue();
        const args = popValue();
        if (!(kwargs instanceof PyDict) || kwargs.items.size > 0) throw malformed(file, `NEWOBJ_EX at byte ${opAt} passes keyword arguments, which no tensor type takes`);
        stack.push(call(pop(), args));
        break;
      }
      case 0x62: { // BUILD: obj.__setstate__(state)
        const state = popValue();
        const target = top();
        if (target instanceof PyDict) target.attributes = state;
        else if (typeof target === 'object' && target !== null && 'setState' in target && typeof target.setState === 'function') target.setState(state);
        else if (!(typeof target === 'object' && target !== null && 'pyClass' in target)) {
          throw malformed(file, `BUILD at byte ${opAt} sets state on a value that is not an object`);
        }
        break;
      }
      case 0x51: case 0x50: { // BINPERSID, PERSID
        const pid = op === 0x51 ? popValue() : line();
        if (options.persistentLoad === undefined) throw malformed(file, `a persistent id at byte ${opAt}, but nothing can resolve it here`);
        stack.push(options.persistentLoad(pid));
        break;
      }

      case 0x82: case 0x83: case 0x84: // EXT1, EXT2, EXT4
        throw new VplError('VPL7021', `the pickle uses the copyreg extension registry (opcode at byte ${opAt}), which vplc does not support`, {
          file,
          help: refusedHelp,
        });
      case 0x97: case 0x98: // NEXT_BUFFER, READONLY_BUFFER
        throw new VplError('VPL7021', `the pickle uses out-of-band buffers (protocol 5, byte ${opAt}), which a file cannot hold`, {
          file,
          help: 're-save the checkpoint with torch.save',
        });
      default:
        throw malformed(file, `unknown opcode 0x${op.toString(16).padStart(2, '0')} at byte ${opAt}`);
    }
  }
}
