/**
 * Azure ML online endpoints and deployments through raw ARM (api-version 2024-04-01): reads,
 * writes as long-running operations followed to the end, keys and tokens for the smoke test
 * (registered as secrets before anything else sees them), container logs, and the scoring
 * client (JsonClient: the agent's proxy and retries apply, the caller's credential header).
 */
import type { TokenCredential } from '@azure/identity';
import type { AgentIo } from '../common/agent';
import { JsonClient, type RawResponse } from '../common/http';
import { armOperation, OperationAbandoned, type LroOptions } from '../common/lro';
import type { ProxyResolver } from '../common/proxy';
import { pollUntil } from '../common/sleep';
import type { WorkspaceArm } from '../common/workspace-arm';
import { msg } from './messages';
import type { Traffic } from './rollout';

export interface EndpointProps {
  description?: string;
  authMode?: string;
  compute?: string;
  scoringUri?: string;
  swaggerUri?: string;
  provisioningState?: string;
  traffic?: Traffic;
  mirrorTraffic?: Traffic;
  properties?: Record<string, string>;
}

export interface OnlineEndpoint {
  id: string;
  name: string;
  location?: string;
  kind?: string;
  tags?: Record<string, string>;
  identity?: { type?: string; userAssignedIdentities?: Record<string, unknown> };
  properties: EndpointProps;
}

export interface OnlineDeployment {
  id: string;
  name: string;
  tags?: Record<string, string>;
  properties: { provisioningState?: string; model?: string; endpointComputeType?: string; instanceType?: string; description?: string };
  sku?: { capacity?: number };
}

/** Provisioning states an operation is still working in. */
export const BUSY = new Set(['creating', 'updating', 'deleting', 'provisioning', 'scaling']);
export const isBusy = (state: string | undefined): boolean => BUSY.has(String(state ?? '').toLowerCase());

const enc = encodeURIComponent;

export class OnlineApi {
  constructor(readonly ws: WorkspaceArm) {}

  private path(endpoint: string, deployment?: string): string {
    return `${this.ws.base}/onlineEndpoints/${enc(endpoint)}${deployment === undefined ? '' : `/deployments/${enc(deployment)}`}`;
  }

  endpoint(name: string): Promise<OnlineEndpoint | undefined> {
    return this.ws.find<OnlineEndpoint>(`onlineEndpoints/${enc(name)}`);
  }

  deployments(endpoint: string): Promise<OnlineDeployment[]> {
    return this.ws.list<OnlineDeployment>(`onlineEndpoints/${enc(endpoint)}/deployments`);
  }

  deployment(endpoint: string, name: string): Promise<OnlineDeployment | undefined> {
    return this.ws.find<OnlineDeployment>(`onlineEndpoints/${enc(endpoint)}/deployments/${enc(name)}`);
  }

  /** PUT the endpoint, wait for the operation, return it as it is now. */
  async putEndpoint(name: string, body: unknown, lro: LroOptions): Promise<OnlineEndpoint> {
    await armOperation(this.ws.arm, 'PUT', this.path(name), this.ws.apiVersion, body, lro);
    return this.settled(() => this.ws.get<OnlineEndpoint>(`onlineEndpoints/${enc(name)}`), lro);
  }

  async putDeployment(endpoint: string, name: string, body: unknown, lro: LroOptions): Promise<OnlineDeployment> {
    await armOperation(this.ws.arm, 'PUT', this.path(endpoint, name), this.ws.apiVersion, body, lro);
    return this.settled(() => this.ws.get<OnlineDeployment>(`onlineEndpoints/${enc(endpoint)}/deployments/${enc(name)}`), lro);
  }

  /**
   * The resource once its provisioning state has settled: a service that answered "done" while
   * the resource still says Updating is followed a little longer rather than trusted.
   */
  private async settled<T extends { properties: { provisioningState?: string } }>(get: () => Promise<T>, lro: LroOptions): Promise<T> {
    const signal = lro.signal ?? new AbortController().signal;
    const r = await pollUntil(get, (v) => !isBusy(v.properties.provisioningState), {
      signal,
      maxPolls: 121,
      delayMs: (n) => Math.min(5000, 250 * 2 ** Math.min(n, 4)),
      onWait: (v) => lro.onPoll?.(v.properties.provisioningState ?? 'InProgress', 0),
    });
    if (r.cancelled) throw new OperationAbandoned('cancelled', msg('StoppedWaitingCancelled'));
    return r.value;
  }

  async deleteDeployment(endpoint: string, name: string, lro: LroOptions): Promise<void> {
    await armOperation(this.ws.arm, 'DELETE', this.path(endpoint, name), this.ws.apiVersion, undefined, lro);
  }

  /** The endpoint's keys, registered as secrets before they are returned. */
  async keys(io: AgentIo, endpoint: string): Promise<{ primaryKey?: string; secondaryKey?: string }> {
    const k = await this.ws.post<{ primaryKey?: string; secondaryKey?: string }>(`onlineEndpoints/${enc(endpoint)}/listKeys`, undefined);
    io.secrets.protect(k.primaryKey);
    io.secrets.protect(k.secondaryKey);
    return k;
  }

  /** An Azure ML token for the endpoint (authMode AMLToken), registered as a secret. */
  async token(io: AgentIo, endpoint: string): Promise<{ accessToken?: string; expiryTimeUtc?: number }> {
    const t = await this.ws.post<{ accessToken?: string; expiryTimeUtc?: number }>(`onlineEndpoints/${enc(endpoint)}/token`, undefined);
    io.secrets.protect(t.accessToken);
    return t;
  }

  /** The last `tail` lines of a container of the deployment. */
  async logs(endpoint: string, deployment: string, containerType: 'InferenceServer' | 'StorageInitializer', tail: number): Promise<string> {
    const r = await this.ws.post<{ content?: string }>(`onlineEndpoints/${enc(endpoint)}/deployments/${enc(deployment)}/getLogs`, {
      containerType,
      tail,
    });
    return r.content ?? '';
  }
}

/** Credentials for calling the scoring URI, as the endpoint's auth mode asks. */
export class ScoringAuth {
  private cached?: { header: string; until: number };
  constructor(
    private readonly io: AgentIo,
    private readonly api: OnlineApi,
    private readonly endpoint: string,
    private readonly authMode: string,
    private readonly credential: TokenCredential,
  ) {}

  async header(): Promise<string> {
    if (this.cached && Date.now() < this.cached.until) return this.cached.header;
    const mode = this.authMode.toLowerCase();
    if (mode === 'key') {
      const k = await this.api.keys(this.io, this.endpoint);
      if (!k.primaryKey) throw new Error(msg('EndpointReturnedNoKey', this.endpoint));
      this.cached = { header: `Bearer ${k.primaryKey}`, until: Date.now() + 30 * 60_000 };
    } else if (mode === 'amltoken') {
      const t = await this.api.token(this.io, this.endpoint);
      if (!t.accessToken) throw new Error(msg('EndpointReturnedNoToken', this.endpoint));
      // Renew a minute before it expires (long rollouts outlive a token).
      const until = t.expiryTimeUtc ? t.expiryTimeUtc * 1000 - 60_000 : Date.now() + 10 * 60_000;
      this.cached = { header: `Bearer ${t.accessToken}`, until };
    } else {
      // AADToken endpoints take an Entra token for Azure ML (the masking credential registers it).
      const t = await this.credential.getToken('https://ml.azure.com/.default');
      if (!t) throw new Error(msg('NoEntraTokenForAzureMl', 'https://ml.azure.com'));
      this.cached = { header: `Bearer ${t.token}`, until: t.expiresOnTimestamp - 60_000 };
    }
    return this.cached.header;
  }
}

export interface ScoreResult extends RawResponse {
  /** The deployment that answered, as the service reports it (header azureml-model-deployment). */
  servedBy?: string;
}

/** Scoring requests to one deployment of the endpoint, bypassing the traffic split. */
export class Scorer {
  private readonly client: JsonClient;
  constructor(
    private readonly scoringUri: string,
    proxy: ProxyResolver,
    private readonly auth: ScoringAuth,
  ) {
    // A failing model should fail the check quickly: two retries for gateway hiccups, not five.
    this.client = new JsonClient(new URL(scoringUri).origin, undefined, [], proxy, {
      retry: { maxRetries: 2, retryDelayInMs: 500, maxRetryDelayInMs: 2000 },
      timeoutMs: 60_000,
    });
  }

  async score(deployment: string, body: unknown, signal?: AbortSignal): Promise<ScoreResult> {
    const res = await this.client.send('POST', this.scoringUri, {
      body,
      headers: { authorization: await this.auth.header(), 'azureml-model-deployment': deployment },
      ...(signal ? { signal } : {}),
    });
    const servedBy = res.headers['azureml-model-deployment'];
    return { ...res, ...(servedBy ? { servedBy } : {}) };
  }
}
