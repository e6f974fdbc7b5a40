// Azure ML online endpoints and deployments (Kubernetes and managed), as ARM routes under
// .../workspaces/{ws}/onlineEndpoints, plus a scoring server (its own HTTPS port, like the
// inference router of an attached cluster) at https://127.0.0.1:<port>/api/v1/endpoint/{name}/score.
//
//   emu.online.script({ endpointMs: 30, deploymentMs: 60, retryAfterSeconds: 0 });   // LRO timing
//   emu.online.scriptDeployment('taxi-v7', { createMs: 500, fail: { code: 'ResourceNotReady', message: '...' } });
//   emu.online.scoring('taxi-v7', (r) => ({ status: 500, body: { error: 'boom' } }));
//   emu.online.failNext('endpointUpdate', { code: 'InternalServerError', message: '...' });
//   emu.online.addEndpoint(wsId, 'taxi', { compute: 'aks-prod', deployments: [{ name: 'blue', model: modelId, traffic: 100 }] });
//   emu.online.traffic('taxi'); emu.online.trafficHistory('taxi'); emu.online.scoringLog;
//
// Shapes follow the 2024-04-01 examples (OnlineEndpoint, KubernetesOnlineDeployment, getLogs,
// listKeys, delete). Writes are long-running operations with Azure-AsyncOperation and Location
// headers (or Location only, scriptable) that take a controllable time and can fail. What the
// service refuses, this refuses: a compute that is missing or not Kubernetes, a traffic map that
// does not sum to 0 or 100 or names a deployment that does not exist (or is not provisioned), a
// deployment whose model, environment or code version does not exist, a custom model without an
// environment, an instance type the cluster does not define, deleting a deployment that still has
// traffic, and any write while an operation on the same resource runs (409).
import { randomBytes, randomUUID } from 'node:crypto';
import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { armPage, type ArmRequest, type ArmService, type StoredResource } from './arm';
import { ML_NS, requireWorkspace } from './aml';
import { AmlError, amlErrors, systemData } from './assets';
import type { EntraService } from './entra';
import { type JsonObject, isJsonObject } from './jwt';
import type { Operation } from './lro';
import type { TlsMaterial } from './tls';
import type { Clock } from './types';

export interface OnlineScript {
  /** Time an endpoint create, update or delete takes (default 40 ms). */
  endpointMs?: number;
  /** Time a deployment create or update takes (default 80 ms). */
  deploymentMs?: number;
  /** Time a deployment delete takes (default 40 ms). */
  deleteMs?: number;
  /** Retry-After on the operations (default 0). */
  retryAfterSeconds?: number;
  /** Headers of the 201/202 answers: both (default) or Location only. */
  lroHeaders?: 'both' | 'location';
  /** Lifetime of tokens from the token API (default 3600 s). */
  tokenLifetimeSeconds?: number;
}

export interface ScoringRequest {
  endpoint: string;
  deployment: string;
  /** Parsed JSON body, or undefined when not JSON. */
  body: unknown;
  text: string;
  headers: IncomingHttpHeaders;
  /** 1 for the first request this deployment answers, then 2, ... */
  n: number;
}

export interface ScoringAnswer {
  status?: number;
  body?: unknown;
  delayMs?: number;
}

export type ScoringHandler = (r: ScoringRequest) => ScoringAnswer | Promise<ScoringAnswer>;

export interface DeploymentScript {
  /** Time its create or update takes (default: script.deploymentMs). */
  createMs?: number;
  /** The create operation fails with this error; the deployment stays, provisioningState Failed. */
  fail?: { code?: string; message?: string };
  /** What getLogs returns per container (default: a few plausible lines). */
  logs?: Partial<Record<ContainerType, string>>;
  /** What the scoring route answers for it (default 200 with the deployment and model). */
  scoring?: ScoringHandler;
}

export type ContainerType = 'InferenceServer' | 'StorageInitializer';
export type OperationKind = 'endpointCreate' | 'endpointUpdate' | 'endpointDelete' | 'deploymentCreate' | 'deploymentDelete';

export interface TrafficChange {
  time: number;
  endpoint: string;
  traffic: Record<string, number>;
}

export interface ScoringLogEntry {
  time: number;
  endpoint: string;
  deployment?: string;
  routedBy?: 'header' | 'traffic';
  status: number;
}

export interface AddEndpointOptions {
  /** Kubernetes compute name (default aks-prod); null makes a managed endpoint. */
  compute?: string | null;
  authMode?: 'Key' | 'AMLToken' | 'AADToken';
  publicNetworkAccess?: 'Enabled' | 'Disabled';
  deployments?: Array<{ name: string; model: string; environmentId?: string; traffic?: number; provisioningState?: string }>;
}

export interface OnlineDeps {
  arm: ArmService;
  entra: EntraService;
  clock: Clock;
  tls: TlsMaterial;
  addSecret(value: string): void;
  /** A registry model a deployment names: the version, or the registry's refusal (registry.ts). */
  registryModel?(ref: string, workspace: StoredResource, callerObjectId: string, field: string): StoredResource;
}

const EP_TYPE = `${ML_NS}/workspaces/onlineEndpoints`;
const DEP_TYPE = `${ML_NS}/workspaces/onlineEndpoints/deployments`;
const ONLINE_NAME = /^[a-zA-Z][a-zA-Z0-9-]{1,30}[a-zA-Z0-9]$/;
const AUTH_MODES = ['AMLToken', 'Key', 'AADToken'];
const ASSET_ID =
  /^(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/]+)\/(models|environments|codes)\/([^/]+)\/versions\/([^/]+)$/i;
const REGISTRY_ID = /^azureml:\/\/registries\/[^/]+\/(models|environments)\/[^/]+\/(versions\/[^/]+|labels\/latest)$/i;

const norm = (id: string): string => id.toLowerCase();

function conflict(what: string, state: string): AmlError {
  return new AmlError(409, 'UserError', `${what} is ${state}: another operation is in progress on it. Retry when it has finished.`, [
    'Conflict',
    'OperationInProgress',
  ]);
}

export class OnlineEndpoints {
  /** Every applied traffic split, in order (on create and at the end of each successful update). */
  readonly history: TrafficChange[] = [];
  readonly scoringLog: ScoringLogEntry[] = [];
  private defaults: Required<OnlineScript> = {
    endpointMs: 40,
    deploymentMs: 80,
    deleteMs: 40,
    retryAfterSeconds: 0,
    lroHeaders: 'both',
    tokenLifetimeSeconds: 3600,
  };
  private readonly deploymentScripts = new Map<string, DeploymentScript>();
  private readonly scoringHandlers = new Map<string, ScoringHandler>();
  private readonly failures = new Map<OperationKind, Array<{ code: string; message: string }>>();
  private readonly busy = new Map<string, Operation>();
  private readonly keys = new Map<string, { primaryKey: string; secondaryKey: string }>();
  private readonly tokens = new Map<string, { endpointId: string; exp: number }>();
  private readonly served = new Map<string, number>();
  private readonly wrr = new Map<string, Map<string, number>>();
  private server: Server | undefined;
  private origin = '';

  constructor(private readonly deps: OnlineDeps) {}

  // ---- scripting and state API --------------------------------------------------------------

  /** Timing and headers of later operations (merged into the current defaults). */
  script(s: OnlineScript): void {
    this.defaults = { ...this.defaults, ...s };
  }

  /** Behaviour of a deployment by name (set before it is created). */
  scriptDeployment(name: string, s: DeploymentScript): void {
    this.deploymentScripts.set(name.toLowerCase(), s);
    if (s.scoring) this.scoring(name, s.scoring);
  }

  /** What scoring answers for a deployment (any endpoint). */
  scoring(deployment: string, handler: ScoringHandler): void {
    this.scoringHandlers.set(deployment.toLowerCase(), handler);
  }

  /** The next operation of this kind fails (in Azure, after it started) with this error. */
  failNext(kind: OperationKind, error: { code?: string; message?: string } = {}): void {
    const q = this.failures.get(kind) ?? [];
    q.push({ code: error.code ?? 'InternalServerError', message: error.message ?? 'The operation failed because of an internal error.' });
    this.failures.set(kind, q);
  }

  /** Origin of the scoring server (scoring URIs point here). */
  get url(): string {
    return this.origin;
  }

  /** The endpoint as stored (GET view), by name in any workspace. */
  endpoint(name: string): JsonObject | undefined {
    return this.findEndpoint(name)?.body;
  }

  /** Its current traffic split. */
  traffic(name: string): Record<string, number> {
    const e = this.findEndpoint(name);
    return e ? { ...((e.body.properties as JsonObject).traffic as Record<string, number>) } : {};
  }

  /** Its deployments as stored. */
  deployments(endpoint: string): JsonObject[] {
    const e = this.findEndpoint(endpoint);
    return e ? this.deps.arm.resources.list(`${e.id}/deployments`).map((d) => d.body) : [];
  }

  trafficHistory(endpoint: string): Array<Record<string, number>> {
    return this.history.filter((h) => h.endpoint.toLowerCase() === endpoint.toLowerCase()).map((h) => h.traffic);
  }

  keysOf(endpoint: string): { primaryKey: string; secondaryKey: string } | undefined {
    const e = this.findEndpoint(endpoint);
    return e ? this.keys.get(norm(e.id)) : undefined;
  }

  /** An endpoint (and deployments) as if created earlier: provisioned, with keys, traffic applied. */
  addEndpoint(workspaceId: string, name: string, o: AddEndpointOptions = {}): JsonObject {
    const ws = this.deps.arm.resources.get(workspaceId);
    if (!ws) throw new Error(`unknown workspace ${workspaceId}`);
    const id = `${ws.id}/onlineEndpoints/${name}`;
    const compute = o.compute === null ? undefined : `${ws.id}/computes/${o.compute ?? 'aks-prod'}`;
    const body = this.endpointBody(
      ws,
      id,
      name,
      {
        authMode: o.authMode ?? 'Key',
        ...(compute ? { compute } : {}),
        ...(o.publicNetworkAccess ? { publicNetworkAccess: o.publicNetworkAccess } : {}),
        description: null,
        properties: {},
      },
      {},
      undefined,
    );
    (body.properties as JsonObject).provisioningState = 'Succeeded';
    this.deps.arm.resources.put(id, body);
    this.newKeys(id);
    const traffic: Record<string, number> = {};
    for (const d of o.deployments ?? []) {
      const depId = `${id}/deployments/${d.name}`;
      const props: JsonObject = {
        endpointComputeType: compute ? 'Kubernetes' : 'Managed',
        model: d.model,
        scaleSettings: { scaleType: 'Default' },
        provisioningState: d.provisioningState ?? 'Succeeded',
      };
      if (d.environmentId) props.environmentId = d.environmentId;
      this.deps.arm.resources.put(depId, {
        id: depId,
        name: d.name,
        type: DEP_TYPE,
        location: body.location,
        tags: {},
        properties: props,
        sku: { name: 'Default', tier: 'Standard', capacity: 1 },
        systemData: systemData(undefined, new Date().toISOString()),
      });
      if (d.traffic !== undefined) traffic[d.name] = d.traffic;
    }
    (body.properties as JsonObject).traffic = traffic;
    this.recordTraffic(name, traffic);
    return body;
  }

  // ---- lifecycle ------------------------------------------------------------------------

  async start(host = '127.0.0.1'): Promise<string> {
    const server = createServer({ key: this.deps.tls.serverKeyPem, cert: this.deps.tls.serverCertPem }, (req, res) => {
      void this.onScoring(req, res);
    });
    server.keepAliveTimeout = 5000;
    this.server = server;
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, host, () => resolve());
    });
    this.origin = `https://${host}:${(server.address() as AddressInfo).port}`;
    return this.origin;
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    server.closeAllConnections();
    await closed;
    this.server = undefined;
  }

  // ---- ARM routes -------------------------------------------------------------------------

  install(): void {
    const { arm } = this.deps;
    const base = `/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/${ML_NS}/workspaces/{workspaceName}/onlineEndpoints`;
    const act = (a: string) => `${ML_NS}/workspaces/onlineEndpoints/${a}`;
    const ws = (req: ArmRequest): StoredResource =>
      requireWorkspace(arm, req.params.subscriptionId, req.params.resourceGroupName, req.params.workspaceName);
    const endpointOf = (req: ArmRequest): StoredResource => {
      const e = arm.resources.get(`${ws(req).id}/onlineEndpoints/${req.params.endpointName}`);
      if (!e)
        throw amlErrors.notFound(`Online endpoint '${req.params.endpointName}' was not found in workspace '${req.params.workspaceName}'.`);
      return e;
    };

    arm.route('GET', base, {
      action: act('read'),
      handler: (req) => ({
        status: 200,
        body: armPage(
          req,
          arm.resources.list(`${ws(req).id}/onlineEndpoints`).map((e) => e.body),
          arm.listPageSize,
        ),
      }),
    });
    arm.route('GET', `${base}/{endpointName}`, { action: act('read'), handler: (req) => ({ status: 200, body: endpointOf(req).body }) });
    arm.route('PUT', `${base}/{endpointName}`, { action: act('write'), handler: (req) => this.putEndpoint(req, ws(req)) });
    arm.route('PATCH', `${base}/{endpointName}`, { action: act('write'), handler: (req) => this.patchEndpoint(req, endpointOf(req)) });
    arm.route('DELETE', `${base}/{endpointName}`, { action: act('delete'), handler: (req) => this.deleteEndpoint(req, ws(req)) });
    arm.route('POST', `${base}/{endpointName}/listKeys`, {
      action: act('listKeys/action'),
      handler: (req) => {
        const e = endpointOf(req);
        const mode = String((e.body.properties as JsonObject).authMode);
        if (mode !== 'Key')
          throw amlErrors.userError(`Keys are only available for endpoints with authMode Key; endpoint '${e.body.name}' uses ${mode}.`, [
            'BadArgument',
          ]);
        return { status: 200, body: { ...this.keys.get(norm(e.id)) } };
      },
    });
    arm.route('POST', `${base}/{endpointName}/token`, {
      action: act('token/action'),
      handler: (req) => {
        const e = endpointOf(req);
        const mode = String((e.body.properties as JsonObject).authMode);
        if (mode !== 'AMLToken')
          throw amlErrors.userError(
            `Tokens are only available for endpoints with authMode AMLToken; endpoint '${e.body.name}' uses ${mode}.`,
            ['BadArgument'],
          );
        const token = `amltoken.${randomBytes(36).toString('base64url')}`;
        const now = this.deps.clock.nowSeconds();
        const exp = now + this.defaults.tokenLifetimeSeconds;
        this.tokens.set(token, { endpointId: norm(e.id), exp });
        this.deps.addSecret(token);
        return {
          status: 200,
          body: {
            accessToken: token,
            tokenType: 'Bearer',
            expiryTimeUtc: exp,
            refreshAfterTimeUtc: now + Math.floor(this.defaults.tokenLifetimeSeconds / 2),
          },
        };
      },
    });
    arm.route('GET', `${base}/{endpointName}/deployments`, {
      action: act('deployments/read'),
      handler: (req) => ({ status: 200, body: { value: arm.resources.list(`${endpointOf(req).id}/deployments`).map((d) => d.body) } }),
    });
    arm.route('GET', `${base}/{endpointName}/deployments/{deploymentName}`, {
      action: act('deployments/read'),
      handler: (req) => {
        const d = arm.resources.get(`${endpointOf(req).id}/deployments/${req.params.deploymentName}`);
        if (!d)
          throw amlErrors.notFound(
            `Deployment '${req.params.deploymentName}' was not found on online endpoint '${req.params.endpointName}'.`,
          );
        return { status: 200, body: d.body };
      },
    });
    arm.route('PUT', `${base}/{endpointName}/deployments/{deploymentName}`, {
      action: act('deployments/write'),
      handler: (req) => this.putDeployment(req, ws(req), endpointOf(req)),
    });
    arm.route('DELETE', `${base}/{endpointName}/deployments/{deploymentName}`, {
      action: act('deployments/delete'),
      handler: (req) => this.deleteDeployment(req, endpointOf(req)),
    });
    arm.route('POST', `${base}/{endpointName}/deployments/{deploymentName}/getLogs`, {
      action: act('deployments/getLogs/action'),
      handler: (req) => {
        const d = arm.resources.get(`${endpointOf(req).id}/deployments/${req.params.deploymentName}`);
        if (!d)
          throw amlErrors.notFound(
            `Deployment '${req.params.deploymentName}' was not found on online endpoint '${req.params.endpointName}'.`,
          );
        const b = isJsonObject(req.body) ? req.body : {};
        const type = String(b.containerType ?? 'InferenceServer');
        if (type !== 'InferenceServer' && type !== 'StorageInitializer')
          throw amlErrors.userError(`containerType '${type}' is invalid. Valid values: InferenceServer, StorageInitializer.`);
        const tail = typeof b.tail === 'number' && b.tail > 0 ? b.tail : undefined;
        const lines = this.logsOf(d, type).split('\n');
        return { status: 200, body: { content: (tail ? lines.slice(-tail) : lines).join('\n') } };
      },
    });
  }

  // ---- endpoints --------------------------------------------------------------------------

  private endpointBody(
    ws: StoredResource,
    id: string,
    name: string,
    props: JsonObject,
    body: JsonObject,
    req: ArmRequest | undefined,
  ): JsonObject {
    const location = String(body.location ?? ws.body.location ?? 'eastus');
    const out: JsonObject = {
      id,
      name,
      type: EP_TYPE,
      location,
      tags: isJsonObject(body.tags) ? body.tags : {},
      identity: {
        type: 'SystemAssigned',
        principalId: randomUUID(),
        tenantId: String((ws.body.identity as JsonObject | undefined)?.tenantId ?? randomUUID()),
      },
      properties: {
        description: props.description ?? null,
        properties: isJsonObject(props.properties) ? props.properties : {},
        scoringUri: `${this.origin}/api/v1/endpoint/${name}/score`,
        swaggerUri: `${this.origin}/api/v1/endpoint/${name}/swagger.json`,
        authMode: props.authMode ?? 'Key',
        publicNetworkAccess: props.publicNetworkAccess ?? 'Enabled',
        provisioningState: 'Creating',
        traffic: {},
        ...(props.compute ? { compute: props.compute } : {}),
      },
      systemData: systemData(req, new Date(this.deps.clock.now()).toISOString()),
    };
    if (typeof body.kind === 'string') out.kind = body.kind;
    return out;
  }

  private checkCompute(ws: StoredResource, ref: string): string {
    const name = /\/computes\/([^/]+)$/i.exec(ref)?.[1] ?? ref.replace(/^azureml:/i, '');
    const c = this.deps.arm.resources.get(`${ws.id}/computes/${name}`);
    if (!c) throw amlErrors.userError(`Compute '${ref}' was not found in workspace '${ws.body.name}'.`, ['NotFound']);
    const p = c.body.properties as JsonObject;
    if (p.computeType !== 'Kubernetes') {
      throw amlErrors.userError(
        `Compute '${name}' is of type ${String(p.computeType)}; online endpoints run on Kubernetes computes (attached AKS or Arc clusters) or managed compute.`,
        ['BadArgument', 'ComputeTypeNotSupported'],
      );
    }
    if (p.provisioningState !== 'Succeeded')
      throw amlErrors.userError(`Kubernetes compute '${name}' is ${String(p.provisioningState)}.`, ['BadArgument']);
    return c.id;
  }

  /** A traffic map as Azure ML accepts it: whole percents, total 0 or 100, only provisioned deployments of this endpoint. */
  private checkTraffic(endpointId: string, t: unknown, what: 'traffic' | 'mirrorTraffic'): Record<string, number> {
    if (t === undefined || t === null) return {};
    if (!isJsonObject(t)) throw amlErrors.userError(`properties.${what} must be a map of deployment name to percent.`);
    const out: Record<string, number> = {};
    for (const [k, v] of Object.entries(t)) {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 0 || v > 100)
        throw amlErrors.userError(
          `Traffic value for deployment '${k}' must be a whole number between 0 and 100, not ${JSON.stringify(v)}.`,
          ['BadArgument', 'InvalidTrafficValue'],
        );
      const d = this.deps.arm.resources.get(`${endpointId}/deployments/${k}`);
      if (!d)
        throw amlErrors.userError(`Deployment '${k}' in the ${what} rule does not exist on this endpoint.`, [
          'BadArgument',
          'DeploymentNotFound',
        ]);
      const state = String((d.body.properties as JsonObject).provisioningState);
      if (v > 0 && state !== 'Succeeded')
        throw amlErrors.userError(`Deployment '${k}' is ${state}; only a deployment that provisioned successfully can receive ${what}.`, [
          'BadArgument',
        ]);
      out[String(d.body.name)] = v;
    }
    const sum = Object.values(out).reduce((a, b) => a + b, 0);
    if (what === 'traffic' && sum !== 0 && sum !== 100)
      throw amlErrors.userError(`Traffic values must sum to 100 (or all be 0); they sum to ${sum}.`, ['BadArgument', 'InvalidTrafficSum']);
    if (what === 'mirrorTraffic' && sum > 50) throw amlErrors.userError('Mirror traffic may be at most 50%.', ['BadArgument']);
    return out;
  }

  private putEndpoint(req: ArmRequest, ws: StoredResource) {
    const { arm } = this.deps;
    const name = req.params.endpointName;
    if (!ONLINE_NAME.test(name))
      throw amlErrors.userError(
        `Endpoint name '${name}' is invalid: use 3 to 32 letters, digits and '-', starting with a letter and ending with a letter or digit.`,
        ['ValidationError'],
      );
    const body = isJsonObject(req.body) ? req.body : {};
    const props = body.properties;
    if (!isJsonObject(props)) throw amlErrors.userError('properties is required.', ['ValidationError']);
    const id = `${ws.id}/onlineEndpoints/${name}`;
    const existing = arm.resources.get(id);
    this.requireIdle(id, existing, `Online endpoint '${name}'`);
    const mode = AUTH_MODES.find((m) => m.toLowerCase() === String(props.authMode ?? '').toLowerCase());
    if (!mode)
      throw amlErrors.userError(`properties.authMode '${String(props.authMode)}' is invalid. Valid values: ${AUTH_MODES.join(', ')}.`, [
        'ValidationError',
      ]);
    const compute = typeof props.compute === 'string' && props.compute ? this.checkCompute(ws, props.compute) : undefined;
    if (existing) {
      const old = existing.body.properties as JsonObject;
      if (String(old.compute ?? '').toLowerCase() !== String(compute ?? '').toLowerCase())
        throw amlErrors.userError(`The compute of online endpoint '${name}' cannot be changed.`, ['BadArgument', 'Immutable']);
      const traffic = this.checkTraffic(existing.id, props.traffic ?? old.traffic, 'traffic');
      const mirror = props.mirrorTraffic === undefined ? undefined : this.checkTraffic(existing.id, props.mirrorTraffic, 'mirrorTraffic');
      return this.update(
        req,
        existing,
        {
          authMode: mode,
          description: props.description ?? old.description,
          tags: isJsonObject(body.tags) ? body.tags : undefined,
          traffic,
          mirror,
        },
        200,
      );
    }
    const traffic = this.checkTraffic(id, props.traffic, 'traffic');
    const stored = this.endpointBody(ws, id, name, { ...props, authMode: mode, ...(compute ? { compute } : {}) }, body, req);
    arm.resources.put(id, stored);
    this.newKeys(id);
    const failure = this.takeFailure('endpointCreate');
    const op = this.operation(req, id, this.defaults.endpointMs, failure, (ok) => {
      const e = arm.resources.get(id);
      if (!e) return;
      const p = e.body.properties as JsonObject;
      p.provisioningState = ok ? 'Succeeded' : 'Failed';
      if (ok) {
        p.traffic = traffic;
        this.recordTraffic(name, traffic);
      }
    });
    return { status: 201, body: stored, headers: this.headers(op) };
  }

  private patchEndpoint(req: ArmRequest, e: StoredResource) {
    const body = isJsonObject(req.body) ? req.body : {};
    this.requireIdle(e.id, e, `Online endpoint '${e.body.name}'`);
    const props = isJsonObject(body.properties) ? body.properties : {};
    const old = e.body.properties as JsonObject;
    const traffic = this.checkTraffic(e.id, props.traffic ?? old.traffic, 'traffic');
    const mirror = props.mirrorTraffic === undefined ? undefined : this.checkTraffic(e.id, props.mirrorTraffic, 'mirrorTraffic');
    return this.update(
      req,
      e,
      {
        authMode: String(old.authMode),
        description: props.description ?? old.description,
        tags: isJsonObject(body.tags) ? body.tags : undefined,
        traffic,
        mirror,
      },
      202,
    );
  }

  /** An update: provisioningState Updating now, the new traffic when the operation succeeds. */
  private update(
    req: ArmRequest,
    e: StoredResource,
    u: {
      authMode: string;
      description: unknown;
      tags: JsonObject | undefined;
      traffic: Record<string, number>;
      mirror: Record<string, number> | undefined;
    },
    status: number,
  ) {
    const p = e.body.properties as JsonObject;
    p.provisioningState = 'Updating';
    p.authMode = u.authMode;
    p.description = u.description ?? null;
    if (u.tags) e.body.tags = u.tags;
    e.body.systemData = systemData(req, new Date(this.deps.clock.now()).toISOString(), e.body.systemData as JsonObject);
    const failure = this.takeFailure('endpointUpdate');
    const name = String(e.body.name);
    const op = this.operation(req, e.id, this.defaults.endpointMs, failure, (ok) => {
      const cur = this.deps.arm.resources.get(e.id);
      if (!cur) return;
      const cp = cur.body.properties as JsonObject;
      cp.provisioningState = ok ? 'Succeeded' : 'Failed';
      if (!ok) return;
      // Deployments deleted meanwhile drop out of the map.
      const live = Object.fromEntries(Object.entries(u.traffic).filter(([k]) => this.deps.arm.resources.get(`${e.id}/deployments/${k}`)));
      cp.traffic = live;
      if (u.mirror) cp.mirrorTraffic = u.mirror;
      this.recordTraffic(name, live);
    });
    // With Location only, an asynchronous update answers 202 (ARM's pattern for it).
    return { status: this.defaults.lroHeaders === 'location' ? 202 : status, body: e.body, headers: this.headers(op) };
  }

  private deleteEndpoint(req: ArmRequest, ws: StoredResource) {
    const id = `${ws.id}/onlineEndpoints/${req.params.endpointName}`;
    const e = this.deps.arm.resources.get(id);
    if (!e) return { status: 204 };
    this.requireIdle(id, e, `Online endpoint '${e.body.name}'`);
    for (const d of this.deps.arm.resources.list(`${e.id}/deployments`)) this.requireIdle(d.id, d, `Deployment '${d.body.name}'`);
    (e.body.properties as JsonObject).provisioningState = 'Deleting';
    const op = this.operation(req, id, this.defaults.endpointMs, this.takeFailure('endpointDelete'), (ok) => {
      const cur = this.deps.arm.resources.get(id);
      if (!cur) return;
      if (!ok) {
        (cur.body.properties as JsonObject).provisioningState = 'Failed';
        return;
      }
      for (const r of this.deps.arm.resources.under(id)) this.deps.arm.resources.delete(r.id);
      this.keys.delete(norm(id));
    });
    return { status: 202, headers: this.headers(op) };
  }

  // ---- deployments -------------------------------------------------------------------------

  private checkAsset(
    ws: StoredResource,
    ref: unknown,
    kind: 'models' | 'environments' | 'codes',
    field: string,
  ): StoredResource | undefined {
    if (typeof ref !== 'string' || !ref.trim())
      throw amlErrors.userError(`properties.${field} must be the ARM id of a ${kind.slice(0, -1)} version.`, ['ValidationError']);
    const id = ref.trim().replace(/^azureml:/i, '');
    if (REGISTRY_ID.test(id) && kind !== 'codes') return undefined;
    const m = ASSET_ID.exec(id);
    if (!m || m[2]!.toLowerCase() !== kind)
      throw amlErrors.userError(
        `properties.${field} '${ref}' is not the ARM id of a ${kind.slice(0, -1)} version (/subscriptions/.../workspaces/<ws>/${kind}/<name>/versions/<version>).`,
        ['ValidationError'],
      );
    if (norm(m[1]!) !== norm(ws.id))
      throw amlErrors.userError(`properties.${field} '${ref}' belongs to another workspace.`, ['BadArgument']);
    const found = this.deps.arm.resources.get(id);
    const what = { models: 'Model', environments: 'Environment', codes: 'Code' }[kind];
    if (!found)
      throw amlErrors.userError(`${what} ${m[3]}:${m[4]} was not found in workspace '${ws.body.name}'.`, ['BadArgument', 'NotFound']);
    return found;
  }

  private putDeployment(req: ArmRequest, ws: StoredResource, e: StoredResource) {
    const { arm } = this.deps;
    const name = req.params.deploymentName;
    if (!ONLINE_NAME.test(name))
      throw amlErrors.userError(
        `Deployment name '${name}' is invalid: use 3 to 32 letters, digits and '-', starting with a letter and ending with a letter or digit.`,
        ['ValidationError'],
      );
    const ep = e.body.properties as JsonObject;
    if (ep.provisioningState === 'Creating' || ep.provisioningState === 'Deleting')
      throw conflict(`Online endpoint '${e.body.name}'`, String(ep.provisioningState));
    const id = `${e.id}/deployments/${name}`;
    const existing = arm.resources.get(id);
    this.requireIdle(id, existing, `Deployment '${name}'`);
    const body = isJsonObject(req.body) ? req.body : {};
    const props = body.properties;
    if (!isJsonObject(props)) throw amlErrors.userError('properties is required.', ['ValidationError']);
    const expected = ep.compute ? 'Kubernetes' : 'Managed';
    if (props.endpointComputeType !== expected) {
      throw amlErrors.userError(
        `properties.endpointComputeType is ${String(props.endpointComputeType)}, but endpoint '${e.body.name}' is a ${expected === 'Kubernetes' ? 'Kubernetes' : 'managed'} endpoint: use ${expected}.`,
        ['ValidationError'],
      );
    }
    const registryModel =
      typeof props.model === 'string' && /^azureml:\/\/registries\/[^/]+\/models\//i.test(props.model.trim()) && this.deps.registryModel;
    const model = registryModel
      ? this.deps.registryModel!(String(props.model), ws, req.caller.objectId, 'model')
      : this.checkAsset(ws, props.model, 'models', 'model');
    if (props.environmentId !== undefined && props.environmentId !== null)
      this.checkAsset(ws, props.environmentId, 'environments', 'environmentId');
    else {
      const type = String((model?.body.properties as JsonObject | undefined)?.modelType ?? 'MLFlowModel')
        .replace(/_/g, '')
        .toLowerCase();
      if (!type.startsWith('mlflow') && !type.startsWith('triton')) {
        throw amlErrors.userError(
          'An environment is required to deploy a model that is not an MLflow or Triton model: set properties.environmentId (and codeConfiguration with the scoring script).',
          ['BadArgument', 'EnvironmentRequired'],
        );
      }
    }
    const cc = props.codeConfiguration;
    if (cc !== undefined && cc !== null) {
      if (!isJsonObject(cc)) throw amlErrors.userError('properties.codeConfiguration must be an object.', ['ValidationError']);
      this.checkAsset(ws, cc.codeId, 'codes', 'codeConfiguration.codeId');
      if (typeof cc.scoringScript !== 'string' || !cc.scoringScript)
        throw amlErrors.userError('properties.codeConfiguration.scoringScript is required.', ['ValidationError']);
    }
    if (ep.compute && props.instanceType !== undefined && props.instanceType !== null) {
      const c = arm.resources.get(String(ep.compute));
      const types = Object.keys(
        ((c?.body.properties as JsonObject | undefined)?.properties as JsonObject | undefined)?.instanceTypes ?? {},
      );
      if (types.length && !types.includes(String(props.instanceType))) {
        throw amlErrors.userError(
          `Instance type '${String(props.instanceType)}' is not defined on the Kubernetes compute (defined: ${types.join(', ')}).`,
          ['BadArgument', 'InstanceTypeNotFound'],
        );
      }
    }
    const sku = isJsonObject(body.sku) ? body.sku : {};
    const capacity = sku.capacity ?? 1;
    if (typeof capacity !== 'number' || !Number.isInteger(capacity) || capacity < 1)
      throw amlErrors.userError(`sku.capacity (instance count) must be a whole number, 1 or more, not ${JSON.stringify(capacity)}.`, [
        'ValidationError',
      ]);
    const at = new Date(this.deps.clock.now()).toISOString();
    const stored: JsonObject = {
      id,
      name,
      type: DEP_TYPE,
      location: String(body.location ?? e.body.location),
      tags: isJsonObject(body.tags) ? body.tags : {},
      // Azure fills in the default scale settings and, on Kubernetes, the container resource
      // requirements object (the SDK parses both unchecked; none requested beyond the instance type).
      properties: {
        ...props,
        scaleSettings: isJsonObject(props.scaleSettings) ? props.scaleSettings : { scaleType: 'Default' },
        ...(expected === 'Kubernetes' && !isJsonObject(props.containerResourceRequirements)
          ? { containerResourceRequirements: { containerResourceRequests: null, containerResourceLimits: null } }
          : {}),
        provisioningState: existing ? 'Updating' : 'Creating',
      },
      sku: { name: String(sku.name ?? 'Default'), tier: 'Standard', capacity },
      systemData: systemData(req, at, existing?.body.systemData as JsonObject | undefined),
    };
    arm.resources.put(id, stored);
    const script = this.deploymentScripts.get(name.toLowerCase()) ?? {};
    const failure = script.fail
      ? { code: script.fail.code ?? 'DeploymentFailed', message: script.fail.message ?? 'The deployment failed.' }
      : this.takeFailure('deploymentCreate');
    const op = this.operation(req, id, script.createMs ?? this.defaults.deploymentMs, failure, (ok) => {
      const cur = arm.resources.get(id);
      if (cur) (cur.body.properties as JsonObject).provisioningState = ok ? 'Succeeded' : 'Failed';
    });
    return { status: existing ? (this.defaults.lroHeaders === 'location' ? 202 : 200) : 201, body: stored, headers: this.headers(op) };
  }

  private deleteDeployment(req: ArmRequest, e: StoredResource) {
    const id = `${e.id}/deployments/${req.params.deploymentName}`;
    const d = this.deps.arm.resources.get(id);
    if (!d) return { status: 204 };
    const ep = e.body.properties as JsonObject;
    const name = String(d.body.name);
    const share = (ep.traffic as Record<string, number> | undefined)?.[name] ?? 0;
    if (share > 0)
      throw amlErrors.userError(
        `Deployment '${name}' has ${share}% of the traffic of endpoint '${e.body.name}'; set its traffic to 0 before deleting it.`,
        ['BadArgument', 'DeploymentHasTraffic'],
      );
    const mirror = (ep.mirrorTraffic as Record<string, number> | undefined)?.[name] ?? 0;
    if (mirror > 0)
      throw amlErrors.userError(
        `Deployment '${name}' receives ${mirror}% mirror traffic; remove it from mirrorTraffic before deleting it.`,
        ['BadArgument'],
      );
    this.requireIdle(id, d, `Deployment '${name}'`);
    if (isJsonObject(ep) && this.busy.get(norm(e.id))?.status === 'InProgress' && ep.provisioningState === 'Updating')
      throw conflict(`Online endpoint '${e.body.name}'`, 'Updating');
    (d.body.properties as JsonObject).provisioningState = 'Deleting';
    const op = this.operation(req, id, this.defaults.deleteMs, this.takeFailure('deploymentDelete'), (ok) => {
      const cur = this.deps.arm.resources.get(id);
      if (!cur) return;
      if (!ok) {
        (cur.body.properties as JsonObject).provisioningState = 'Failed';
        return;
      }
      this.deps.arm.resources.delete(id);
      const endpoint = this.deps.arm.resources.get(e.id);
      const t = (endpoint?.body.properties as JsonObject | undefined)?.traffic as Record<string, number> | undefined;
      if (t && name in t) delete t[name];
    });
    return { status: 202, headers: this.headers(op) };
  }

  private logsOf(d: StoredResource, type: ContainerType): string {
    const name = String(d.body.name);
    const scripted = this.deploymentScripts.get(name.toLowerCase());
    if (scripted?.logs?.[type] !== undefined) return scripted.logs[type]!;
    const p = d.body.properties as JsonObject;
    if (type === 'StorageInitializer') return `Downloading model ${String(p.model)}\nModel downloaded to /var/azureml-app/azureml-models`;
    const lines = ['Starting AzureML Inference Server', `Loading scoring script for deployment ${name}`];
    if (p.provisioningState === 'Failed')
      lines.push(`Error: ${scripted?.fail?.message ?? 'init() raised an exception'}`, 'Worker exited with code 1');
    else lines.push('Scoring server listening on port 5001');
    return lines.join('\n');
  }

  // ---- operations ----------------------------------------------------------------------------

  private requireIdle(id: string, r: StoredResource | undefined, what: string): void {
    const op = this.busy.get(norm(id));
    if (r && op && op.status === 'InProgress') throw conflict(what, String((r.body.properties as JsonObject).provisioningState));
  }

  private takeFailure(kind: OperationKind): { code: string; message: string } | undefined {
    return this.failures.get(kind)?.shift();
  }

  private operation(
    req: ArmRequest,
    id: string,
    durationMs: number,
    failure: { code: string; message: string } | undefined,
    done: (ok: boolean) => void,
  ): Operation {
    const op = this.deps.arm.startOperation({
      req,
      durationMs,
      retryAfterSeconds: this.defaults.retryAfterSeconds,
      ...(failure ? { outcome: 'Failed' as const, error: failure } : {}),
      onComplete: (o) => {
        if (this.busy.get(norm(id)) === op) this.busy.delete(norm(id));
        done(o.status === 'Succeeded');
      },
    });
    this.busy.set(norm(id), op);
    return op;
  }

  private headers(op: Operation): Record<string, string> {
    if (this.defaults.lroHeaders === 'location') return { Location: op.resultUrl, 'Retry-After': String(this.defaults.retryAfterSeconds) };
    return { ...op.headers, 'Retry-After': String(this.defaults.retryAfterSeconds) };
  }

  private newKeys(endpointId: string): void {
    const k = { primaryKey: randomBytes(24).toString('base64url'), secondaryKey: randomBytes(24).toString('base64url') };
    this.keys.set(norm(endpointId), k);
    this.deps.addSecret(k.primaryKey);
    this.deps.addSecret(k.secondaryKey);
  }

  private recordTraffic(endpoint: string, traffic: Record<string, number>): void {
    this.history.push({ time: Date.now(), endpoint, traffic: { ...traffic } });
  }

  private findEndpoint(name: string): StoredResource | undefined {
    const matches = this.deps.arm.resources
      .all()
      .filter((r) => String(r.body.type) === EP_TYPE && String(r.body.name).toLowerCase() === name.toLowerCase());
    return matches[0];
  }

  // ---- scoring -------------------------------------------------------------------------------

  private authorized(e: StoredResource, header: string | undefined): boolean {
    const token = /^Bearer\s+(.+)$/i.exec(header ?? '')?.[1]?.trim();
    if (!token) return false;
    const mode = String((e.body.properties as JsonObject).authMode);
    if (mode === 'Key') {
      const k = this.keys.get(norm(e.id));
      return !!k && (token === k.primaryKey || token === k.secondaryKey);
    }
    if (mode === 'AMLToken') {
      const t = this.tokens.get(token);
      return !!t && t.endpointId === norm(e.id) && t.exp > this.deps.clock.nowSeconds();
    }
    const check = this.deps.entra.verifyAccessToken(token);
    return check.ok && /^https:\/\/ml\.azure\.com\/?$/i.test(check.info.aud);
  }

  /** Smooth weighted round robin over the deployments with traffic (deterministic). */
  private pick(e: StoredResource): string | undefined {
    const traffic = ((e.body.properties as JsonObject).traffic ?? {}) as Record<string, number>;
    const live = Object.entries(traffic).filter(
      ([k, v]) =>
        v > 0 &&
        (this.deps.arm.resources.get(`${e.id}/deployments/${k}`)?.body.properties as JsonObject | undefined)?.provisioningState ===
          'Succeeded',
    );
    if (!live.length) return undefined;
    const sum = live.reduce((s, [, v]) => s + v, 0);
    const cur = this.wrr.get(norm(e.id)) ?? new Map<string, number>();
    this.wrr.set(norm(e.id), cur);
    let best: string | undefined;
    for (const [k, v] of live) {
      cur.set(k, (cur.get(k) ?? 0) + v);
      if (best === undefined || cur.get(k)! > cur.get(best)!) best = k;
    }
    cur.set(best!, cur.get(best!)! - sum);
    return best;
  }

  private async onScoring(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    const send = (status: number, body: unknown, headers: Record<string, string> = {}): void => {
      const payload = typeof body === 'string' ? body : JSON.stringify(body);
      res.writeHead(status, {
        'content-type': typeof body === 'string' ? 'text/plain; charset=utf-8' : 'application/json',
        'content-length': String(Buffer.byteLength(payload)),
        ...headers,
      });
      res.end(payload);
    };
    const m = /^\/api\/v1\/endpoint\/([^/]+)\/score$/.exec(new URL(req.url ?? '/', this.origin).pathname);
    const entry: ScoringLogEntry = { time: Date.now(), endpoint: m ? decodeURIComponent(m[1]!) : '', status: 0 };
    this.scoringLog.push(entry);
    const answer = (status: number, body: unknown, headers?: Record<string, string>) => {
      entry.status = status;
      send(status, body, headers);
    };
    if (!m || req.method !== 'POST') return answer(404, { message: 'Not found. POST /api/v1/endpoint/<endpoint>/score' });
    const e = this.findEndpoint(entry.endpoint);
    if (!e || (e.body.properties as JsonObject).provisioningState === 'Creating')
      return answer(404, { message: `Endpoint ${entry.endpoint} not found.` });
    if (!this.authorized(e, req.headers.authorization))
      return answer(401, { message: 'Unauthorized: the key or token is missing or invalid.' });
    const asked = req.headers['azureml-model-deployment'];
    let deployment: string | undefined;
    if (typeof asked === 'string' && asked) {
      const d = this.deps.arm.resources.get(`${e.id}/deployments/${asked}`);
      if (!d) return answer(404, { message: `Deployment ${asked} not found on endpoint ${entry.endpoint}.` });
      if ((d.body.properties as JsonObject).provisioningState !== 'Succeeded')
        return answer(503, { message: `Deployment ${asked} is not ready.` });
      deployment = String(d.body.name);
      entry.routedBy = 'header';
    } else {
      deployment = this.pick(e);
      if (!deployment)
        return answer(503, {
          message:
            'No valid deployments to route to. Check that the endpoint has at least one deployment with positive traffic, or use the azureml-model-deployment header.',
        });
      entry.routedBy = 'traffic';
    }
    entry.deployment = deployment;
    const n = (this.served.get(`${norm(e.id)}/${deployment}`) ?? 0) + 1;
    this.served.set(`${norm(e.id)}/${deployment}`, n);
    let body: unknown;
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      body = undefined;
    }
    const handler = this.scoringHandlers.get(deployment.toLowerCase());
    const model = String(
      (this.deps.arm.resources.get(`${e.id}/deployments/${deployment}`)?.body.properties as JsonObject | undefined)?.model ?? '',
    );
    const out = handler
      ? await handler({ endpoint: String(e.body.name), deployment, body, text, headers: req.headers, n })
      : { status: 200, body: { deployment, model } };
    if (out.delayMs) await new Promise((r) => setTimeout(r, out.delayMs));
    if (res.destroyed) return;
    answer(out.status ?? 200, out.body ?? '', { 'azureml-model-deployment': deployment });
  }
}
