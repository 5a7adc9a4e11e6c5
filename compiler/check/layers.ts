// A layer is what one source (a file, or the command line) says about each block, before any
// checking of values. Layers merge base-first: `extends` chains, then command-line overrides.
import type { Clause, Expression, Identifier, SourceFile, Span, Statement } from '../../grammar/ast.ts';
import { diagnostic, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { blockKeywords, lookupBlock } from '../../stdlib/catalogue/index.ts';
import { closestName, listNames } from './suggest.ts';
import { pathName } from './values.ts';

export interface FieldEntry {
  /** The field's path inside its block: `['rank']`, `['optimizer', 'lr']`. */
  path: string[];
  nameSpan: Span;
  value: Expression;
}

export interface BlockEntry {
  keyword: string;
  keywordSpan: Span;
  variant?: Identifier;
  /** Keyed by the dotted field path. */
  fields: Map<string, FieldEntry>;
  clauses: Map<string, Clause>;
  /** Written as a block (not only through `block.field = ...` assignments). */
  declared: boolean;
}

export interface Layer {
  name?: Identifier;
  blocks: Map<string, BlockEntry>;
}

export type LayerOrigin = 'file' | 'command line';

function newBlock(keyword: string, keywordSpan: Span, variant?: Identifier): BlockEntry {
  return { keyword, keywordSpan, variant, fields: new Map(), clauses: new Map(), declared: false };
}

/** Gathers the statements of one source into a layer, reporting duplicates and unknown blocks. */
export function collectLayer(file: SourceFile, origin: LayerOrigin, report: (d: Diagnostic) => void): Layer {
  const layer: Layer = { blocks: new Map() };
  const setField = (block: BlockEntry, entry: FieldEntry): void => {
    const key = entry.path.join('.');
    const first = block.fields.get(key);
    if (first) {
      report(diagnostic('VPL2004', entry.nameSpan, `'${block.keyword}.${key}' is set twice`, { help: 'remove one of them (the later one would win)', related: [{ span: first.nameSpan, message: 'first set here' }] }));
      return;
    }
    block.fields.set(key, entry);
  };

  for (const statement of file.body) {
    switch (statement.kind) {
      case 'PipelineDeclaration':
        if (layer.name) {
          report(diagnostic('VPL2004', statement.span, 'the pipeline is named twice', { help: 'keep one `pipeline` line', related: [{ span: layer.name.span, message: 'first named here' }] }));
        } else layer.name = statement.name;
        break;
      case 'ExtendsDeclaration':
        break; // resolved by the loader before layers are collected
      case 'Clause':
        report(diagnostic('VPL2012', statement.span, `the clause '${statement.keyword.name}' must be inside a block`, { help: `move it into train { }` }));
        break;
      case 'Block': {
        const spec = lookupBlock(statement.keyword.name);
        if (!spec) {
          reportUnknownBlock(statement.keyword.name, statement.keyword.span, origin, report);
          break;
        }
        let block = layer.blocks.get(spec.keyword);
        if (block?.declared) {
          report(diagnostic('VPL2004', statement.keyword.span, `the block '${spec.keyword}' is written twice`, { help: 'merge the two blocks into one', related: [{ span: block.keywordSpan, message: 'first written here' }] }));
          break;
        }
        if (!block) {
          block = newBlock(spec.keyword, statement.keyword.span);
          layer.blocks.set(spec.keyword, block);
        }
        block.declared = true;
        block.keywordSpan = statement.keyword.span;
        block.variant = statement.variant;
        collectBody(statement.body, block, setField, report);
        break;
      }
      case 'Assignment': {
        const parts = statement.target.parts;
        const head = parts[0];
        if (!head) break;
        const spec = lookupBlock(head.name);
        if (!spec) {
          reportUnknownBlock(head.name, head.span, origin, report, pathName(statement.target));
          break;
        }
        const fieldPath = parts.length === 1 && spec.shorthand ? [spec.shorthand] : parts.slice(1).map((p) => p.name);
        if (fieldPath.length === 0) {
          const code = origin === 'command line' ? 'VPL5001' : 'VPL2005';
          report(diagnostic(code, statement.target.span, `'${head.name}' is a block, not a field`, { help: `set one of its fields: ${head.name}.${spec.params[0]?.name ?? 'field'} = ...` }));
          break;
        }
        let block = layer.blocks.get(spec.keyword);
        if (!block) {
          block = newBlock(spec.keyword, head.span);
          layer.blocks.set(spec.keyword, block);
        }
        const nameSpan = parts.length === 1 ? statement.target.span : spanBetween(parts[1].span, parts[parts.length - 1].span);
        setField(block, { path: fieldPath, nameSpan, value: statement.value });
        break;
      }
    }
  }
  return layer;
}

function collectBody(body: Statement[], block: BlockEntry, setField: (b: BlockEntry, f: FieldEntry) => void, report: (d: Diagnostic) => void): void {
  for (const statement of body) {
    switch (statement.kind) {
      case 'Assignment':
        setField(block, { path: statement.target.parts.map((p) => p.name), nameSpan: statement.target.span, value: statement.value });
        break;
      case 'Clause': {
        if (!lookupBlock(block.keyword)?.clauses) {
          report(diagnostic('VPL2012', statement.keyword.span, `'${block.keyword}' takes no clauses`, { help: `clauses such as \`${statement.keyword.name} every 8 steps\` go inside train { }` }));
          break;
        }
        const first = block.clauses.get(statement.keyword.name);
        if (first) {
          report(diagnostic('VPL2004', statement.keyword.span, `the clause '${statement.keyword.name}' is written twice`, { help: 'keep one', related: [{ span: first.keyword.span, message: 'first written here' }] }));
        } else block.clauses.set(statement.keyword.name, statement);
        break;
      }
      case 'Block':
        report(diagnostic('VPL2012', statement.span, `blocks do not nest: '${statement.keyword.name}' inside '${block.keyword}'`, {
          help: statement.variant ? `write it as a field: ${statement.keyword.name} = ${statement.variant.name} { ... }` : 'move it to the top level',
        }));
        break;
      case 'PipelineDeclaration':
      case 'ExtendsDeclaration':
        report(diagnostic('VPL2012', statement.span, `'${statement.kind === 'PipelineDeclaration' ? 'pipeline' : 'extends'}' must be at the top level`, { help: `move it out of '${block.keyword}'` }));
        break;
    }
  }
}

function reportUnknownBlock(name: string, span: Span, origin: LayerOrigin, report: (d: Diagnostic) => void, written?: string): void {
  const close = closestName(name, blockKeywords());
  const help = close ? `did you mean '${close}'?` : `blocks: ${listNames(blockKeywords(), 12)}`;
  const fix = close ? { span, text: close, title: `Change to '${close}'` } : undefined;
  if (origin === 'command line') {
    report(diagnostic('VPL5002', span, `the override '${written ?? name}' names no block`, { help: close ? help : `write block.field=value, e.g. lora.rank=8 (${help})`, ...(fix ? { fix } : {}) }));
  } else if (written !== undefined && !written.includes('.')) {
    report(diagnostic('VPL2003', span, `unknown top-level field '${name}'`, { help: close ? help : 'write block.field = value, e.g. lora.rank = 8', ...(fix ? { fix } : {}) }));
  } else {
    report(diagnostic('VPL2001', span, `unknown block '${name}'`, { help, ...(fix ? { fix } : {}) }));
  }
}

function spanBetween(a: Span, b: Span): Span {
  return { file: a.file, start: a.start, end: b.end };
}

/**
 * Merges `child` over `base`: a field the child sets replaces the base's (setting `optimizer`
 * also drops the base's `optimizer.lr`); a block with another variant replaces the base block.
 */
export function mergeLayers(base: Layer, child: Layer): Layer {
  const blocks = new Map(base.blocks);
  for (const [keyword, childBlock] of child.blocks) {
    const baseBlock = blocks.get(keyword);
    const replaces = !baseBlock || (childBlock.variant !== undefined && childBlock.variant.name !== baseBlock.variant?.name);
    if (replaces) {
      blocks.set(keyword, childBlock);
      continue;
    }
    const fields = new Map(baseBlock.fields);
    for (const [key, field] of childBlock.fields) {
      for (const baseKey of fields.keys()) if (baseKey.startsWith(`${key}.`)) fields.delete(baseKey);
      fields.set(key, field);
    }
    blocks.set(keyword, {
      keyword,
      keywordSpan: childBlock.declared ? childBlock.keywordSpan : baseBlock.keywordSpan,
      variant: childBlock.variant ?? baseBlock.variant,
      fields,
      clauses: new Map([...baseBlock.clauses, ...childBlock.clauses]),
      declared: baseBlock.declared || childBlock.declared,
    });
  }
  return { name: child.name ?? base.name, blocks };
}
