/**
 * ARM access: a workspace-scoped Azure ML client (the SDK) and a small JSON client for the
 * providers the SDK does not cover (Microsoft.Network, Storage, Key Vault, ACR).
 * Both send through the one pipeline of http.ts (agentPipeline): the connection's ARM URL and
 * scope, the agent's proxy, the shared retry budget, timeout, allowed hosts and trace.
 */
import { AzureMachineLearningWorkspaces, type Workspace } from '@azure/arm-machinelearning';
import { deserializationPolicy, serializationPolicy } from '@azure/core-client';
import type { HttpClient, HttpMethods } from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';
import type { AzureRmEndpoint } from './endpoint';
import { translateAzureError } from './errors';
import { originRule, type HostRule } from './hosts';
import { agentHttpClient, agentPipeline, JsonClient, type RawResponse, type Trace } from './http';
import { msg } from './messages';
import type { ProxyResolver } from './proxy';

/** Where ARM calls go and how tokens are scoped; the credential itself may come from anywhere. */
export type ArmTarget = Omit<AzureRmEndpoint, 'auth' | 'id'>;

export interface ArmContext {
  endpoint: ArmTarget;
  credential: TokenCredential;
  proxy: ProxyResolver;
  /** System.Debug request lines (tracePolicy); absent: none. */
  trace?: Trace;
}

/**
 * The Azure ML management client for the connection's subscription, on agentPipeline: given a
 * pipeline that already has a bearer policy, the SDK builds none of its own (no second retry,
 * proxy or token policy), so its calls, and the Location its pollers follow, get exactly the
 * retry, timeout, proxy, allowed-host rule (the connection's ARM origin) and trace of ArmClient.
 * `httpClient` is for tests.
 */
export function mlClient(ctx: ArmContext, httpClient: HttpClient = agentHttpClient()): AzureMachineLearningWorkspaces {
  const pipeline = agentPipeline(ctx.endpoint.armUrl, ctx.credential, [ctx.endpoint.armScope], ctx.proxy, {
    hosts: originRule(ctx.endpoint.armUrl),
    ...(ctx.trace ? { trace: ctx.trace } : {}),
  });
  // The SDK's operations need core-client's body (de)serialisation, which createClientPipeline would add.
  pipeline.addPolicy(serializationPolicy(), { phase: 'Serialize' });
  pipeline.addPolicy(deserializationPolicy(), { phase: 'Deserialize' });
  return new AzureMachineLearningWorkspaces(ctx.credential, ctx.endpoint.subscriptionId, {
    endpoint: ctx.endpoint.armUrl,
    credentialScopes: [ctx.endpoint.armScope],
    pipeline,
    httpClient,
  });
}

/** Raw ARM requests, for providers and api-versions the SDK does not cover. */
export class ArmClient {
  private readonly client: JsonClient;
  /** The only origin this client calls: the connection's ARM URL (operation URLs included). */
  readonly hosts: HostRule;
  constructor(private readonly ctx: ArmContext) {
    this.hosts = originRule(ctx.endpoint.armUrl);
    this.client = new JsonClient(ctx.endpoint.armUrl, ctx.credential, [ctx.endpoint.armScope], ctx.proxy, {
      hosts: this.hosts,
      ...(ctx.trace ? { trace: ctx.trace } : {}),
    });
  }

  /** The ARM URL of `path` (an ARM id or path starting with '/') at `apiVersion`. */
  private url(path: string, apiVersion: string): string {
    const url = new URL(this.ctx.endpoint.armUrl + path);
    url.searchParams.set('api-version', apiVersion);
    return url.toString();
  }

  /** `path` is an ARM id or path starting with '/'. */
  request<T>(method: HttpMethods, path: string, apiVersion: string, body?: unknown): Promise<T> {
    return this.client.request<T>(method, this.url(path, apiVersion), body);
  }

  get<T>(path: string, apiVersion: string): Promise<T> {
    return this.request<T>('GET', path, apiVersion);
  }

  /** The raw response (status, headers, text) of a request to an ARM path, e.g. to start an LRO. */
  send(method: HttpMethods, path: string, apiVersion: string, body?: unknown, signal?: AbortSignal): Promise<RawResponse> {
    return this.client.send(method, this.url(path, apiVersion), { ...(body === undefined ? {} : { body }), ...(signal ? { signal } : {}) });
  }

  /** The raw response of a GET on an absolute URL ARM handed out (Azure-AsyncOperation, Location); refused off the ARM host. */
  poll(url: string, signal?: AbortSignal): Promise<RawResponse> {
    return this.client.send('GET', url, signal ? { signal } : {});
  }
}

export interface WorkspaceRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

export function workspaceId(ws: WorkspaceRef): string {
  return `/subscriptions/${ws.subscriptionId}/resourceGroups/${ws.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${ws.name}`;
}

/** Read the workspace, translating the usual failures (missing role, wrong name, private link). */
export async function getWorkspace(ctx: ArmContext, client: AzureMachineLearningWorkspaces, ws: WorkspaceRef): Promise<Workspace> {
  try {
    return await client.workspaces.get(ws.resourceGroup, ws.name);
  } catch (e) {
    throw translateAzureError(e, {
      action: msg('ActionReadWorkspace', ws.name, ws.resourceGroup),
      scope: workspaceId(ws),
      connection: ctx.endpoint.name,
    });
  }
}

/** The studio link for a workspace resource, as Azure ML builds it. */
export function studioUrl(ws: WorkspaceRef, path = ''): string {
  const wsid = encodeURIComponent(workspaceId(ws));
  return `https://ml.azure.com/${path}?wsid=${wsid}`;
}

/** A workspace read through ARM, with the client and credential that read it. */
export interface WorkspaceSession {
  arm: ArmContext;
  client: AzureMachineLearningWorkspaces;
  ref: WorkspaceRef;
  workspace: Workspace;
}

/** Read the workspace with any ARM credential and say where it is and whether it is public. */
export async function readWorkspace(arm: ArmContext, ref: WorkspaceRef, log: { info(line: string): void }): Promise<WorkspaceSession> {
  const client = mlClient(arm);
  const workspace = await getWorkspace(arm, client, ref);
  log.info(
    msg(
      'WorkspaceOpened',
      ref.name,
      workspace.location ?? msg('WorkspaceUnknownRegion'),
      workspace.publicNetworkAccess ?? msg('PublicNetworkAccessNotSet'),
    ),
  );
  return { arm, client, ref, workspace };
}
