// Azure + Azure DevOps emulator on one loopback HTTPS origin.
//
//   const emu = await startEmulator();
//   const seed = emu.seedDefault();
//   ... run a task with NODE_EXTRA_CA_CERTS=emu.caFile against emu.url ...
//   await emu.close();
//
// URL layout (one origin, routed by path):
//   /{tenant}/v2.0/.well-known/openid-configuration, /{tenant}/oauth2/v2.0/token, /{tenant}/discovery/v2.0/keys   Entra
//   /metadata/identity/oauth2/token                                                                              IMDS
//   /subscriptions/..., /providers/...                                                                           ARM
//   /{org}/_apis/..., /{org}/{project}/_apis/...                                                                 Azure DevOps
//   /discovery, /history/v1.0/..., /mlflow/v1.0/...                                                              Azure ML data plane
//   https://127.0.0.1:<other port>/<account>/<container>/<blob>  (emu.storage.url)                              Blob storage (Azurite)
//   /_emulator/...                                                                                               control API (CLI mode)
import { GitHubService } from './github';
import { addPrivateEndpointConnection, addWorkspace, installMachineLearningRoutes, type AddWorkspaceOptions } from './aml';
import { installAuthorizationRoutes } from './authorization';
import { addPrivateEndpoint, addPrivateNetwork, installNetworkRoutes, type PrivateEndpointSpec, type PrivateName } from './network';
import { ArmService } from './arm';
import { addDatastore, defaultBlobContainer, storageAccountNameOf } from './assets';
import { EmulatedStorage } from './azurite';
import { AmlWorkloads } from './jobs';
import { ModelRegistry } from './models';
import { Registries } from './registry';
import { DevOpsService } from './devops';
import { EntraService } from './entra';
import { Faults, type FaultKind, type FaultSpec } from './faults';
import { ImdsService } from './imds';
import type { JsonObject } from './jwt';
import { type SeedResult, seedDefault } from './seed';
import { OnlineEndpoints } from './online';
import { EmulatorServer } from './server';
import { loadTlsMaterial } from './tls';
import { Clock, type EmuRequest, type EmuResponse, type EmulatorContext, type RequestLogEntry, type Service, jsonBody } from './types';

export { ArmError, armErrors } from './armerrors';
export type { ArmCaller, ArmHandler, ArmRequest, ArmResult, ArmRouteOptions, StoredResource, Subscription } from './arm';
export { ArmService, ResourceStore, defaultScope } from './arm';
export { ML_NS, requireWorkspace, workspaceArmId, workspaceView, type AddWorkspaceOptions, type PrivateLinkStatus } from './aml';
export { BRANCH_CONTROL_DEFINITION, CHECK_TYPES, DevOpsService, POLICY_TYPES, type PolicyKind, type PolicyScope } from './devops';
export { EntraService, TOKEN_EXCHANGE_AUDIENCE, type Identity, type ManagedIdentity, type ServicePrincipal } from './entra';
export type { FaultHandle, FaultKind, FaultSpec } from './faults';
export type { Operation, OperationOutcome, StartOperationOptions } from './lro';
export { BUILT_IN_ROLES, EVERYONE, type DenyAssignment, type PrincipalType, type RoleAssignment, type RoleDefinition } from './rbac';
export { SEED_IDS, type SeedResult } from './seed';
export { seedConnection, seedJob, type SeedConnection, type SeedJob, type SeedConnectionKind } from './agentenv';
export { makeSelfSignedCertificate, type GeneratedCertificate } from './tls';
export { Clock, type RequestLogEntry, type Service } from './types';
export { AmlError, amlErrors, type AddComputeOptions } from './assets';
export { EmulatedStorage, storagePipeline, type BlobInfo, type StorageRequestEntry } from './azurite';
export { ModelRegistry } from './models';
export { Registries, REGISTRY_NAME, type AddRegistryOptions } from './registry';
export {
  OnlineEndpoints,
  type AddEndpointOptions,
  type DeploymentScript,
  type OnlineScript,
  type ScoringHandler,
  type ScoringRequest,
  type TrafficChange,
} from './online';
export {
  AmlWorkloads,
  TERMINAL_STATUSES,
  type JobScript,
  type JobStatus,
  type MetricInput,
  type OutputInput,
  type RunState,
  type Transition,
} from './jobs';

/** ARM with the Microsoft.MachineLearningServices routes installed. */
export class EmulatedArm extends ArmService {
  constructor(
    private readonly context: EmulatorContext,
    entra: EntraService,
  ) {
    super(context, entra);
    installMachineLearningRoutes(this);
    installNetworkRoutes(this);
    installAuthorizationRoutes(this);
  }

  /** Private endpoints for the workspace and its dependencies; returns each name and its IP. */
  addPrivateNetwork(workspaceId: string, opts?: { subnetPrefix?: string }): PrivateName[] {
    return addPrivateNetwork(this, workspaceId, opts);
  }

  addPrivateEndpoint(spec: PrivateEndpointSpec): JsonObject {
    return addPrivateEndpoint(this, spec);
  }

  /** Creates the resource group, default dependencies and workspace; returns the workspace as GET shows it. */
  addWorkspace(opts: AddWorkspaceOptions): JsonObject {
    // The data plane (discovery, run history, MLflow) is served on the emulator origin; every
    // workspace has its default datastores.
    const body = addWorkspace(this, { ...opts, dataPlaneUrl: opts.dataPlaneUrl ?? this.context.url });
    const ws = this.resources.get(String(body.id));
    if (ws && !this.resources.get(`${ws.id}/datastores/workspaceblobstore`)) {
      addDatastore(this, ws.id, 'workspaceblobstore', {
        container: defaultBlobContainer(ws),
        accountName: storageAccountNameOf(ws),
        isDefault: true,
      });
      addDatastore(this, ws.id, 'workspaceartifactstore', { container: 'azureml', accountName: storageAccountNameOf(ws) });
    }
    return body;
  }

  addPrivateEndpointConnection(
    workspaceId: string,
    pec: { name: string; privateEndpointId: string; status?: 'Approved' | 'Pending' | 'Rejected' | 'Disconnected' },
  ): JsonObject {
    return addPrivateEndpointConnection(this, workspaceId, pec);
  }
}

export interface StartEmulatorOptions {
  /** Default 127.0.0.1. */
  host?: string;
  /** Default 0 (random free port). */
  port?: number;
  /** Access token lifetime (default 3600). */
  tokenLifetimeSeconds?: number;
  /** Azure DevOps OIDC token lifetime (default 600). */
  oidcTokenLifetimeSeconds?: number;
}

export interface Emulator {
  /** Origin, no trailing slash: the authority host, the ARM URL and the DevOps host. */
  readonly url: string;
  /** CA certificate file for NODE_EXTRA_CA_CERTS. */
  readonly caFile: string;
  readonly caCertPem: string;
  readonly clock: Clock;
  readonly entra: EntraService;
  readonly arm: EmulatedArm;
  readonly ado: DevOpsService;
  /** GitHub Enterprise Server's REST API at <url>/api/v3: repositories, rulesets, protection, pull requests and reviews. */
  readonly github: GitHubService;
  readonly faults: Faults;
  /** Blob storage (Azurite over HTTPS), started on first use: URLs, SAS, blob listing, upload byte counts. */
  readonly storage: EmulatedStorage;
  /** Azure ML assets, jobs and data plane: job scripting, metrics, outputs, computes, environments. */
  readonly aml: AmlWorkloads;
  /** Azure ML model containers and versions: stored versions, direct registration, lost responses. */
  readonly models: ModelRegistry;
  /** Azure ML registries: model containers and versions, pending uploads, sharing from workspaces. */
  readonly registries: Registries;
  /** Online endpoints and deployments (ARM) and their scoring server: LRO timing, failures, traffic history, scoring answers. */
  readonly online: OnlineEndpoints;
  /** Every request received, in order. */
  readonly requests: RequestLogEntry[];
  /** Every secret the emulator knows or issued: client secrets, key PEMs, access/OIDC/job tokens. */
  secrets(): string[];
  addSecret(value: string): void;
  /** Makes every token issued so far invalid (ARM answers ExpiredAuthenticationToken, Entra AADSTS700024). */
  expireTokens(): void;
  /** Creates the default demo state once and returns its ids and credentials. */
  seedDefault(): SeedResult;
  close(): Promise<void>;
}

export async function startEmulator(options: StartEmulatorOptions = {}): Promise<Emulator> {
  const tls = loadTlsMaterial();
  const clock = new Clock();
  const secrets = new Set<string>();
  const issuedTokens = new Set<string>();
  const expiredTokens = new Set<string>();
  const requests: RequestLogEntry[] = [];
  const faults = new Faults();
  let origin = '';

  const addSecret = (value: string): void => {
    if (!value) return;
    secrets.add(value);
    // For PEM blocks, also register each base64 line so a partial leak is still caught.
    if (value.includes('-----BEGIN')) {
      for (const line of value.split(/\r?\n/)) if (line.length >= 32 && !line.startsWith('-----')) secrets.add(line.trim());
    }
  };
  const ctx: EmulatorContext = {
    get url() {
      return origin;
    },
    clock,
    addSecret,
    trackToken: (t) => issuedTokens.add(t),
    isForceExpired: (t) => expiredTokens.has(t),
  };

  const entra = new EntraService(ctx);
  if (options.tokenLifetimeSeconds !== undefined) entra.tokenLifetimeSeconds = options.tokenLifetimeSeconds;
  const imds = new ImdsService(entra);
  const arm = new EmulatedArm(ctx, entra);
  const ado = new DevOpsService(ctx, entra);
  const github = new GitHubService(() => origin);
  const storage = new EmulatedStorage(tls, {
    accounts: () =>
      arm.resources
        .all()
        .filter((r) => String(r.body.type).toLowerCase() === 'microsoft.storage/storageaccounts')
        .map((r) => String(r.body.name)),
    addSecret,
  });
  const aml = new AmlWorkloads({ arm, entra, storage, clock, url: () => origin });
  aml.install();
  const registries = new Registries({
    arm,
    assets: aml.assets,
    engine: aml.engine,
    storage,
    datastoreUrl: (ws, uri) => aml.datastoreUrl(ws, uri),
  });
  registries.install();
  const online = new OnlineEndpoints({
    arm,
    entra,
    clock,
    tls,
    addSecret,
    registryModel: (ref, ws, caller, field) => registries.resolveModel(ref, ws, caller, field),
  });
  online.install();
  await online.start(options.host ?? '127.0.0.1');
  const models = new ModelRegistry({ arm, assets: aml.assets, engine: aml.engine });
  models.install();
  if (options.oidcTokenLifetimeSeconds !== undefined) ado.oidcTokenLifetimeSeconds = options.oidcTokenLifetimeSeconds;

  let seeded: SeedResult | undefined;
  const emulator: Emulator = {
    get url() {
      return origin;
    },
    caFile: tls.caFile,
    caCertPem: tls.caCertPem,
    clock,
    entra,
    arm,
    ado,
    github,
    faults,
    storage,
    aml,
    models,
    registries,
    online,
    requests,
    secrets: () => [...secrets],
    addSecret,
    expireTokens: () => {
      for (const t of issuedTokens) expiredTokens.add(t);
    },
    seedDefault: () => {
      if (!seeded) {
        seeded = seedDefault({ url: origin, entra, arm, ado, addWorkspace: (o) => arm.addWorkspace(o), addSecret });
        aml.seedWorkspace(seeded.workspace.id);
      }
      return seeded;
    },
    close: async () => {
      arm.lro.dispose();
      aml.dispose();
      await Promise.all([server.close(), storage.close(), online.close()]);
    },
  };

  const control = (req: EmuRequest): Promise<EmuResponse> => Promise.resolve(controlApi(req, emulator));
  const server = new EmulatorServer(
    tls,
    {
      entra: (r) => entra.handle(r),
      imds: (r) => imds.handle(r),
      arm: (r) => arm.handle(r),
      ado: (r) => ado.handle(r),
      github: (r) => github.handle(r),
      aml: (r) => aml.dataPlane.handle(r),
      control,
    },
    faults,
    requests,
  );
  origin = await server.start(options.host ?? '127.0.0.1', options.port ?? 0);
  return emulator;
}

const FAULT_KINDS: FaultKind[] = ['status', 'reset', 'delay', 'malformed', 'stall'];
const SERVICES: Service[] = ['entra', 'imds', 'arm', 'ado'];

/** Small JSON control API for the CLI mode (tests use the in-process object). Loopback only; it exposes state. */
function controlApi(req: EmuRequest, emu: Emulator): EmuResponse {
  const path = req.segments.slice(1).join('/').toLowerCase();
  const body = jsonBody(req);
  const obj: JsonObject = typeof body === 'object' && body !== null && !Array.isArray(body) ? (body as JsonObject) : {};
  if (req.method === 'GET' && path === 'state') {
    return {
      status: 200,
      body: {
        url: emu.url,
        caFile: emu.caFile,
        resources: emu.arm.resources.all().map((r) => r.body),
        roleAssignments: emu.arm.rbac.list(),
        devops: emu.ado.snapshot(),
        faults: emu.faults.list().map((f) => ({ ...f, path: String(f.path) })),
      },
    };
  }
  if (req.method === 'GET' && path === 'requests') return { status: 200, body: emu.requests };
  if (path === 'faults') {
    if (req.method === 'GET') return { status: 200, body: emu.faults.list().map((f) => ({ ...f, path: String(f.path) })) };
    if (req.method === 'DELETE') {
      emu.faults.clear();
      return { status: 204 };
    }
    if (req.method === 'POST') {
      const kind = obj.kind;
      if (typeof kind !== 'string' || !FAULT_KINDS.includes(kind as FaultKind))
        return { status: 400, body: { error: `kind must be one of ${FAULT_KINDS.join(', ')}` } };
      const spec: FaultSpec = {
        kind: kind as FaultKind,
        path: typeof obj.pathRegex === 'string' ? new RegExp(obj.pathRegex) : typeof obj.path === 'string' ? obj.path : '',
      };
      if (typeof obj.service === 'string' && SERVICES.includes(obj.service as Service)) spec.service = obj.service as Service;
      if (typeof obj.method === 'string') spec.method = obj.method;
      if (typeof obj.status === 'number') spec.status = obj.status;
      if (typeof obj.retryAfterSeconds === 'number') spec.retryAfterSeconds = obj.retryAfterSeconds;
      if (typeof obj.delayMs === 'number') spec.delayMs = obj.delayMs;
      if (typeof obj.times === 'number') spec.times = obj.times;
      emu.faults.add(spec);
      return { status: 201, body: { ...spec, path: String(spec.path) } };
    }
  }
  if (req.method === 'POST' && path === 'expire-tokens') {
    emu.expireTokens();
    return { status: 204 };
  }
  if (req.method === 'POST' && path === 'clock/advance') {
    const seconds = typeof obj.seconds === 'number' ? obj.seconds : 0;
    emu.clock.advance(seconds * 1000);
    return { status: 200, body: { now: new Date(emu.clock.now()).toISOString() } };
  }
  if (req.method === 'POST' && path === 'job-token') {
    const project = typeof obj.project === 'string' ? obj.project : undefined;
    if (!project) return { status: 400, body: { error: 'project is required' } };
    const org = typeof obj.org === 'string' ? obj.org : undefined;
    try {
      const token = emu.ado.issueJobToken({ org, project });
      return { status: 200, body: { token, oidcRequestUri: emu.ado.oidcRequestUri(token) } };
    } catch (e) {
      return { status: 400, body: { error: e instanceof Error ? e.message : String(e) } };
    }
  }
  // /_emulator/vstoken/{orgId}/.well-known/openid-configuration | jwks: the emulated Azure DevOps OIDC issuer.
  const m = /^vstoken\/([0-9a-f-]{36})\/\.well-known\/(openid-configuration|jwks)$/.exec(path);
  if (req.method === 'GET' && m) {
    const meta = emu.ado.issuerMetadata(m[1]);
    if (!meta) return { status: 404, body: { error: 'unknown organisation id' } };
    return { status: 200, body: m[2] === 'jwks' ? emu.ado.jwks() : meta };
  }
  return { status: 404, body: { error: `no control endpoint ${req.method} /${req.segments.join('/')}` } };
}
