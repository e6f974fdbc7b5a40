// Types shared by the emulator's services.
import type { IncomingHttpHeaders } from 'node:http';

export type Service = 'entra' | 'imds' | 'arm' | 'ado' | 'aml' | 'github' | 'control';

/** A fully read request, as the services see it. */
export interface EmuRequest {
  method: string;
  url: URL;
  /** Decoded path segments without empty ones. */
  segments: string[];
  headers: IncomingHttpHeaders;
  body: Buffer;
  /** Request id, also returned as x-ms-request-id. */
  requestId: string;
}

export interface EmuResponse {
  status: number;
  headers?: Record<string, string>;
  /** Objects are sent as JSON, strings as-is, undefined as an empty body. */
  body?: unknown;
  /** Who made the call, when the service authenticated it (recorded in the request log). */
  principal?: PrincipalInfo;
}

export interface PrincipalInfo {
  kind: 'servicePrincipal' | 'managedIdentity' | 'jobToken';
  id: string;
  appId?: string;
  tenantId?: string;
}

export interface RequestLogEntry {
  time: number;
  service: Service;
  method: string;
  /** Path only; queries can carry secrets (SAS signatures, assertions) so they are not logged. */
  path: string;
  status: number;
  principal?: PrincipalInfo;
  /** Set when a fault handled the request instead of the service. */
  fault?: string;
}

/** The emulator's notion of time. Tests can move it forward to expire tokens without waiting. */
export class Clock {
  private offsetMs = 0;
  now(): number {
    return Date.now() + this.offsetMs;
  }
  nowSeconds(): number {
    return Math.floor(this.now() / 1000);
  }
  advance(ms: number): void {
    this.offsetMs += ms;
  }
  reset(): void {
    this.offsetMs = 0;
  }
}

/** Things every service may need from the emulator host. */
export interface EmulatorContext {
  /** Origin without trailing slash, e.g. https://127.0.0.1:40123 */
  readonly url: string;
  readonly clock: Clock;
  addSecret(value: string): void;
  /** Remembers an issued token so expireTokens() can invalidate it. */
  trackToken(token: string): void;
  /** True once expireTokens() ran after the token was issued. */
  isForceExpired(token: string): boolean;
}

export function header(req: EmuRequest, name: string): string | undefined {
  const v = req.headers[name.toLowerCase()];
  return Array.isArray(v) ? v[0] : v;
}

export function jsonBody(req: EmuRequest): unknown {
  if (req.body.length === 0) return undefined;
  try {
    return JSON.parse(req.body.toString('utf8'));
  } catch {
    return undefined;
  }
}

export function formBody(req: EmuRequest): URLSearchParams {
  return new URLSearchParams(req.body.toString('utf8'));
}

export function bearerToken(req: EmuRequest): string | undefined {
  const auth = header(req, 'authorization');
  if (!auth) return undefined;
  const m = /^Bearer\s+(.+)$/i.exec(auth.trim());
  return m ? m[1].trim() : undefined;
}
