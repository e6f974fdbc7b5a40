// Blob storage for the emulated workspaces: the real Azurite blob service (npm `azurite`),
// spawned over HTTPS with the emulator's certificate, behind a small HTTPS proxy that records
// every request (method, path, status, bytes received) and applies storage faults.
//
// Azurite starts lazily, on the first use (startPendingUpload, a helper call, or start()):
// about 0.6 s. Its accounts are the storage accounts of the workspaces that exist then, each with
// a fresh key; a storage account created after start-up is served by Azurite's default account.
// URLs are path-style on the proxy origin: https://127.0.0.1:<port>/<account>/<container>/<blob>.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { type Server, createServer, request as httpsRequest } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createDefaultHttpClient, type HttpClient, type PipelineRequest } from '@azure/core-rest-pipeline';
import {
  AnonymousCredential,
  BlobServiceClient,
  ContainerSASPermissions,
  type Pipeline,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
  newPipeline,
} from '@azure/storage-blob';
import { Faults, type FaultHandle, type FaultSpec } from './faults';
import { PUBLIC_BLOB_SUFFIX, type TlsMaterial } from './tls';
import type { TunnelRoute } from './tunnel';

/** Azurite's built-in account (documented, public key). */
export const AZURITE_DEFAULT_ACCOUNT = 'devstoreaccount1';
const AZURITE_DEFAULT_KEY = 'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFTBudGGO6eWMxRbdUqBw==';

export interface StorageRequestEntry {
  time: number;
  method: string;
  /** Path only (no SAS query). */
  path: string;
  account: string;
  container?: string;
  blob?: string;
  status: number;
  /** Request body bytes received from the client. */
  bytesIn: number;
  fault?: string;
}

export interface BlobInfo {
  /** Blob name inside its container. */
  name: string;
  size: number;
  contentMd5?: string;
  metadata: Record<string, string>;
}

export interface BlobLocation {
  account: string;
  container: string;
  /** Blob name or prefix inside the container ('' for the container root). */
  path: string;
}

export interface StorageOptions {
  /** Storage account names (with a key each) Azurite serves, asked when it starts. */
  accounts: () => string[];
  addSecret: (value: string) => void;
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms).unref());
}

/** A core HttpClient that trusts the emulator CA. */
export function httpClientTrusting(caPem: string): HttpClient {
  const base = createDefaultHttpClient();
  const tlsSettings = { ca: caPem };
  return {
    sendRequest: (req: PipelineRequest) => {
      req.tlsSettings = tlsSettings;
      return base.sendRequest(req);
    },
  };
}

/**
 * A @azure/storage-blob pipeline that trusts the emulator CA, for clients in a process that
 * started without NODE_EXTRA_CA_CERTS (in-process tests):
 * `new ContainerClient(sasUrl, storagePipeline(emu.caCertPem))`. storage-blob has no TLS option,
 * so this sets the pipeline's core HTTP client (an internal field of storage-blob 12.x).
 */
export function storagePipeline(caPem: string, credential?: StorageSharedKeyCredential, maxTries = 3): Pipeline {
  const pipeline = newPipeline(credential ?? new AnonymousCredential(), {
    retryOptions: { maxTries, retryDelayInMs: 50, maxRetryDelayInMs: 500 },
  });
  (pipeline as unknown as { _coreHttpClient?: HttpClient })._coreHttpClient = httpClientTrusting(caPem);
  return pipeline;
}

const STORAGE_ERROR_CODES: Record<number, string> = { 500: 'InternalError', 503: 'ServerBusy', 429: 'ServerBusy' };

export class EmulatedStorage {
  /** Every request the proxy received, in order. */
  readonly requests: StorageRequestEntry[] = [];
  /** Faults for blob requests (FaultSpec.service is ignored here; match on method and path). */
  readonly faults = new Faults();
  /** Milliseconds Azurite took to start (after the first start). */
  startupMs: number | undefined;
  /** SAS lifetime handed out by startPendingUpload (default 30 minutes). */
  sasLifetimeMinutes = 30;

  private readonly keys = new Map<string, string>();
  private starting: Promise<void> | undefined;
  private child: ChildProcess | undefined;
  private proxy: Server | undefined;
  private azuritePort = 0;
  private origin = '';
  private tmpDir: string | undefined;
  private closed = false;

  constructor(
    private readonly tls: TlsMaterial,
    private readonly opts: StorageOptions,
  ) {}

  /** Blob endpoint origin (no trailing slash); throws before start(). */
  get url(): string {
    if (!this.origin) throw new Error('storage is not started; await emu.storage.start() first');
    return this.origin;
  }

  get started(): boolean {
    return this.origin !== '';
  }

  /** Starts Azurite and the proxy once; later calls wait for the same start. */
  start(): Promise<void> {
    if (this.closed) return Promise.reject(new Error('storage is closed'));
    this.starting ??= this.doStart().catch((e: unknown) => {
      this.starting = undefined;
      throw e;
    });
    return this.starting;
  }

  async close(): Promise<void> {
    this.closed = true;
    const child = this.child;
    this.child = undefined;
    if (child && child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      child.ref();
      child.kill('SIGKILL');
      let timer: NodeJS.Timeout | undefined;
      await Promise.race([exited, new Promise<void>((resolve) => (timer = setTimeout(resolve, 2000)))]);
      clearTimeout(timer);
    }
    const proxy = this.proxy;
    this.proxy = undefined;
    if (proxy) {
      const done = new Promise<void>((resolve) => proxy.close(() => resolve()));
      proxy.closeAllConnections();
      await done;
    }
    if (this.tmpDir) rmSync(this.tmpDir, { recursive: true, force: true });
  }

  /** The Azurite account that serves an ARM storage account name. */
  azuriteAccount(storageAccountName: string): string {
    const n = storageAccountName.toLowerCase();
    return this.keys.has(n) ? n : AZURITE_DEFAULT_ACCOUNT;
  }

  /** https://<proxy>/<account>/<container>[/<path>] */
  blobUrl(loc: BlobLocation): string {
    const tail = loc.path ? `/${loc.path.split('/').map(encodeURIComponent).join('/')}` : '';
    return `${this.url}/${loc.account}/${encodeURIComponent(loc.container)}${tail}`;
  }

  /**
   * Account, container and path of a URL on this storage (undefined for other hosts): the
   * path-style proxy URL, or the public name of a served account,
   * https://<account>.blob.core.windows.net/<container>/<path> (what clients such as the Azure ML
   * SDK build and send back, e.g. as a code version's codeUri).
   */
  parseUrl(url: string): BlobLocation | undefined {
    if (!this.origin) return undefined;
    let u: URL;
    try {
      u = new URL(url);
    } catch {
      return undefined;
    }
    const segs = u.pathname
      .split('/')
      .filter((s) => s.length > 0)
      .map((s) => decodeURIComponent(s));
    const publicAccount = u.protocol === 'https:' && (u.port === '' || u.port === '443') ? this.publicAccountOf(u.hostname) : undefined;
    if (publicAccount && this.keys.has(publicAccount)) {
      if (segs.length < 1) return undefined;
      return { account: publicAccount, container: segs[0], path: segs.slice(1).join('/') };
    }
    if (u.origin !== this.origin) return undefined;
    if (segs.length < 2) return undefined;
    return { account: segs[0], container: segs[1], path: segs.slice(2).join('/') };
  }

  /** A container-scoped SAS query string (recorded as a secret). */
  containerSas(account: string, container: string, permissions = 'racwl', lifetimeMinutes = this.sasLifetimeMinutes): string {
    const key = this.keyOf(account);
    const now = Date.now();
    const sas = generateBlobSASQueryParameters(
      {
        containerName: container,
        permissions: ContainerSASPermissions.parse(permissions),
        startsOn: new Date(now - 5 * 60 * 1000),
        expiresOn: new Date(now + lifetimeMinutes * 60 * 1000),
        protocol: SASProtocol.Https,
      },
      new StorageSharedKeyCredential(account, key),
    ).toString();
    this.opts.addSecret(sas);
    const sig = new URLSearchParams(sas).get('sig');
    if (sig) {
      this.opts.addSecret(sig);
      this.opts.addSecret(encodeURIComponent(sig));
    }
    return sas;
  }

  async ensureContainer(account: string, container: string): Promise<void> {
    await this.start();
    await this.service(account).getContainerClient(container).createIfNotExists();
  }

  /** Blobs whose names start with the URL's path (a folder URL lists the folder; a container URL lists it all). */
  async listBlobs(url: string): Promise<BlobInfo[]> {
    await this.start();
    const loc = this.requireLocation(url);
    const cc = this.service(loc.account).getContainerClient(loc.container);
    if (!(await cc.exists())) return [];
    const out: BlobInfo[] = [];
    const prefix = loc.path === '' ? undefined : loc.path;
    for await (const b of cc.listBlobsFlat({ prefix, includeMetadata: true })) {
      const md5 = b.properties.contentMD5;
      out.push({
        name: b.name,
        size: b.properties.contentLength ?? 0,
        metadata: b.metadata ?? {},
        ...(md5 ? { contentMd5: Buffer.from(md5).toString('base64') } : {}),
      });
    }
    return out;
  }

  /** True when a blob has this exact name or the path is a non-empty folder (or container). */
  async exists(url: string): Promise<boolean> {
    await this.start();
    const loc = this.parseUrl(url);
    if (!loc) return false;
    const cc = this.service(loc.account).getContainerClient(loc.container);
    if (!(await cc.exists())) return false;
    if (loc.path === '') {
      for await (const _ of cc.listBlobsFlat()) return true;
      return false;
    }
    if (await cc.getBlobClient(loc.path).exists()) return true;
    const folder = loc.path.endsWith('/') ? loc.path : `${loc.path}/`;
    for await (const _ of cc.listBlobsFlat({ prefix: folder })) return true;
    return false;
  }

  /** Writes a blob (e.g. a job output) directly, without going through the proxy log. */
  async putBlob(url: string, content: string | Buffer): Promise<void> {
    await this.start();
    const loc = this.requireLocation(url);
    const cc = this.service(loc.account).getContainerClient(loc.container);
    await cc.createIfNotExists();
    const data = typeof content === 'string' ? Buffer.from(content, 'utf8') : content;
    await cc.getBlockBlobClient(loc.path).upload(data, data.length);
  }

  async getBlob(url: string): Promise<Buffer> {
    await this.start();
    const loc = this.requireLocation(url);
    return this.service(loc.account).getContainerClient(loc.container).getBlobClient(loc.path).downloadToBuffer();
  }

  /** Position in the request log, to count what happens after it. */
  mark(): number {
    return this.requests.length;
  }

  /** Bytes clients sent in blob writes (Put Blob, Put Block) since a mark. */
  bytesUploaded(since = 0): number {
    return this.writes(since).reduce((s, r) => s + r.bytesIn, 0);
  }

  /** Write requests (PUT with a body) since a mark. */
  writes(since = 0): StorageRequestEntry[] {
    return this.requests.slice(since).filter((r) => r.method === 'PUT' && r.blob !== undefined && r.bytesIn > 0);
  }

  addFault(spec: FaultSpec): FaultHandle {
    return this.faults.add(spec);
  }

  /**
   * The route for tunnelHosts that serves the accounts by their public names,
   * https://<account>.blob.core.windows.net/<container>/<blob>, as clients outside the emulator
   * (a datastore upload, the Azure ML SDK) build them. Start the storage before a client connects.
   */
  publicRoute(): TunnelRoute {
    return { host: new RegExp(`^[a-z0-9]{3,24}\\.${PUBLIC_BLOB_SUFFIX.replace(/\./g, '\\.')}:443$`, 'i'), to: () => this.url };
  }

  /** The account key Azure would hand out for a served account (listKeys, a datastore's listSecrets). */
  accountKey(account: string): string {
    const key = this.keyOf(account);
    this.opts.addSecret(key);
    return key;
  }

  // ---- internals ---------------------------------------------------------------------

  private publicAccountOf(host: string | undefined): string | undefined {
    const h = (host ?? '').toLowerCase().replace(/:\d+$/, '');
    if (!h.endsWith(`.${PUBLIC_BLOB_SUFFIX}`)) return undefined;
    const account = h.slice(0, -(PUBLIC_BLOB_SUFFIX.length + 1));
    return /^[a-z0-9]{3,24}$/.test(account) ? account : undefined;
  }

  private keyOf(account: string): string {
    return this.keys.get(account.toLowerCase()) ?? AZURITE_DEFAULT_KEY;
  }

  private requireLocation(url: string): BlobLocation {
    const loc = this.parseUrl(url);
    if (!loc) throw new Error(`not a URL of the emulated storage (${this.origin}/<account>/<container>/...): ${url.split('?')[0]}`);
    return loc;
  }

  private service(account: string): BlobServiceClient {
    // Straight to Azurite (not through the proxy), so helper calls stay out of the request log.
    return new BlobServiceClient(
      `https://127.0.0.1:${this.azuritePort}/${account}`,
      storagePipeline(this.tls.caCertPem, new StorageSharedKeyCredential(account, this.keyOf(account)), 2),
    );
  }

  private async doStart(): Promise<void> {
    const t0 = Date.now();
    for (const name of this.opts.accounts()) {
      const n = name.toLowerCase();
      if (n === AZURITE_DEFAULT_ACCOUNT || this.keys.has(n) || !/^[a-z0-9]{3,24}$/.test(n)) continue;
      const key = randomBytes(64).toString('base64');
      this.opts.addSecret(key);
      this.keys.set(n, key);
    }
    this.tmpDir = mkdtempSync(join(tmpdir(), 'aml-emu-azurite-'));
    const certFile = join(this.tmpDir, 'cert.pem');
    const keyFile = join(this.tmpDir, 'key.pem');
    writeFileSync(certFile, this.tls.serverCertPem, { mode: 0o600 });
    writeFileSync(keyFile, this.tls.serverKeyPem, { mode: 0o600 });
    const main = require.resolve('azurite/dist/src/blob/main.js');
    // The wrapper exits when the parent goes away (IPC disconnect), so a crashed test leaves no Azurite behind.
    const wrapper = `process.on('disconnect', () => process.exit(0)); process.argv.splice(1, 0, 'azurite-blob'); require(${JSON.stringify(main)});`;
    const accounts = [...this.keys.entries()].map(([n, k]) => `${n}:${k}`);
    accounts.push(`${AZURITE_DEFAULT_ACCOUNT}:${AZURITE_DEFAULT_KEY}`);
    const env: NodeJS.ProcessEnv = { ...process.env, AZURITE_ACCOUNTS: accounts.join(';') };
    delete env.NODE_OPTIONS;
    delete env.NODE_EXTRA_CA_CERTS;
    const args = [
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      '0',
      '--cert',
      certFile,
      '--key',
      keyFile,
      '--inMemoryPersistence',
      '--silent',
      '--skipApiVersionCheck',
      '--loose',
      '--disableTelemetry',
    ];
    const child = spawn(process.execPath, ['-e', wrapper, '--', ...args], {
      cwd: this.tmpDir,
      env,
      stdio: ['ignore', 'pipe', 'pipe', 'ipc'],
    });
    this.child = child;
    this.azuritePort = await new Promise<number>((resolve, reject) => {
      let out = '';
      let err = '';
      const timer = setTimeout(() => fail(new Error(`Azurite did not start within 20 s: ${err || out}`)), 20000);
      const fail = (e: Error): void => {
        clearTimeout(timer);
        child.kill('SIGKILL');
        reject(e);
      };
      child.stdout?.on('data', (c: Buffer) => {
        out += c.toString();
        const m = /successfully listens on https:\/\/127\.0\.0\.1:(\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      });
      child.stderr?.on('data', (c: Buffer) => (err += c.toString()));
      child.once('error', (e) => fail(e));
      child.once('exit', (code) => fail(new Error(`Azurite exited (${code}) before listening: ${err || out}`)));
    });
    child.removeAllListeners('exit');
    child.on('exit', () => {
      if (this.child === child) this.child = undefined;
    });
    // Keep draining its output; never let it hold the test process open.
    child.unref();
    (child.stdout as Socket | null)?.unref();
    (child.stderr as Socket | null)?.unref();
    child.channel?.unref();

    const proxy = createServer({ key: this.tls.serverKeyPem, cert: this.tls.serverCertPem }, (req, res) => {
      void this.forward(req, res);
    });
    proxy.keepAliveTimeout = 5000;
    await new Promise<void>((resolve, reject) => {
      proxy.once('error', reject);
      proxy.listen(0, '127.0.0.1', () => resolve());
    });
    proxy.unref();
    this.proxy = proxy;
    this.origin = `https://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
    this.startupMs = Date.now() - t0;
    if (this.closed) await this.close();
  }

  private async forward(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const method = (req.method ?? 'GET').toUpperCase();
    const url = new URL(req.url ?? '/', 'https://storage.invalid');
    const segs = url.pathname
      .split('/')
      .filter((s) => s.length > 0)
      .map((s) => {
        try {
          return decodeURIComponent(s);
        } catch {
          return s;
        }
      });
    // <account>.blob.core.windows.net (tunnelled here in tests) is the production-style URL: Azurite
    // takes the account from the host, and the path starts at the container.
    const publicHost = this.publicAccountOf(req.headers.host);
    if (publicHost) segs.unshift(publicHost);
    const entry: StorageRequestEntry = {
      time: Date.now(),
      method,
      path: publicHost ? `/${publicHost}${url.pathname}` : url.pathname,
      account: segs[0] ?? '',
      status: 0,
      bytesIn: 0,
    };
    if (segs[1]) entry.container = segs[1];
    if (segs.length > 2) entry.blob = segs.slice(2).join('/');
    this.requests.push(entry);

    const fault = this.faults.take('control', method, entry.path + url.search);
    if (fault) {
      entry.fault = fault.kind;
      switch (fault.kind) {
        case 'reset':
          req.socket.destroy();
          return;
        case 'stall':
          return;
        case 'malformed':
          req.resume();
          entry.status = 200;
          res.writeHead(200, { 'content-type': 'application/xml' }).end('<?xml version="1.0" encoding="utf-8"?><EnumerationResults');
          return;
        case 'status': {
          req.resume();
          const status = fault.status ?? 503;
          const code = STORAGE_ERROR_CODES[status] ?? 'InternalError';
          const headers: Record<string, string> = {
            'content-type': 'application/xml',
            'x-ms-error-code': code,
            'x-ms-request-id': randomBytes(16).toString('hex'),
          };
          if (status === 429 || status === 503) headers['retry-after'] = String(fault.retryAfterSeconds ?? 1);
          entry.status = status;
          res
            .writeHead(status, headers)
            .end(
              typeof fault.body === 'string'
                ? fault.body
                : `<?xml version="1.0" encoding="utf-8"?><Error><Code>${code}</Code><Message>The server is currently unable to receive requests. Please retry your request.</Message></Error>`,
            );
          return;
        }
        case 'delay':
          await sleep(fault.delayMs ?? 1000);
          break;
      }
    }

    const headers = {
      ...req.headers,
      host: publicHost ? `${publicHost}.${PUBLIC_BLOB_SUFFIX}:${this.azuritePort}` : `127.0.0.1:${this.azuritePort}`,
    };
    const upstream = httpsRequest(
      { host: '127.0.0.1', port: this.azuritePort, method, path: req.url, headers, ca: this.tls.caCertPem, agent: false },
      (up) => {
        entry.status = up.statusCode ?? 0;
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on('error', () => {
      entry.status = 502;
      if (!res.headersSent) res.writeHead(502).end();
      else res.destroy();
    });
    req.on('data', (c: Buffer) => (entry.bytesIn += c.length));
    req.pipe(upstream);
  }
}
