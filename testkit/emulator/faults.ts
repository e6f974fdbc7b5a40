// Per-route fault injection. A fault matches on service, method and path and fires a
// limited number of times; the server applies it before (or, for delays, around) the service.
import type { EmuResponse, Service } from './types';

export type FaultKind = 'status' | 'reset' | 'delay' | 'malformed' | 'stall' | 'rewrite';

export interface FaultSpec {
  service?: Service;
  method?: string;
  /** RegExp tested against path+query, or a substring of it. */
  path: RegExp | string;
  kind: FaultKind;
  /** For kind 'status' (default 503). */
  status?: number;
  /** Sent as Retry-After with 429/503 (default 1). */
  retryAfterSeconds?: number;
  /** For kind 'delay' (default 1000). */
  delayMs?: number;
  /** How many matching requests it affects (default 1; Infinity for all). */
  times?: number;
  /** Overrides the error body for kind 'status'. */
  body?: unknown;
  /**
   * For kind 'rewrite': the service answers as usual, then this changes the answer (what a
   * hostile or compromised service, proxy or DNS could return: another host, foreign text).
   */
  rewrite?: (res: EmuResponse) => EmuResponse;
}

export interface FaultHandle {
  readonly spec: Readonly<FaultSpec>;
  /** Requests this fault has affected so far. */
  readonly hits: number;
  readonly active: boolean;
  remove(): void;
}

interface FaultEntry {
  spec: FaultSpec;
  remaining: number;
  hits: number;
}

export class Faults {
  private entries: FaultEntry[] = [];

  add(spec: FaultSpec): FaultHandle {
    const entry: FaultEntry = { spec: { ...spec }, remaining: spec.times ?? 1, hits: 0 };
    this.entries.push(entry);
    const list = (): FaultEntry[] => this.entries;
    return {
      spec: entry.spec,
      get hits() {
        return entry.hits;
      },
      get active() {
        return entry.remaining > 0 && list().includes(entry);
      },
      remove: () => {
        this.entries = this.entries.filter((e) => e !== entry);
      },
    };
  }

  clear(): void {
    this.entries = [];
  }

  list(): ReadonlyArray<Readonly<FaultSpec> & { remaining: number; hits: number }> {
    return this.entries.map((e) => ({ ...e.spec, remaining: e.remaining, hits: e.hits }));
  }

  /** Finds the first active fault for this request and consumes one use of it. */
  take(service: Service, method: string, pathAndQuery: string): FaultSpec | undefined {
    for (const e of this.entries) {
      if (e.remaining <= 0) continue;
      if (e.spec.service && e.spec.service !== service) continue;
      if (e.spec.method && e.spec.method.toUpperCase() !== method.toUpperCase()) continue;
      const p = e.spec.path;
      const matches = typeof p === 'string' ? pathAndQuery.includes(p) : p.test(pathAndQuery);
      if (!matches) continue;
      e.remaining -= 1;
      e.hits += 1;
      return e.spec;
    }
    return undefined;
  }
}

const ARM_CODES: Record<number, string> = {
  429: 'TooManyRequests',
  500: 'InternalServerError',
  502: 'BadGateway',
  503: 'ServiceUnavailable',
  504: 'GatewayTimeout',
};

/** The error body a real service of this kind sends with an injected status. */
export function faultBody(service: Service, status: number): unknown {
  if (service === 'arm') {
    const code = ARM_CODES[status] ?? 'InternalServerError';
    const message =
      status === 429
        ? 'The request is being throttled as the limit has been reached for operation type. Please retry after the time in the Retry-After header.'
        : 'The service is temporarily unavailable. Please retry the request.';
    return { error: { code, message } };
  }
  if (service === 'ado') {
    return {
      $id: '1',
      innerException: null,
      message:
        status === 429 ? 'Request was blocked due to exceeding usage of resource in namespace.' : 'The service is temporarily unavailable.',
      typeName: 'Microsoft.VisualStudio.Services.WebApi.VssServiceException, Microsoft.VisualStudio.Services.WebApi',
      typeKey: 'VssServiceException',
      errorCode: 0,
      eventId: 3000,
    };
  }
  return {
    error: status === 429 || status === 503 ? 'temporarily_unavailable' : 'server_error',
    error_description: 'The service is temporarily unavailable.',
  };
}
