// Drives `vplc lsp` over stdio with a JSON-RPC client, as an editor would.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as nodePath from 'node:path';
import { pathToFileURL } from 'node:url';
import rpc from 'vscode-jsonrpc/node.js';
import type { MessageConnection } from 'vscode-jsonrpc';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { checkSource } from '../../compiler/check/index.ts';
import { repoRoot } from '../cli/run-vplc.ts';

interface Position { line: number; character: number }
interface Range { start: Position; end: Position }
interface LspDiagnostic { range: Range; code: string; message: string; severity: number }
interface TextEdit { range: Range; newText: string }

const base = `pipeline base
model tiny_vc { frames = 8  size = 32x32  fps = 8 }
lora { rank = 4 }
prompts = tiny_shapes
objective reward { reward = 1.0 * brightness }
train { steps = 10 }
`;
// A misspelt reward (a "did you mean" with a fix), badly laid out.
const child = `pipeline child
extends "base.vpl"
objective reward {
  reward = 1.0 * brightnes
}
train {   steps=20 }
`;

let server: ChildProcessWithoutNullStreams;
let connection: MessageConnection;
let dir: string;
let childUri: string;
let baseUri: string;
const published = new Map<string, LspDiagnostic[]>();
const waiters: (() => void)[] = [];

function positionOf(text: string, needle: string, delta = 0): Position {
  const offset = text.indexOf(needle) + delta;
  const before = text.slice(0, offset).split('\n');
  return { line: before.length - 1, character: before[before.length - 1]!.length };
}

async function diagnosticsFor(uri: string, predicate: (d: LspDiagnostic[]) => boolean): Promise<LspDiagnostic[]> {
  for (let i = 0; i < 200; i++) {
    const current = published.get(uri);
    if (current && predicate(current)) return current;
    await new Promise<void>((resolve) => {
      waiters.push(resolve);
      setTimeout(resolve, 100);
    });
  }
  throw new Error(`no matching diagnostics for ${uri}: ${JSON.stringify(published.get(uri))}`);
}

beforeAll(async () => {
  dir = mkdtempSync(nodePath.join(tmpdir(), 'vplc-lsp-'));
  writeFileSync(nodePath.join(dir, 'base.vpl'), base);
  writeFileSync(nodePath.join(dir, 'child.vpl'), child);
  childUri = pathToFileURL(nodePath.join(dir, 'child.vpl')).href;
  baseUri = pathToFileURL(nodePath.join(dir, 'base.vpl')).href;
  server = spawn(process.execPath, [nodePath.join(repoRoot, 'bin/vplc.js'), 'lsp'], { cwd: repoRoot, env: { ...process.env, NO_COLOR: '1' } });
  connection = rpc.createMessageConnection(new rpc.StreamMessageReader(server.stdout), new rpc.StreamMessageWriter(server.stdin));
  connection.onNotification('textDocument/publishDiagnostics', (params: { uri: string; diagnostics: LspDiagnostic[] }) => {
    published.set(params.uri, params.diagnostics);
    waiters.splice(0).forEach((w) => w());
  });
  connection.listen();
  const init = await connection.sendRequest<{ capabilities: Record<string, unknown> }>('initialize', { processId: process.pid, rootUri: pathToFileURL(dir).href, capabilities: {} });
  expect(init.capabilities).toMatchObject({ hoverProvider: true, documentFormattingProvider: true, definitionProvider: true });
  await connection.sendNotification('initialized', {});
  await connection.sendNotification('textDocument/didOpen', { textDocument: { uri: childUri, languageId: 'vpl', version: 1, text: child } });
});

afterAll(async () => {
  if (!connection) return;
  const exited = new Promise((resolve) => server.once('exit', resolve));
  await connection.sendRequest('shutdown');
  await connection.sendNotification('exit');
  await exited;
  connection.dispose();
});

describe('vplc lsp', () => {
  it('publishes the checker diagnostics, with their codes, for unsaved text', async () => {
    const expected = checkSource(child, nodePath.join(dir, 'child.vpl')).diagnostics;
    const diagnostics = await diagnosticsFor(childUri, (d) => d.length > 0);
    expect(diagnostics.map((d) => d.code)).toEqual(expected.map((d) => d.code));
    const misspelt = diagnostics.find((d) => d.message.includes('brightnes'))!;
    expect(misspelt.severity).toBe(1);
    expect(misspelt.range.start).toEqual(positionOf(child, 'brightnes'));
  });

  it('re-checks a child when its open base changes (open documents win over the disk)', async () => {
    await connection.sendNotification('textDocument/didOpen', { textDocument: { uri: baseUri, languageId: 'vpl', version: 1, text: base.replace('rank = 4', 'rank = 0') } });
    const diagnostics = await diagnosticsFor(childUri, (d) => d.some((x) => x.message.includes('base.vpl')));
    const fromBase = diagnostics.find((d) => d.message.includes('base.vpl'))!;
    expect(fromBase.range.start.line).toBe(1); // shown on the extends line
    await connection.sendNotification('textDocument/didClose', { textDocument: { uri: baseUri } });
  });

  it('hovers with the catalogue docs, type, range, default and resolved value', async () => {
    const hover = await connection.sendRequest<{ contents: { value: string } }>('textDocument/hover', { textDocument: { uri: childUri }, position: positionOf(child, 'steps=20', 1) });
    expect(hover.contents.value).toContain('**train.steps**');
    expect(hover.contents.value).toContain('Optimizer steps.');
    expect(hover.contents.value).toContain('range: 1 to 10000000');
    expect(hover.contents.value).toContain('default: 450');
  });

  it('completes stdlib names in context: rewards in a reward mix, fields of the enclosing block', async () => {
    const edited = child.replace('brightnes', 'brightness + 0.5 * ');
    await connection.sendNotification('textDocument/didChange', { textDocument: { uri: childUri, version: 2 }, contentChanges: [{ text: edited }] });
    const rewards = await connection.sendRequest<{ label: string }[]>('textDocument/completion', { textDocument: { uri: childUri }, position: positionOf(edited, '0.5 * ', 6) });
    expect(rewards.map((c) => c.label)).toEqual(expect.arrayContaining(['pickscore', 'aesthetic', 'brightness', 'hps']));
    const fields = await connection.sendRequest<{ label: string }[]>('textDocument/completion', { textDocument: { uri: childUri }, position: positionOf(edited, 'train {', 9) });
    expect(fields.map((c) => c.label)).toEqual(expect.arrayContaining(['optimizer', 'steps', 'accumulate', 'validate', 'checkpoint']));
    expect(fields.map((c) => c.label)).not.toContain('rank');
    await connection.sendNotification('textDocument/didChange', { textDocument: { uri: childUri, version: 3 }, contentChanges: [{ text: child }] });
  });

  it('formats with the formatter', async () => {
    const edits = await connection.sendRequest<TextEdit[]>('textDocument/formatting', { textDocument: { uri: childUri }, options: { tabSize: 2, insertSpaces: true } });
    expect(edits).toHaveLength(1);
    expect(edits[0]!.newText).toContain('train {\n  steps = 20\n}');
  });

  it('goes to the file an extends names', async () => {
    const locations = await connection.sendRequest<{ uri: string }[]>('textDocument/definition', { textDocument: { uri: childUri }, position: positionOf(child, 'base.vpl') });
    expect(locations.map((l) => l.uri)).toEqual([baseUri]);
  });

  it('offers the diagnostic fix as a quick fix', async () => {
    const diagnostics = await diagnosticsFor(childUri, (d) => d.some((x) => x.message.includes('brightnes')));
    const misspelt = diagnostics.find((d) => d.message.includes('brightnes'))!;
    const actions = await connection.sendRequest<{ title: string; kind: string; edit: { changes: Record<string, TextEdit[]> } }[]>('textDocument/codeAction', {
      textDocument: { uri: childUri },
      range: misspelt.range,
      context: { diagnostics: [misspelt] },
    });
    expect(actions).toHaveLength(1);
    expect(actions[0]!.kind).toBe('quickfix');
    expect(actions[0]!.edit.changes[childUri]).toEqual([{ range: misspelt.range, newText: 'brightness' }]);
  });
});
