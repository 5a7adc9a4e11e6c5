// docs/language.md's reference part is generated from the catalogue; this fails when someone
// changes the catalogue without regenerating it (npx tsx stdlib/catalogue/docgen.ts).
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { catalogue } from '../../diagnostics/catalogue.ts';
import { generatedMarker, languageDocPath, regenerateLanguageDoc } from '../../stdlib/catalogue/docgen.ts';
import { blocks, componentsOf } from '../../stdlib/catalogue/index.ts';

describe('docs/language.md', () => {
  const doc = readFileSync(languageDocPath(), 'utf8');
  it('is up to date with the catalogue', () => {
    expect(doc).toContain(generatedMarker);
    expect(regenerateLanguageDoc(doc)).toBe(doc);
  });
  it('documents every block and component', () => {
    for (const b of blocks) expect(doc).toContain(`### \`${b.keyword}\``);
    for (const m of componentsOf('model')) expect(doc).toContain(`\`${m.name}\``);
    for (const r of componentsOf('reward')) expect(doc).toContain(`| \`${r.name}\` |`);
  });
  it('lists every diagnostic code, the runtime\'s and the retired ones included', () => {
    for (const code of Object.keys(catalogue)) expect(doc).toContain(`| ${code} |`);
  });
  it('keeps the Syntax section', () => {
    expect(doc.indexOf('## Syntax')).toBeLessThan(doc.indexOf(generatedMarker));
  });
});
