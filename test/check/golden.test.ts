// Golden diagnostics: every test/cases/NAME.vpl is checked and its rendered diagnostics are
// compared with NAME.expected. A case without NAME.expected fails: a baseline is only ever
// written on request, so a new case cannot pass by recording whatever it prints.
// `VPL_UPDATE_GOLDEN=1 npx vitest run test/check/golden.test.ts` writes missing baselines and
// overwrites stale ones (review the diff before committing).
// A first line `# overrides: a.b=1 c.d=2` passes command-line overrides.
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { describe, expect, it } from 'vitest';
import { checkFile } from '../../compiler/check/index.ts';
import { catalogue } from '../../diagnostics/catalogue.ts';
import { renderDiagnostics } from '../../diagnostics/render.ts';

const casesDir = nodePath.relative(process.cwd(), nodePath.join(import.meta.dirname, '..', 'cases')) || '.';
const cases = readdirSync(casesDir).filter((f) => f.endsWith('.vpl')).sort();
const update = process.env.VPL_UPDATE_GOLDEN === '1';

function render(file: string): string {
  const firstLine = readFileSync(file, 'utf8').split('\n')[0];
  const overrides = firstLine.startsWith('# overrides:') ? firstLine.slice('# overrides:'.length).trim().split(/\s+/) : [];
  const result = checkFile(file, { overrides });
  return renderDiagnostics(result.diagnostics, { sources: result.sources, color: false }) || 'no diagnostics\n';
}

describe('golden diagnostics', () => {
  for (const name of cases) {
    it(name, () => {
      const file = `${casesDir}/${name}`;
      const expectedFile = file.replace(/\.vpl$/, '.expected');
      const actual = render(file);
      if (update) writeFileSync(expectedFile, actual);
      if (!existsSync(expectedFile)) {
        throw new Error(`no baseline ${expectedFile}: create it with \`VPL_UPDATE_GOLDEN=1 npx vitest run test/check/golden.test.ts\` and review it`);
      }
      expect(actual).toBe(readFileSync(expectedFile, 'utf8'));
    });
  }

  it('exercise every VPL1xxx-VPL5xxx code in the catalogue', () => {
    // a missing baseline already fails its own case: count only the baselines there are
    const baselines = cases.map((c) => `${casesDir}/${c.replace(/\.vpl$/, '.expected')}`).filter((f) => existsSync(f));
    const expected = baselines.map((f) => readFileSync(f, 'utf8')).join('\n');
    // VPL4004 comes from the disk, not the file: `vplc check` adds it (test/cli/check.test.ts)
    const fromTheDisk = new Set(['VPL4004']);
    const codes = Object.keys(catalogue).filter((code) => /^VPL[1-5]\d{3}$/.test(code) && !fromTheDisk.has(code));
    const missing = codes.filter((code) => !expected.includes(` ${code}: `));
    expect(missing).toEqual([]);
  });

  it('render the issue example as four diagnostics with a place, a code, a caret and a help line', () => {
    const text = render(`${casesDir}/issue_example.vpl`);
    const blocks = text.trim().split('\n\n').filter((b) => /^\S+:\d+:\d+ - error VPL\d{4}: /.test(b));
    expect(blocks.map((b) => /VPL\d{4}/.exec(b)![0])).toEqual(['VPL1002', 'VPL2007', 'VPL2008', 'VPL3001']);
    const sections = text.split(/\n(?=test\/cases\/issue_example\.vpl:\d+:\d+ - )/);
    for (const section of sections) {
      expect(section).toMatch(/\|\s+\^/);
      expect(section).toMatch(/\nhelp: /);
    }
    expect(text).toContain("help: did you mean 'pickscore'?");
  });
});
