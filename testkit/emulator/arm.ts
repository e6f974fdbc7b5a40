// Azure Resource Manager front door: bearer token check, api-version check, subscription
// lookup, RBAC, then an extensible table of routes over a case-insensitive resource store.
// Order matters and follows ARM: authenticate, route, api-version, authorize, and only then
// does a handler look for the resource, so unauthorized callers never learn what exists.
import type { IncomingHttpHeaders } from 'node:http';
import { ArmError, armErrors } from './armerrors';
import type { EntraService } from './entra';
import type { JsonObject } from './jwt';
import { LroManager, type Operation, type StartOperationOptions } from './lro';
import { Rbac, type PrincipalType, type RoleAssignment } from './rbac';
import { type EmuRequest, type EmuResponse, type EmulatorContext, type PrincipalInfo, bearerToken } from './types';

export interface ArmCaller {
  objectId: string;
  appId: string;
  tenantId: string;
  claims: JsonObject;
}

export interface ArmRequest {
  method: string;
  /** URL path as sent, without trailing slash. */
  path: string;
  /** Template parameters, URL-decoded. */
  params: Record<string, string>;
  query: URLSearchParams;
  apiVersion: string;
  /** Parsed JSON body, undefined when empty. */
  body: unknown;
  headers: IncomingHttpHeaders;
  caller: ArmCaller;
  /** Provider namespace of the route, e.g. Microsoft.MachineLearningServices. */
  namespace: string;
  raw: EmuRequest;
  /**
   * Whether the caller may perform the route's action on a resource id. Always true once the
   * request is authorized at its scope; a `filterListByAccess` list below the caller's
   * assignments filters its items with it before paging.
   */
  canRead: (id: string) => boolean;
}

export interface ArmResult {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type ArmHandler = (req: ArmRequest) => ArmResult | Promise<ArmResult>;

export interface ArmRouteOptions {
  /** RBAC action, e.g. Microsoft.MachineLearningServices/workspaces/read. */
  action: string | ((req: ArmRequest) => string);
  /** RBAC scope; by default the resource the path names (a collection's parent for lists). */
  scope?: (req: ArmRequest) => string;
  /** Authenticate but skip RBAC (async-operation status URLs). */
  skipAuthorization?: boolean;
  /**
   * A collection GET above the caller's role assignments (e.g. a subscription-wide list by a
   * principal with roles on some resource groups): ARM answers with the items the caller may
   * read instead of 403, as `az ml workspace list` without a group shows. The handler filters
   * its items with `req.canRead` before paging.
   */
  filterListByAccess?: boolean;
  handler: ArmHandler;
}

interface CompiledRoute {
  method: string;
  template: string;
  parts: Array<{ literal: string; original: string } | { param: string }>;
  literalCount: number;
  order: number;
  options: ArmRouteOptions;
}

export interface StoredResource {
  /** ARM id with its original casing. */
  id: string;
  body: JsonObject;
}

export interface Subscription {
  subscriptionId: string;
  tenantId: string;
  displayName: string;
  state: 'Enabled' | 'Disabled' | 'Warned';
}

/** Resources keyed by lower-cased ARM id (ARM ids are case-insensitive). */
export class ResourceStore {
  private readonly map = new Map<string, StoredResource>();

  get(id: string): StoredResource | undefined {
    return this.map.get(normId(id));
  }

  put(id: string, body: JsonObject): StoredResource {
    const existing = this.map.get(normId(id));
    const stored: StoredResource = { id: existing?.id ?? id, body };
    this.map.set(normId(id), stored);
    return stored;
  }

  delete(id: string): boolean {
    return this.map.delete(normId(id));
  }

  /** Direct members of a collection path, e.g. `${rgId}/providers/Microsoft.MachineLearningServices/workspaces`. */
  list(collectionPath: string): StoredResource[] {
    const prefix = `${normId(collectionPath)}/`;
    return [...this.map.entries()].filter(([k]) => k.startsWith(prefix) && !k.slice(prefix.length).includes('/')).map(([, v]) => v);
  }

  /** Everything at or below an id (for deleting a resource group or workspace). */
  under(id: string): StoredResource[] {
    const key = normId(id);
    return [...this.map.entries()].filter(([k]) => k === key || k.startsWith(`${key}/`)).map(([, v]) => v);
  }

  all(): StoredResource[] {
    return [...this.map.values()];
  }
}

/**
 * One page of an ARM list. Azure ML's RP pages its lists and names the continuation in the
 * query (`$skip` for workspaces, computes, endpoints and containers; `$skipToken` for versions
 * and jobs); the nextLink carries it literally, as ARM writes it (not percent-encoded).
 */
export function armPage(req: ArmRequest, items: JsonObject[], pageSize: number, tokenParam: '$skip' | '$skipToken' = '$skip'): JsonObject {
  const skip = armSkip(req, tokenParam);
  const out: JsonObject = { value: items.slice(skip, skip + pageSize) };
  if (skip + pageSize < items.length) {
    const u = new URL(req.raw.url.toString());
    u.searchParams.delete(tokenParam);
    const query = u.search ? `${u.search}&` : '?';
    out.nextLink = `${u.origin}${u.pathname}${query}${tokenParam}=${skip + pageSize}`;
  }
  return out;
}

/** The continuation (items to skip) a paged list request carries; 400 BadRequest when it is not a count. */
export function armSkip(req: ArmRequest, tokenParam: '$skip' | '$skipToken'): number {
  const raw = req.query.get(tokenParam);
  const skip = raw === null ? 0 : Number(raw);
  if (!Number.isInteger(skip) || skip < 0)
    throw new ArmError(400, 'BadRequest', `The continuation token '${raw}' in ${tokenParam} is invalid.`);
  return skip;
}

export function normId(id: string): string {
  return id.toLowerCase().replace(/\/+$/, '');
}

/** Default RBAC scope of a request path: the resource it names, or the parent of a collection or action. */
export function defaultScope(path: string): string {
  const s = path.split('/').filter((x) => x.length > 0);
  if (s.length === 0 || s[0].toLowerCase() !== 'subscriptions') return `/${s.join('/')}`;
  const p = s.findIndex((x, i) => i >= 2 && x.toLowerCase() === 'providers');
  if (p < 0) {
    if (s.length >= 4 && s[2].toLowerCase() === 'resourcegroups') return `/${s.slice(0, 4).join('/')}`;
    return `/${s.slice(0, 2).join('/')}`;
  }
  const rest = s.length - (p + 2);
  if (rest <= 1) return `/${s.slice(0, p).join('/')}`;
  const even = rest % 2 === 0 ? rest : rest - 1;
  return `/${s.slice(0, p + 2 + even).join('/')}`;
}

/** Known api-versions per provider namespace (real, published versions). */
const DEFAULT_API_VERSIONS: Record<string, string[]> = {
  'Microsoft.MachineLearningServices': [
    '2022-05-01',
    '2022-10-01',
    '2023-04-01',
    '2023-10-01',
    '2024-04-01',
    '2024-10-01',
    '2025-06-01',
    // The previews azure-ai-ml 1.x still sends (1.4.0: workspaces and jobs 2022-10-01-preview, online
    // endpoints 2022-02-01-preview, connections 2022-01-01-preview); published specs ARM still serves.
    '2022-01-01-preview',
    '2022-02-01-preview',
    '2022-06-01-preview',
    '2022-10-01-preview',
    '2022-12-01-preview',
    '2023-02-01-preview',
    '2023-04-01-preview',
    '2023-06-01-preview',
    '2023-08-01-preview',
    '2024-01-01-preview',
    '2024-04-01-preview',
    '2024-07-01-preview',
    '2024-10-01-preview',
    '2025-01-01-preview',
    '2025-04-01-preview',
  ],
  'Microsoft.Network': [
    '2022-07-01',
    '2022-09-01',
    '2022-11-01',
    '2023-02-01',
    '2023-04-01',
    '2023-05-01',
    '2023-06-01',
    '2023-09-01',
    '2023-11-01',
    '2024-01-01',
    '2024-03-01',
    '2024-05-01',
    '2024-07-01',
    '2024-10-01',
    '2025-01-01',
    '2025-03-01',
    '2025-05-01',
    '2025-07-01',
  ],
  'Microsoft.Storage': ['2022-09-01', '2023-01-01', '2023-04-01', '2023-05-01', '2024-01-01', '2025-01-01', '2025-06-01'],
  'Microsoft.KeyVault': ['2022-07-01', '2023-02-01', '2023-07-01', '2024-11-01', '2024-12-01-preview', '2025-05-01'],
  'Microsoft.ContainerRegistry': ['2023-01-01-preview', '2023-07-01', '2023-11-01-preview', '2024-11-01-preview', '2025-04-01'],
  'Microsoft.ContainerService': ['2024-02-01', '2024-05-01', '2024-07-01', '2024-09-01', '2024-10-01', '2025-01-01', '2025-02-01'],
  'Microsoft.Insights': ['2015-05-01', '2020-02-02'],
  'Microsoft.ManagedIdentity': ['2023-01-31', '2024-11-30'],
  'Microsoft.Resources': [
    '2020-01-01',
    '2021-04-01',
    '2022-09-01',
    '2022-12-01',
    '2023-07-01',
    '2024-03-01',
    '2024-07-01',
    '2024-11-01',
    '2025-04-01',
  ],
};

/** Audiences ARM accepts besides its own URL. */
const PUBLIC_ARM_AUDIENCES = [
  'https://management.core.windows.net/',
  'https://management.core.windows.net',
  'https://management.azure.com/',
  'https://management.azure.com',
];

export class ArmService {
  readonly resources = new ResourceStore();
  readonly rbac = new Rbac();
  readonly lro: LroManager;
  /** Page size of paged lists (tests lower it to exercise nextLink). */
  listPageSize = 100;
  /** Locations listed in api-version errors and used as defaults. */
  locations = ['eastus', 'eastus2', 'westeurope', 'northeurope', 'westus2'];
  private readonly subscriptions = new Map<string, Subscription>();
  private readonly apiVersions = new Map<string, { name: string; versions: string[] }>();
  private readonly routes: CompiledRoute[] = [];
  private routeCounter = 0;

  constructor(
    private readonly ctx: EmulatorContext,
    private readonly entra: EntraService,
  ) {
    this.lro = new LroManager(() => this.ctx.url, ctx.clock);
    for (const [ns, versions] of Object.entries(DEFAULT_API_VERSIONS)) this.addApiVersions(ns, versions);
    this.installCoreRoutes();
  }

  /** Token audiences accepted: the emulator's own URL (as an ARM URL) and the public ARM resources. */
  get audiences(): string[] {
    return [`${this.ctx.url}/`, this.ctx.url, ...PUBLIC_ARM_AUDIENCES];
  }

  /** The authority named in WWW-Authenticate challenges. */
  private get authority(): string {
    return `${this.ctx.url}/`;
  }

  // ---- state API -------------------------------------------------------------------

  addApiVersions(namespace: string, versions: string[]): void {
    const key = namespace.toLowerCase();
    const existing = this.apiVersions.get(key);
    const merged = [...new Set([...(existing?.versions ?? []), ...versions])].sort().reverse();
    this.apiVersions.set(key, { name: existing?.name ?? namespace, versions: merged });
  }

  supportedApiVersions(namespace: string): string[] | undefined {
    return this.apiVersions.get(namespace.toLowerCase())?.versions;
  }

  addSubscription(opts: { subscriptionId: string; tenantId: string; displayName?: string }): Subscription {
    const sub: Subscription = {
      subscriptionId: opts.subscriptionId.toLowerCase(),
      tenantId: opts.tenantId.toLowerCase(),
      displayName: opts.displayName ?? 'Emulated subscription',
      state: 'Enabled',
    };
    this.subscriptions.set(sub.subscriptionId, sub);
    return sub;
  }

  subscription(id: string): Subscription | undefined {
    return this.subscriptions.get(id.toLowerCase());
  }

  resourceGroupId(subscriptionId: string, name: string): string {
    return `/subscriptions/${subscriptionId}/resourceGroups/${name}`;
  }

  addResourceGroup(opts: { subscriptionId: string; name: string; location?: string; tags?: Record<string, string> }): StoredResource {
    if (!this.subscription(opts.subscriptionId))
      throw new Error(`Unknown subscription ${opts.subscriptionId}; call arm.addSubscription first`);
    const id = this.resourceGroupId(opts.subscriptionId, opts.name);
    const existing = this.resources.get(id);
    if (existing) return existing;
    return this.resources.put(id, {
      id,
      name: opts.name,
      type: 'Microsoft.Resources/resourceGroups',
      location: opts.location ?? this.locations[0],
      tags: opts.tags ?? {},
      properties: { provisioningState: 'Succeeded' },
    });
  }

  /** Grants a role to a principal (object id) at a scope and everything below it. */
  grantRole(
    principalObjectId: string,
    roleName: string,
    scope: string,
    opts?: { principalType?: PrincipalType; condition?: string },
  ): RoleAssignment {
    return this.rbac.grant(principalObjectId, roleName, scope, opts);
  }

  /**
   * Registers a route. Literal segments match case-insensitively; `{name}` captures one segment.
   * When several templates match, the one with more literal segments wins, then the latest registered.
   */
  route(method: string, template: string, options: ArmRouteOptions): void {
    const parts = template
      .split('/')
      .filter((s) => s.length > 0)
      .map((s) => (/^\{[^}]+\}$/.test(s) ? { param: s.slice(1, -1) } : { literal: s.toLowerCase(), original: s }));
    this.routes.push({
      method: method.toUpperCase(),
      template,
      parts,
      literalCount: parts.filter((p) => 'literal' in p).length,
      order: this.routeCounter++,
      options,
    });
  }

  /**
   * Starts a long-running operation; answer the request with 201/202 and `op.headers`.
   * Pass `req` to take the subscription, namespace, api-version and location from the request.
   */
  startOperation(opts: Omit<StartOperationOptions, 'subscriptionId'> & { subscriptionId?: string; req?: ArmRequest }): Operation {
    const { req, ...rest } = opts;
    const subscriptionId = rest.subscriptionId ?? req?.params.subscriptionId ?? [...this.subscriptions.keys()][0];
    if (!subscriptionId) throw new Error('startOperation: no subscription');
    const rgName = req?.params.resourceGroupName;
    const rgLocation = rgName ? this.resources.get(this.resourceGroupId(subscriptionId, rgName))?.body.location : undefined;
    return this.lro.start({
      ...rest,
      subscriptionId,
      namespace: rest.namespace ?? req?.namespace,
      apiVersion: rest.apiVersion ?? req?.apiVersion,
      location: rest.location ?? (typeof rgLocation === 'string' ? rgLocation : undefined),
    });
  }

  /** Throws ResourceGroupNotFound unless the group exists. */
  requireResourceGroup(subscriptionId: string, name: string): StoredResource {
    const rg = this.resources.get(this.resourceGroupId(subscriptionId, name));
    if (!rg) throw armErrors.resourceGroupNotFound(name);
    return rg;
  }

  // ---- HTTP --------------------------------------------------------------------------

  async handle(req: EmuRequest): Promise<EmuResponse> {
    try {
      return await this.dispatch(req);
    } catch (err) {
      if (err instanceof ArmError) return this.errorResponse(err, req);
      throw err;
    }
  }

  private errorResponse(err: ArmError, req: EmuRequest, principal?: EmuResponse['principal']): EmuResponse {
    return { status: err.status, body: err.toBody(), headers: { ...err.headers, 'x-ms-correlation-request-id': req.requestId }, principal };
  }

  private authenticate(req: EmuRequest): ArmCaller {
    const token = bearerToken(req);
    if (!token) throw armErrors.missingAuthorization(this.authority);
    const check = this.entra.verifyAccessToken(token);
    if (!check.ok) {
      if (check.reason === 'expired') throw armErrors.expiredToken(this.authority, (check.exp ?? 0) * 1000, this.ctx.clock.now());
      throw armErrors.invalidToken(this.authority);
    }
    const allowed = this.audiences;
    if (!allowed.some((a) => a.toLowerCase() === check.info.aud.toLowerCase()))
      throw armErrors.wrongAudience(this.authority, check.info.aud, allowed);
    return { objectId: check.info.oid, appId: check.info.appid, tenantId: check.info.tid, claims: check.info.claims };
  }

  private match(path: string): Array<{ route: CompiledRoute; params: Record<string, string> }> {
    const segs = path.split('/').filter((s) => s.length > 0);
    const out: Array<{ route: CompiledRoute; params: Record<string, string> }> = [];
    for (const route of this.routes) {
      if (route.parts.length !== segs.length) continue;
      const params: Record<string, string> = {};
      let ok = true;
      for (let i = 0; i < segs.length && ok; i++) {
        const part = route.parts[i];
        let seg = segs[i];
        try {
          seg = decodeURIComponent(seg);
        } catch {
          // keep raw
        }
        if ('literal' in part) ok = part.literal === seg.toLowerCase();
        else params[part.param] = seg;
      }
      if (ok) out.push({ route, params });
    }
    return out.sort((a, b) => b.route.literalCount - a.route.literalCount || b.route.order - a.route.order);
  }

  private namespaceOf(route: CompiledRoute, params: Record<string, string>): string {
    for (let i = route.parts.length - 2; i >= 0; i--) {
      const p = route.parts[i];
      if ('literal' in p && p.literal === 'providers') {
        const next = route.parts[i + 1];
        const raw = 'literal' in next ? next.original : params[next.param];
        return this.apiVersions.get(raw.toLowerCase())?.name ?? raw;
      }
    }
    return 'Microsoft.Resources';
  }

  private async dispatch(req: EmuRequest): Promise<EmuResponse> {
    const path = req.url.pathname.replace(/\/+$/, '');
    const caller = this.authenticate(req);
    const principal: PrincipalInfo = {
      kind: caller.claims.xms_mirid ? 'managedIdentity' : 'servicePrincipal',
      id: caller.objectId,
      appId: caller.appId,
      tenantId: caller.tenantId,
    };
    const apiVersion = req.url.searchParams.get('api-version');

    const candidates = this.match(path);
    if (candidates.length === 0) throw this.unknownType(path, apiVersion ?? '');
    const chosen = candidates.find((c) => c.route.method === req.method);
    if (!chosen) throw armErrors.methodNotAllowed(req.method);
    const namespace = this.namespaceOf(chosen.route, chosen.params);

    if (!apiVersion) throw armErrors.missingApiVersion();
    const supported = this.supportedApiVersions(namespace);
    if (supported && !supported.includes(apiVersion)) throw armErrors.invalidApiVersion(apiVersion, supported, this.locations);

    const segs = path.split('/').filter((s) => s.length > 0);
    let subscriptionId: string | undefined;
    if (segs[0]?.toLowerCase() === 'subscriptions' && segs.length >= 2) {
      subscriptionId = segs[1];
      const sub = this.subscription(subscriptionId);
      if (!sub) throw armErrors.subscriptionNotFound(subscriptionId);
      if (sub.tenantId !== caller.tenantId.toLowerCase()) throw armErrors.wrongTenant(this.authority, caller.tenantId, sub.tenantId);
    }

    let body: unknown;
    if (req.body.length > 0) {
      try {
        body = JSON.parse(req.body.toString('utf8'));
      } catch (e) {
        throw armErrors.invalidRequestContent(e instanceof Error ? e.message : 'invalid JSON');
      }
    }
    const armReq: ArmRequest = {
      method: req.method,
      path,
      params: chosen.params,
      query: req.url.searchParams,
      apiVersion,
      body,
      headers: req.headers,
      caller,
      namespace,
      raw: req,
      canRead: () => true,
    };

    const opts = chosen.route.options;
    if (!opts.skipAuthorization) {
      const action = typeof opts.action === 'function' ? opts.action(armReq) : opts.action;
      const scope = opts.scope ? opts.scope(armReq) : defaultScope(path);
      if (!this.rbac.isAllowed(caller.objectId, action, scope)) {
        if (!opts.filterListByAccess || !this.rbac.hasAnyAssignmentTouching(caller.objectId, scope)) {
          return this.errorResponse(armErrors.authorizationFailed(caller.appId, caller.objectId, action, scope), req, principal);
        }
        armReq.canRead = (id) => this.rbac.isAllowed(caller.objectId, action, id);
      }
    }

    try {
      const result = await opts.handler(armReq);
      return {
        status: result.status,
        body: result.body,
        headers: { 'x-ms-correlation-request-id': req.requestId, ...(result.headers ?? {}) },
        principal,
      };
    } catch (err) {
      if (err instanceof ArmError) return this.errorResponse(err, req, principal);
      throw err;
    }
  }

  private unknownType(path: string, apiVersion: string): ArmError {
    const segs = path.split('/').filter((s) => s.length > 0);
    const p = segs.findIndex((x) => x.toLowerCase() === 'providers');
    if (p >= 0 && segs[p + 1]) {
      const ns = segs[p + 1];
      if (!this.apiVersions.has(ns.toLowerCase())) return armErrors.invalidResourceNamespace(ns);
      const types = segs.slice(p + 2).filter((_, i) => i % 2 === 0);
      return armErrors.invalidResourceType(types.join('/'), ns, apiVersion);
    }
    return new ArmError(404, 'NotFound', `No HTTP resource was found that matches the request URI '${this.ctx.url}${path}'.`);
  }

  // ---- built-in routes ---------------------------------------------------------------

  private installCoreRoutes(): void {
    const subBody = (s: Subscription): JsonObject => ({
      id: `/subscriptions/${s.subscriptionId}`,
      authorizationSource: 'RoleBased',
      managedByTenants: [],
      subscriptionId: s.subscriptionId,
      tenantId: s.tenantId,
      displayName: s.displayName,
      state: s.state,
      subscriptionPolicies: { locationPlacementId: 'Public_2014-09-01', quotaId: 'PayAsYouGo_2014-09-01', spendingLimit: 'Off' },
    });

    // Tenant-level listing: ARM returns the subscriptions of the caller's tenant it has any role in.
    this.route('GET', '/subscriptions', {
      action: 'Microsoft.Resources/subscriptions/read',
      skipAuthorization: true,
      handler: (req) => {
        const value = [...this.subscriptions.values()]
          .filter(
            (s) =>
              s.tenantId === req.caller.tenantId.toLowerCase() &&
              this.rbac.hasAnyAssignmentTouching(req.caller.objectId, `/subscriptions/${s.subscriptionId}`),
          )
          .map(subBody);
        return { status: 200, body: { value, count: { type: 'Total', value: value.length } } };
      },
    });
    this.route('GET', '/subscriptions/{subscriptionId}', {
      action: 'Microsoft.Resources/subscriptions/read',
      handler: (req) => ({ status: 200, body: subBody(this.subscription(req.params.subscriptionId) as Subscription) }),
    });
    this.route('GET', '/subscriptions/{subscriptionId}/resourcegroups', {
      action: 'Microsoft.Resources/subscriptions/resourceGroups/read',
      handler: (req) => ({
        status: 200,
        body: { value: this.resources.list(`/subscriptions/${req.params.subscriptionId}/resourcegroups`).map((r) => r.body) },
      }),
    });
    this.route('GET', '/subscriptions/{subscriptionId}/resourcegroups/{resourceGroupName}', {
      action: 'Microsoft.Resources/subscriptions/resourceGroups/read',
      handler: (req) => ({ status: 200, body: this.requireResourceGroup(req.params.subscriptionId, req.params.resourceGroupName).body }),
    });

    // Async-operation URLs: authenticated, no RBAC (documented emulator simplification).
    const opRoute = (req: ArmRequest): ArmResult => {
      const kind = req.params.kind.toLowerCase();
      const isStatus = kind === 'mfeoperationsstatus' || kind === 'operationstatuses' || kind === 'asyncoperations';
      const isResult = kind === 'mfeoperationresults' || kind === 'operationresults';
      const res = isStatus
        ? this.lro.statusResponse(req.params.operationId)
        : isResult
          ? this.lro.resultResponse(req.params.operationId)
          : undefined;
      if (!res) throw new ArmError(404, 'NotFound', `The operation '${req.params.operationId}' could not be found.`);
      return res;
    };
    this.route('GET', '/subscriptions/{subscriptionId}/providers/{namespace}/locations/{location}/{kind}/{operationId}', {
      action: 'Microsoft.Resources/subscriptions/read',
      skipAuthorization: true,
      handler: opRoute,
    });
  }
}
