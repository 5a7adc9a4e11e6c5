// Writes the reference part of docs/language.md (everything after the Syntax section) from
// the catalogue, so the documentation can never disagree with the checker.
// Run: npx tsx stdlib/catalogue/docgen.ts   (test/check/docs.test.ts fails when it is stale)
import { readFileSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { catalogue, type CatalogueEntry } from '../../diagnostics/catalogue.ts';
import { blockParams, blocks, componentKindNames, componentsOf, type ParamSpec, type ParamType } from './index.ts';

export const generatedMarker = '<!-- Generated from stdlib/catalogue by stdlib/catalogue/docgen.ts: edit the catalogue, then run `npx tsx stdlib/catalogue/docgen.ts`. -->';

function typeText(type: ParamType): string {
  switch (type.kind) {
    case 'enum': return type.values.map((v) => (/^[A-Za-z_]\w*$/.test(v) ? v : `"${v}"`)).join(' \\| ');
    case 'list': return `list of ${typeText(type.of)}`;
    case 'call': return [...type.forms.map((f) => (f.args.length ? `${f.name}(${f.args.map((a) => a.name).join(', ')})` : f.name)), ...(type.number ? ['number'] : [])].join(' \\| ');
    case 'component': return `${componentKindNames[type.of]}`;
    case 'name': return 'name';
    case 'reward_mix': return 'reward mix';
    case 'prompt_source': return 'prompt set \\| "file"';
    default: return type.kind;
  }
}

function valueText(value: unknown): string {
  if (value === undefined) return 'required';
  if (value === null) return 'none';
  if (Array.isArray(value)) return `[${value.map(valueText).join(', ')}]`;
  if (typeof value === 'object') {
    const record = value as Record<string, unknown>;
    if ('height' in record) return `${record.height}x${record.width}`;
    if ('mode' in record) {
      const args = Object.entries(record).filter(([k]) => k !== 'mode').map(([, v]) => valueText(v));
      return args.length ? `${record.mode}(${args.join(', ')})` : String(record.mode);
    }
    if ('name' in record) return String(record.name);
  }
  return String(value);
}

function rangeText(p: ParamSpec): string {
  const low = p.greaterThan !== undefined ? `> ${p.greaterThan}` : p.min !== undefined ? `>= ${p.min}` : '';
  const high = p.max !== undefined ? `<= ${p.max}` : '';
  return [low, high].filter(Boolean).join(', ');
}

function paramTable(params: readonly ParamSpec[], defaults: (p: ParamSpec) => unknown = (p) => p.default): string {
  if (!params.length) return 'No parameters.\n';
  const rows = params.map((p) => {
    const d = defaults(p);
    return `| \`${p.name}\` | ${typeText(p.type)} | ${d === undefined && p.optional ? 'none' : valueText(d)} | ${p.unit ?? ''} | ${rangeText(p)} | ${p.doc} |`;
  });
  return ['| field | type | default | unit | range | meaning |', '|---|---|---|---|---|---|', ...rows].join('\n') + '\n';
}

const semantics = `## How a pipeline is resolved

- **Blocks.** A pipeline is a set of blocks. \`model\`, \`sampler\`, \`objective\` and \`data\` name a
  component (\`sampler ddim { ... }\`); the others take none (\`lora { ... }\`). \`model\` and
  \`objective\` are required; a missing \`sampler\` is the model's usual one with its recipe.
- **Fields by path.** \`lora.rank = 8\` at the top level sets one field of a block; \`prompts =
  animals\` is short for \`prompts { source = animals }\` (likewise \`images = "..."\`).
- **Defaults.** Every field left out gets a default: first the model's recipe (VideoCrafter2:
  12 frames at 320x512, DDIM 25 steps, guidance 12), then the catalogue's default below.
- **\`extends "base.vpl"\`** (one per file, relative to the file) inherits another pipeline. The
  child's fields replace the base's field by field; a block that names another component
  (\`model modelscope { }\` over \`model videocrafter2 { }\`) replaces the base block whole.
  Chains are allowed; cycles are an error (VPL4002).
- **Command-line overrides** (\`vplc run x.vpl lora.rank=8 train.optimizer.lr=1e-5\`) are one
  more layer over the file, checked exactly like it; their diagnostics point into
  \`<command line>\`.
- **Paths** in strings are relative to the file that writes them.
- **Units.** \`2s\`, \`500ms\`, \`1min\`, \`1h\` are durations: a frame count written as a duration
  is converted with the model's fps (Open-Sora uses its own table: 2s = 51 frames). \`24fps\`
  only fits frame rates, \`10%\` only fractions; \`k\` and \`M\` multiply by a thousand and a
  million (\`steps = 10k\`). Arithmetic on numbers is allowed (\`lr = 2e-4 / 2\`).
- **Booleans** are \`true\`/\`false\`, or \`on\`/\`off\`. Enum values are names or strings (\`"v2.1"\`).
- **Reward mix**: a weighted sum, \`1.0 * hps + 0.5 * aesthetic(target = 9)\`; a reward's
  parameters go in parentheses or braces. A negative weight is allowed.
- **Every problem at once.** The checker reports all diagnostics in one run (codes below).
`;

export function generateReference(): string {
  const out: string[] = [generatedMarker, '', semantics];
  out.push('## Blocks\n');
  for (const block of blocks) {
    out.push(`### \`${block.keyword}\`${block.variant === 'required' ? ` *${componentKindNames[block.component!]}*` : ''}\n`);
    out.push(`${block.doc}${block.required ? ' Required.' : ''}${block.shorthand ? ` Shorthand: \`${block.keyword} = value\` sets \`${block.shorthand}\`.` : ''}\n`);
    if (block.variant === 'required') {
      out.push(`Takes the parameters of the ${componentKindNames[block.component!]} it names (see below).${block.component === 'model' ? ' Every model also takes:' : ''}\n`);
      if (block.component === 'model') out.push(paramTable(blockParams(block), (p) => (p.optional ? undefined : "the model's")));
    } else out.push(paramTable(block.params));
    for (const clause of block.clauses ?? []) {
      out.push(`Clause \`${clause.keyword} ${clause.parts.map((p) => `${p.word} N${p.unitWord ? ` ${p.unitWord}` : ''}`).join(' ')}\`: ${clause.doc} Without it: ${clause.keyword === 'validate' ? 'no validation' : 'one checkpoint at the end'}.\n`);
      out.push(paramTable(clause.parts.map((p) => ({ ...p, name: `${clause.keyword} ${p.word}` }))));
    }
  }
  out.push('## Models\n');
  out.push('| model | task | family | prediction | latent ch. | stride (space, time) | size multiple | frames multiple | text encoder | VAE | default sampler |');
  out.push('|---|---|---|---|---|---|---|---|---|---|---|');
  for (const m of componentsOf('model')) {
    out.push(`| \`${m.name}\` | ${m.task} | ${m.family} | ${m.prediction} | ${m.latentChannels} | ${m.spatialStride}, ${m.temporalStride} | ${m.sizeMultiple} | ${m.frameMultiple} | ${m.defaultTextEncoder ?? 'none'} | ${m.defaultVae} | ${m.defaults.sampler} |`);
  }
  out.push('');
  for (const m of componentsOf('model')) {
    const recipe = Object.entries(m.defaults).map(([k, v]) => `\`${k}\` = ${valueText(v)}`).join(', ');
    out.push(`- **\`${m.name}\`**: ${m.doc} Recipe: ${recipe}. LoRA targets: ${m.loraTargets.map((t) => `\`${t}\``).join(', ')}.${m.params.length ? ` Also takes: ${m.params.map((p) => `\`${p.name}\` (default ${valueText(p.default)})`).join(', ')}.` : ''}`);
  }
  out.push('\n## Rewards\n');
  out.push('| reward | kind | min frames | loss | network | parameters |', '|---|---|---|---|---|---|');
  for (const r of componentsOf('reward')) {
    out.push(`| \`${r.name}\` | ${r.modality.replace('_', '-')} | ${r.minFrames} | \`${r.loss}\` | ${r.network} | ${r.params.map((p) => `\`${p.name}\` = ${valueText(p.default)}`).join(', ') || ''} |`);
  }
  out.push('');
  const sections: [string, 'sampler' | 'solver' | 'objective' | 'optimizer' | 'dataset'][] = [['Samplers', 'sampler'], ['Teacher solvers', 'solver'], ['Objectives', 'objective'], ['Optimizers', 'optimizer'], ['Datasets', 'dataset']];
  for (const [title, kind] of sections) {
    out.push(`## ${title}\n`);
    for (const c of componentsOf(kind)) out.push(`### \`${c.name}\`\n`, `${c.doc}\n`, paramTable(c.params));
  }
  out.push('## Prompt sets, text encoders and VAEs\n');
  for (const kind of ['prompt_set', 'text_encoder', 'vae'] as const) {
    for (const c of componentsOf(kind)) out.push(`- \`${c.name}\` (${componentKindNames[kind]}): ${c.doc}`);
  }
  out.push(
    '\n## Diagnostics\n',
    'Every code vplc reports: `vplc check` prints VPL1xxx-VPL5xxx as diagnostics with a place in the file; the other commands also stop with the VPL7xxx codes. A problem has the same code in every command. A retired code is no longer reported and never reused.\n',
    '| code | severity | meaning |',
    '|---|---|---|',
  );
  for (const [code, entry] of Object.entries(catalogue) as [string, CatalogueEntry][]) {
    const retired = entry.retired ? ` Retired: now ${entry.retired.replacedBy.join(', ')}.` : '';
    out.push(`| ${code} | ${entry.retired ? 'retired' : entry.severity} | ${entry.summary}${retired} |`);
  }
  return `${out.join('\n')}\n`;
}

/** docs/language.md with its reference part regenerated (the Syntax section is kept as is). */
export function regenerateLanguageDoc(current: string): string {
  const cut = current.indexOf(generatedMarker);
  const head = cut >= 0 ? current.slice(0, cut) : `${current.trimEnd()}\n\n`;
  return head + generateReference();
}

const docPath = fileURLToPath(new URL('../../docs/language.md', import.meta.url));
export function languageDocPath(): string {
  return docPath;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  writeFileSync(docPath, regenerateLanguageDoc(readFileSync(docPath, 'utf8')));
  console.log(`wrote ${docPath}`);
}
