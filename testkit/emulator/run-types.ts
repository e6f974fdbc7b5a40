/**
 * The run history as its readers see it: the job engine (jobs.ts) keeps it, the data plane
 * (dataplane.ts) and MLflow (mlflow.ts) answer from it. Types only, so that the readers do not
 * import the engine (which imports the data plane).
 */

export type JobStatus =
  'NotStarted' | 'Starting' | 'Queued' | 'Preparing' | 'Running' | 'Finalizing' | 'CancelRequested' | 'Completed' | 'Failed' | 'Canceled';

export interface RunError {
  code: string;
  message: string;
}

export interface MetricPoint {
  key: string;
  value: number;
  timestamp: number;
  step: number;
}

export interface RunState {
  runId: string;
  jobName: string;
  /** Step name (the key under `jobs`), for step runs. */
  step?: string;
  /** 8-hex node id of the step in the pipeline graph (properties/tags azureml.nodeid). */
  nodeId?: string;
  parentRunId?: string;
  displayName: string;
  status: JobStatus;
  createdMs: number;
  startMs?: number;
  endMs?: number;
  error?: RunError;
  computeName?: string;
  componentId?: string;
  componentName?: string;
  /** Output name -> URI, known once the run completed (or set by setOutputs). */
  outputs: Record<string, string>;
  properties: Record<string, string>;
  tags: Record<string, string>;
  /** Who submitted the job (object id, tenant, app id). */
  createdBy?: { objectId: string; tenantId: string; appId: string };
}

/** What the readers use of a job. */
export interface JobView {
  name: string;
  workspaceId: string;
  jobType: string;
  experimentName: string;
  experimentId: string;
  run: RunState;
}

/** What the readers ask of the engine. */
export interface RunHistory {
  readonly jobs: ReadonlyMap<string, JobView>;
  run(runId: string): RunState | undefined;
  children(jobName: string): RunState[];
  metricsOf(runId: string): Map<string, MetricPoint[]>;
}
