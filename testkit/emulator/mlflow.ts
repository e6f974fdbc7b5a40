// MLflow's REST API (2.0) as Azure ML serves it at the workspace's tracking URI:
//   {tracking}/api/2.0/mlflow/runs/get?run_id=            -> { run: { info, data, inputs } }
//   {tracking}/api/2.0/mlflow/runs/search (POST)          -> { runs, next_page_token? }
//   {tracking}/api/2.0/mlflow/metrics/get-history?run_id=&metric_key=  -> { metrics }
//   {tracking}/api/2.0/mlflow/experiments/get-by-name?experiment_name=, experiments/get?experiment_id=
// with {tracking} = https://<host>/mlflow/v1.0/subscriptions/{sub}/resourceGroups/{rg}/providers/
// Microsoft.MachineLearningServices/workspaces/{ws}. An Azure ML run id is the MLflow run id
// (the job name for a pipeline, the step run's id for a step); step runs carry the tag
// mlflow.parentRunId. Errors use MLflow's shape { error_code, message }.
import type { JobView, MetricPoint, RunHistory, RunState } from './run-types';
import type { JsonObject } from './jwt';
import type { EmuResponse } from './types';

export function mlflowError(status: number, errorCode: string, message: string): EmuResponse {
  return { status, body: { error_code: errorCode, message } };
}

const MLFLOW_STATUS: Record<string, string> = {
  NotStarted: 'SCHEDULED',
  Starting: 'SCHEDULED',
  Provisioning: 'SCHEDULED',
  Preparing: 'SCHEDULED',
  Queued: 'SCHEDULED',
  Running: 'RUNNING',
  Finalizing: 'RUNNING',
  CancelRequested: 'RUNNING',
  Completed: 'FINISHED',
  Failed: 'FAILED',
  Canceled: 'KILLED',
};

interface Ctx {
  engine: RunHistory;
  /** ARM id of the workspace. */
  workspaceId: string;
  /** https://<host>/mlflow/v1.0/... base of this workspace (for artifact URIs). */
  trackingBase: string;
}

function latestMetrics(engine: RunHistory, run: RunState): Array<MetricPoint> {
  const out: MetricPoint[] = [];
  for (const points of engine.metricsOf(run.runId).values()) {
    const last = [...points].sort((a, b) => a.step - b.step || a.timestamp - b.timestamp).at(-1);
    if (last) out.push(last);
  }
  return out;
}

function runTags(job: JobView, run: RunState): Record<string, string> {
  const tags: Record<string, string> = { ...run.tags, 'mlflow.runName': run.displayName };
  if (run.createdBy) tags['mlflow.user'] = run.createdBy.appId || run.createdBy.objectId;
  if (run.parentRunId) {
    tags['mlflow.parentRunId'] = run.parentRunId;
    tags['mlflow.rootRunId'] = job.name;
  }
  return tags;
}

export function mlflowRun(ctx: Ctx, job: JobView, run: RunState): JsonObject {
  const info: JsonObject = {
    run_id: run.runId,
    run_uuid: run.runId,
    run_name: run.displayName,
    experiment_id: job.experimentId,
    user_id: run.createdBy?.objectId ?? '',
    status: MLFLOW_STATUS[run.status] ?? 'RUNNING',
    start_time: run.startMs ?? run.createdMs,
    artifact_uri: `${ctx.trackingBase.replace(/^https:/, 'azureml:')}/experiments/${job.experimentId}/runs/${run.runId}/artifacts`,
    lifecycle_stage: 'active',
  };
  if (run.endMs !== undefined) info.end_time = run.endMs;
  return {
    info,
    data: {
      metrics: latestMetrics(ctx.engine, run).map((m) => ({ key: m.key, value: m.value, timestamp: m.timestamp, step: m.step })),
      params: [],
      tags: Object.entries(runTags(job, run)).map(([key, value]) => ({ key, value })),
    },
    inputs: {},
  };
}

/** Runs of the workspace: every job's run and its step runs. */
function allRuns(ctx: Ctx): Array<{ job: JobView; run: RunState }> {
  const out: Array<{ job: JobView; run: RunState }> = [];
  for (const job of ctx.engine.jobs.values()) {
    if (job.workspaceId.toLowerCase() !== ctx.workspaceId.toLowerCase()) continue;
    out.push({ job, run: job.run });
    for (const child of ctx.engine.children(job.name)) out.push({ job, run: child });
  }
  return out;
}

function findRun(ctx: Ctx, runId: string): { job: JobView; run: RunState } | undefined {
  const run = ctx.engine.run(runId);
  const job = run ? ctx.engine.jobs.get(run.jobName) : undefined;
  if (!run || !job || job.workspaceId.toLowerCase() !== ctx.workspaceId.toLowerCase()) return undefined;
  return { job, run };
}

// ---- search filter ----------------------------------------------------------------------

interface Clause {
  kind: 'tags' | 'attributes' | 'params' | 'metrics';
  key: string;
  op: string;
  value: string | number;
}

const ENTITY: Record<string, Clause['kind']> = {
  tags: 'tags',
  tag: 'tags',
  attributes: 'attributes',
  attribute: 'attributes',
  attr: 'attributes',
  run: 'attributes',
  params: 'params',
  param: 'params',
  parameter: 'params',
  parameters: 'params',
  metrics: 'metrics',
  metric: 'metrics',
};

/** MLflow search filter: clauses `<entity>.<key> <op> <value>` joined by AND. */
export function parseFilter(filter: string): Clause[] | undefined {
  const text = filter.trim();
  if (text === '') return [];
  const clauses: Clause[] = [];
  const re =
    /^\s*([A-Za-z_]+)\.(`[^`]+`|"[^"]+"|[A-Za-z0-9_.\-:/]+)\s*(!=|>=|<=|=|>|<|ILIKE|LIKE)\s*('(?:[^'\\]|\\.)*'|"(?:[^"\\]|\\.)*"|-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)\s*(?:\bAND\b|$)/i;
  let rest = text;
  while (rest.trim() !== '') {
    const m = re.exec(rest);
    if (!m) return undefined;
    const kind = ENTITY[m[1].toLowerCase()];
    if (!kind) return undefined;
    const key = m[2].replace(/^[`"]|[`"]$/g, '');
    const raw = m[4];
    const value = /^['"]/.test(raw) ? raw.slice(1, -1).replace(/\\(.)/g, '$1') : Number(raw);
    clauses.push({ kind, key, op: m[3].toUpperCase(), value });
    rest = rest.slice(m[0].length);
  }
  return clauses;
}

function like(value: string, pattern: string, insensitive: boolean): boolean {
  const re = new RegExp(
    `^${pattern
      .replace(/[.*+?^${}()|[\]\\]/g, '\\$&')
      .replace(/%/g, '.*')
      .replace(/_/g, '.')}$`,
    insensitive ? 'i' : '',
  );
  return re.test(value);
}

function compare(actual: string | number | undefined, op: string, expected: string | number): boolean {
  if (actual === undefined) return op === '!=';
  if (op === 'LIKE' || op === 'ILIKE') return like(String(actual), String(expected), op === 'ILIKE');
  if (typeof expected === 'number' || typeof actual === 'number') {
    const a = Number(actual);
    const e = Number(expected);
    switch (op) {
      case '=':
        return a === e;
      case '!=':
        return a !== e;
      case '>':
        return a > e;
      case '>=':
        return a >= e;
      case '<':
        return a < e;
      case '<=':
        return a <= e;
    }
    return false;
  }
  if (op === '=') return actual === expected;
  if (op === '!=') return actual !== expected;
  return false;
}

function matches(ctx: Ctx, job: JobView, run: RunState, clauses: Clause[]): boolean {
  const tags = runTags(job, run);
  const metrics = new Map(latestMetrics(ctx.engine, run).map((m) => [m.key, m.value]));
  return clauses.every((c) => {
    switch (c.kind) {
      case 'tags':
        return compare(tags[c.key], c.op, c.value);
      case 'params':
        return compare(undefined, c.op, c.value);
      case 'metrics':
        return compare(metrics.get(c.key), c.op, c.value);
      case 'attributes': {
        const attrs: Record<string, string | number | undefined> = {
          run_id: run.runId,
          run_name: run.displayName,
          status: MLFLOW_STATUS[run.status],
          start_time: run.startMs ?? run.createdMs,
          end_time: run.endMs,
          user_id: run.createdBy?.objectId,
        };
        return compare(attrs[c.key], c.op, c.value);
      }
    }
    return false;
  });
}

// ---- routes ----------------------------------------------------------------------------------

/** `rest` is the path after .../workspaces/{ws}/api/2.0/mlflow/. */
export function handleMlflow(ctx: Ctx, method: string, rest: string, query: URLSearchParams, body: unknown): EmuResponse {
  const route = rest.replace(/\/+$/, '').toLowerCase();
  const param = (name: string): string | undefined => {
    const fromQuery = query.get(name);
    if (fromQuery !== null && fromQuery !== '') return fromQuery;
    const b = body as JsonObject | undefined;
    return b && typeof b[name] === 'string' && b[name] !== '' ? (b[name] as string) : undefined;
  };
  const missing = (name: string): EmuResponse =>
    mlflowError(
      400,
      'INVALID_PARAMETER_VALUE',
      `Missing value for required parameter '${name}'. See the API docs for more information about request parameters.`,
    );

  if (route === 'runs/get' && method === 'GET') {
    const runId = param('run_id') ?? param('run_uuid');
    if (!runId) return missing('run_id');
    const found = findRun(ctx, runId);
    if (!found) return mlflowError(404, 'RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
    return { status: 200, body: { run: mlflowRun(ctx, found.job, found.run) } };
  }
  if (route === 'metrics/get-history' && method === 'GET') {
    const runId = param('run_id') ?? param('run_uuid');
    if (!runId) return missing('run_id');
    const key = param('metric_key');
    if (!key) return missing('metric_key');
    const found = findRun(ctx, runId);
    if (!found) return mlflowError(404, 'RESOURCE_DOES_NOT_EXIST', `Run with id=${runId} not found`);
    const points = ctx.engine.metricsOf(found.run.runId).get(key) ?? [];
    // Like MLflow's protobuf JSON, an empty list is left out: a metric never logged answers {}.
    return {
      status: 200,
      body: points.length > 0 ? { metrics: points.map((p) => ({ key: p.key, value: p.value, timestamp: p.timestamp, step: p.step })) } : {},
    };
  }
  if (route === 'runs/search' && method === 'POST') {
    const b = (typeof body === 'object' && body !== null ? body : {}) as JsonObject;
    const ids = Array.isArray(b.experiment_ids) ? b.experiment_ids.map(String) : [];
    const filter = typeof b.filter === 'string' ? b.filter : '';
    const clauses = parseFilter(filter);
    if (!clauses) return mlflowError(400, 'INVALID_PARAMETER_VALUE', `Invalid filter '${filter}'. Could not be parsed.`);
    const max = typeof b.max_results === 'number' ? b.max_results : 1000;
    if (!Number.isInteger(max) || max < 1 || max > 50000)
      return mlflowError(
        400,
        'INVALID_PARAMETER_VALUE',
        `Invalid value ${String(b.max_results)} for parameter 'max_results' supplied. It must be a positive integer no greater than 50000.`,
      );
    const offset = Number(typeof b.page_token === 'string' ? Buffer.from(b.page_token, 'base64').toString('utf8') : 0) || 0;
    const hits = allRuns(ctx)
      .filter(({ job }) => ids.includes(job.experimentId))
      .filter(({ job, run }) => matches(ctx, job, run, clauses))
      .sort((a, b2) => (b2.run.startMs ?? b2.run.createdMs) - (a.run.startMs ?? a.run.createdMs));
    const page = hits.slice(offset, offset + max);
    const out: JsonObject = {};
    if (page.length > 0) out.runs = page.map(({ job, run }) => mlflowRun(ctx, job, run));
    if (offset + max < hits.length) out.next_page_token = Buffer.from(String(offset + max)).toString('base64');
    return { status: 200, body: out };
  }
  if ((route === 'experiments/get-by-name' || route === 'experiments/get') && method === 'GET') {
    const byName = route === 'experiments/get-by-name';
    const wanted = byName ? param('experiment_name') : param('experiment_id');
    if (!wanted) return missing(byName ? 'experiment_name' : 'experiment_id');
    const job = [...ctx.engine.jobs.values()].find(
      (j) =>
        j.workspaceId.toLowerCase() === ctx.workspaceId.toLowerCase() && (byName ? j.experimentName === wanted : j.experimentId === wanted),
    );
    if (!job) {
      return mlflowError(
        404,
        'RESOURCE_DOES_NOT_EXIST',
        byName ? `Could not find experiment with name '${wanted}'` : `No Experiment with id=${wanted} exists`,
      );
    }
    return {
      status: 200,
      body: {
        experiment: {
          experiment_id: job.experimentId,
          name: job.experimentName,
          artifact_location: `${ctx.trackingBase.replace(/^https:/, 'azureml:')}/experiments/${job.experimentId}`,
          lifecycle_stage: 'active',
          tags: [],
        },
      },
    };
  }
  return mlflowError(404, 'ENDPOINT_NOT_FOUND', `No API endpoint ${method} /api/2.0/mlflow/${rest}`);
}
