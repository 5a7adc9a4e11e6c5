// Metrics as JSON lines: one object per logged step,
//   {"step":80,"wall_time":1712345678.123,"loss":0.41,"reward":5.2}
// appended to `metrics.jsonl` in the run directory. JSON has no NaN or infinities, but a
// diverging run logs them, so they are written as the strings "NaN", "Infinity" and
// "-Infinity" and read back as numbers.
//
// Crash safety: each line goes to the file with one write (a crash of the process loses
// nothing logged); `flush()` fsyncs, which the trainer calls at checkpoint boundaries so that
// metrics on disk always reach at least the last checkpoint. A crash of the machine can leave
// a torn last line: the reader drops it and says so. On resume, `truncateMetricsAfter` drops
// the lines past the resumed checkpoint's step, which the resumed run will log again.
import * as fs from 'node:fs';
import * as path from 'node:path';

export interface MetricsRecord {
  step: number;
  /** Seconds since the Unix epoch. */
  wallTime: number;
  values: Record<string, number>;
}

export interface MetricsFileContents {
  records: MetricsRecord[];
  /** The incomplete last line left by a crash, if there was one (it is not in `records`). */
  tornLine?: { lineNumber: number; text: string };
}

/** A metrics file that cannot be read: names the file, the line and the fix. */
export class MetricsFileError extends Error {
  constructor(
    readonly filePath: string,
    readonly lineNumber: number,
    problem: string,
  ) {
    super(`${filePath}:${lineNumber}: ${problem}. Fix or delete that line, or delete the file to start the metrics afresh.`);
    this.name = 'MetricsFileError';
  }
}

const NON_FINITE: Readonly<Record<string, number>> = { NaN: NaN, Infinity: Infinity, '-Infinity': -Infinity };

function encodeValue(value: number): number | string {
  return Number.isFinite(value) ? value : String(value);
}

/** One record as its JSON line (with the trailing newline). */
export function formatMetricsLine(record: MetricsRecord): string {
  const object: Record<string, number | string> = { step: record.step, wall_time: record.wallTime };
  for (const [name, value] of Object.entries(record.values)) {
    if (name === 'step' || name === 'wall_time') throw new Error(`metric name '${name}' is reserved in metrics.jsonl`);
    object[name] = encodeValue(value);
  }
  return JSON.stringify(object) + '\n';
}

/** Parses one line; returns a reason string when it is not a metrics record. */
export function parseMetricsLine(text: string): MetricsRecord | string {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'not valid JSON';
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return 'not a JSON object';
  const { step, wall_time: wallTime, ...rest } = parsed as Record<string, unknown>;
  if (typeof step !== 'number' || !Number.isInteger(step)) return "missing an integer 'step'";
  if (typeof wallTime !== 'number') return "missing a numeric 'wall_time'";
  const values: Record<string, number> = {};
  for (const [name, raw] of Object.entries(rest)) {
    if (typeof raw === 'number') values[name] = raw;
    else if (typeof raw === 'string' && raw in NON_FINITE) values[name] = NON_FINITE[raw]!;
    else return `metric '${name}' is not a number`;
  }
  return { step, wallTime, values };
}

/** Appends metrics records to a JSON-lines file. */
export class MetricsWriter {
  private fd: number | undefined;
  private readonly now: () => number;

  constructor(
    readonly filePath: string,
    options: { now?: () => number } = {},
  ) {
    this.now = options.now ?? (() => Date.now() / 1000);
    fs.mkdirSync(path.dirname(filePath), { recursive: true });
    this.fd = fs.openSync(filePath, 'a');
  }

  /** Appends one line; `wallTime` defaults to now. */
  log(step: number, values: Readonly<Record<string, number>>, wallTime = this.now()): void {
    if (this.fd === undefined) throw new Error(`metrics writer for ${this.filePath} is already closed`);
    fs.writeSync(this.fd, formatMetricsLine({ step, wallTime, values: { ...values } }));
  }

  /** Forces what was logged onto the disk (fsync). */
  flush(): void {
    if (this.fd !== undefined) fs.fsyncSync(this.fd);
  }

  close(): void {
    if (this.fd === undefined) return;
    fs.fsyncSync(this.fd);
    fs.closeSync(this.fd);
    this.fd = undefined;
  }
}

/**
 * Reads a metrics file. A malformed last line is a torn write and is reported in
 * `tornLine`; a malformed line before the last throws MetricsFileError. A missing file
 * reads as no records.
 */
export function readMetrics(filePath: string): MetricsFileContents {
  if (!fs.existsSync(filePath)) return { records: [] };
  const text = fs.readFileSync(filePath, 'utf8');
  const lines = text.split('\n');
  // A complete file ends with '\n', so the last piece is empty.
  const lastIndex = lines[lines.length - 1] === '' ? lines.length - 2 : lines.length - 1;
  const records: MetricsRecord[] = [];
  for (let i = 0; i <= lastIndex; i++) {
    const line = lines[i]!;
    if (line.trim() === '') continue;
    const parsed = parseMetricsLine(line);
    if (typeof parsed !== 'string') {
      records.push(parsed);
      continue;
    }
    if (i === lastIndex) return { records, tornLine: { lineNumber: i + 1, text: line } };
    throw new MetricsFileError(filePath, i + 1, parsed);
  }
  return { records };
}

/**
 * Keeps only the records with step <= `step` (and drops a torn line), rewriting the file
 * atomically. Returns how many records were kept and dropped.
 */
export function truncateMetricsAfter(filePath: string, step: number): { kept: number; dropped: number } {
  const { records, tornLine } = readMetrics(filePath);
  const kept = records.filter((r) => r.step <= step);
  const dropped = records.length - kept.length;
  if (dropped === 0 && tornLine === undefined) return { kept: kept.length, dropped };
  const tempPath = `${filePath}.tmp-${process.pid}`;
  const fd = fs.openSync(tempPath, 'w');
  try {
    fs.writeSync(fd, kept.map(formatMetricsLine).join(''));
    fs.fsyncSync(fd);
  } finally {
    fs.closeSync(fd);
  }
  fs.renameSync(tempPath, filePath);
  return { kept: kept.length, dropped };
}
