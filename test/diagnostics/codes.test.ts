// One catalogue for every code (diagnostics/catalogue.ts). Fails when the source reports a
// code the catalogue lacks, when a catalogued code is reported nowhere (unless it is listed as
// reserved below, with why), or when a retired code is still reported.
// "Reported" means written in a string or template literal of a .ts file outside test/ and
// node_modules; comments do not count, so they may still name a retired code.
import { readdirSync, readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import ts from 'typescript';
import { describe, expect, it } from 'vitest';
import { catalogue, type CatalogueEntry } from '../../diagnostics/catalogue.ts';

const root = nodePath.resolve(import.meta.dirname, '..', '..');
const skipped = new Set(['node_modules', 'test']);
// The catalogue defines the codes; it does not report them.
const definitions = new Set(['diagnostics/catalogue.ts']);

/**
 * Retired codes still reported where another change is restructuring the code: code -> the
 * files or folders (path prefixes) that may report it. An entry goes when they report the
 * replacements (each code's `retired.replacedBy`).
 */
const stillReportingRetired: Record<string, readonly string[]> = {};

/** Live codes nothing reports yet: code -> why. */
const reserved: Record<string, string> = {
};

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    if (entry.name.startsWith('.') || skipped.has(entry.name)) continue;
    const full = nodePath.join(dir, entry.name);
    if (entry.isDirectory()) sourceFiles(full, out);
    else if (entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts')) out.push(full);
  }
  return out;
}

/** The VPLdddd codes in a file's string and template literals. */
function codesIn(file: string): Set<string> {
  const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
  const codes = new Set<string>();
  const visit = (node: ts.Node): void => {
    if (ts.isStringLiteralLike(node) || ts.isTemplateLiteralToken(node)) {
      for (const m of node.text.matchAll(/\bVPL\d{4}\b/g)) codes.add(m[0]);
    }
    ts.forEachChild(node, visit);
  };
  visit(source);
  return codes;
}

/** code -> the files (relative to the repo root) that report it. */
const reportedBy = new Map<string, string[]>();
for (const file of sourceFiles(root)) {
  const relative = nodePath.relative(root, file).split(nodePath.sep).join('/');
  if (definitions.has(relative)) continue;
  for (const code of codesIn(file)) reportedBy.set(code, [...(reportedBy.get(code) ?? []), relative]);
}

const entries = Object.entries(catalogue) as [string, CatalogueEntry][];
const retired = new Set(entries.filter(([, e]) => e.retired).map(([code]) => code));

describe('the diagnostic catalogue', () => {
  it('scans the source (sanity: the scanner finds codes in strings and templates)', () => {
    expect(reportedBy.get('VPL1001')).toContain('grammar/lexer.ts');
    expect(reportedBy.get('VPL4001')).toContain('cli/commands/fmt.ts'); // in a template literal
    expect(reportedBy.size).toBeGreaterThan(60);
  });

  it('has every code the source reports', () => {
    const unknown = [...reportedBy].filter(([code]) => !Object.hasOwn(catalogue, code)).map(([code, files]) => `${code} (${files.join(', ')})`);
    expect(unknown).toEqual([]);
  });

  it('has no live code that nothing reports, except the reserved ones', () => {
    const unused = entries.filter(([code]) => !retired.has(code) && !reportedBy.has(code) && !Object.hasOwn(reserved, code)).map(([code]) => code);
    expect(unused).toEqual([]);
  });

  it('lists only reserved codes that are live, catalogued and still unreported', () => {
    for (const [code, why] of Object.entries(reserved)) {
      expect(Object.hasOwn(catalogue, code), code).toBe(true);
      expect(retired.has(code), `${code} is retired, not reserved`).toBe(false);
      expect(reportedBy.get(code) ?? [], `${code} is reported now: remove it from \`reserved\``).toEqual([]);
      expect(why).not.toBe('');
    }
  });

  it('reports no retired code, except where code still moving to the replacement is listed', () => {
    const allowed = (code: string, file: string) => (stillReportingRetired[code] ?? []).some((prefix) => file.startsWith(prefix));
    const reported = [...retired].flatMap((code) => (reportedBy.get(code) ?? []).map((file) => ({ code, file })));
    expect(reported.filter(({ code, file }) => !allowed(code, file)).map(({ code, file }) => `${file}: ${code}`)).toEqual([]);
    // both ways: an entry that no longer applies must go too
    for (const [code, prefixes] of Object.entries(stillReportingRetired)) {
      expect(retired.has(code), `${code} is not retired`).toBe(true);
      for (const prefix of prefixes) {
        expect(reported.some((r) => r.code === code && r.file.startsWith(prefix)), `${prefix} no longer reports ${code}: remove it from \`stillReportingRetired\``).toBe(true);
      }
    }
  });

  it('replaces each retired code with live catalogued codes', () => {
    for (const [code, entry] of entries) {
      if (!entry.retired) continue;
      expect(entry.retired.replacedBy.length, code).toBeGreaterThan(0);
      for (const next of entry.retired.replacedBy) {
        expect(Object.hasOwn(catalogue, next), `${code} -> ${next}`).toBe(true);
        expect(retired.has(next), `${code} -> ${next} is retired too`).toBe(false);
      }
      expect(entry.retired.why).not.toBe('');
    }
  });

  it('keeps codes in their ranges with one-line summaries that fit a Markdown table', () => {
    for (const [code, entry] of entries) {
      expect(code).toMatch(/^VPL[1-7]\d{3}$/);
      expect(entry.summary, code).toMatch(/^[A-Z`].*\.$/);
      expect(entry.summary, code).not.toMatch(/[\n|]/);
    }
    // the runtime's codes are errors: a VplError stops the command
    for (const [code, entry] of entries) if (/^VPL7/.test(code)) expect(entry.severity, code).toBe('error');
  });

  it('lives in diagnostics/, which imports nothing else from the repo', () => {
    const dir = nodePath.join(root, 'diagnostics');
    for (const file of sourceFiles(dir)) {
      const source = ts.createSourceFile(file, readFileSync(file, 'utf8'), ts.ScriptTarget.Latest, false);
      for (const statement of source.statements) {
        const specifier = (ts.isImportDeclaration(statement) || ts.isExportDeclaration(statement)) && statement.moduleSpecifier;
        if (!specifier || !ts.isStringLiteral(specifier) || !specifier.text.startsWith('.')) continue;
        const target = nodePath.resolve(nodePath.dirname(file), specifier.text);
        expect(nodePath.relative(dir, target), `${nodePath.relative(root, file)} imports ${specifier.text}`).not.toMatch(/^\.\./);
      }
    }
  });
});
