/**
 * ARM access: a workspace-scoped Azure ML client (the SDK) and a small JSON client for the
 * providers the SDK does not cover (Microsoft.Network, Storage, Key Vault, ACR).
 * Both use the connection's ARM URL and scope and the agent's proxy, and retry 429/5xx
 * honouring Retry-After (core-rest-pipeline's default retry policy).
 */
import { AzureMachineLearningWorkspaces, type Workspace } from '@azure/arm-machinelearning';
import { bearerTokenAuthenticationPolicyName, type HttpMethods } from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';
import type { AzureRmEndpoint } from './endpoint';
import { translateAzureError } from './errors';
import { originRule, type HostRule } from './hosts';
import { bearerAuthPolicy, hostPolicy, JsonClient, RETRY, timeoutPolicy, tracePolicy, USER_AGENT, type RawResponse, type Trace } from './http';
import { msg } from './messages';
import { toProxySettings, type ProxyResolver } from './proxy';

/** Where ARM calls go and how tokens are scoped; the credential itself may come from anywhere. */
export type ArmTarget = Omit<AzureRmEndpoint, 'auth' | 'id'>;

export interface ArmContext {
  endpoint: ArmTarget;
  credential: TokenCredential;
  proxy: ProxyResolver;
  /** System.Debug request lines (tracePolicy); absent: none. */
  trace?: Trace;
}

/** The Azure ML management client for the connection's subscription. */
export function mlClient(ctx: ArmContext): AzureMachineLearningWorkspaces {
  const proxyOptions = toProxySettings(ctx.proxy(ctx.endpoint.armUrl));
  const client = new AzureMachineLearningWorkspaces(ctx.credential, ctx.endpoint.subscriptionId, {
    endpoint: ctx.endpoint.armUrl,
    credentialScopes: [ctx.endpoint.armScope],
    retryOptions: RETRY,
    userAgentOptions: { userAgentPrefix: USER_AGENT },
    // The SDK follows an operation's Location wherever it points: only the connection's ARM origin is called.
    additionalPolicies: [
      { policy: hostPolicy(originRule(ctx.endpoint.armUrl)), position: 'perCall' },
      { policy: timeoutPolicy(), position: 'perRetry' },
      ...(ctx.trace ? [{ policy: tracePolicy(ctx.trace), position: 'perRetry' as const }] : []),
    ],
    ...(proxyOptions ? { proxyOptions } : {}),
  });
  // Our bearer policy also recovers from a token ARM rejects before its expiry.
  client.pipeline.removePolicy({ name: bearerTokenAuthenticationPolicyName });
  client.pipeline.addPolicy(bearerAuthPolicy(ctx.credential, [ctx.endpoint.armScope]));
  return client;
}

/** Raw ARM requests, for providers and api-versions the SDK does not cover. */
export class ArmClient {
  private readonly client: JsonClient;
  /** The only origin this client calls: the connection's ARM URL (operation URLs included). */
  readonly hosts: HostRule;
  constructor(private readonly ctx: ArmContext) {
    this.hosts = originRule(ctx.endpoint.armUrl);
    this.client = new JsonClient(ctx.endpoint.armUrl, ctx.credential, [ctx.endpoint.armScope], ctx.proxy, { hosts: this.hosts, ...(ctx.trace ? { trace: ctx.trace } : {}) });
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
    throw translateAzureError(e, { action: msg('ActionReadWorkspace', ws.name, ws.resourceGroup), scope: workspaceId(ws), connection: ctx.endpoint.name });
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
  log.info(msg('WorkspaceOpened', ref.name, workspace.location ?? msg('WorkspaceUnknownRegion'), workspace.publicNetworkAccess ?? msg('PublicNetworkAccessNotSet')));
  return { arm, client, ref, workspace };
}
