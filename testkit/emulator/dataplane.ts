// Azure ML's data plane, on the emulator origin, reached through the URLs the workspace body
// advertises (discoveryUrl, mlFlowTrackingUri):
//   GET /discovery                                             { api, catalog, experimentation, history, modelmanagement, pipelines, studio }
//   GET /history/v1.0/{ws}/runs/{runId}                        RunDto (also .../experiments/{name}/runs/{runId})
//   GET /history/v1.0/{ws}/runs/{runId}/children               { value: RunDto[], continuationToken, nextLink }
//   ... /mlflow/v1.0/{ws}/api/2.0/mlflow/...                   MLflow REST (mlflow.ts)
// with {ws} = subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{name}.
// Callers authenticate with an ARM-audience bearer token (Azure ML's data plane accepts it) and
// need read on the workspace's runs (Reader has it). Requests reach this through the server's
// Azure DevOps slot (first path segment discovery/history/mlflow), so the request log and faults
// see them with service 'ado'.
import type { ArmService } from './arm';
import type { EntraService } from './entra';
import type { JobView, RunHistory, RunState } from './run-types';
import type { JsonObject } from './jwt';
import { handleMlflow, mlflowError } from './mlflow';
import { type EmuRequest, type EmuResponse, type PrincipalInfo, bearerToken, jsonBody } from './types';

export const DATA_PLANE_ROOTS = new Set(['discovery', 'history', 'mlflow']);

const RUNS_READ = 'Microsoft.MachineLearningServices/workspaces/experiments/runs/read';

export interface DataPlaneDeps {
  arm: ArmService;
  entra: EntraService;
  engine: RunHistory;
  url: () => string;
}

/** .NET TimeSpan text ("00:01:02.5000000"), as run history reports durations. */
function timeSpan(ms: number): string {
  const pad = (n: number, w = 2): string => String(Math.floor(n)).padStart(w, '0');
  const total = Math.max(0, ms);
  const h = total / 3_600_000;
  const m = (total % 3_600_000) / 60_000;
  const s = (total % 60_000) / 1000;
  const ticks = Math.round((total % 1000) * 10_000);
  return `${pad(h)}:${pad(m)}:${pad(s)}.${String(ticks).padStart(7, '0')}`;
}

export class DataPlaneService {
  /** Page size of runs/{id}/children (tests lower it to exercise nextLink). */
  childrenPageSize = 100;

  constructor(private readonly deps: DataPlaneDeps) {}

  static handles(req: EmuRequest): boolean {
    return DATA_PLANE_ROOTS.has((req.segments[0] ?? '').toLowerCase());
  }

  async handle(req: EmuRequest): Promise<EmuResponse> {
    const root = (req.segments[0] ?? '').toLowerCase();
    if (root === 'discovery' && req.segments.length === 1) {
      if (req.method !== 'GET')
        return {
          status: 405,
          body: { error: { code: 'MethodNotAllowed', message: `The requested resource does not support http method '${req.method}'.` } },
        };
      const u = this.deps.url();
      return {
        status: 200,
        body: {
          api: u,
          catalog: u,
          experimentation: u,
          gallery: u,
          history: u,
          hyperdrive: u,
          labeling: u,
          modelmanagement: u,
          pipelines: u,
          studio: u,
        },
      };
    }
    const isMlflow = root === 'mlflow';
    // /{history|mlflow}/v1.0/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/workspaces/{ws}/...
    const s = req.segments;
    const ok =
      s.length >= 10 &&
      /^v\d/i.test(s[1]) &&
      s[2].toLowerCase() === 'subscriptions' &&
      s[4].toLowerCase() === 'resourcegroups' &&
      s[6].toLowerCase() === 'providers' &&
      s[7].toLowerCase() === 'microsoft.machinelearningservices' &&
      s[8].toLowerCase() === 'workspaces';
    if (!ok) return this.error(isMlflow, 404, 'NotFound', `No data-plane route for ${req.method} ${req.url.pathname}`);
    const [sub, rg, wsName] = [s[3], s[5], s[9]];
    const wsId = `/subscriptions/${sub}/resourceGroups/${rg}/providers/Microsoft.MachineLearningServices/workspaces/${wsName}`;

    const auth = this.authenticate(req, isMlflow, wsId);
    if ('status' in auth) return auth;
    const principal = auth.principal;
    const ws = this.deps.arm.resources.get(wsId);
    if (!ws)
      return { ...this.error(isMlflow, 404, 'NotFound', `Workspace '${wsName}' was not found in resource group '${rg}'.`), principal };
    const rest = s.slice(10);

    if (isMlflow) {
      // .../api/2.0/mlflow/<route>
      if (rest.length < 4 || rest[0].toLowerCase() !== 'api' || rest[2].toLowerCase() !== 'mlflow')
        return { ...mlflowError(404, 'ENDPOINT_NOT_FOUND', `No API endpoint ${req.method} ${req.url.pathname}`), principal };
      const trackingBase = `${this.deps.url()}/mlflow/v1.0${wsId}`;
      const res = handleMlflow(
        { engine: this.deps.engine, workspaceId: ws.id, trackingBase },
        req.method,
        rest.slice(3).join('/'),
        req.url.searchParams,
        jsonBody(req),
      );
      return { ...res, principal };
    }

    // history: runs/{id}[/children] or experiments/{name}/runs/{id}[/children]
    let r = rest;
    if (r[0]?.toLowerCase() === 'experiments' || r[0]?.toLowerCase() === 'experimentids') r = r.slice(2);
    if (
      req.method !== 'GET' ||
      r[0]?.toLowerCase() !== 'runs' ||
      !r[1] ||
      r.length > 3 ||
      (r.length === 3 && r[2].toLowerCase() !== 'children')
    ) {
      return { ...this.error(false, 404, 'NotFound', `No run history route for ${req.method} ${req.url.pathname}`), principal };
    }
    const run = this.deps.engine.run(r[1]);
    const job = run ? this.deps.engine.jobs.get(run.jobName) : undefined;
    if (!run || !job || job.workspaceId.toLowerCase() !== ws.id.toLowerCase()) {
      return { status: 404, body: this.errorBody('UserError', `Run ${r[1]} was not found`, 'NotFoundError'), principal };
    }
    if (r.length === 2) return { status: 200, body: this.runDto(job, run), principal };
    const all = run.step ? [] : this.deps.engine.children(job.name);
    const offset = Number(req.url.searchParams.get('$continuationtoken') ?? req.url.searchParams.get('continuationToken') ?? 0) || 0;
    const top = Number(req.url.searchParams.get('$top') ?? 0) || this.childrenPageSize;
    const page = all.slice(offset, offset + top);
    let continuationToken: string | null = null;
    let nextLink: string | null = null;
    if (offset + top < all.length) {
      continuationToken = String(offset + top);
      const u = new URL(req.url.toString());
      u.searchParams.set('$continuationtoken', continuationToken);
      nextLink = `${this.deps.url()}${u.pathname}${u.search}`;
    }
    return { status: 200, body: { value: page.map((c) => this.runDto(job, c)), continuationToken, nextLink }, principal };
  }

  /** A run as run history returns it (RunDto). */
  runDto(job: JobView, run: RunState): JsonObject {
    const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString());
    const now = Date.now();
    const duration = run.startMs !== undefined ? timeSpan((run.endMs ?? now) - run.startMs) : null;
    const error = run.error
      ? {
          error: {
            code: run.error.code,
            severity: null,
            message: run.error.message,
            messageFormat: null,
            messageParameters: {},
            referenceCode: null,
            detailsUri: null,
            target: null,
            details: [],
            innerError: null,
            debugInfo: null,
            additionalInfo: null,
          },
          correlation: null,
          environment: null,
          location: null,
          time: iso(run.endMs),
          componentName: run.step ? 'CommonRuntime' : 'Pipeline',
        }
      : null;
    const outputs = Object.fromEntries(Object.entries(run.outputs).map(([k, uri]) => [k, { assetId: uri, type: 'UriFolder' }]));
    return {
      runNumber: Math.floor(run.createdMs / 1000) % 100000,
      rootRunId: job.name,
      createdUtc: iso(run.createdMs),
      createdBy: run.createdBy
        ? {
            userObjectId: run.createdBy.objectId,
            userTenantId: run.createdBy.tenantId,
            userName: run.createdBy.appId,
            userPrincipalName: null,
          }
        : null,
      userId: run.createdBy?.objectId ?? null,
      error,
      runUuid: run.runId === job.name ? null : run.runId,
      parentRunUuid: null,
      rootRunUuid: null,
      lastStartTimeUtc: iso(run.startMs),
      currentComputeTime: null,
      computeDuration: duration,
      effectiveStartTimeUtc: null,
      lastModifiedUtc: iso(run.endMs ?? run.startMs ?? run.createdMs),
      duration,
      cancelationReason: null,
      runId: run.runId,
      parentRunId: run.parentRunId ?? null,
      experimentId: job.experimentId,
      status: run.status,
      startTimeUtc: iso(run.startMs),
      endTimeUtc: iso(run.endMs),
      options: { generateDataContainerIdIfNotSpecified: true },
      isVirtual: !run.step && job.jobType === 'Pipeline',
      displayName: run.displayName,
      name: null,
      dataContainerId: `dcid.${run.runId}`,
      description: null,
      hidden: false,
      runType: run.step ? 'azureml.StepRun' : job.jobType === 'Pipeline' ? 'azureml.PipelineRun' : 'azureml.scriptrun',
      properties: { ...run.properties },
      parameters: {},
      actionUris: {},
      scriptName: null,
      target: run.computeName ?? null,
      uniqueChildRunComputeTargets: [],
      tags: { ...run.tags },
      settings: {},
      services: {},
      inputDatasets: [],
      outputDatasets: [],
      runDefinition: null,
      jobSpecification: null,
      primaryMetricName: null,
      createdFrom: null,
      cancelUri: null,
      completeUri: null,
      diagnosticsUri: null,
      computeRequest: null,
      compute: null,
      retainForLifetimeOfWorkspace: false,
      queueingInfo: null,
      inputs: null,
      outputs: Object.keys(outputs).length > 0 ? outputs : null,
    };
  }

  private errorBody(code: string, message: string, inner?: string): JsonObject {
    return {
      error: {
        code,
        severity: null,
        message,
        messageFormat: null,
        messageParameters: {},
        referenceCode: null,
        detailsUri: null,
        target: null,
        details: [],
        innerError: inner ? { code: inner, innerError: null } : null,
        debugInfo: null,
        additionalInfo: null,
      },
      correlation: null,
      environment: null,
      location: null,
      time: new Date().toISOString(),
      componentName: 'run-history',
    };
  }

  private error(mlflow: boolean, status: number, code: string, message: string): EmuResponse {
    if (mlflow)
      return mlflowError(
        status,
        status === 401
          ? 'UNAUTHENTICATED'
          : status === 403
            ? 'PERMISSION_DENIED'
            : code === 'NotFound'
              ? 'ENDPOINT_NOT_FOUND'
              : 'INTERNAL_ERROR',
        message,
      );
    return { status, body: this.errorBody(code, message) };
  }

  private authenticate(req: EmuRequest, mlflow: boolean, wsId: string): EmuResponse | { principal: PrincipalInfo } {
    const token = bearerToken(req);
    const challenge = { 'WWW-Authenticate': `Bearer authorization_uri="${this.deps.url()}/", error="invalid_token"` };
    if (!token)
      return {
        ...this.error(mlflow, 401, 'AuthenticationFailed', "Authentication failed. The 'Authorization' header is missing."),
        headers: challenge,
      };
    const check = this.deps.entra.verifyAccessToken(token);
    if (!check.ok) {
      const msg = check.reason === 'expired' ? 'The access token has expired.' : 'The access token is invalid.';
      return {
        ...this.error(mlflow, 401, check.reason === 'expired' ? 'ExpiredAuthenticationToken' : 'InvalidAuthenticationToken', msg),
        headers: challenge,
      };
    }
    if (!this.deps.arm.audiences.some((a) => a.toLowerCase() === check.info.aud.toLowerCase())) {
      return {
        ...this.error(
          mlflow,
          401,
          'InvalidAuthenticationToken',
          `The access token has been obtained for wrong audience or resource '${check.info.aud}'.`,
        ),
        headers: challenge,
      };
    }
    const principal: PrincipalInfo = {
      kind: check.info.claims.xms_mirid ? 'managedIdentity' : 'servicePrincipal',
      id: check.info.oid,
      appId: check.info.appid,
      tenantId: check.info.tid,
    };
    if (!this.deps.arm.rbac.isAllowed(check.info.oid, RUNS_READ, wsId)) {
      const message = `The client '${check.info.appid}' with object id '${check.info.oid}' does not have authorization to perform action '${RUNS_READ}' over scope '${wsId}'.`;
      return {
        ...(mlflow
          ? mlflowError(403, 'PERMISSION_DENIED', message)
          : { status: 403, body: this.errorBody('UserError', message, 'AuthorizationError') }),
        principal,
      };
    }
    return { principal };
  }
}
