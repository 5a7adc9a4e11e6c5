// `vplc lsp`: the language server, over stdio (the VS Code extension starts it).
import type { Command } from 'commander';
import type { CommandContext } from '../main.ts';

export function registerLsp(program: Command, context: CommandContext): void {
  program
    .command('lsp')
    .description('run the .vpl language server over stdio (for editors)')
    .option('--stdio', 'talk over stdin/stdout (the default; accepted for editor clients)')
    .action(async () => {
      // Loaded here so other commands do not pay for the server's dependencies.
      const { startServer } = await import('../../editor/server/server.ts');
      await startServer();
      context.setExitCode(0);
    });
}
