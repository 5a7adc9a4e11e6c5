import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { VplError } from '../../../diagnostics/error.ts';
import { PyDict, unpickle, type PyValue } from '../../../runtime/weights/pickle.ts';
import { torchGlobals } from '../../../runtime/weights/torch-globals.ts';
import { openTorchCheckpoint } from '../../../runtime/weights/torch-zip.ts';
import { writePickle, type PickleNode } from './helpers/pickle-writer.ts';
import { writeZip } from './helpers/zip-writer.ts';

const python = '/usr/bin/python3';
const hasPython = existsSync(python);

let dir: string;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vplc-pickle-'));
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

const read = (bytes: Uint8Array): PyValue => unpickle(bytes, { file: 'test.pkl', globals: torchGlobals('test.pkl') });

function catchError(run: () => unknown): VplError {
  try {
    run();
  } catch (error) {
    expect(error).toBeInstanceOf(VplError);
    return error as VplError;
  }
  throw new Error('expected an error');
}

/** A pickle that, loaded by Python, calls `module.name(command)`. */
function maliciousPickle(module: string, name: string, command: string, protocol: 2 | 4): Uint8Array {
  const node: PickleNode = { call: { global: [module, name] }, args: [command] };
  return writePickle(node, { protocol });
}

describe('unpickle: plain data written by CPython', () => {
  // Python's own pickler, every protocol: the reader must agree with the real format.
  it.skipIf(!hasPython)('reads protocols 0 to 5', () => {
    for (let protocol = 0; protocol <= 5; protocol++) {
      const script = `
import pickle, sys, collections
shared = [1, 2]
obj = {'ints': [0, 1, -1, 255, 256, 65535, 65536, -2**31, 2**31, 2**70, -2**70], 'floats': [3.5, -0.0, 1e300],
       'consts': (None, True, False), 'text': 'h\\u00e9llo \\u2603', 'raw': b'\\x00\\xff', 'set': {7},
       'shared': (shared, shared), 'od': collections.OrderedDict([('z', 1), ('a', 2)]), 'empty': ((), [], {})}
sys.stdout.buffer.write(pickle.dumps(obj, protocol=${protocol}))`;
      const bytes = new Uint8Array(execFileSync(python, ['-c', script]));
      const root = read(bytes);
      expect(root).toBeInstanceOf(PyDict);
      const d = root as PyDict;
      expect(d.get('ints')).toEqual([0, 1, -1, 255, 256, 65535, 65536, -(2 ** 31), 2 ** 31, 2n ** 70n, -(2n ** 70n)]);
      expect(d.get('floats')).toEqual([3.5, -0, 1e300]);
      expect(d.get('consts')).toEqual([null, true, false]);
      expect(d.get('text')).toBe('h\u00e9llo \u2603');
      expect(Array.from(d.get('raw') as Uint8Array)).toEqual([0, 255]);
      expect(d.get('set')).toEqual(new Set([7]));
      const [a, b] = d.get('shared') as PyValue[];
      expect(a).toEqual([1, 2]);
      expect(a).toBe(b); // the memo keeps shared objects shared
      expect([...(d.get('od') as PyDict).items.entries()]).toEqual([['z', 1], ['a', 2]]);
      const [tuple, list, dict] = d.get('empty') as PyValue[];
      expect(tuple).toEqual([]);
      expect(list).toEqual([]);
      expect((dict as PyDict).items.size).toBe(0);
    }
  });
});

describe('unpickle: refuses globals that are not tensor rebuilds', () => {
  const attacks: [module: string, name: string, protocol: 2 | 4][] = [
    ['posix', 'system', 2],
    ['os', 'system', 4],
    ['builtins', 'eval', 2],
    ['subprocess', 'Popen', 4],
    ['torch', 'load', 2], // even torch's own functions, if not a rebuild
  ];
  for (const [module, name, protocol] of attacks) {
    it(`refuses ${module}.${name} (protocol ${protocol}) and runs nothing`, () => {
      const marker = join(dir, `pwned-${module}-${name}`);
      const bytes = maliciousPickle(module, name, `touch ${marker}`, protocol);
      const error = catchError(() => read(bytes));
      expect(error.code).toBe('VPL7020');
      expect(error.message).toContain(`refusing to load: the pickle asks for '${module}.${name}'`);
      expect(error.file).toBe('test.pkl');
      expect(error.help).toMatch(/safetensors/);
      expect(existsSync(marker)).toBe(false);
    });
  }

  // Shows the fixture is a real attack: Python's unpickler does run it.
  it.skipIf(!hasPython)('the same bytes do run a command under Python pickle.loads', async () => {
    const marker = join(dir, 'python-ran-it');
    const path = join(dir, 'evil.pkl');
    await writeFile(path, maliciousPickle('posix', 'system', `touch ${marker}`, 2));
    execFileSync(python, ['-c', `import pickle; pickle.loads(open(${JSON.stringify(path)}, 'rb').read())`]);
    expect(existsSync(marker)).toBe(true);
  });

  it('refuses an attack hidden inside a torch zip checkpoint, naming the file', async () => {
    const marker = join(dir, 'pwned-zip');
    const path = join(dir, 'evil.ckpt');
    const state: PickleNode = { dict: [['state_dict', { call: { global: ['posix', 'system'] }, args: [`touch ${marker}`] }]] };
    await writeFile(path, writeZip([{ name: 'archive/data.pkl', data: writePickle(state) }]));
    const error = await openTorchCheckpoint(path).then(
      () => undefined,
      (e: unknown) => e as VplError,
    );
    expect(error?.code).toBe('VPL7020');
    expect(error?.file).toBe(path);
    expect(error?.message).toContain("'posix.system'");
    expect(existsSync(marker)).toBe(false);
  });
});

describe('unpickle: malformed input', () => {
  const cases: [string, Uint8Array, RegExp][] = [
    ['a truncated pickle', writePickle({ list: [1, 2, 3] }).subarray(0, 6), /before the STOP opcode|runs past the end/],
    ['an unknown opcode', Uint8Array.from([0x80, 0x02, 0xff, 0x2e]), /unknown opcode 0xff at byte 2/],
    ['a length larger than the data', Uint8Array.from([0x80, 0x02, 0x58, 0xff, 0xff, 0, 0, 0x2e]), /runs past the end/],
    ['a read of an unset memo entry', Uint8Array.from([0x80, 0x02, 0x68, 0x05, 0x2e]), /memo entry 5 is read before it is written/],
    ['SETITEMS on a list', Uint8Array.from([0x80, 0x02, 0x5d, 0x28, 0x4b, 1, 0x4b, 2, 0x75, 0x2e]), /not a dict/],
    ['a newer protocol', Uint8Array.from([0x80, 0x06, 0x4e, 0x2e]), /protocol 6/],
  ];
  for (const [name, bytes, message] of cases) {
    it(`reports ${name}`, () => {
      const error = catchError(() => read(bytes));
      expect(error.code).toBe('VPL7021');
      expect(error.message).toMatch(message);
    });
  }
});
