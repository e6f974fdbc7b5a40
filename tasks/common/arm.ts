/**
 * ARM access: a workspace-scoped Azure ML client (the SDK) and a small JSON client for the
 * providers the SDK does not cover (Microsoft.Network, Storage, Key Vault, ACR).
 * Both use the connection's ARM URL and scope and the agent's proxy, and retry 429/5xx
 * honouring Retry-After (core-rest-pipeline's default retry policy).
 */
import { AzureMachineLearningWorkspaces, type Workspace } from '@azure/arm-machinelearning';
import {
  bearerTokenAuthenticationPolicy,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  createDefaultHttpClient,
  RestError,
  type HttpMethods,
  type Pipeline,
} from '@azure/core-rest-pipeline';
import type { TokenCredential } from '@azure/identity';
import type { AzureRmEndpoint } from './endpoint';
import { translateAzureError } from './errors';
import { toProxySettings, type ProxyResolver } from './proxy';

export const USER_AGENT = 'aml-secure-mlops';

export interface ArmContext {
  endpoint: AzureRmEndpoint;
  credential: TokenCredential;
  proxy: ProxyResolver;
}

/** Retry budget shared by SDK and raw clients: bounded, and honours Retry-After. */
const RETRY = { maxRetries: 5, retryDelayInMs: 800, maxRetryDelayInMs: 30_000 };

function clientOptions(ctx: ArmContext) {
  const proxyOptions = toProxySettings(ctx.proxy(ctx.endpoint.armUrl));
  return {
    endpoint: ctx.endpoint.armUrl,
    credentialScopes: [ctx.endpoint.armScope],
    retryOptions: RETRY,
    userAgentOptions: { userAgentPrefix: USER_AGENT },
    ...(proxyOptions ? { proxyOptions } : {}),
  };
}

/** The Azure ML management client for the connection's subscription. */
export function mlClient(ctx: ArmContext): AzureMachineLearningWorkspaces {
  return new AzureMachineLearningWorkspaces(ctx.credential, ctx.endpoint.subscriptionId, clientOptions(ctx));
}

export class ArmClient {
  private readonly pipeline: Pipeline;
  private readonly http = createDefaultHttpClient();
  constructor(private readonly ctx: ArmContext) {
    const opts = clientOptions(ctx);
    this.pipeline = createPipelineFromOptions(opts);
    this.pipeline.addPolicy(bearerTokenAuthenticationPolicy({ credential: ctx.credential, scopes: opts.credentialScopes }));
  }

  /** Send a JSON request to ARM. `path` is an ARM id or path starting with '/'. */
  async request<T>(method: HttpMethods, path: string, apiVersion: string, body?: unknown): Promise<T> {
    const url = new URL(this.ctx.endpoint.armUrl + path);
    url.searchParams.set('api-version', apiVersion);
    const req = createPipelineRequest({
      url: url.toString(),
      method,
      headers: createHttpHeaders({ accept: 'application/json', ...(body === undefined ? {} : { 'content-type': 'application/json' }) }),
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    const res = await this.pipeline.sendRequest(this.http, req);
    const text = res.bodyAsText ?? '';
    let parsed: unknown;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      throw new RestError(`ARM returned a response that is not JSON for ${method} ${path} (status ${res.status}).`, { statusCode: res.status, request: req, response: res });
    }
    if (res.status >= 400) {
      const err = (parsed as { error?: { code?: string; message?: string } } | undefined)?.error;
      throw new RestError(err?.message ?? `ARM returned ${res.status} for ${method} ${path}`, {
        statusCode: res.status,
        ...(err?.code ? { code: err.code } : {}),
        request: req,
        response: res,
      });
    }
    return parsed as T;
  }

  get<T>(path: string, apiVersion: string): Promise<T> {
    return this.request<T>('GET', path, apiVersion);
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
    throw translateAzureError(e, { action: `read workspace '${ws.name}' in resource group '${ws.resourceGroup}'`, scope: workspaceId(ws), connection: ctx.endpoint.name });
  }
}

/** The studio link for a workspace resource, as Azure ML builds it. */
export function studioUrl(ws: WorkspaceRef, path = ''): string {
  const wsid = encodeURIComponent(workspaceId(ws));
  return `https://ml.azure.com/${path}?wsid=${wsid}`;
}
