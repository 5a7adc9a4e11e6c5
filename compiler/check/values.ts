// Checks one written value against the type the catalogue gives its field, and turns it into
// its Plan form: numbers with units normalised, names resolved, call forms as {mode, ...args}.
// Every problem becomes a diagnostic; the value is then `invalid` so later rules skip it.
import type { Argument, Expression, Span, Statement } from '../../grammar/ast.ts';
import { diagnostic, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import {
  componentKindNames,
  componentNames,
  lookupComponent,
  lookupParam,
  type CallForm,
  type ComponentKind,
  type ParamSpec,
  type ParamType,
} from '../../stdlib/catalogue/index.ts';
import type { RewardTerm } from '../plan.ts';
import { closestName, listNames } from './suggest.ts';

/** Marks a value that could not be checked; its diagnostic has already been reported. */
export const invalid: unique symbol = Symbol('invalid');
export type Checked<T = unknown> = T | typeof invalid;

/** A frame count written as a duration, converted once the model's fps is known. */
export interface Duration {
  seconds: number;
}

export function isDuration(value: unknown): value is Duration {
  return typeof value === 'object' && value !== null && 'seconds' in value;
}

export interface ValueContext {
  report(d: Diagnostic): void;
  /** Turns a path written in `file` into a plan path (relative to the plan's folder). */
  resolvePath(written: string, file: string): string;
  /** LoRA target names the chosen model has. */
  loraTargets: readonly string[];
}

type QuantityUnit = 'time' | 'fps' | 'percent';
interface Quantity {
  value: number;
  unit?: QuantityUnit;
  /** The unit as written, for messages. */
  written?: string;
}

/** Units glued to numbers, and what they mean. */
const unitTable: Record<string, { scale: number; unit?: QuantityUnit }> = {
  s: { scale: 1, unit: 'time' },
  ms: { scale: 0.001, unit: 'time' },
  min: { scale: 60, unit: 'time' },
  h: { scale: 3600, unit: 'time' },
  fps: { scale: 1, unit: 'fps' },
  '%': { scale: 0.01, unit: 'percent' },
  k: { scale: 1e3 },
  M: { scale: 1e6 },
};

export function describeExpression(expr: Expression): string {
  switch (expr.kind) {
    case 'Number': return expr.unit ? `the quantity ${expr.raw}${expr.unit}` : 'a number';
    case 'Size': return 'a size';
    case 'String': return 'a string';
    case 'Boolean': return 'a boolean';
    case 'Path': return `the name '${pathName(expr)}'`;
    case 'List': return 'a list';
    case 'Call': return `the call ${expr.callee.name}(...)`;
    case 'Object': return `the object ${expr.name.name} { ... }`;
    case 'Binary': case 'Unary': return 'an arithmetic expression';
    case 'Parenthesized': return describeExpression(expr.expression);
    case 'ErrorExpression': return 'an invalid expression';
  }
}

export function pathName(expr: { parts: { name: string }[] }): string {
  return expr.parts.map((p) => p.name).join('.');
}

function typeWord(type: ParamType): string {
  switch (type.kind) {
    case 'int': return 'an integer';
    case 'float': return 'a number';
    case 'bool': return 'true or false';
    case 'string': return 'a string in quotes';
    case 'path': return 'a file path in quotes';
    case 'size': return 'a size (height x width, e.g. 320x512)';
    case 'frames': return 'a frame count (12) or a duration (2s)';
    case 'duration': return 'a duration (2s, 500ms)';
    case 'enum': return `one of ${listNames(type.values)}`;
    case 'name': return 'a name';
    case 'list': return `a list of ${typeWord(type.of).replace(/^an? /, '')}s`;
    case 'call': return `one of ${type.forms.map(formSignature).join(', ')}`;
    case 'reward_mix': return 'a reward mix (1.0 * hps + 0.5 * aesthetic)';
    case 'component': return `a ${componentKindNames[type.of]} name`;
    case 'prompt_source': return 'a prompt set name or a prompt file in quotes';
  }
}

export function formSignature(form: CallForm): string {
  return form.args.length ? `${form.name}(${form.args.map((a) => a.name).join(', ')})` : form.name;
}

function unitHelp(param: ParamSpec): string {
  if (param.type.kind === 'frames') return 'expected a frame count (12) or a duration (2s, 500ms)';
  if (param.type.kind === 'duration') return 'expected a duration: 2s, 500ms, 1min';
  if (param.unit === 'fps') return 'expected frames per second: 24 or 24fps';
  if (param.unit === 'fraction') return 'expected a fraction: 0.1 or 10%';
  return `expected a plain number${param.unit ? ` of ${param.unit}` : ''}`;
}

function rangeHelp(param: ParamSpec): string {
  const low = param.greaterThan !== undefined ? `more than ${param.greaterThan}` : param.min !== undefined ? `${param.min}` : undefined;
  if (low !== undefined && param.max !== undefined) return `allowed: ${low} to ${param.max}`;
  if (low !== undefined) return `allowed: ${low} or more`;
  return `allowed: up to ${param.max}`;
}

export class ValueChecker {
  constructor(private readonly ctx: ValueContext) {}

  private error(code: Parameters<typeof diagnostic>[0], span: Span, message: string, help?: string, fix?: Diagnostic['fix']): typeof invalid {
    this.ctx.report(diagnostic(code, span, message, { ...(help ? { help } : {}), ...(fix ? { fix } : {}) }));
    return invalid;
  }

  /** Checks `expr` as the value of `param`; `label` names the field in messages (`lora.rank`). */
  check(expr: Expression, param: ParamSpec, label: string): Checked {
    if (expr.kind === 'ErrorExpression') return invalid;
    if (expr.kind === 'Parenthesized' && !isNumeric(param.type)) return this.check(expr.expression, param, label);
    const type = param.type;
    switch (type.kind) {
      case 'int':
      case 'float':
      case 'frames':
      case 'duration':
        return this.checkNumber(expr, param, label);
      case 'bool':
        if (expr.kind === 'Boolean') return expr.value;
        if (expr.kind === 'Path' && expr.parts.length === 1 && (expr.parts[0].name === 'on' || expr.parts[0].name === 'off')) return expr.parts[0].name === 'on';
        return this.mismatch(expr, param, label);
      case 'string':
        if (expr.kind === 'String') return expr.value;
        return this.mismatch(expr, param, label, expr.kind === 'Path' ? `write it in quotes: "${pathName(expr)}"` : undefined);
      case 'path':
        if (expr.kind === 'String') {
          if (expr.value.trim() === '') return this.error('VPL2005', expr.span, `'${label}' is an empty path`, 'write a file or folder path in quotes');
          return this.ctx.resolvePath(expr.value, expr.span.file);
        }
        return this.mismatch(expr, param, label, expr.kind === 'Path' ? `write it in quotes: "${pathName(expr)}"` : undefined);
      case 'size':
        return this.checkSize(expr, param, label);
      case 'enum': {
        const name = expr.kind === 'String' ? expr.value : expr.kind === 'Path' ? pathName(expr) : undefined;
        if (name === undefined) return this.mismatch(expr, param, label);
        if (type.values.includes(name)) return name;
        return this.unknownName(expr.span, name, type.values, `'${label}' has no option`);
      }
      case 'name': {
        if (expr.kind !== 'Path') return this.mismatch(expr, param, label);
        const name = pathName(expr);
        const allowed = this.ctx.loraTargets;
        if (allowed.includes(name)) return name;
        return this.unknownName(expr.span, name, allowed, `the model has no LoRA target`);
      }
      case 'list':
        return this.checkList(expr, param, type, label);
      case 'call':
        return this.checkCall(expr, type.forms, type.number, label);
      case 'reward_mix':
        return this.checkRewardMix(expr, label);
      case 'component':
        return this.checkComponent(expr, type.of, label, []);
      case 'prompt_source':
        if (expr.kind === 'String') return { kind: 'file', path: this.ctx.resolvePath(expr.value, expr.span.file) };
        if (expr.kind === 'Path') {
          const name = pathName(expr);
          if (lookupComponent('prompt_set', name)) return { kind: 'set', name };
          return this.unknownName(expr.span, name, componentNames('prompt_set'), 'unknown prompt set', 'or give a prompt file in quotes: "prompts.txt"');
        }
        return this.mismatch(expr, param, label);
    }
  }

  private mismatch(expr: Expression, param: ParamSpec, label: string, help?: string): typeof invalid {
    return this.error('VPL2005', expr.span, `'${label}' expects ${typeWord(param.type)}, but got ${describeExpression(expr)}`, help ?? defaultHelp(param));
  }

  /** VPL2008 with a "did you mean" and a quick fix when a close name exists. */
  unknownName(span: Span, name: string, candidates: readonly string[], what: string, extraHelp?: string): typeof invalid {
    const close = closestName(name, candidates);
    const help = close ? `did you mean '${close}'?` : candidates.length ? `known: ${listNames(candidates)}${extraHelp ? `; ${extraHelp}` : ''}` : extraHelp;
    const fix = close ? { span, text: close, title: `Change to '${close}'` } : undefined;
    return this.error('VPL2008', span, `${what} '${name}'`, help, fix);
  }

  // ---------------------------------------------------------------- numbers

  private quantity(expr: Expression, label: string): Checked<Quantity> {
    switch (expr.kind) {
      case 'ErrorExpression':
        return invalid;
      case 'Number': {
        if (!Number.isFinite(expr.value)) return this.error('VPL2007', expr.span, `'${label}' is too large`, 'write a finite number');
        if (!expr.unit) return { value: expr.value };
        const unit = unitTable[expr.unit];
        if (!unit) return invalid; // the lexer has reported it (VPL1004)
        return { value: expr.value * unit.scale, unit: unit.unit, written: unit.unit ? expr.unit : undefined };
      }
      case 'Parenthesized':
        return this.quantity(expr.expression, label);
      case 'Unary': {
        const inner = this.quantity(expr.operand, label);
        return inner === invalid ? invalid : { ...inner, value: -inner.value };
      }
      case 'Binary': {
        const left = this.quantity(expr.left, label);
        const right = this.quantity(expr.right, label);
        if (left === invalid || right === invalid) return invalid;
        if (expr.operator === '+' || expr.operator === '-') {
          if (left.unit !== right.unit) return this.error('VPL2006', expr.span, `cannot ${expr.operator === '+' ? 'add' : 'subtract'} ${left.written ?? 'a plain number'} and ${right.written ?? 'a plain number'}`, 'write both sides in the same unit');
          return { ...left, value: expr.operator === '+' ? left.value + right.value : left.value - right.value };
        }
        if (expr.operator === '*') {
          if (left.unit && right.unit) return this.error('VPL2006', expr.span, 'cannot multiply two quantities with units', 'one side must be a plain number');
          return { value: left.value * right.value, unit: left.unit ?? right.unit, written: left.written ?? right.written };
        }
        if (right.unit) return this.error('VPL2006', expr.right.span, 'cannot divide by a quantity with a unit', 'divide by a plain number');
        if (right.value === 0) return this.error('VPL2007', expr.right.span, 'division by zero', undefined);
        return { ...left, value: left.value / right.value };
      }
      default:
        return this.error('VPL2005', expr.span, `'${label}' expects a number, but got ${describeExpression(expr)}`, expr.kind === 'String' ? 'write the number without quotes' : 'write a number, e.g. 16, 2e-4 or 0.5');
    }
  }

  checkNumber(expr: Expression, param: ParamSpec, label: string): Checked<number | Duration> {
    const q = this.quantity(expr, label);
    if (q === invalid) return invalid;
    const kind = param.type.kind;
    let value = q.value;
    if (q.unit === 'time') {
      if (kind === 'frames') return this.checkRange({ seconds: value }, value, expr, param, label, true);
      if (kind !== 'duration') return this.error('VPL2006', expr.span, `a duration (${q.written}) does not apply to '${label}'`, unitHelp(param));
    } else if (q.unit === 'fps') {
      if (param.unit !== 'fps') return this.error('VPL2006', expr.span, `'fps' does not apply to '${label}'`, unitHelp(param));
    } else if (q.unit === 'percent') {
      if (param.unit !== 'fraction') return this.error('VPL2006', expr.span, `'%' does not apply to '${label}'`, unitHelp(param));
    } else if (kind === 'duration') {
      return this.error('VPL2006', expr.span, `'${label}' needs a unit`, unitHelp(param));
    }
    if ((kind === 'int' || kind === 'frames') && !Number.isInteger(value)) {
      // Round-off from unit scaling (`1.5k`) is not the user's fault.
      const rounded = Math.round(value);
      if (Math.abs(rounded - value) > 1e-9 * Math.max(1, Math.abs(value))) {
        return this.error('VPL2005', expr.span, `'${label}' expects an integer, but got ${formatNumber(value)}`, `write a whole number, e.g. ${Math.max(param.min ?? 0, Math.round(value))}`);
      }
      value = rounded;
    }
    return this.checkRange(value, value, expr, param, label, false);
  }

  private checkRange<T>(result: T, value: number, expr: Expression, param: ParamSpec, label: string, isDurationValue: boolean): Checked<T> {
    if (isDurationValue) {
      if (value <= 0) return this.error('VPL2007', expr.span, `'${label}' must be a positive duration, got ${formatNumber(value)}s`, 'allowed: more than 0s');
      return result;
    }
    const tooLow = (param.min !== undefined && value < param.min) || (param.greaterThan !== undefined && value <= param.greaterThan);
    const tooHigh = param.max !== undefined && value > param.max;
    if (tooLow || tooHigh) {
      const bound = tooLow
        ? param.greaterThan !== undefined && !(param.min !== undefined && value < param.min) ? `more than ${param.greaterThan}` : `at least ${param.min}`
        : `at most ${param.max}`;
      return this.error('VPL2007', expr.span, `'${label}' must be ${bound}, got ${formatNumber(value)}`, rangeHelp(param));
    }
    return result;
  }

  // ---------------------------------------------------------------- sizes and lists

  private checkSize(expr: Expression, param: ParamSpec, label: string): Checked {
    if (expr.kind !== 'Size') return this.mismatch(expr, param, label);
    if (expr.dims.length !== 2) {
      return this.error('VPL2005', expr.span, `'${label}' is height x width, but got ${expr.dims.length} dimensions`, `write the frame count separately: frames = ${expr.dims[0]}  size = ${expr.dims.slice(-2).join('x')}`);
    }
    const [height, width] = expr.dims;
    for (const v of [height, width]) {
      if (!Number.isInteger(v) || (param.min !== undefined && v < param.min) || (param.max !== undefined && v > param.max)) {
        return this.error('VPL2007', expr.span, `'${label}' must be between ${param.min} and ${param.max} pixels on each side, got ${height}x${width}`, rangeHelp(param));
      }
    }
    return { height, width };
  }

  private checkList(expr: Expression, param: ParamSpec, type: Extract<ParamType, { kind: 'list' }>, label: string): Checked {
    // A single item stands for a list of one: `targets = attn.q`.
    const items = expr.kind === 'List' ? expr.items : [expr];
    const itemParam: ParamSpec = { ...param, type: type.of, optional: false };
    const values: unknown[] = [];
    let ok = true;
    for (const item of items) {
      const v = this.check(item, itemParam, label);
      if (v === invalid) ok = false;
      else values.push(v);
    }
    if (!ok) return invalid;
    if ((type.minLength !== undefined && items.length < type.minLength) || (type.maxLength !== undefined && items.length > type.maxLength)) {
      const want = type.minLength === type.maxLength ? `exactly ${type.minLength}` : type.maxLength === undefined ? `at least ${type.minLength}` : `${type.minLength ?? 0} to ${type.maxLength}`;
      return this.error('VPL2007', expr.span, `'${label}' needs ${want} item${want.endsWith(' 1') ? '' : 's'}, got ${items.length}`, `e.g. ${label.split('.').pop()} = ${formatDefault(param.default)}`);
    }
    const seen = new Set<string>();
    for (const [i, v] of values.entries()) {
      const key = JSON.stringify(v);
      if (seen.has(key) && type.of.kind !== 'float' && type.of.kind !== 'int') {
        return this.error('VPL2004', items[i].span, `'${label}' lists ${String(v)} twice`, 'remove the repeated item');
      }
      seen.add(key);
    }
    return values;
  }

  // ---------------------------------------------------------------- call forms

  checkCall(expr: Expression, forms: readonly CallForm[], numberForm: string | undefined, label: string): Checked<Record<string, unknown>> {
    const formsHelp = `expected ${forms.map(formSignature).join(', ')}`;
    if (numberForm && (expr.kind === 'Number' || expr.kind === 'Unary' || expr.kind === 'Binary' || expr.kind === 'Parenthesized')) {
      const form = forms.find((f) => f.name === numberForm)!;
      const v = this.checkNumber(expr, form.args[0], label);
      return v === invalid ? invalid : { mode: form.name, [form.args[0].name]: v };
    }
    let name: string;
    let args: Argument[] = [];
    if (expr.kind === 'Call') {
      name = expr.callee.name;
      args = expr.args;
    } else if (expr.kind === 'Path' && expr.parts.length === 1) {
      name = expr.parts[0].name;
    } else {
      return this.error('VPL2005', expr.span, `'${label}' expects one of ${forms.map(formSignature).join(', ')}, but got ${describeExpression(expr)}`, numberForm ? `${formsHelp}, or a number` : formsHelp);
    }
    const form = forms.find((f) => f.name === name);
    const nameSpan = expr.kind === 'Call' ? expr.callee.span : expr.span;
    if (!form) return this.unknownName(nameSpan, name, forms.map((f) => f.name), `'${label}' has no form`);
    if (expr.kind === 'Path' && form.args.length > 0) {
      return this.error('VPL2010', expr.span, `'${name}' needs ${form.args.length} argument${form.args.length > 1 ? 's' : ''}`, `write ${formSignature(form)}, e.g. ${form.name}(${form.args.map((a) => exampleArg(a)).join(', ')})`);
    }
    const result = this.bindArguments(expr.span, form.name, form.args, args, label, () => `write ${formSignature(form)}`);
    return result === invalid ? invalid : { mode: form.name, ...result };
  }

  /** Matches positional then named arguments to parameters; fills defaults; checks each. */
  private bindArguments(span: Span, callee: string, params: readonly ParamSpec[], args: Argument[], label: string, usage: () => string): Checked<Record<string, unknown>> {
    const bound = new Map<string, Argument>();
    let ok = true;
    let position = 0;
    for (const arg of args) {
      if (arg.value.kind === 'ErrorExpression') {
        ok = false;
        continue;
      }
      if (arg.name) {
        const param = lookupParam(params, arg.name.name);
        if (!param) {
          const close = closestName(arg.name.name, params.map((p) => p.name));
          this.error('VPL2010', arg.name.span, `'${callee}' has no argument '${arg.name.name}'`, close ? `did you mean '${close}'?` : usage(), close ? { span: arg.name.span, text: close, title: `Change to '${close}'` } : undefined);
          ok = false;
        } else if (bound.has(param.name)) {
          this.error('VPL2010', arg.span, `'${callee}' got '${param.name}' twice`, usage());
          ok = false;
        } else bound.set(param.name, arg);
      } else {
        if (position >= params.length) {
          this.error('VPL2010', arg.span, `'${callee}' takes ${params.length} argument${params.length === 1 ? '' : 's'}, got more`, usage());
          ok = false;
          break;
        }
        bound.set(params[position++].name, arg);
      }
    }
    const result: Record<string, unknown> = {};
    for (const param of params) {
      const arg = bound.get(param.name);
      if (!arg) {
        if (param.default !== undefined) result[param.name] = param.default;
        else if (ok) {
          this.error('VPL2010', span, `'${callee}' is missing its argument '${param.name}'`, usage());
          ok = false;
        }
        continue;
      }
      const v = this.check(arg.value, param, `${label}: ${callee}(${param.name})`);
      if (v === invalid) ok = false;
      else result[param.name] = v;
    }
    return ok ? result : invalid;
  }

  // ---------------------------------------------------------------- components and rewards

  /**
   * A component by name (`adamw`), configured (`adamw { lr = 1e-5 }`), or called with named
   * arguments (`hps(version = "v2")`). `overrides` are dotted fields from elsewhere
   * (`train.optimizer.lr = 1e-5`) applied on top.
   */
  checkComponent(expr: Expression, kind: ComponentKind, label: string, overrides: readonly { name: string; nameSpan: Span; value: Expression }[]): Checked<Record<string, unknown>> {
    let name: string;
    let nameSpan: Span;
    if (expr.kind === 'Path' && expr.parts.length === 1) [name, nameSpan] = [expr.parts[0].name, expr.span];
    else if (expr.kind === 'Object') [name, nameSpan] = [expr.name.name, expr.name.span];
    else if (expr.kind === 'Call') [name, nameSpan] = [expr.callee.name, expr.callee.span];
    else return this.error('VPL2005', expr.span, `'${label}' expects ${typeWord({ kind: 'component', of: kind })}, but got ${describeExpression(expr)}`, `known: ${listNames(componentNames(kind))}`);
    const entry = lookupComponent(kind, name);
    if (!entry) return this.unknownName(nameSpan, name, componentNames(kind), `unknown ${componentKindNames[kind]}`);
    const fields: { name: string; nameSpan: Span; value: Expression }[] = [];
    if (expr.kind === 'Object') fields.push(...statementsAsFields(expr.body, this.ctx, `${name} { }`));
    if (expr.kind === 'Call') {
      const bound = this.bindArguments(expr.span, name, entry.params, expr.args, label, () => `${name} takes ${entry.params.map((p) => p.name).join(', ') || 'no arguments'}`);
      if (bound === invalid) return invalid;
      return { name, ...this.applyFields(entry.params, overrides, label, name, bound) };
    }
    const seen = new Map<string, Span>();
    for (const field of fields) {
      const first = seen.get(field.name);
      if (first) {
        this.ctx.report(diagnostic('VPL2004', field.nameSpan, `'${field.name}' is set twice in ${name} { }`, { help: 'remove one of them', related: [{ span: first, message: 'first set here' }] }));
      } else seen.set(field.name, field.nameSpan);
    }
    const defaults: Record<string, unknown> = {};
    for (const p of entry.params) if (p.default !== undefined) defaults[p.name] = p.default;
    const values = this.applyFields(entry.params, [...fields, ...overrides], label, name, defaults);
    for (const p of entry.params) {
      if (values[p.name] === undefined && !p.optional) {
        this.error('VPL2009', nameSpan, `${componentKindNames[kind]} '${name}' needs '${p.name}'`, `add ${p.name} = ... (${p.doc})`);
      }
    }
    return { name, ...values };
  }

  private applyFields(params: readonly ParamSpec[], fields: readonly { name: string; nameSpan: Span; value: Expression }[], label: string, owner: string, base: Record<string, unknown>): Record<string, unknown> {
    const values = { ...base };
    for (const field of fields) {
      const param = lookupParam(params, field.name);
      if (!param) {
        this.unknownField(field.nameSpan, field.name, params, `'${owner}' has no field`);
        continue;
      }
      const v = this.check(field.value, param, `${label}.${param.name}`);
      if (v !== invalid) values[param.name] = v;
    }
    return values;
  }

  unknownField(span: Span, name: string, params: readonly ParamSpec[], what: string): void {
    const names = params.map((p) => p.name);
    const close = closestName(name, names);
    const help = close ? `did you mean '${close}'?` : names.length ? `fields: ${listNames(names, 12)}` : 'it takes no fields';
    this.ctx.report(diagnostic('VPL2003', span, `${what} '${name}'`, { help, ...(close ? { fix: { span, text: close, title: `Change to '${close}'` } } : {}) }));
  }

  checkRewardMix(expr: Expression, label: string): Checked<RewardTerm[]> {
    const terms: RewardTerm[] = [];
    const spans = new Map<string, Span>();
    let ok = true;
    const addTerm = (term: Expression, sign: number): void => {
      if (term.kind === 'ErrorExpression') {
        ok = false;
        return;
      }
      if (term.kind === 'Parenthesized') return addTerm(term.expression, sign);
      if (term.kind === 'Unary') return addTerm(term.operand, -sign);
      if (term.kind === 'Binary' && (term.operator === '+' || term.operator === '-')) {
        addTerm(term.left, sign);
        addTerm(term.right, term.operator === '-' ? -sign : sign);
        return;
      }
      let weightExpr: Expression | undefined;
      let rewardExpr: Expression = term;
      if (term.kind === 'Binary' && term.operator === '*') {
        [weightExpr, rewardExpr] = isRewardReference(term.right) ? [term.left, term.right] : [term.right, term.left];
      }
      if (!isRewardReference(rewardExpr)) {
        ok = false;
        this.error('VPL2005', rewardExpr.span, `'${label}' expects a reward, but got ${describeExpression(rewardExpr)}`, 'write a weighted sum of rewards: 1.0 * hps + 0.5 * aesthetic');
        return;
      }
      let weight = 1;
      if (weightExpr) {
        const w = this.checkNumber(weightExpr, { name: 'weight', doc: '', type: { kind: 'float' } }, `${label} weight`);
        if (w === invalid || typeof w !== 'number') {
          ok = false;
          return;
        }
        weight = w;
      }
      const reward = this.checkComponent(rewardExpr, 'reward', label, []);
      if (reward === invalid) {
        ok = false;
        return;
      }
      const { name, ...params } = reward as { name: string } & Record<string, unknown>;
      const first = spans.get(name);
      if (first) {
        ok = false;
        this.ctx.report(diagnostic('VPL2004', rewardExpr.span, `reward '${name}' appears twice in '${label}'`, { help: 'combine the weights into one term', related: [{ span: first, message: 'first used here' }] }));
        return;
      }
      spans.set(name, rewardExpr.span);
      terms.push({ reward: name, weight: sign * weight, params: params as RewardTerm['params'] });
    };
    addTerm(expr, 1);
    return ok ? terms : invalid;
  }
}

function isRewardReference(expr: Expression): boolean {
  return (expr.kind === 'Path' && expr.parts.length === 1) || expr.kind === 'Call' || expr.kind === 'Object';
}

function isNumeric(type: ParamType): boolean {
  return type.kind === 'int' || type.kind === 'float' || type.kind === 'frames' || type.kind === 'duration' || type.kind === 'call';
}

/** The assignments inside an object value (`adamw { lr = 2e-4 }`); anything else is misplaced. */
export function statementsAsFields(body: Statement[], ctx: ValueContext, where: string): { name: string; nameSpan: Span; value: Expression }[] {
  const fields: { name: string; nameSpan: Span; value: Expression }[] = [];
  for (const statement of body) {
    if (statement.kind === 'Assignment') {
      if (statement.target.parts.length !== 1) {
        ctx.report(diagnostic('VPL2003', statement.target.span, `dotted field '${pathName(statement.target)}' inside ${where}`, { help: 'write plain field names inside an object' }));
        continue;
      }
      fields.push({ name: statement.target.parts[0].name, nameSpan: statement.target.span, value: statement.value });
    } else {
      ctx.report(diagnostic('VPL2012', statement.span, `only 'field = value' is allowed inside ${where}`, { help: 'move this statement out of the object' }));
    }
  }
  return fields;
}

export function formatNumber(value: number): string {
  return Number.isInteger(value) ? String(value) : String(Number(value.toPrecision(6)));
}

function formatDefault(value: unknown): string {
  if (Array.isArray(value)) return `[${value.join(', ')}]`;
  return String(value);
}

function exampleArg(param: ParamSpec): string {
  return String(param.default ?? param.min ?? 1);
}

function defaultHelp(param: ParamSpec): string | undefined {
  const d = param.default;
  if (d === undefined || d === null || typeof d === 'object') return `expected ${typeWord(param.type)}`;
  const written = param.type.kind === 'string' || param.type.kind === 'path' ? JSON.stringify(d) : String(d);
  return `expected ${typeWord(param.type)}, e.g. ${param.name} = ${written}`;
}
