// `vplc check FILE... [key=value...]`: every diagnostic of every file, at once.
import type { Command } from 'commander';
import { checkFile } from '../../compiler/check/index.ts';
import { hasErrors, type Diagnostic } from '../../diagnostics/diagnostic.ts';
import { displayFile, renderDiagnostics } from '../../diagnostics/render.ts';
import { missingRewardFiles } from '../../runtime/methods/common/reward-networks.ts';
import type { CommandContext } from '../main.ts';
import { ExitCode } from '../exit-codes.ts';
import { colorEnabled, write } from '../terminal.ts';
import { splitArguments } from './arguments.ts';

export function registerCheck(program: Command, context: CommandContext): void {
  program
    .command('check')
    .description('check pipelines: every diagnostic at once, with a code frame and a fix')
    .argument('<files...>', 'pipeline files, then optional key=value overrides (lora.rank=8)')
    .option('--json', 'print diagnostics as JSON')
    .action((args: string[], options: { json?: boolean }) => {
      const { terminal } = context;
      const { files, overrides } = splitArguments(args);
      if (files.length === 0) {
        write(terminal.err, 'vplc check: no pipeline file given (usage: vplc check FILE... [key=value...])');
        context.setExitCode(ExitCode.usage);
        return;
      }
      const all: Diagnostic[] = [];
      const results: { file: string; ok: boolean; diagnostics: unknown[] }[] = [];
      for (const file of files) {
        const result = checkFile(file, { overrides });
        // the pipeline alone decides errors; the files on this machine only add warnings
        if (result.plan) result.diagnostics.push(...missingRewardFiles(result.plan, { env: terminal.env, cwd: terminal.cwd }));
        all.push(...result.diagnostics);
        if (options.json) {
          results.push({
            file: displayFile(file, terminal.cwd),
            ok: !hasErrors(result.diagnostics),
            diagnostics: result.diagnostics.map((d) => ({ ...d, span: { ...d.span, file: displayFile(d.span.file, terminal.cwd) } })),
          });
        } else if (result.diagnostics.length > 0) {
          write(terminal.err, renderDiagnostics(result.diagnostics, { sources: result.sources, cwd: terminal.cwd, color: colorEnabled(terminal.err, terminal.env) }));
        }
      }
      if (options.json) write(terminal.out, JSON.stringify(results, null, 2));
      else if (!hasErrors(all)) write(terminal.err, `${files.length} file${files.length === 1 ? '' : 's'} checked: no errors`);
      context.setExitCode(hasErrors(all) ? ExitCode.diagnostics : ExitCode.ok);
    });
}
