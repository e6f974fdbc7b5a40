/**
 * Azure ML's data plane, reached through the URLs the workspace advertises (discoveryUrl,
 * mlFlowTrackingUri): run history for pipeline steps and their errors, MLflow for metrics.
 * With private link these are the workspace's private endpoint names, so a DNS problem shows
 * up here first; errors say so.
 */
import type { Workspace } from '@azure/arm-machinelearning';
import type { ArmContext, WorkspaceRef } from './arm';
import { dataPlaneRule, type HostRule } from './hosts';
import { JsonClient } from './http';
import { msg } from './messages';

export interface RunDto {
  runId: string;
  parentRunId?: string;
  status?: string;
  displayName?: string;
  name?: string;
  startTimeUtc?: string;
  endTimeUtc?: string;
  error?: { error?: { code?: string; message?: string } };
  properties?: Record<string, string>;
  tags?: Record<string, string>;
  /** Outputs of the run by name (asset id = the output's URI). */
  outputs?: Record<string, { assetId?: string; type?: string }> | null;
}

export interface MlflowRun {
  info: { run_id: string; experiment_id?: string; status?: string; start_time?: number; end_time?: number; run_name?: string };
  data?: {
    metrics?: Array<{ key: string; value: number; step?: number; timestamp?: number }>;
    tags?: Array<{ key: string; value: string }>;
  };
}

export interface MetricPoint {
  key: string;
  value: number;
  step?: number;
  timestamp?: number;
}

const scopePath = (ws: WorkspaceRef): string =>
  `subscriptions/${ws.subscriptionId}/resourceGroups/${ws.resourceGroup}/providers/Microsoft.MachineLearningServices/workspaces/${ws.name}`;

export class DataPlane {
  private apiBase?: Promise<string>;
  private readonly clients = new Map<string, JsonClient>();
  /** The hosts the ARM token may go to: this cloud's Azure ML domains in the workspace's region. */
  private readonly hosts: HostRule;

  constructor(
    private readonly arm: ArmContext,
    private readonly ref: WorkspaceRef,
    private readonly ws: Workspace,
  ) {
    this.hosts = dataPlaneRule(arm.endpoint.armUrl, ws.location);
  }

  private client(origin: string): JsonClient {
    let c = this.clients.get(origin);
    if (!c) {
      // Azure ML's data plane accepts the ARM token (the SDKs use the same one); every URL, also
      // one a response named (discovery document, nextLink), is checked against the hosts first.
      c = new JsonClient(origin, this.arm.credential, [this.arm.endpoint.armScope], this.arm.proxy, {
        hosts: this.hosts,
        ...(this.arm.trace ? { trace: this.arm.trace } : {}),
      });
      this.clients.set(origin, c);
    }
    return c;
  }

  /** The regional (or private) API host from the workspace's discovery document. */
  private api(): Promise<string> {
    this.apiBase ??= (async () => {
      const url = this.ws.discoveryUrl;
      if (!url) throw new Error(msg('WorkspaceNoDiscoveryUrl', this.ref.name));
      const doc = await this.client(new URL(url).origin).request<{ api?: string; history?: string }>('GET', url);
      const api = doc.history ?? doc.api;
      if (!api) throw new Error(msg('DiscoveryNoApiHost', this.ref.name));
      return api.replace(/\/+$/, '');
    })();
    return this.apiBase;
  }

  async run(runId: string): Promise<RunDto> {
    const base = await this.api();
    return this.client(new URL(base).origin).request<RunDto>(
      'GET',
      `${base}/history/v1.0/${scopePath(this.ref)}/runs/${encodeURIComponent(runId)}`,
    );
  }

  /** Child runs of a pipeline job: one per step. */
  async children(runId: string): Promise<RunDto[]> {
    const base = await this.api();
    const out: RunDto[] = [];
    let url: string | undefined = `${base}/history/v1.0/${scopePath(this.ref)}/runs/${encodeURIComponent(runId)}/children`;
    for (let page = 0; url && page < 20; page++) {
      const res: { value?: RunDto[]; nextLink?: string } = await this.client(new URL(url).origin).request('GET', url);
      out.push(...(res.value ?? []));
      url = res.nextLink;
    }
    return out;
  }

  /** https base of MLflow's REST API for the workspace (azureml:// -> https://). */
  private mlflowBase(): string {
    const uri = this.ws.mlFlowTrackingUri;
    if (!uri) throw new Error(msg('WorkspaceNoMlflowTrackingUri', this.ref.name));
    return uri.replace(/^azureml:\/\//, 'https://').replace(/\/+$/, '');
  }

  async mlflowRun(runId: string): Promise<MlflowRun> {
    const base = this.mlflowBase();
    const res = await this.client(new URL(base).origin).request<{ run: MlflowRun }>(
      'GET',
      `${base}/api/2.0/mlflow/runs/get?run_id=${encodeURIComponent(runId)}`,
    );
    return res.run;
  }

  async searchRuns(experimentIds: string[], filter: string): Promise<MlflowRun[]> {
    const base = this.mlflowBase();
    const res = await this.client(new URL(base).origin).request<{ runs?: MlflowRun[] }>('POST', `${base}/api/2.0/mlflow/runs/search`, {
      experiment_ids: experimentIds,
      filter,
      max_results: 1000,
    });
    return res.runs ?? [];
  }

  async metricHistory(runId: string, key: string): Promise<MetricPoint[]> {
    const base = this.mlflowBase();
    const res = await this.client(new URL(base).origin).request<{ metrics?: MetricPoint[] }>(
      'GET',
      `${base}/api/2.0/mlflow/metrics/get-history?run_id=${encodeURIComponent(runId)}&metric_key=${encodeURIComponent(key)}`,
    );
    return res.metrics ?? [];
  }
}
