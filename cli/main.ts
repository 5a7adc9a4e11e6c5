// The `vplc` command line. Each command lives in cli/commands/ and returns an exit code;
// this file only wires them to commander and turns unexpected errors into exit code 2
// with a message instead of a stack trace (VPL_DEBUG=1 shows the trace).
import { Command, CommanderError } from 'commander';
import { registerCheck } from './commands/check.ts';
import { registerCheckWeights } from './commands/check-weights.ts';
import { registerCompile } from './commands/compile.ts';
import { registerExplain } from './commands/explain.ts';
import { registerFmt } from './commands/fmt.ts';
import { registerReport } from './commands/report.ts';
import { registerRun } from './commands/run.ts';
import { registerSample } from './commands/sample.ts';
import { registerDiff, registerTextconv } from './commands/diff.ts';
import { registerLsp } from './commands/lsp.ts';
import { ExitCode } from './exit-codes.ts';
import { processTerminal, type Terminal, write } from './terminal.ts';
import { VplError } from '../diagnostics/error.ts';

export const version = '0.1.0';

/** What a command's action reports back: its exit code. */
export interface CommandContext {
  terminal: Terminal;
  setExitCode(code: number): void;
}

export function buildProgram(context: CommandContext): Command {
  const program = new Command('vplc')
    .description('Compile and run video diffusion alignment pipelines (.vpl)')
    .version(version, '-v, --version')
    .showHelpAfterError('(run `vplc --help` for usage)')
    .configureOutput({
      writeOut: (text) => context.terminal.out.write(text),
      writeErr: (text) => context.terminal.err.write(text),
    })
    .exitOverride();
  registerCheck(program, context);
  registerCheckWeights(program, context);
  registerFmt(program, context);
  registerExplain(program, context);
  registerCompile(program, context);
  registerRun(program, context);
  registerSample(program, context);
  registerReport(program, context);
  registerDiff(program, context);
  registerTextconv(program, context);
  registerLsp(program, context);
  return program;
}

export async function main(argv: string[], terminal: Terminal = processTerminal()): Promise<number> {
  let exitCode: number = ExitCode.ok;
  const context: CommandContext = { terminal, setExitCode: (code) => (exitCode = Math.max(exitCode, code)) };
  const program = buildProgram(context);
  try {
    if (argv.length === 0) {
      program.outputHelp();
      return ExitCode.usage;
    }
    await program.parseAsync(argv, { from: 'user' });
    return exitCode;
  } catch (error) {
    if (error instanceof CommanderError) {
      // --help and --version end through here with exit code 0.
      return error.exitCode === 0 ? ExitCode.ok : ExitCode.usage;
    }
    if (error instanceof VplError) {
      const where = error.file ? `${error.file}: ` : '';
      write(terminal.err, `${where}error ${error.code}: ${error.message}`);
      if (error.help) write(terminal.err, `help: ${error.help}`);
      return ExitCode.diagnostics;
    }
    if (terminal.env.VPL_DEBUG) throw error;
    const message = error instanceof Error ? error.message : String(error);
    write(terminal.err, `vplc: internal error: ${message}\n(set VPL_DEBUG=1 to see where; please report it with the command you ran)`);
    return ExitCode.usage;
  }
}
