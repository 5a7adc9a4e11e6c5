// The layer rule (docs/architecture.md): a folder imports only from the folders below it.
//
//   diagnostics <- grammar
//   tensor <- stdlib <- compiler <- runtime <- tools, cli
//
// compiler also reads grammar (the AST it checks); the editor's language server sits on the
// compiler and never loads the runtime; bench/ and test/ may import anything. Every relative
// import (static, `export ... from`, dynamic `import()`) of every source file is checked.
import { readdirSync, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '../cli/run-vplc.ts';

/** Folder -> the folders it may import from (besides itself). */
const allowed: Readonly<Record<string, readonly string[]>> = {
  diagnostics: [],
  grammar: ['diagnostics'],
  tensor: [],
  stdlib: ['diagnostics', 'tensor'],
  compiler: ['diagnostics', 'grammar', 'tensor', 'stdlib'],
  runtime: ['diagnostics', 'grammar', 'tensor', 'stdlib', 'compiler'],
  tools: ['diagnostics', 'grammar', 'tensor', 'stdlib', 'compiler', 'runtime'],
  cli: ['diagnostics', 'grammar', 'tensor', 'stdlib', 'compiler', 'runtime', 'editor'],
  editor: ['diagnostics', 'grammar', 'tensor', 'stdlib', 'compiler'],
};

/** Inside stdlib, the catalogue (what a pipeline may name) is read by everything and reads nothing of the builders. */
const stdlibCatalogueAllowed = ['stdlib/catalogue', 'diagnostics'];

function sources(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name === 'node_modules' || entry.name.startsWith('.')) continue;
    const full = nodePath.join(dir, entry.name);
    if (entry.isDirectory()) sources(full, out);
    else if (/\.(ts|mts)$/.test(entry.name) && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)['"](\.{1,2}\/[^'"]+)['"]/g;

/** Every relative import of the layered folders: [file, target], repository-relative. */
function imports(): [string, string][] {
  const out: [string, string][] = [];
  for (const top of Object.keys(allowed)) {
    const root = nodePath.join(repoRoot, top);
    let files: string[];
    try {
      files = sources(root);
    } catch {
      continue;
    }
    for (const file of files) {
      if (file.includes(`${nodePath.sep}vscode${nodePath.sep}`)) continue; // the VS Code extension is its own package
      const text = readFileSync(file, 'utf8');
      for (const m of text.matchAll(IMPORT)) {
        const target = nodePath.relative(repoRoot, nodePath.resolve(nodePath.dirname(file), m[1]!));
        out.push([nodePath.relative(repoRoot, file), target]);
      }
    }
  }
  return out;
}

const folderOf = (file: string) => file.split(nodePath.sep)[0]!;

/** The imports against the rule, as `file -> target`. */
function violations(pairs: readonly [string, string][]): string[] {
  return pairs
    .filter(([file, target]) => {
      const from = folderOf(file);
      const to = folderOf(target);
      if (from !== to) return !(allowed[from] ?? []).includes(to);
      return file.startsWith(`stdlib${nodePath.sep}catalogue`) && !stdlibCatalogueAllowed.some((ok) => target.startsWith(ok));
    })
    .map(([file, target]) => `${file} -> ${target}`);
}

describe('the layer rule', () => {
  const all = imports();

  it('finds the imports it checks', () => {
    expect(all.length).toBeGreaterThan(500);
    expect(all.some(([f, t]) => f.startsWith('runtime') && t.startsWith('compiler'))).toBe(true);
  });

  it('has each folder import only from the folders below it, and the catalogue nothing of the builders', () => {
    expect(violations(all)).toEqual([]);
  });

  it('reports an import against the rule', () => {
    const j = (...parts: string[]) => parts.join(nodePath.sep);
    expect(violations([[j('stdlib', 'data', 'x.ts'), j('runtime', 'media', 'ffmpeg.ts')]])).toHaveLength(1);
    expect(violations([[j('stdlib', 'catalogue', 'x.ts'), j('stdlib', 'models', 'registry.ts')]])).toHaveLength(1);
    expect(violations([[j('compiler', 'lower', 'x.ts'), j('runtime', 'session.ts')]])).toHaveLength(1);
    expect(violations([[j('runtime', 'x.ts'), j('compiler', 'plan.ts')]])).toEqual([]);
  });
});
