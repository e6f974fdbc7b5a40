/**
 * Helpers of the fault matrix (test/faults/matrix.test.ts): the fault columns, how each is
 * injected through the emulator, and the result table printed at the end.
 */
import type { FaultHandle } from '../../testkit/emulator/faults';
import type { RequestLogEntry } from '../../testkit/emulator/types';
import type { TaskRun } from '../../testkit/harness';
import type { World } from '../../testkit/world';

export const FAULTS = [
  'none (baseline)',
  '429 + Retry-After',
  '500 once',
  '503 once',
  'connection reset',
  '30 s stall',
  'malformed JSON',
  '503 persistent',
  'token expired mid-run',
  'OIDC fails once',
  'LRO ends Failed',
] as const;
/** 'token expired mid-run' uses emu.expireTokens(): every token is rejected before the client thinks it expires (revocation, clock skew). */
export type FaultName = (typeof FAULTS)[number];
const TASKS = ['AmlPrivateLinkCheck', 'AmlPipelineJob', 'AmlModelRegister', 'AmlAksDeploy'] as const;
export type TaskName = (typeof TASKS)[number];

/** What a fault is expected to end in: a transient one recovers, a persistent one fails cleanly. */
export const TRANSIENT: ReadonlySet<FaultName> = new Set([
  'none (baseline)',
  '429 + Retry-After',
  '500 once',
  '503 once',
  'connection reset',
  '30 s stall',
  'token expired mid-run',
  'OIDC fails once',
]);

type Cell = string;
const results = new Map<string, Cell>();
export const record = (task: TaskName, fault: FaultName, cell: Cell): void => void results.set(`${task}|${fault}`, cell);

export function matrixTable(): string {
  const w0 = Math.max(...FAULTS.map((f) => f.length));
  const ws = TASKS.map((t) => Math.max(t.length, ...FAULTS.map((f) => (results.get(`${t}|${f}`) ?? 'n/a').length)));
  const line = (cells: string[]) =>
    `| ${cells[0]!.padEnd(w0)} | ${cells
      .slice(1)
      .map((c, i) => c.padEnd(ws[i]!))
      .join(' | ')} |`;
  const out = [line(['fault', ...TASKS]), line(['-'.repeat(w0), ...ws.map((n) => '-'.repeat(n))])];
  for (const f of FAULTS) out.push(line([f, ...TASKS.map((t) => results.get(`${t}|${f}`) ?? 'n/a')]));
  return out.join('\n');
}

/** Requests to a route (method + path RegExp) logged since `since`. */
export function routeRequests(w: World, since: number, method: string, path: RegExp): RequestLogEntry[] {
  return w.emu.requests.slice(since).filter((q) => q.method === method && path.test(q.path));
}

/** ARM writes (not reads, not key/token/log POSTs) since `since`. */
export function armWrites(w: World, since: number): RequestLogEntry[] {
  return w.emu.requests
    .slice(since)
    .filter(
      (q) => q.service === 'arm' && q.method !== 'GET' && !/\/(listKeys|token|getLogs)$/.test(q.path) && q.status < 400 && q.status > 0,
    );
}

/** A failure message a user can act on: one line, no stack trace, not empty. */
export function oneLine(r: TaskRun): string | undefined {
  const m = r.errors.at(-1);
  if (!m) return 'no error issued';
  if (m.includes('\n')) return `multi-line error: ${m}`;
  if (/\n\s+at |\bat [\w.]+ \(.*:\d+:\d+\)/.test(m + r.stderr)) return `stack trace: ${m}\n${r.stderr}`;
  if (m.length > 800) return `error of ${m.length} characters`;
  return undefined;
}

/** Calls emu.expireTokens() as soon as the delayed request has reached the emulator. */
export function expireWhenHit(w: World, delay: FaultHandle): { stop(): void; fired(): boolean } {
  let fired = false;
  const timer = setInterval(() => {
    if (delay.hits > 0 && !fired) {
      fired = true;
      w.emu.expireTokens();
      clearInterval(timer);
    }
  }, 5);
  return { stop: () => clearInterval(timer), fired: () => fired };
}
