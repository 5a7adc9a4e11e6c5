// The shape of the stdlib catalogue: plain, typed data describing every block, component and
// parameter a pipeline can name. The checker, `vplc explain`, hover and completion all read it,
// so it holds no behaviour, only facts.

/** The kinds of named components a pipeline can choose. */
export type ComponentKind =
  | 'model'
  | 'text_encoder'
  | 'vae'
  | 'reward'
  | 'sampler'
  | 'solver'
  | 'prompt_set'
  | 'dataset'
  | 'optimizer'
  | 'objective';

/**
 * Units a parameter is measured in. The checker converts what the user wrote (`2s`, `24fps`,
 * `90%`, `10k`) into this unit, and names it in help messages.
 */
export type Unit = 'frames' | 'fps' | 'seconds' | 'steps' | 'pixels' | 'fraction' | 'prompts' | 'images';

/** One form of a call-valued parameter: `random(k)`, `last(k)`, `huber(c)`, or bare `all`. */
export interface CallForm {
  name: string;
  doc: string;
  /** Positional (or named) arguments, in order. A form with no arguments may be written bare. */
  args: ParamSpec[];
}

export type ParamType =
  | { kind: 'int' }
  | { kind: 'float' }
  | { kind: 'bool' }
  | { kind: 'string' }
  /** A file or folder, resolved relative to the .vpl file that wrote it. */
  | { kind: 'path' }
  /** `320x512`: height x width. */
  | { kind: 'size' }
  /** A frame count, or a duration (`2s`) converted to frames with the model's fps. */
  | { kind: 'frames' }
  /** A duration in seconds: `2s`, `500ms`, `1min`. */
  | { kind: 'duration' }
  | { kind: 'enum'; values: readonly string[] }
  /** A dotted name chosen from a list (LoRA targets such as `attn.q`). */
  | { kind: 'name'; values: readonly string[] }
  | { kind: 'list'; of: ParamType; minLength?: number; maxLength?: number }
  /**
   * One of several call forms. `number` names the form a plain number stands for
   * (`guidance = 7.5` is `constant(7.5)`), when plain numbers are allowed.
   */
  | { kind: 'call'; forms: readonly CallForm[]; number?: string }
  /** A weighted sum of rewards: `1.0 * hps + 0.5 * aesthetic(target = 9)`. */
  | { kind: 'reward_mix' }
  /** A component of a kind, by name or configured: `adamw { lr = 1e-5 }`. */
  | { kind: 'component'; of: ComponentKind }
  /** A stdlib prompt set by name, or a text file with one prompt a line. */
  | { kind: 'prompt_source' };

export interface ParamSpec {
  name: string;
  doc: string;
  type: ParamType;
  /** Absent: the parameter is required (unless `optional`). */
  default?: unknown;
  /** The parameter may be left out and then has no value (null in the Plan). */
  optional?: boolean;
  unit?: Unit;
  /** Inclusive bounds for numbers (and for list lengths' items, applied to each item). */
  min?: number;
  max?: number;
  /** Exclusive lower bound, for values that must be strictly positive. */
  greaterThan?: number;
}

export interface ComponentEntry {
  kind: ComponentKind;
  name: string;
  doc: string;
  params: readonly ParamSpec[];
}

/** A clause inside a block: `validate every 80 steps with 4 prompts`. */
export interface ClauseSpec {
  keyword: string;
  doc: string;
  /** The clause words (`every`, `with`, `keep`), each with the unit word it takes. */
  parts: readonly (ParamSpec & { word: string; unitWord?: string })[];
}

export interface BlockSpec {
  keyword: string;
  doc: string;
  /** `required`: `sampler ddim { }` names a component of `component`; `none`: `lora { }`. */
  variant: 'required' | 'none';
  component?: ComponentKind;
  /** Parameters of a fixed block (variant 'none'); variant blocks take their component's. */
  params: readonly ParamSpec[];
  clauses?: readonly ClauseSpec[];
  /** `prompts = animals` is short for `prompts { source = animals }`. */
  shorthand?: string;
  /** The block must appear (directly or through `extends`). */
  required?: boolean;
}
