// What the cursor is on, for hover and completion: editor-independent functions over the text
// of a .vpl file and an offset, answered from the stdlib catalogue (the same one the checker
// reads). The text being typed is usually incomplete, so context comes from a small scan of
// the text before the cursor (braces, `=`, the current line), not from a syntax tree.
import {
  blockKeywords,
  blockParams,
  componentKindNames,
  componentNames,
  componentsOf,
  lookupBlock,
  lookupClause,
  lookupComponent,
  lookupParam,
  type BlockSpec,
  type ClauseSpec,
  type ComponentKind,
  type ParamSpec,
  type ParamType,
} from '../../stdlib/catalogue/index.ts';
import { flattenPlan, formatPlanValue, type Plan } from '../../compiler/plan.ts';

/** One open `{`: a block (`sampler ddim {`) or a configured value (`optimizer = adamw {`). */
export type Frame = { kind: 'block'; keyword: string; variant?: string } | { kind: 'object'; key: string; name: string };

interface Token {
  text: string;
  start: number;
  end: number;
}

const wordChar = /[A-Za-z0-9_.]/;

/** Tokens of `text` up to `end`: words, numbers and punctuation; comments and strings skipped. */
function scan(text: string, end: number): Token[] {
  const tokens: Token[] = [];
  let i = 0;
  while (i < end) {
    const ch = text[i]!;
    if (ch === '#') {
      while (i < end && text[i] !== '\n') i++;
    } else if (ch === '"') {
      const start = i++;
      while (i < end && text[i] !== '"' && text[i] !== '\n') i += text[i] === '\\' ? 2 : 1;
      i++;
      tokens.push({ text: '"', start, end: Math.min(i, end) });
    } else if (ch === '\n') {
      tokens.push({ text: '\n', start: i, end: ++i });
    } else if (/\s/.test(ch)) {
      i++;
    } else if (wordChar.test(ch)) {
      const start = i;
      while (i < end && wordChar.test(text[i]!)) i++;
      tokens.push({ text: text.slice(start, i), start, end: i });
    } else {
      tokens.push({ text: ch, start: i, end: ++i });
    }
  }
  return tokens;
}

const isWord = (t: Token | undefined): boolean => !!t && /^[A-Za-z_]/.test(t.text);

/** The open blocks and values around `offset`, outermost first. */
export function framesAt(text: string, offset: number): Frame[] {
  const tokens = scan(text, offset);
  const frames: Frame[] = [];
  tokens.forEach((token, i) => {
    if (token.text === '}') frames.pop();
    if (token.text !== '{') return;
    const a = tokens[i - 1];
    const b = tokens[i - 2];
    const c = tokens[i - 3];
    if (isWord(a) && b?.text === '=' && isWord(c)) frames.push({ kind: 'object', key: c!.text, name: a!.text });
    else if (isWord(a) && isWord(b) && lookupBlock(b!.text)) frames.push({ kind: 'block', keyword: b!.text, variant: a!.text });
    else if (isWord(a)) frames.push({ kind: 'block', keyword: a!.text });
    else frames.push({ kind: 'block', keyword: '?' });
  });
  return frames;
}

/** Components chosen by the last good plan, for fields written outside their block (`sampler.steps = 5`). */
export type Variants = Partial<Record<string, string>>;

export function variantsOf(plan: Plan | undefined): Variants {
  if (!plan) return {};
  return { model: plan.model.name, sampler: plan.sampler.name, objective: plan.objective.name, data: plan.data?.name };
}

/** Parameters of a block, with its variant; without one, those of every component of its kind. */
function paramsOfBlock(block: BlockSpec, variant: string | undefined): readonly ParamSpec[] {
  if (block.variant === 'none' || !block.component || variant !== undefined) return blockParams(block, variant);
  const seen = new Map<string, ParamSpec>();
  for (const name of componentNames(block.component)) for (const p of blockParams(block, name)) if (!seen.has(p.name)) seen.set(p.name, p);
  return [...seen.values()];
}

export interface Scope {
  /** Plan path of the scope: `train.optimizer`; '' at the top level. */
  path: string;
  params: readonly ParamSpec[];
  block?: BlockSpec;
}

/** The fields that may be written inside the innermost frame. */
export function scopeOf(frames: readonly Frame[], variants: Variants = {}): Scope {
  let scope: Scope = { path: '', params: [] };
  for (const frame of frames) {
    if (frame.kind === 'block') {
      const block = lookupBlock(frame.keyword);
      if (!block) return { path: frame.keyword, params: [] };
      scope = { path: block.keyword, params: paramsOfBlock(block, frame.variant ?? variants[block.keyword]), block };
    } else {
      const param = lookupParam(scope.params, frame.key);
      const params = param?.type.kind === 'component' ? (lookupComponent(param.type.of, frame.name)?.params ?? []) : [];
      scope = { path: `${scope.path}.${frame.key}`, params };
    }
  }
  return scope;
}

export interface ResolvedKey {
  path: string;
  param?: ParamSpec;
  block?: BlockSpec;
  clause?: ClauseSpec;
}

/** A field name written in a scope, possibly dotted (`lora.rank` at the top level). */
export function resolveKey(scope: Scope, key: string, variants: Variants = {}): ResolvedKey {
  const parts = key.split('.');
  let current = scope;
  for (let i = 0; i < parts.length; i++) {
    const part = parts[i]!;
    const path = current.path ? `${current.path}.${part}` : part;
    if (current.path === '') {
      const block = lookupBlock(part);
      if (!block) return { path };
      if (i === parts.length - 1) {
        // `prompts = animals`: the shorthand stands for the block's one field.
        const shorthand = block.shorthand ? lookupParam(block.params, block.shorthand) : undefined;
        return shorthand ? { path, param: shorthand, block } : { path, block };
      }
      current = { path, params: paramsOfBlock(block, variants[part]), block };
      continue;
    }
    const param = lookupParam(current.params, part);
    if (i === parts.length - 1) return { path, param, block: current.block };
    if (param?.type.kind !== 'component') return { path };
    current = { path, params: componentsOf(param.type.of).flatMap((c) => c.params) };
  }
  return { path: current.path };
}

// ------------------------------------------------------------------------ words

export interface WordAt {
  text: string;
  start: number;
  end: number;
}

export function wordAt(text: string, offset: number): WordAt | undefined {
  let start = offset;
  let end = offset;
  while (start > 0 && wordChar.test(text[start - 1]!)) start--;
  while (end < text.length && wordChar.test(text[end]!)) end++;
  if (start === end) return undefined;
  return { text: text.slice(start, end), start, end };
}

/** The statement text on the cursor's line, from the last `{`, `}` or `;` before `offset`. */
function statementBefore(text: string, offset: number): string {
  const lineStart = text.lastIndexOf('\n', offset - 1) + 1;
  let line = text.slice(lineStart, offset);
  const hash = commentStart(line);
  if (hash >= 0) line = line.slice(0, hash);
  const cut = Math.max(line.lastIndexOf('{'), line.lastIndexOf('}'), line.lastIndexOf(';'));
  return line.slice(cut + 1);
}

function commentStart(line: string): number {
  let inString = false;
  for (let i = 0; i < line.length; i++) {
    if (line[i] === '"' && line[i - 1] !== '\\') inString = !inString;
    else if (line[i] === '#' && !inString) return i;
  }
  return -1;
}

// ------------------------------------------------------------------------ describing

export function describeType(type: ParamType): string {
  switch (type.kind) {
    case 'enum':
      return type.values.join(' | ');
    case 'name':
      return 'name';
    case 'list':
      return `list of ${describeType(type.of)}`;
    case 'call':
      return type.forms.map((f) => (f.args.length ? `${f.name}(${f.args.map((a) => a.name).join(', ')})` : f.name)).join(' | ') + (type.number ? ' | number' : '');
    case 'reward_mix':
      return 'reward mix (weight * reward + ...)';
    case 'component':
      return componentKindNames[type.of];
    case 'prompt_source':
      return 'prompt set or text file';
    default:
      return type.kind;
  }
}

/** Markdown for a field: type, doc, range, unit, default and the resolved value. */
export function describeParam(path: string, param: ParamSpec, plan?: Plan): string {
  const facts: string[] = [];
  const low = param.min ?? (param.greaterThan !== undefined ? `> ${param.greaterThan}` : undefined);
  if (low !== undefined && param.max !== undefined) facts.push(`range: ${typeof low === 'number' ? `${low} to ${param.max}` : `${low}, at most ${param.max}`}`);
  else if (low !== undefined) facts.push(`range: ${typeof low === 'number' ? `at least ${low}` : low}`);
  else if (param.max !== undefined) facts.push(`range: at most ${param.max}`);
  if (param.unit) facts.push(`unit: ${param.unit}`);
  if (param.default !== undefined) facts.push(`default: ${formatDefault(param.default)}`);
  else if (param.optional) facts.push('optional');
  else if (!path.startsWith('model.')) facts.push('required');
  const lines = [`**${path}**: \`${describeType(param.type)}\``, '', param.doc];
  if (facts.length) lines.push('', facts.join(' · '));
  const current = plan ? resolvedValue(plan, path) : undefined;
  if (current !== undefined) lines.push('', `resolved: \`${current}\``);
  return lines.join('\n');
}

function formatDefault(value: unknown): string {
  if (value && typeof value === 'object' && !Array.isArray(value) && 'name' in value) return String((value as { name: unknown }).name);
  return formatPlanValue(value);
}

function resolvedValue(plan: Plan, path: string): string | undefined {
  const entries = flattenPlan(plan);
  const exact = entries.find((e) => e.path === path);
  if (exact) {
    const origin = exact.span ? '' : ' (default)';
    return `${formatPlanValue(exact.value)}${origin}`;
  }
  return undefined;
}

function describeComponent(kind: ComponentKind, name: string): string | undefined {
  const entry = lookupComponent(kind, name);
  if (!entry) return undefined;
  const lines = [`**${name}**: ${componentKindNames[kind]}`, '', entry.doc];
  if (entry.params.length) lines.push('', `fields: ${entry.params.map((p) => `\`${p.name}\``).join(', ')}`);
  return lines.join('\n');
}

function describeBlock(block: BlockSpec): string {
  const lines = [`**${block.keyword}** block${block.component ? ` (names a ${componentKindNames[block.component]})` : ''}`, '', block.doc];
  const fields = block.params.map((p) => `\`${p.name}\``);
  if (fields.length) lines.push('', `fields: ${fields.join(', ')}`);
  if (block.clauses?.length) lines.push('', `clauses: ${block.clauses.map((c) => `\`${c.keyword}\``).join(', ')}`);
  return lines.join('\n');
}

/** Component kinds a value of this type may name. */
function kindsOf(type: ParamType): ComponentKind[] {
  if (type.kind === 'component') return [type.of];
  if (type.kind === 'reward_mix') return ['reward'];
  if (type.kind === 'prompt_source') return ['prompt_set'];
  if (type.kind === 'list') return kindsOf(type.of);
  return [];
}

// ------------------------------------------------------------------------ hover

export interface Hover {
  markdown: string;
  start: number;
  end: number;
}

export function hoverAt(text: string, offset: number, plan?: Plan): Hover | undefined {
  const word = wordAt(text, offset);
  if (!word) return undefined;
  const variants = variantsOf(plan);
  const frames = framesAt(text, word.start);
  const scope = scopeOf(frames, variants);
  const before = statementBefore(text, word.start);
  const after = text.slice(word.end, text.indexOf('\n', word.end) < 0 ? undefined : text.indexOf('\n', word.end));
  const result = (markdown: string | undefined): Hover | undefined => (markdown ? { markdown, start: word.start, end: word.end } : undefined);

  // A key (`rank = 16`), a block keyword (`lora {`), a block's variant (`sampler ddim {`).
  if (/^\s*$/.test(before) || /^\s*=(?!=)/.test(after)) {
    if (scope.path === '') {
      const block = lookupBlock(word.text);
      if (block && !/^\s*=/.test(after)) return result(describeBlock(block));
    }
    if (scope.path !== '' && scope.block && frames.length === 1 && !/^\s*=/.test(after)) {
      const clause = lookupClause(scope.block, word.text);
      if (clause) return result(`**${scope.path}.${clause.keyword}** clause\n\n${clause.doc}`);
    }
    const key = resolveKey(scope, word.text, variants);
    if (key.param) return result(describeParam(key.path, key.param, plan));
    if (key.block) return result(describeBlock(key.block));
    return undefined;
  }
  const header = /^\s*([A-Za-z_]\w*)\s*$/.exec(before);
  if (header && scope.path === '') {
    const block = lookupBlock(header[1]!);
    if (block?.component) return result(describeComponent(block.component, word.text));
  }
  // A clause part: `every`, `with`, `keep`.
  const clauseMatch = /^\s*([A-Za-z_]\w*)\b/.exec(before);
  if (clauseMatch && scope.block && frames.length === 1) {
    const clause = lookupClause(scope.block, clauseMatch[1]!);
    const part = clause?.parts.find((p) => p.word === word.text);
    if (part) return result(describeParam(`${scope.path}.${clause!.keyword}.${part.name}`, part, plan));
  }
  // A value: a stdlib name or a call form of the field being assigned.
  const assigned = /([A-Za-z_][\w.]*)\s*=[^=]*$/.exec(before);
  if (assigned) {
    const key = resolveKey(scope, assigned[1]!, variants);
    if (!key.param) return undefined;
    for (const kind of kindsOf(key.param.type)) {
      const doc = describeComponent(kind, word.text);
      if (doc) return result(doc);
    }
    const type = key.param.type.kind === 'list' ? key.param.type.of : key.param.type;
    if (type.kind === 'call') {
      const form = type.forms.find((f) => f.name === word.text);
      if (form) return result(`**${form.name}${form.args.length ? `(${form.args.map((a) => a.name).join(', ')})` : ''}**: a form of \`${key.path}\`\n\n${form.doc}`);
    }
    return result(describeParam(key.path, key.param, plan));
  }
  return undefined;
}

// ------------------------------------------------------------------------ completion

export type CompletionKind = 'block' | 'field' | 'value' | 'component' | 'keyword' | 'clause';

export interface Completion {
  label: string;
  kind: CompletionKind;
  detail?: string;
  documentation?: string;
  /** Text inserted, as a snippet (`random($1)`), when it differs from the label. */
  snippet?: string;
}

export function completionsAt(text: string, offset: number, plan?: Plan): Completion[] {
  const variants = variantsOf(plan);
  const frames = framesAt(text, offset);
  const scope = scopeOf(frames, variants);
  const partial = wordAt(text.slice(0, offset), offset);
  const before = statementBefore(text, partial ? partial.start : offset);

  // Value position: after `key =` (and inside lists, calls and reward mixes).
  const assigned = /([A-Za-z_][\w.]*)\s*=([^=]*)$/.exec(before);
  if (assigned) {
    const key = resolveKey(scope, assigned[1]!, variants);
    return key.param ? valueCompletions(key.param.type, plan, assigned[2]!) : [];
  }
  // `sampler |`: the block's variants.
  const header = /^\s*([A-Za-z_]\w*)\s+$/.exec(before);
  if (header && scope.path === '') {
    const block = lookupBlock(header[1]!);
    if (block?.component) return componentCompletions(block.component);
    return [];
  }
  if (!/^\s*$/.test(before)) return [];
  if (scope.path === '') {
    const blocks = blockKeywords().map((keyword): Completion => {
      const block = lookupBlock(keyword)!;
      return { label: keyword, kind: 'block', detail: 'block', documentation: block.doc, snippet: block.shorthand ? `${keyword} = $0` : block.variant === 'required' ? `${keyword} \${1:name} {\n\t$0\n}` : `${keyword} {\n\t$0\n}` };
    });
    return [
      { label: 'pipeline', kind: 'keyword', detail: 'pipeline NAME', documentation: 'Names the pipeline (default: the file name).' },
      { label: 'extends', kind: 'keyword', detail: 'extends "base.vpl"', documentation: 'Inherit another pipeline and override its fields.', snippet: 'extends "$1"' },
      ...blocks,
    ];
  }
  const fields = scope.params.map((p): Completion => ({ label: p.name, kind: 'field', detail: describeType(p.type), documentation: p.doc, snippet: `${p.name} = $0` }));
  const clauses =
    frames.length === 1 && scope.block?.clauses
      ? scope.block.clauses.map((c): Completion => ({ label: c.keyword, kind: 'clause', detail: c.parts.map((p) => `${p.word} N${p.unitWord ? ` ${p.unitWord}` : ''}`).join(' '), documentation: c.doc }))
      : [];
  return [...fields, ...clauses];
}

function componentCompletions(kind: ComponentKind): Completion[] {
  return componentsOf(kind).map((c) => ({ label: c.name, kind: 'component', detail: componentKindNames[kind], documentation: c.doc }));
}

function valueCompletions(type: ParamType, plan: Plan | undefined, written: string): Completion[] {
  switch (type.kind) {
    case 'enum':
      return type.values.map((v) => ({ label: v, kind: 'value' }));
    case 'bool':
      return ['true', 'false', 'on', 'off'].map((v) => ({ label: v, kind: 'value' }));
    case 'name': {
      const model = plan ? lookupComponent('model', plan.model.name) : undefined;
      const names = type.values.length ? type.values : (model?.loraTargets ?? [...new Set(componentsOf('model').flatMap((m) => m.loraTargets))]);
      return names.map((v) => ({ label: v, kind: 'value', detail: 'LoRA target' }));
    }
    case 'list':
      return valueCompletions(type.of, plan, written);
    case 'call':
      return type.forms.map((f) => ({ label: f.name, kind: 'value', documentation: f.doc, snippet: f.args.length ? `${f.name}(${f.args.map((a, i) => `\${${i + 1}:${a.name}}`).join(', ')})` : undefined }));
    case 'reward_mix': {
      // After a weight (`0.5 * |`), reward names; at the start, a weighted term.
      const rewards = componentCompletions('reward');
      if (/\*\s*$/.test(written)) return rewards;
      return rewards.map((r) => ({ ...r, snippet: `\${1:1.0} * ${r.label}` }));
    }
    case 'component':
      return componentCompletions(type.of);
    case 'prompt_source':
      return componentCompletions('prompt_set');
    default:
      return [];
  }
}
