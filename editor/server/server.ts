// The .vpl language server (`vplc lsp`, stdio): diagnostics as you type from the same checker
// and codes as `vplc check`, hover and completion from the catalogue, formatting, go to the
// file an `extends` names, and quick fixes from each diagnostic's `fix`.
import { readFileSync } from 'node:fs';
import * as nodePath from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import lsp from 'vscode-languageserver/node.js';
import type * as Lsp from 'vscode-languageserver';
import { TextDocument } from 'vscode-languageserver-textdocument';
import { checkSource } from '../../compiler/check/index.ts';
import type { Plan } from '../../compiler/plan.ts';
import type { Diagnostic } from '../../diagnostics/diagnostic.ts';
import type { Span } from '../../grammar/ast.ts';
import { format, parse } from '../../grammar/index.ts';
import { completionsAt, hoverAt, type CompletionKind } from './analysis.ts';

const { createConnection, ProposedFeatures, TextDocuments, TextDocumentSyncKind, DiagnosticSeverity, CompletionItemKind, InsertTextFormat, MarkupKind, CodeActionKind, TextEdit } = lsp;

interface DocumentState {
  diagnostics: Diagnostic[];
  /** The last plan that checked without errors: hover shows resolved values from it. */
  plan?: Plan;
}

export function uriToPath(uri: string): string {
  return uri.startsWith('file:') ? fileURLToPath(uri) : uri;
}

function toRange(span: Span): Lsp.Range {
  return {
    start: { line: span.start.line - 1, character: span.start.column - 1 },
    end: { line: span.end.line - 1, character: span.end.column - 1 },
  };
}

const completionKinds: Record<CompletionKind, Lsp.CompletionItemKind> = {
  block: CompletionItemKind.Module,
  field: CompletionItemKind.Field,
  value: CompletionItemKind.EnumMember,
  component: CompletionItemKind.Class,
  keyword: CompletionItemKind.Keyword,
  clause: CompletionItemKind.Keyword,
};

/** Starts the server on the given streams (stdio by default); resolves when the client says `exit`. */
export function startServer(input: NodeJS.ReadableStream = process.stdin, output: NodeJS.WritableStream = process.stdout): Promise<void> {
  const connection = createConnection(ProposedFeatures.all, new lsp.StreamMessageReader(input), new lsp.StreamMessageWriter(output));
  const documents = new TextDocuments(TextDocument);
  const states = new Map<string, DocumentState>();

  /** Open documents win over the disk, so an unsaved base file is what its children extend. */
  const readFile = (path: string): string => {
    const open = documents.get(pathToFileURL(path).href);
    return open ? open.getText() : readFileSync(path, 'utf8');
  };

  const validate = (document: TextDocument): void => {
    const path = uriToPath(document.uri);
    const result = checkSource(document.getText(), path, { readFile });
    const previous = states.get(document.uri);
    states.set(document.uri, { diagnostics: result.diagnostics, plan: result.plan ?? previous?.plan });
    const extendsSpan = parse(document.getText(), path).ast.body.find((s) => s.kind === 'ExtendsDeclaration')?.span;
    const diagnostics = result.diagnostics.map((d): Lsp.Diagnostic => {
      const here = nodePath.resolve(d.span.file) === path;
      // A problem in an extended file is shown on the `extends` line, naming where it is.
      const range = here ? toRange(d.span) : extendsSpan ? toRange(extendsSpan) : { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } };
      const where = here ? '' : `${d.span.file}:${d.span.start.line}:${d.span.start.column}: `;
      return {
        range,
        severity: d.severity === 'error' ? DiagnosticSeverity.Error : d.severity === 'warning' ? DiagnosticSeverity.Warning : DiagnosticSeverity.Information,
        code: d.code,
        source: 'vplc',
        message: `${where}${d.message}${d.help ? `\nhelp: ${d.help}` : ''}`,
        relatedInformation: d.related?.map((r) => ({ location: { uri: pathToFileURL(nodePath.resolve(r.span.file)).href, range: toRange(r.span) }, message: r.message })),
      };
    });
    void connection.sendDiagnostics({ uri: document.uri, diagnostics });
  };
  const validateAll = (): void => documents.all().forEach(validate);

  connection.onInitialize(
    (): Lsp.InitializeResult => ({
      capabilities: {
        textDocumentSync: TextDocumentSyncKind.Incremental,
        hoverProvider: true,
        completionProvider: { triggerCharacters: [' ', '=', '*', '[', ','] },
        documentFormattingProvider: true,
        definitionProvider: true,
        codeActionProvider: { codeActionKinds: [CodeActionKind.QuickFix] },
      },
      serverInfo: { name: 'vplc', version: '0.1.0' },
    }),
  );

  // A change to one file can break or fix the files that extend it: re-check every open one.
  documents.onDidChangeContent(() => validateAll());
  documents.onDidClose((event) => {
    states.delete(event.document.uri);
    void connection.sendDiagnostics({ uri: event.document.uri, diagnostics: [] });
  });

  connection.onHover((params): Lsp.Hover | null => {
    const document = documents.get(params.textDocument.uri);
    if (!document) return null;
    const hover = hoverAt(document.getText(), document.offsetAt(params.position), states.get(document.uri)?.plan);
    if (!hover) return null;
    return { contents: { kind: MarkupKind.Markdown, value: hover.markdown }, range: { start: document.positionAt(hover.start), end: document.positionAt(hover.end) } };
  });

  connection.onCompletion((params): Lsp.CompletionItem[] => {
    const document = documents.get(params.textDocument.uri);
    if (!document) return [];
    return completionsAt(document.getText(), document.offsetAt(params.position), states.get(document.uri)?.plan).map((c) => ({
      label: c.label,
      kind: completionKinds[c.kind],
      detail: c.detail,
      documentation: c.documentation ? { kind: MarkupKind.Markdown, value: c.documentation } : undefined,
      ...(c.snippet ? { insertText: c.snippet, insertTextFormat: InsertTextFormat.Snippet } : {}),
    }));
  });

  connection.onDocumentFormatting((params): Lsp.TextEdit[] => {
    const document = documents.get(params.textDocument.uri);
    if (!document) return [];
    const text = document.getText();
    const formatted = format(text, uriToPath(document.uri)).text;
    if (formatted === text) return [];
    return [TextEdit.replace({ start: { line: 0, character: 0 }, end: document.positionAt(text.length) }, formatted)];
  });

  connection.onDefinition((params): Lsp.Location[] => {
    const document = documents.get(params.textDocument.uri);
    if (!document) return [];
    const path = uriToPath(document.uri);
    const offset = document.offsetAt(params.position);
    for (const statement of parse(document.getText(), path).ast.body) {
      if (statement.kind !== 'ExtendsDeclaration') continue;
      if (offset < statement.span.start.offset || offset > statement.span.end.offset) continue;
      const target = nodePath.resolve(nodePath.dirname(path), statement.path.value);
      return [{ uri: pathToFileURL(target).href, range: { start: { line: 0, character: 0 }, end: { line: 0, character: 0 } } }];
    }
    return [];
  });

  connection.onCodeAction((params): Lsp.CodeAction[] => {
    const document = documents.get(params.textDocument.uri);
    const state = states.get(params.textDocument.uri);
    if (!document || !state) return [];
    const path = uriToPath(document.uri);
    const start = document.offsetAt(params.range.start);
    const end = document.offsetAt(params.range.end);
    const actions: Lsp.CodeAction[] = [];
    for (const d of state.diagnostics) {
      if (!d.fix || nodePath.resolve(d.fix.span.file) !== path) continue;
      if (d.span.end.offset < start || d.span.start.offset > end) continue;
      const range = toRange(d.span);
      actions.push({
        title: d.fix.title,
        kind: CodeActionKind.QuickFix,
        isPreferred: true,
        diagnostics: params.context.diagnostics.filter((c) => c.code === d.code && c.range.start.line === range.start.line),
        edit: { changes: { [document.uri]: [TextEdit.replace(toRange(d.fix.span), d.fix.text)] } },
      });
    }
    return actions;
  });

  const exited = new Promise<void>((resolve) => connection.onExit(() => resolve()));
  documents.listen(connection);
  connection.listen();
  return exited;
}
