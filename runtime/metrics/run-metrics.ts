// The metrics of one run: every logged step goes to metrics.jsonl and to a TensorBoard event
// file under tb/, with one flush for both at checkpoint boundaries. On resume, metrics past
// the resumed checkpoint are dropped first (the resumed run logs those steps again) and
// TensorBoard is told to drop them too.
import * as path from 'node:path';
import { MetricsWriter, truncateMetricsAfter } from './jsonl.ts';
import { TensorBoardWriter, type TensorBoardWriterOptions } from './tensorboard.ts';

export interface RunMetricsOptions {
  /** The step of the checkpoint the run resumes from; omit for a fresh run. */
  resumeFromStep?: number;
  /** Write TensorBoard event files too (default true). */
  tensorboard?: boolean;
  /** Wall clock in seconds; injectable for tests. */
  now?: () => number;
  tensorboardOptions?: Omit<TensorBoardWriterOptions, 'now'>;
}

export class RunMetrics {
  readonly jsonlPath: string;
  /** How many metrics.jsonl records a resume dropped (0 for a fresh run). */
  readonly droppedOnResume: number;
  private readonly jsonl: MetricsWriter;
  private readonly tensorboard: TensorBoardWriter | undefined;
  private readonly now: () => number;

  constructor(runDir: string, options: RunMetricsOptions = {}) {
    this.now = options.now ?? (() => Date.now() / 1000);
    this.jsonlPath = path.join(runDir, 'metrics.jsonl');
    this.droppedOnResume =
      options.resumeFromStep === undefined ? 0 : truncateMetricsAfter(this.jsonlPath, options.resumeFromStep).dropped;
    this.jsonl = new MetricsWriter(this.jsonlPath, { now: this.now });
    if (options.tensorboard ?? true) {
      this.tensorboard = new TensorBoardWriter(path.join(runDir, 'tb'), { ...options.tensorboardOptions, now: this.now });
      if (options.resumeFromStep !== undefined) this.tensorboard.markResumedAt(options.resumeFromStep + 1);
    }
  }

  /** The TensorBoard event file being written, if any. */
  get tensorboardPath(): string | undefined {
    return this.tensorboard?.filePath;
  }

  log(step: number, values: Readonly<Record<string, number>>): void {
    const wallTime = this.now();
    this.jsonl.log(step, values, wallTime);
    this.tensorboard?.addScalars(step, values, wallTime);
  }

  /** fsyncs both files: call when a checkpoint is written. */
  flush(): void {
    this.jsonl.flush();
    this.tensorboard?.flush();
  }

  close(): void {
    this.jsonl.close();
    this.tensorboard?.close();
  }
}
