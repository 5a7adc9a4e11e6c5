// `vplc report RUN_DIR`: writes RUN_DIR/report.html, one self-contained page with the run's
// metric curves and its validation videos (runtime/report/report.ts).
import * as fs from 'node:fs';
import * as path from 'node:path';
import type { Command } from 'commander';
import { VplError } from '../../diagnostics/error.ts';
import { ReportError, writeReport } from '../../runtime/report/report.ts';
import type { CommandContext } from '../main.ts';
import { write } from '../terminal.ts';

/** What marks a folder as a run folder: any one of these, written by `vplc run`. */
const RUN_MARKERS = ['metrics.jsonl', 'checkpoints', 'videos', 'tb'];

export function checkRunDir(runDir: string): void {
  const help = 'pass the folder a run wrote (runs/<name>/, holding metrics.jsonl, checkpoints/ and videos/)';
  let stat: fs.Stats;
  try {
    stat = fs.statSync(runDir);
  } catch {
    throw new VplError('VPL7120', 'the run folder does not exist', { file: runDir, help });
  }
  if (!stat.isDirectory()) throw new VplError('VPL7120', 'this is a file, not a run folder', { file: runDir, help });
  if (!RUN_MARKERS.some((m) => fs.existsSync(path.join(runDir, m)))) {
    throw new VplError('VPL7120', `this is not a run folder: it has none of ${RUN_MARKERS.map((m) => (m.includes('.') ? m : `${m}/`)).join(', ')}`, { file: runDir, help });
  }
}

export function registerReport(program: Command, context: CommandContext): void {
  program
    .command('report')
    .description('write RUN_DIR/report.html: metric curves and validation videos of a run')
    .argument('<run-dir>', 'the run folder (runs/<name>)')
    .action((runDir: string) => {
      const { terminal } = context;
      const resolved = path.resolve(terminal.cwd, runDir);
      checkRunDir(resolved);
      let result: ReturnType<typeof writeReport>;
      try {
        result = writeReport(resolved);
      } catch (error) {
        if (error instanceof ReportError) throw new VplError('VPL7120', error.message, { file: runDir });
        throw error;
      }
      for (const warning of result.warnings) write(terminal.err, `warning: ${warning}`);
      const shown = path.relative(terminal.cwd, result.path) || result.path;
      write(terminal.out, `wrote ${shown} (${result.records} metric records, ${result.videos} videos)`);
    });
}
