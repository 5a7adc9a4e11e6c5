// The VS Code side: starts `vplc lsp` over stdio and hands it every .vpl document.
import { existsSync } from 'node:fs';
import * as path from 'node:path';
import { workspace, type ExtensionContext } from 'vscode';
import { LanguageClient, TransportKind, type Executable, type LanguageClientOptions, type ServerOptions } from 'vscode-languageclient/node';

let client: LanguageClient | undefined;

/** The configured command, else the workspace's own vplc, else `vplc` on PATH. */
function serverCommand(): Executable {
  const configured = workspace.getConfiguration('vpl').get<string[]>('server.command') ?? [];
  if (configured.length > 0) return { command: configured[0]!, args: configured.slice(1), transport: TransportKind.stdio };
  for (const folder of workspace.workspaceFolders ?? []) {
    for (const candidate of [path.join(folder.uri.fsPath, 'node_modules', 'vplc', 'bin', 'vplc.js'), path.join(folder.uri.fsPath, 'bin', 'vplc.js')]) {
      if (existsSync(candidate)) return { command: process.execPath, args: [candidate, 'lsp'], transport: TransportKind.stdio, options: { cwd: folder.uri.fsPath, env: { ...process.env, ELECTRON_RUN_AS_NODE: '1' } } };
    }
  }
  return { command: process.platform === 'win32' ? 'vplc.cmd' : 'vplc', args: ['lsp'], transport: TransportKind.stdio };
}

export async function activate(context: ExtensionContext): Promise<void> {
  const executable = serverCommand();
  const serverOptions: ServerOptions = { run: executable, debug: executable };
  const clientOptions: LanguageClientOptions = {
    documentSelector: [{ scheme: 'file', language: 'vpl' }, { scheme: 'untitled', language: 'vpl' }],
    synchronize: { fileEvents: workspace.createFileSystemWatcher('**/*.vpl') },
  };
  client = new LanguageClient('vpl', 'VPL language server', serverOptions, clientOptions);
  context.subscriptions.push({ dispose: () => void client?.stop() });
  await client.start();
}

export async function deactivate(): Promise<void> {
  await client?.stop();
  client = undefined;
}
