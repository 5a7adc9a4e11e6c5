import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { readdirSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { PassThrough } from 'node:stream';
import { main } from '../../cli/main.ts';
import { repoRoot, vplc } from './run-vplc.ts';

const pipelines = readdirSync(join(repoRoot, 'pipelines')).filter((f) => f.endsWith('.vpl')).map((f) => `pipelines/${f}`);

describe('vplc check', () => {
  it('passes every shipped pipeline with exit code 0', () => {
    const result = vplc(['check', ...pipelines]);
    expect(result.stderr).toContain(`${pipelines.length} files checked: no errors`);
    expect(result.status).toBe(0);
  });

  it("warns (VPL4004, exit 0) when a learned reward's folder is missing, naming the public files and the folder, and is quiet once it exists", () => {
    const root = mkdtempSync(join(tmpdir(), 'vplc-check-rewards-'));
    const missing = vplc(['check', 'pipelines/pickscore.vpl'], { env: { VPLC_WEIGHTS_DIR: root } });
    expect(missing.status).toBe(0);
    expect(missing.stderr).toMatch(/pickscore\.vpl:6:12 - warning VPL4004: reward 'pickscore' needs model\.safetensors .*PickScore_v1.*rewards\/pickscore does not exist/);
    mkdirSync(join(root, 'rewards', 'pickscore'), { recursive: true });
    const present = vplc(['check', 'pipelines/pickscore.vpl'], { env: { VPLC_WEIGHTS_DIR: root } });
    expect(present.stderr).not.toContain('VPL4004');
    // analytic rewards need no files
    expect(vplc(['check', 'pipelines/pickscore.vpl', 'objective.reward=1.0 * brightness'], { env: { VPLC_WEIGHTS_DIR: root } }).stderr).not.toContain('VPL4004');
  });

  it('reports the four mistakes of the issue example in one run, each with place, code, caret and help', () => {
    const result = vplc(['check', 'test/cases/issue_example.vpl']);
    expect(result.status).toBe(1);
    const headers = result.stderr.split('\n').filter((line) => / - error VPL\d{4}: /.test(line));
    expect(headers.map((h) => h.match(/^(\S+:\d+:\d+) - error (VPL\d{4})/)?.slice(1))).toEqual([
      ['test/cases/issue_example.vpl:5:13', 'VPL1002'],
      ['test/cases/issue_example.vpl:10:15', 'VPL2007'],
      ['test/cases/issue_example.vpl:17:20', 'VPL2008'],
      ['test/cases/issue_example.vpl:18:14', 'VPL3001'],
    ]);
    expect(result.stderr.match(/^\s+\|\s+\^+$/gm)).toHaveLength(4);
    expect(result.stderr.match(/^help: /gm)).toHaveLength(4);
    expect(result.stderr).toContain("did you mean 'pickscore'?");
    expect(result.stderr).not.toMatch(/\bat .*\.ts:\d+/); // no stack trace
  });

  it('prints machine-readable diagnostics with --json', () => {
    const result = vplc(['check', '--json', 'test/cases/issue_example.vpl', 'pipelines/pickscore.vpl']);
    expect(result.status).toBe(1);
    const report = JSON.parse(result.stdout) as { file: string; ok: boolean; diagnostics: { code: string; span: { start: { line: number } } }[] }[];
    expect(report.map((r) => [r.file, r.ok])).toEqual([
      ['test/cases/issue_example.vpl', false],
      ['pipelines/pickscore.vpl', true],
    ]);
    expect(report[0].diagnostics.map((d) => d.code)).toEqual(['VPL1002', 'VPL2007', 'VPL2008', 'VPL3001']);
  });

  it('type-checks command-line overrides like the file', () => {
    const ok = vplc(['check', 'pipelines/pickscore.vpl', 'lora.rank=8', 'train.steps=100']);
    expect(ok.status).toBe(0);
    const bad = vplc(['check', 'pipelines/pickscore.vpl', 'lora.rank=0']);
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/<command line>:1:\d+ - error VPL2007/);
  });

  it('names a missing file and exits 1', () => {
    const result = vplc(['check', 'pipelines/no_such_file.vpl']);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/no_such_file\.vpl:1:1 - error VPL4001: cannot read/);
  });

  it('colours output only when asked and never with NO_COLOR', () => {
    const plain = vplc(['check', 'test/cases/issue_example.vpl']);
    expect(plain.stderr).not.toContain('\x1b[');
    const coloured = vplc(['check', 'test/cases/issue_example.vpl'], { env: { FORCE_COLOR: '1', NO_COLOR: '' } });
    expect(coloured.stderr).toContain('\x1b[');
  });

  it('never crashes on binary input', () => {
    const dir = mkdtempSync(join(tmpdir(), 'vplc-cli-'));
    const file = join(dir, 'binary.vpl');
    writeFileSync(file, Buffer.from([0, 255, 254, 10, 123, 123, 0, 34, 200]));
    const result = vplc(['check', file]);
    expect(result.status).toBe(1);
    expect(result.stderr).toMatch(/error VPL1\d{3}/);
    expect(result.stderr).not.toContain('internal error');
  });
});

describe('vplc usage', () => {
  it('exits 2 with help when called without arguments or with an unknown command', () => {
    expect(vplc([]).status).toBe(2);
    const unknown = vplc(['frobnicate']);
    expect(unknown.status).toBe(2);
    expect(unknown.stderr).toContain("unknown command 'frobnicate'");
  });

  it('lists only commands that work, and --help exits 0', async () => {
    const help = vplc(['--help']);
    expect(help.status).toBe(0);
    const commands = [...help.stdout.matchAll(/^ {2}(\w+) /gm)].map((m) => m[1]).filter((c) => c !== 'help');
    // in-process (spawning costs seconds each): every listed command has working help
    for (const command of commands) {
      const out = new PassThrough();
      const code = await main([command, '--help'], { out, err: new PassThrough(), cwd: repoRoot, env: {} });
      expect(code, command).toBe(0);
      expect(String(out.read()), command).toContain(`Usage: vplc ${command}`);
    }
    expect(commands).toEqual(expect.arrayContaining(['check', 'fmt', 'explain']));
  });
});
