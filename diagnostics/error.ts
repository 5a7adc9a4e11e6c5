// Errors vplc reports to users outside `vplc check`'s diagnostics: a stable code from the
// catalogue, the file it concerns and one line saying how to fix it. The CLI prints them as
// `file: error VPL7001: message` followed by `help: ...`, never with a stack trace, so every
// message must stand on its own. Here (not in runtime/) so stdlib, compiler and runtime can
// all throw them.
import type { DiagnosticCode } from './catalogue.ts';

/** Only catalogued codes: a new code is added to diagnostics/catalogue.ts first. */
export type VplErrorCode = DiagnosticCode;

export interface VplErrorOptions {
  /** The file the error is about (printed first, like a compiler diagnostic). */
  file?: string;
  /** One line telling the user what to do about it. */
  help?: string;
  /** The underlying error (kept for debugging, never printed to users). */
  cause?: unknown;
}

export class VplError extends Error {
  readonly code: VplErrorCode;
  readonly file?: string;
  readonly help?: string;

  constructor(code: VplErrorCode, message: string, options: VplErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = 'VplError';
    this.code = code;
    if (options.file !== undefined) this.file = options.file;
    if (options.help !== undefined) this.help = options.help;
  }
}

export function isVplError(value: unknown): value is VplError {
  return value instanceof VplError;
}

/** `file: error VPL7001: message` plus a `help:` line: what the CLI prints. */
export function formatVplError(error: VplError): string {
  const where = error.file === undefined ? '' : `${error.file}: `;
  const lines = [`${where}error ${error.code}: ${error.message}`];
  if (error.help !== undefined) lines.push(`help: ${error.help}`);
  return lines.join('\n');
}
