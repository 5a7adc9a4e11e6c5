// The compiled-program cache: `<root>/<hash>/` (root defaults to .cache/vplc), where the hash
// covers the graphs' serialised form, external weights (content, or source file identity),
// schedule, manifest and the vplc version. A directory is complete once program.json exists in
// it: emission writes to a temporary sibling and renames it into place, so a crashed or
// concurrent compile never leaves a half-written entry that looks valid.
import * as fs from 'node:fs';
import * as path from 'node:path';
import { type EmitProgramOptions, planEmission, writeEmission } from './emit.ts';
import type { Program, ProgramJson } from './program.ts';

export interface CachedProgram {
  dir: string;
  hash: string;
  /** True when the program was already in the cache (nothing was written). */
  hit: boolean;
  json: ProgramJson;
}

export const DEFAULT_CACHE_ROOT = path.join('.cache', 'vplc');

export function compileCached(program: Program, options: EmitProgramOptions & { root?: string } = {}): CachedProgram {
  const root = options.root ?? DEFAULT_CACHE_ROOT;
  const plan = planEmission(program, options);
  const hash = plan.json.hash;
  const dir = path.join(root, hash);
  const jsonPath = path.join(dir, 'program.json');
  if (fs.existsSync(jsonPath)) {
    return { dir, hash, hit: true, json: JSON.parse(fs.readFileSync(jsonPath, 'utf8')) as ProgramJson };
  }
  fs.mkdirSync(root, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(root, `.tmp-${hash.slice(0, 12)}-`));
  try {
    const json = writeEmission(plan, tmp);
    try {
      fs.renameSync(tmp, dir);
    } catch (error) {
      // another process finished the same program first: use theirs
      if (!fs.existsSync(jsonPath)) throw error;
      fs.rmSync(tmp, { recursive: true, force: true });
      return { dir, hash, hit: true, json };
    }
    return { dir, hash, hit: false, json };
  } catch (error) {
    fs.rmSync(tmp, { recursive: true, force: true });
    throw error;
  }
}
