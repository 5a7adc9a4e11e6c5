// `vplc fmt [--check] FILE...`: rewrite files in the canonical layout.
import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { hasErrors } from '../../diagnostics/diagnostic.ts';
import { displayFile, renderDiagnostics } from '../../diagnostics/render.ts';
import { format } from '../../grammar/index.ts';
import { writeFileAtomic } from '../../runtime/fs/atomic.ts';
import type { CommandContext } from '../main.ts';
import { ExitCode } from '../exit-codes.ts';
import { colorEnabled, write } from '../terminal.ts';

export function registerFmt(program: Command, context: CommandContext): void {
  program
    .command('fmt')
    .description('format pipelines canonically (files with syntax errors are left as they are)')
    .argument('<files...>', 'pipeline files')
    .option('--check', 'only list the files that are not formatted; exit 1 if any')
    .action(async (files: string[], options: { check?: boolean }) => {
      const { terminal } = context;
      const unformatted: string[] = [];
      for (const file of files) {
        const shown = displayFile(file, terminal.cwd);
        let text: string;
        try {
          text = readFileSync(file, 'utf8');
        } catch (error) {
          write(terminal.err, `${shown}: error VPL4001: cannot read the file (${(error as NodeJS.ErrnoException).code ?? String(error)})`);
          context.setExitCode(ExitCode.diagnostics);
          continue;
        }
        const result = format(text, file);
        if (hasErrors(result.diagnostics)) {
          write(terminal.err, renderDiagnostics(result.diagnostics, { sources: new Map([[file, text]]), cwd: terminal.cwd, color: colorEnabled(terminal.err, terminal.env) }));
          write(terminal.err, `${shown}: not formatted: fix the syntax errors first`);
          context.setExitCode(ExitCode.diagnostics);
          continue;
        }
        if (result.text === text) continue;
        unformatted.push(shown);
        if (!options.check) await writeFileAtomic(file, result.text);
      }
      if (options.check) {
        for (const file of unformatted) write(terminal.out, file);
        if (unformatted.length > 0) {
          write(terminal.err, `${unformatted.length} file${unformatted.length === 1 ? '' : 's'} not formatted (run \`vplc fmt\` on ${unformatted.length === 1 ? 'it' : 'them'})`);
          context.setExitCode(ExitCode.diagnostics);
        }
      } else {
        for (const file of unformatted) write(terminal.out, `formatted ${file}`);
      }
    });
}
