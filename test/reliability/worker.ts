// A worker process of `npm run reliability`: runs the tasks the parent sends (one schedule, a
// chunk of the crash campaign, the bad-file corpus) and sends each result back. Each schedule is
// independent and fully described by its task, so any failure is reproducible from its seed alone.
import { runSchedule, type Mode, type RunResult, type ScheduleOptions } from './campaign';
import { badFileCorpus, crashCampaign, type BadFileResult, type CrashResult } from './faults';
import { seededRng } from '../support/cloud-sim';

export type Task =
  | { kind: 'schedule'; n: number; seed: number; devices: number; mode: Mode; ops: number; opts: ScheduleOptions }
  | { kind: 'crash'; n: number; seed: number; kills: number }
  | { kind: 'bad-files'; n: number };
export type Outcome =
  | { kind: 'schedule'; task: Task & { kind: 'schedule' }; result?: RunResult; error?: string; ms: number }
  | { kind: 'crash'; task: Task & { kind: 'crash' }; result?: CrashResult; error?: string; ms: number }
  | { kind: 'bad-files'; task: Task & { kind: 'bad-files' }; result?: BadFileResult; error?: string; ms: number };

export async function runTask(task: Task): Promise<Outcome> {
  const t0 = Date.now();
  try {
    if (task.kind === 'schedule') return { kind: 'schedule', task, result: await runSchedule(task.seed, task.devices, task.ops, task.mode, task.opts), ms: Date.now() - t0 };
    if (task.kind === 'crash') return { kind: 'crash', task, result: await crashCampaign(task.kills, seededRng(task.seed)), ms: Date.now() - t0 };
    return { kind: 'bad-files', task, result: await badFileCorpus(), ms: Date.now() - t0 };
  } catch (e) {
    return { kind: task.kind, task, error: (e as Error).stack ?? String(e), ms: Date.now() - t0 } as Outcome;
  }
}

if (require.main === module && process.send) {
  process.on('message', (task: Task) => {
    void runTask(task).then((out) => process.send!(out));
  });
  process.on('disconnect', () => process.exit(0)); // the parent is gone
  process.send({ ready: true });
}
