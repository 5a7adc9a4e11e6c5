// Where output goes and whether it may be coloured: colour only on a TTY, never with NO_COLOR.
import type { Writable } from 'node:stream';

export interface Terminal {
  out: Writable & { isTTY?: boolean };
  err: Writable & { isTTY?: boolean };
  cwd: string;
  env: NodeJS.ProcessEnv;
}

export function processTerminal(): Terminal {
  return { out: process.stdout, err: process.stderr, cwd: process.cwd(), env: process.env };
}

export function colorEnabled(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv): boolean {
  if (env.NO_COLOR !== undefined && env.NO_COLOR !== '') return false;
  if (env.FORCE_COLOR !== undefined) return env.FORCE_COLOR !== '0';
  return stream.isTTY === true;
}

export function write(stream: Writable, text: string): void {
  stream.write(text.endsWith('\n') || text === '' ? text : `${text}\n`);
}
