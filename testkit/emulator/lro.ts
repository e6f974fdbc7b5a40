// ARM long-running operations: the Azure-AsyncOperation status resource and the Location
// result URL, as resource providers expose them under /subscriptions/{sub}/providers/{ns}/locations/{loc}/.
import { randomUUID } from 'node:crypto';
import type { Clock } from './types';

export type OperationOutcome = 'Succeeded' | 'Failed' | 'Canceled';
export type OperationStatus = 'InProgress' | OperationOutcome;

export interface OperationError {
  code: string;
  message: string;
}

export interface StartOperationOptions {
  subscriptionId: string;
  /** Resource provider namespace (default Microsoft.MachineLearningServices). */
  namespace?: string;
  location?: string;
  apiVersion?: string;
  /** Completes this long after start (default 100 ms) unless `steps` or `manual` is set. */
  durationMs?: number;
  /** Completes after this many polls of either URL. */
  steps?: number;
  /** Completes only when `operation.complete()` is called. */
  manual?: boolean;
  outcome?: OperationOutcome;
  error?: OperationError;
  /** Retry-After sent while running (default: LroManager.defaultRetryAfterSeconds). */
  retryAfterSeconds?: number;
  /** Runs once, when the operation reaches its terminal state (update resource state here). */
  onComplete?: (op: Operation) => void;
  /** What the Location URL answers after success (default 204, or 200 when a body is given). */
  result?: { status?: number; body?: unknown };
}

export interface Operation {
  readonly name: string;
  readonly statusUrl: string;
  readonly resultUrl: string;
  /** Headers for the 201/202 answer: Azure-AsyncOperation, Location, Retry-After. */
  readonly headers: Record<string, string>;
  readonly status: OperationStatus;
  readonly startTime: string;
  readonly endTime: string | undefined;
  readonly error: OperationError | undefined;
  readonly polls: number;
  complete(outcome?: OperationOutcome, error?: OperationError): void;
}

interface OperationState {
  opts: StartOperationOptions;
  name: string;
  statusPath: string;
  statusUrl: string;
  resultUrl: string;
  status: OperationStatus;
  startMs: number;
  endMs?: number;
  error?: OperationError;
  polls: number;
  timer?: NodeJS.Timeout;
}

export interface LroHttpResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

const ML_NAMESPACE = 'microsoft.machinelearningservices';

export class LroManager {
  defaultRetryAfterSeconds = 1;
  private readonly ops = new Map<string, OperationState>();

  constructor(
    private readonly baseUrl: () => string,
    private readonly clock: Clock,
  ) {}

  start(opts: StartOperationOptions): Operation {
    const ns = opts.namespace ?? 'Microsoft.MachineLearningServices';
    const location = (opts.location ?? 'eastus').toLowerCase().replace(/\s+/g, '');
    const apiVersion = opts.apiVersion ?? '2024-04-01';
    const name = randomUUID();
    // Azure ML names these mfeOperationsStatus / mfeOperationResults; most providers use operationStatuses / operationResults.
    const [statusSeg, resultSeg] =
      ns.toLowerCase() === ML_NAMESPACE ? ['mfeOperationsStatus', 'mfeOperationResults'] : ['operationStatuses', 'operationResults'];
    const prefix = `/subscriptions/${opts.subscriptionId}/providers/${ns}/locations/${location}`;
    const statusPath = `${prefix}/${statusSeg}/${name}`;
    const state: OperationState = {
      opts,
      name,
      statusPath,
      statusUrl: `${this.baseUrl()}${statusPath}?api-version=${apiVersion}`,
      resultUrl: `${this.baseUrl()}${prefix}/${resultSeg}/${name}?api-version=${apiVersion}`,
      status: 'InProgress',
      startMs: this.clock.now(),
      polls: 0,
    };
    this.ops.set(name, state);
    if (!opts.manual && opts.steps === undefined) {
      state.timer = setTimeout(() => this.finish(state), opts.durationMs ?? 100);
      state.timer.unref();
    }
    return this.view(state);
  }

  dispose(): void {
    for (const s of this.ops.values()) if (s.timer) clearTimeout(s.timer);
  }

  /** GET on the Azure-AsyncOperation URL. */
  statusResponse(name: string): LroHttpResult | undefined {
    const s = this.ops.get(name.toLowerCase());
    if (!s) return undefined;
    this.poll(s);
    const body: Record<string, unknown> = {
      id: s.statusPath,
      name: s.name,
      status: s.status,
      startTime: new Date(s.startMs).toISOString(),
    };
    if (s.endMs !== undefined) body.endTime = new Date(s.endMs).toISOString();
    if (s.status === 'InProgress') {
      return { status: 200, body, headers: { 'retry-after': String(this.retryAfter(s)) } };
    }
    if (s.error) body.error = s.error;
    return { status: 200, body };
  }

  /** GET on the Location URL: 202 while running, then the operation's result. */
  resultResponse(name: string): LroHttpResult | undefined {
    const s = this.ops.get(name.toLowerCase());
    if (!s) return undefined;
    this.poll(s);
    if (s.status === 'InProgress') {
      return { status: 202, headers: { location: s.resultUrl, 'retry-after': String(this.retryAfter(s)) } };
    }
    if (s.status === 'Succeeded') {
      const r = s.opts.result;
      if (r?.body !== undefined) return { status: r.status ?? 200, body: r.body };
      return { status: r?.status ?? 204 };
    }
    return { status: 400, body: { error: s.error ?? { code: s.status, message: `The operation was ${s.status.toLowerCase()}.` } } };
  }

  private retryAfter(s: OperationState): number {
    return s.opts.retryAfterSeconds ?? this.defaultRetryAfterSeconds;
  }

  private poll(s: OperationState): void {
    s.polls += 1;
    if (s.status === 'InProgress' && s.opts.steps !== undefined && s.polls >= s.opts.steps) this.finish(s);
  }

  private finish(s: OperationState, outcome?: OperationOutcome, error?: OperationError): void {
    if (s.status !== 'InProgress') return;
    if (s.timer) clearTimeout(s.timer);
    s.status = outcome ?? s.opts.outcome ?? 'Succeeded';
    s.endMs = this.clock.now();
    if (s.status === 'Failed') s.error = error ?? s.opts.error ?? { code: 'InternalServerError', message: 'The operation failed.' };
    if (s.status === 'Canceled') s.error = error ?? s.opts.error ?? { code: 'Canceled', message: 'The operation was canceled.' };
    s.opts.onComplete?.(this.view(s));
  }

  private view(s: OperationState): Operation {
    const finish = (outcome?: OperationOutcome, error?: OperationError): void => this.finish(s, outcome, error);
    const retryAfter = String(this.retryAfter(s));
    return {
      name: s.name,
      statusUrl: s.statusUrl,
      resultUrl: s.resultUrl,
      headers: { 'Azure-AsyncOperation': s.statusUrl, Location: s.resultUrl, 'Retry-After': retryAfter },
      get status() {
        return s.status;
      },
      startTime: new Date(s.startMs).toISOString(),
      get endTime() {
        return s.endMs === undefined ? undefined : new Date(s.endMs).toISOString();
      },
      get error() {
        return s.error;
      },
      get polls() {
        return s.polls;
      },
      complete: finish,
    };
  }
}
