// The one HTTPS origin: reads requests, routes them by path to a service, applies faults,
// writes responses and records the request log.
import { randomUUID } from 'node:crypto';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { faultBody, type Faults } from './faults';
import type { TlsMaterial } from './tls';
import type { EmuRequest, EmuResponse, RequestLogEntry, Service } from './types';

export type ServiceHandler = (req: EmuRequest) => Promise<EmuResponse>;
export type ServiceHandlers = Record<Service, ServiceHandler>;

const ENTRA_SECOND_SEGMENTS = new Set(['oauth2', 'v2.0', 'discovery', '.well-known']);
const ARM_FIRST_SEGMENTS = new Set(['subscriptions', 'providers', 'tenants']);
const AML_FIRST_SEGMENTS = new Set(['discovery', 'history', 'mlflow']);
const MAX_BODY_BYTES = 256 * 1024 * 1024;

/** Routes by path: Entra by the tenant's second segment, ARM and IMDS by fixed roots, the rest is an Azure DevOps organisation. */
export function classify(segments: string[], host = ''): Service {
  // github.com's API host, reached through a test proxy that tunnels it here.
  if (/^api\.github\.com(?::443)?$/i.test(host)) return 'github';
  const first = (segments[0] ?? '').toLowerCase();
  if (first === 'metadata') return 'imds';
  if (first === '_emulator') return 'control';
  if (ARM_FIRST_SEGMENTS.has(first)) return 'arm';
  // Azure ML's data plane (discovery, run history, MLflow) shares the origin.
  if (AML_FIRST_SEGMENTS.has(first) && segments.length >= 1) return 'aml';
  // GitHub Enterprise Server's REST API (<server>/api/v3/...).
  if (first === 'api' && (segments[1] ?? '').toLowerCase() === 'v3') return 'github';
  if (segments.length >= 2 && ENTRA_SECOND_SEGMENTS.has(segments[1].toLowerCase())) return 'entra';
  return 'ado';
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        reject(new Error('request body too large'));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

function safeSegments(pathname: string): string[] {
  return pathname
    .split('/')
    .filter((s) => s.length > 0)
    .map((s) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    });
}

export class EmulatorServer {
  private server: Server | undefined;
  private closing = false;
  private origin = '';

  constructor(
    private readonly tls: TlsMaterial,
    private readonly handlers: ServiceHandlers,
    private readonly faults: Faults,
    private readonly log: RequestLogEntry[],
  ) {}

  async start(host: string, port: number): Promise<string> {
    const server = createServer({ key: this.tls.serverKeyPem, cert: this.tls.serverCertPem }, (req, res) => {
      void this.onRequest(req, res);
    });
    // Idle keep-alive sockets from SDK agents must not hold the process open.
    server.keepAliveTimeout = 5000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(port, host, () => resolve());
    });
    const addr = server.address() as AddressInfo;
    const printableHost = host.includes(':') ? `[${host}]` : host;
    this.origin = `https://${printableHost}:${addr.port}`;
    return this.origin;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.closing = true;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    // Stalled requests and keep-alive sockets would otherwise keep close() pending forever.
    server.closeAllConnections();
    await closed;
    this.server = undefined;
  }

  private async onRequest(raw: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (raw.method ?? 'GET').toUpperCase();
    const url = new URL(raw.url ?? '/', this.origin);
    const segments = safeSegments(url.pathname);
    const service = classify(segments, raw.headers.host);
    const requestId = randomUUID();
    const entry: RequestLogEntry = { time: Date.now(), service, method, path: url.pathname, status: 0 };
    this.log.push(entry);

    let body: Buffer;
    try {
      body = await readBody(raw);
    } catch {
      entry.status = 413;
      if (!res.headersSent) res.writeHead(413).end();
      return;
    }

    const fault = service === 'control' ? undefined : this.faults.take(service, method, url.pathname + url.search);
    if (fault) {
      entry.fault = fault.kind;
      switch (fault.kind) {
        case 'reset':
          raw.socket.destroy();
          return;
        case 'stall':
          // Never answer; close() destroys the socket.
          return;
        case 'malformed':
          entry.status = 200;
          res.writeHead(200, { 'content-type': 'application/json; charset=utf-8', 'x-ms-request-id': requestId });
          res.end('{"value": [{"id": "/subscriptions/');
          return;
        case 'status': {
          const status = fault.status ?? 503;
          // ARM answers every request, errors included, with its correlation id.
          const headers: Record<string, string> = {
            'content-type': 'application/json; charset=utf-8',
            'x-ms-request-id': requestId,
            ...(service === 'arm' ? { 'x-ms-correlation-request-id': requestId } : {}),
          };
          if (status === 429 || status === 503) headers['retry-after'] = String(fault.retryAfterSeconds ?? 1);
          entry.status = status;
          res.writeHead(status, headers);
          res.end(JSON.stringify(fault.body ?? faultBody(service, status)));
          return;
        }
        case 'delay':
          await sleep(fault.delayMs ?? 1000);
          if (this.closing) return;
          break;
      }
    }

    let response: EmuResponse;
    try {
      response = await this.handlers[service]({ method, url, segments, headers: raw.headers, body, requestId });
    } catch (err) {
      const message = err instanceof Error ? err.message : String(err);
      response = { status: 500, body: { error: { code: 'InternalServerError', message: `Emulator error: ${message}` } } };
    }
    if (fault?.kind === 'rewrite' && fault.rewrite) response = fault.rewrite(response);
    entry.status = response.status;
    if (response.principal) entry.principal = response.principal;
    if (this.closing || res.destroyed) return;
    this.write(res, response, requestId);
  }

  private write(res: ServerResponse, response: EmuResponse, requestId: string): void {
    const headers: Record<string, string> = { 'x-ms-request-id': requestId, ...lowerKeys(response.headers ?? {}) };
    let payload: Buffer | undefined;
    if (response.body === undefined) {
      payload = undefined;
    } else if (Buffer.isBuffer(response.body)) {
      payload = response.body;
    } else if (typeof response.body === 'string') {
      payload = Buffer.from(response.body, 'utf8');
      headers['content-type'] ??= 'text/plain; charset=utf-8';
    } else {
      payload = Buffer.from(JSON.stringify(response.body), 'utf8');
      headers['content-type'] ??= 'application/json; charset=utf-8';
    }
    headers['content-length'] = String(payload?.length ?? 0);
    res.writeHead(response.status, headers);
    res.end(payload);
  }
}

function lowerKeys(h: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(h)) out[k.toLowerCase()] = v;
  return out;
}
