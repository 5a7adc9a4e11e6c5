// A training run in its own process, for the kill -9 and SIGINT tests:
//   node --import tsx test/runtime/train/child.ts '<json options>'
// options: { runDir, steps, accumulate, checkpointEvery, seed, pauseAt?, waitSigintAt? }
//   pauseAt: before step `pauseAt` (0-based) print "PAUSED" and hang (the test kills -9)
//   waitSigintAt: before step `waitSigintAt` print "READY" and wait for SIGINT, then go on
// Exits with the driver's exit code (130 after SIGINT).
import { train } from '../../../runtime/train/index.ts';
import { toyMethod } from './toy.ts';

const o = JSON.parse(process.argv[2]!) as {
  runDir: string;
  steps: number;
  accumulate: number;
  checkpointEvery: number;
  seed: number;
  pauseAt?: number;
  waitSigintAt?: number;
};

const method = await toyMethod({
  async beforeMicro(step, micro) {
    if (micro !== 0) return;
    if (step === o.pauseAt) {
      process.stdout.write('PAUSED\n');
      setInterval(() => undefined, 1000); // hang here until killed
      await new Promise(() => undefined);
    }
    if (step === o.waitSigintAt) {
      const keepAlive = setInterval(() => undefined, 1000);
      const signalled = new Promise((resolve) => process.once('SIGINT', resolve));
      process.stdout.write('READY\n');
      await signalled;
      clearInterval(keepAlive);
    }
  },
});
const result = await train({
  runDir: o.runDir,
  planHash: 'toy-plan',
  totalSteps: o.steps,
  accumulate: o.accumulate,
  checkpointEvery: o.checkpointEvery,
  keep: 3,
  seed: o.seed,
  ...method,
  banner: { batch: 8 },
});
await method.sessions.release();
process.stdout.write(`DONE ${result.status} ${result.step}\n`);
process.exitCode = result.exitCode;
