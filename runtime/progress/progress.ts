// Training progress on stderr.
//
// On a terminal: one bar line, redrawn in place (at most every `redrawMs`), with step/total,
// iterations per second, ETA, and the latest loss and reward. Elsewhere (a pipe, a log file,
// or CI set): plain lines, one every `plainEverySteps` steps or `plainEverySeconds` seconds,
// whichever comes first, and always the last step, so logs stay short but show progress.
// Colour only on a terminal and never when NO_COLOR is set (https://no-color.org).

/** The parts of a stream the reporter needs; process.stderr fits. */
export interface ProgressStream {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

export interface ProgressOptions {
  total: number;
  /** A word before the bar: 'train', 'sample'. */
  label?: string;
  stream?: ProgressStream;
  env?: Readonly<Record<string, string | undefined>>;
  /** Milliseconds, monotonic; injectable for tests. */
  clock?: () => number;
  plainEverySteps?: number;
  plainEverySeconds?: number;
  redrawMs?: number;
}

/** The values shown beside the bar; other keys are shown too, in the order given. */
export type ProgressValues = Readonly<Record<string, number>>;

const ANSI = { dim: '\x1b[2m', green: '\x1b[32m', cyan: '\x1b[36m', reset: '\x1b[0m', clearLine: '\x1b[2K' };

/** 65 -> '1m05s', 7380 -> '2h03m', 9 -> '9s'; '?' when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return '?';
  const s = Math.round(seconds);
  if (s < 60) return `${s}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** A rate as it/s, or s/it when slower than one per second (alignment steps often are). */
export function formatRate(stepsPerSecond: number): string {
  if (!Number.isFinite(stepsPerSecond) || stepsPerSecond <= 0) return '? it/s';
  if (stepsPerSecond >= 1) return `${stepsPerSecond.toFixed(2)} it/s`;
  return `${(1 / stepsPerSecond).toFixed(2)} s/it`;
}

function formatValue(value: number): string {
  if (!Number.isFinite(value)) return String(value);
  const magnitude = Math.abs(value);
  if (magnitude !== 0 && (magnitude < 1e-3 || magnitude >= 1e5)) return value.toExponential(2);
  return value.toFixed(4);
}

export class ProgressReporter {
  private readonly stream: ProgressStream;
  private readonly clock: () => number;
  private readonly interactive: boolean;
  private readonly colour: boolean;
  private readonly total: number;
  private readonly label: string;
  private readonly plainEverySteps: number;
  private readonly plainEveryMs: number;
  private readonly redrawMs: number;
  private startStep: number | undefined;
  private startTime = 0;
  private lastStep = 0;
  private lastValues: ProgressValues = {};
  private lastDrawTime = -Infinity;
  private lastPlainStep = 0;
  private barVisible = false;
  private finished = false;

  constructor(options: ProgressOptions) {
    this.stream = options.stream ?? process.stderr;
    this.clock = options.clock ?? (() => performance.now());
    const env = options.env ?? process.env;
    this.interactive = this.stream.isTTY === true && !env.CI;
    this.colour = this.interactive && env.NO_COLOR === undefined;
    this.total = options.total;
    this.label = options.label ?? 'train';
    this.plainEverySteps = options.plainEverySteps ?? Math.max(1, Math.ceil(options.total / 20));
    this.plainEveryMs = (options.plainEverySeconds ?? 10) * 1000;
    this.redrawMs = options.redrawMs ?? 100;
  }

  /** Call once at the start (before the first step), so the first step's time counts. */
  start(step = 0): void {
    this.startStep = step;
    this.startTime = this.clock();
    this.lastStep = step;
    this.lastPlainStep = step;
    this.lastDrawTime = this.startTime;
    if (this.interactive) this.draw();
  }

  /** Reports that `step` (1-based count of steps done) finished, with its values. */
  update(step: number, values: ProgressValues = {}): void {
    if (this.startStep === undefined) this.start(Math.max(0, step - 1));
    this.lastStep = step;
    this.lastValues = values;
    const now = this.clock();
    const isLast = step >= this.total;
    if (this.interactive) {
      if (isLast || now - this.lastDrawTime >= this.redrawMs) this.draw();
      return;
    }
    if (isLast || step - this.lastPlainStep >= this.plainEverySteps || now - this.lastDrawTime >= this.plainEveryMs) {
      this.stream.write(this.statusLine() + '\n');
      this.lastPlainStep = step;
      this.lastDrawTime = now;
    }
  }

  /** Prints a message above the bar without breaking it. */
  log(message: string): void {
    if (this.interactive && this.barVisible) {
      this.stream.write(`\r${ANSI.clearLine}${message}\n`);
      this.draw();
    } else {
      this.stream.write(message + '\n');
    }
  }

  /** Ends the bar line (and prints the last step if it was not printed yet). */
  finish(): void {
    if (this.finished) return;
    this.finished = true;
    if (this.interactive) {
      this.draw();
      this.stream.write('\n');
      this.barVisible = false;
    } else if (this.lastStep !== this.lastPlainStep) {
      this.stream.write(this.statusLine() + '\n');
      this.lastPlainStep = this.lastStep;
    }
  }

  /** Steps per second since start(); NaN before any step is done. */
  rate(): number {
    const elapsed = (this.clock() - this.startTime) / 1000;
    const done = this.lastStep - (this.startStep ?? 0);
    return done > 0 && elapsed > 0 ? done / elapsed : NaN;
  }

  /** The text of the status, without the bar: `train 12/100 1.50 it/s ETA 59s loss 0.4123`. */
  statusLine(): string {
    const rate = this.rate();
    const parts = [
      this.label,
      `${this.lastStep}/${this.total}`,
      formatRate(rate),
      `ETA ${formatDuration((this.total - this.lastStep) / rate)}`,
      ...this.valueParts(),
    ];
    return parts.join(' ');
  }

  private valueParts(): string[] {
    return Object.entries(this.lastValues).map(([name, value]) => `${name} ${formatValue(value)}`);
  }

  private draw(): void {
    const c = this.colour ? ANSI : { dim: '', green: '', cyan: '', reset: '', clearLine: ANSI.clearLine };
    const fraction = this.total > 0 ? Math.min(1, this.lastStep / this.total) : 0;
    const rate = this.rate();
    const head = `${this.label} ${String(this.lastStep).padStart(String(this.total).length)}/${this.total}`;
    const tail = [formatRate(rate), `ETA ${formatDuration((this.total - this.lastStep) / rate)}`, ...this.valueParts()].join(' ');
    const columns = this.stream.columns ?? 80;
    // The bar takes what the text leaves, between 10 and 40 cells.
    const barWidth = Math.max(10, Math.min(40, columns - head.length - tail.length - 6));
    const filled = Math.round(fraction * barWidth);
    const bar = `${c.green}${'█'.repeat(filled)}${c.dim}${'░'.repeat(barWidth - filled)}${c.reset}`;
    this.stream.write(`\r${ANSI.clearLine}${head} ${bar} ${c.cyan}${tail}${c.reset}`);
    this.barVisible = true;
    this.lastDrawTime = this.clock();
  }
}
