/**
 * Following a job to its end: adaptive polling (short at first, longer later), one status line
 * whenever the job or a step changes, a heartbeat line while nothing does, progress by steps
 * finished. Pure: time, sleeping and Azure come in through the arguments.
 */
import { msg } from './messages';

const TERMINAL = new Set(['Completed', 'Failed', 'Canceled']);

export interface StepState {
  name: string;
  runId: string;
  status: string;
  start?: string;
  end?: string;
  error?: string;
  /** Azure ML studio link of the step run. */
  link?: string;
}

export interface JobSnapshot {
  status: string;
  steps: StepState[];
}

export interface WaitDeps {
  /** Reads the job status (ARM) and its steps (data plane). */
  poll(): Promise<JobSnapshot>;
  now(): number;
  sleep(ms: number, signal: AbortSignal): Promise<void>;
  log(line: string): void;
  progress(percent: number, text: string): void;
}

interface WaitOptions {
  /** 0 = no limit. */
  timeoutMs: number;
  signal: AbortSignal;
  /** Poll interval bounds. */
  minIntervalMs?: number;
  maxIntervalMs?: number;
  /** A line even when nothing changes, this often. */
  heartbeatMs?: number;
}

type WaitEnd =
  { kind: 'terminal'; snapshot: JobSnapshot } | { kind: 'timeout'; snapshot: JobSnapshot } | { kind: 'cancelled'; snapshot: JobSnapshot };

/** Next interval: grows by half each quiet poll, back to the minimum after a change. */
export function nextInterval(current: number, changed: boolean, min: number, max: number): number {
  return changed ? min : Math.min(max, Math.round(current * 1.5));
}

const fmt = (ms: number): string => {
  const s = Math.round(ms / 1000);
  if (s < 60) return msg('DurationSeconds', s);
  if (s < 3600) return msg('DurationMinutesSeconds', Math.floor(s / 60), String(s % 60).padStart(2, '0'));
  return msg('DurationHoursMinutes', Math.floor(s / 3600), String(Math.floor((s % 3600) / 60)).padStart(2, '0'));
};

export async function waitForJob(deps: WaitDeps, o: WaitOptions): Promise<WaitEnd> {
  const min = o.minIntervalMs ?? 2_000;
  const max = o.maxIntervalMs ?? 30_000;
  const heartbeat = o.heartbeatMs ?? 5 * 60_000;
  const started = deps.now();
  let interval = min;
  let lastLine = started;
  let last: JobSnapshot = { status: '', steps: [] };
  const stepStatus = new Map<string, string>();
  for (;;) {
    if (o.signal.aborted) return { kind: 'cancelled', snapshot: last };
    const snap = await deps.poll();
    let changed = false;
    if (snap.status !== last.status) {
      deps.log(msg('JobStatusAfter', snap.status, fmt(deps.now() - started)));
      changed = true;
    }
    for (const s of snap.steps) {
      if (stepStatus.get(s.name) !== s.status) {
        const first = !stepStatus.has(s.name);
        stepStatus.set(s.name, s.status);
        const link = first ? s.link : undefined;
        const line = s.error
          ? link
            ? msg('StepStatusWithErrorAndLink', s.name, s.status, s.error, link)
            : msg('StepStatusWithError', s.name, s.status, s.error)
          : link
            ? msg('StepStatusWithLink', s.name, s.status, link)
            : msg('StepStatus', s.name, s.status);
        deps.log(`  ${line}`);
        changed = true;
      }
    }
    last = snap;
    const done = snap.steps.filter((s) => TERMINAL.has(s.status)).length;
    if (changed) {
      lastLine = deps.now();
      deps.progress(
        snap.steps.length ? (100 * done) / snap.steps.length : TERMINAL.has(snap.status) ? 100 : 5,
        msg('ProgressStepsDone', snap.status, done, snap.steps.length),
      );
    } else if (deps.now() - lastLine >= heartbeat) {
      lastLine = deps.now();
      deps.log(msg('JobStillRunning', snap.status, fmt(deps.now() - started), done, snap.steps.length));
    }
    if (TERMINAL.has(snap.status)) return { kind: 'terminal', snapshot: snap };
    if (o.timeoutMs > 0 && deps.now() - started >= o.timeoutMs) return { kind: 'timeout', snapshot: snap };
    interval = nextInterval(interval, changed, min, max);
    const remaining = o.timeoutMs > 0 ? o.timeoutMs - (deps.now() - started) : interval;
    await deps.sleep(Math.max(0, Math.min(interval, remaining)), o.signal);
  }
}
