/**
 * ARM long-running operations followed by hand, for raw ARM calls: the Azure-AsyncOperation
 * status resource when the service names one, else the Location URL (202 until done), else the
 * resource's own provisioningState (a PUT answered 201 without either header). Polls
 * honour Retry-After (else start short and grow), report each status, and stop at once when the
 * run is cancelled (the operation itself goes on in Azure: the caller decides what to undo).
 */
import type { HttpMethods } from '@azure/core-rest-pipeline';
import type { ArmClient } from './arm';
import { restErrorOf, type RawResponse } from './http';
import { msg } from './messages';
import { abortableSleep } from './sleep';

/** The operation ended Failed or Canceled in Azure; code and message are the service's. */
export class OperationFailed extends Error {
  constructor(
    readonly status: string,
    readonly code: string | undefined,
    message: string,
  ) {
    super(message);
    this.name = 'OperationFailed';
  }
}

/** The wait was abandoned (cancelled run or timeout); the operation may still be running. */
export class OperationAbandoned extends Error {
  constructor(
    /** foreignHost: the operation's URL names a host the token may not go to, so it is not followed. */
    readonly reason: 'cancelled' | 'timeout' | 'foreignHost',
    message: string,
  ) {
    super(message);
    this.name = 'OperationAbandoned';
  }
}

export interface LroOptions {
  /** Abandons the wait (OperationAbandoned) when aborted. */
  signal?: AbortSignal;
  /** After each poll: the operation's status and the time since it started. */
  onPoll?(status: string, elapsedMs: number): void;
  /** Poll interval without Retry-After: starts at min and grows by half up to max. */
  minIntervalMs?: number;
  maxIntervalMs?: number;
  /** Give up waiting after this long (0 = no limit). */
  timeoutMs?: number;
  /** For tests: time and sleeping. */
  now?(): number;
  sleep?(ms: number, signal: AbortSignal): Promise<void>;
}

export interface LroOutcome {
  /** The first answer (a PUT's answer holds the resource as accepted). */
  initial: RawResponse;
  /** The last answer of the Location URL or the resource, when the operation was followed there. */
  final?: RawResponse;
  /** False when the service answered at once, without a long-running operation. */
  longRunning: boolean;
}

const TERMINAL = new Set(['succeeded', 'failed', 'canceled', 'cancelled']);

function retryAfterMs(res: RawResponse): number | undefined {
  const v = res.headers['retry-after'];
  if (v === undefined) return undefined;
  const s = Number(v);
  if (Number.isFinite(s)) return Math.max(0, s * 1000);
  const at = Date.parse(v);
  return Number.isFinite(at) ? Math.max(0, at - Date.now()) : undefined;
}

function json(res: RawResponse): Record<string, unknown> {
  try {
    const v = res.text ? JSON.parse(res.text) : {};
    return typeof v === 'object' && v !== null ? (v as Record<string, unknown>) : {};
  } catch {
    return {};
  }
}

/** Start an operation (PUT, PATCH, DELETE or POST on an ARM path) and wait for its end. */
export async function armOperation(
  arm: ArmClient,
  method: HttpMethods,
  path: string,
  apiVersion: string,
  body: unknown,
  o: LroOptions = {},
): Promise<LroOutcome> {
  const initial = await arm.send(method, path, apiVersion, body, o.signal);
  if (initial.status >= 400) throw restErrorOf(method, path, initial);
  const statusUrl = initial.headers['azure-asyncoperation'];
  const accepted = initial.status === 201 || initial.status === 202;
  const location = accepted ? initial.headers['location'] : undefined;
  // Without either header, a PUT answered 201 with a provisioning state still running is followed
  // on the resource itself (the third ARM pattern).
  const stateOf = (r: RawResponse): string =>
    String((json(r).properties as { provisioningState?: string } | undefined)?.provisioningState ?? 'Succeeded');
  const onResource =
    !statusUrl &&
    !location &&
    initial.status === 201 &&
    (method === 'PUT' || method === 'PATCH') &&
    !TERMINAL.has(stateOf(initial).toLowerCase());
  if (!statusUrl && !location && !onResource) return { initial, longRunning: false };
  // Accepted, but followed only on the connection's ARM host: say so at once rather than at the first poll.
  for (const u of [statusUrl, location]) {
    if (u && !arm.hosts.allows(new URL(u)))
      throw new OperationAbandoned('foreignHost', msg('TokenHostRefused', new URL(u).host, arm.hosts.describe));
  }

  const now = o.now ?? Date.now;
  const sleep = o.sleep ?? abortableSleep;
  const signal = o.signal ?? new AbortController().signal;
  const min = o.minIntervalMs ?? 1000;
  const max = o.maxIntervalMs ?? 15_000;
  const started = now();
  let interval = min;
  let last: RawResponse = initial;
  for (;;) {
    const hinted = retryAfterMs(last);
    const wait = hinted !== undefined ? Math.max(hinted, 100) : interval;
    interval = Math.min(max, Math.round(interval * 1.5));
    if (o.timeoutMs && now() - started + wait > o.timeoutMs) {
      throw new OperationAbandoned('timeout', msg('LroTimedOut', `${method} ${path}`, Math.round(o.timeoutMs / 1000)));
    }
    await sleep(wait, signal);
    if (signal.aborted) throw new OperationAbandoned('cancelled', msg('LroWaitCancelled', `${method} ${path}`));
    if (statusUrl) {
      last = await arm.poll(statusUrl, signal);
      if (last.status >= 400) throw restErrorOf('GET', statusUrl, last);
      const op = json(last);
      const status = String(op.status ?? 'InProgress');
      o.onPoll?.(status, now() - started);
      if (!TERMINAL.has(status.toLowerCase())) continue;
      if (status.toLowerCase() === 'succeeded') return { initial, longRunning: true };
      const err = (op.error ?? {}) as { code?: string; message?: string };
      throw new OperationFailed(status, err.code, err.message ?? msg('LroOperationEnded', status));
    }
    if (onResource) {
      last = await arm.send('GET', path, apiVersion, undefined, signal);
      if (last.status >= 400) throw restErrorOf('GET', path, last);
      const state = stateOf(last);
      o.onPoll?.(state, now() - started);
      if (!TERMINAL.has(state.toLowerCase())) continue;
      if (state.toLowerCase() === 'succeeded') return { initial, final: last, longRunning: true };
      throw new OperationFailed(state, undefined, msg('LroResourceEndedInState', state));
    }
    last = await arm.poll(location!, signal);
    if (last.status === 202) {
      o.onPoll?.('InProgress', now() - started);
      continue;
    }
    if (last.status >= 400) {
      const err = restErrorOf('GET', location!, last);
      o.onPoll?.('Failed', now() - started);
      throw new OperationFailed('Failed', err.code, err.message);
    }
    o.onPoll?.('Succeeded', now() - started);
    return { initial, final: last, longRunning: true };
  }
}
