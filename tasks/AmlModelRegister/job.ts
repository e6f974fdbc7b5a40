/**
 * The job a model comes from, read-only: its status and outputs (ARM), its steps' runs and
 * outputs (MLflow runs/search by parent run, run history), and the metrics a run logged
 * (MLflow runs/get: the latest value of each metric). Every failure says what exists instead.
 */
import type { DataPlane, MlflowRun } from '../common/dataplane';
import { UserError } from '../common/errors';
import type { WorkspaceArm } from '../common/workspace-arm';
import type { MetricRef } from './gate-expr';
import { msg } from './messages';

export interface JobProperties {
  status?: string;
  jobType?: string;
  displayName?: string;
  experimentName?: string;
  outputs?: Record<string, { uri?: string | null; jobOutputType?: string } | null> | null;
  jobs?: Record<
    string,
    { display_name?: string; displayName?: string; name?: string; outputs?: Record<string, unknown> | null } | null
  > | null;
  services?: Record<string, { endpoint?: string | null } | null> | null;
}

const STILL_RUNNING = new Set([
  'NotStarted',
  'Starting',
  'Provisioning',
  'Preparing',
  'Queued',
  'Running',
  'Finalizing',
  'CancelRequested',
  'Paused',
]);

const list = (names: Iterable<string>): string => [...names].join(', ') || msg('ListNone');
const tagOf = (r: MlflowRun, key: string): string | undefined => r.data?.tags?.find((t) => t.key === key)?.value;

export class TrainingJob {
  private stepRuns?: Promise<MlflowRun[]>;
  private readonly runs = new Map<string, Promise<MlflowRun>>();

  private constructor(
    readonly name: string,
    readonly props: JobProperties,
    private readonly dp: DataPlane,
  ) {}

  /** Reads the job; fails unless it exists and completed. */
  static async open(ws: WorkspaceArm, dp: DataPlane, name: string): Promise<TrainingJob> {
    const job = await ws.find<{ properties?: JobProperties | null }>(`jobs/${encodeURIComponent(name)}`);
    if (!job) {
      throw new UserError(msg('JobNotFound', name, ws.ref.name), 'jobName');
    }
    const props = job.properties ?? {};
    const status = props.status ?? 'Unknown';
    if (status !== 'Completed') {
      throw new UserError(
        STILL_RUNNING.has(status) ? msg('JobStillRunning', name, status) : msg('JobNotCompleted', name, status),
        'jobName',
      );
    }
    return new TrainingJob(name, props, dp);
  }

  get studioUrl(): string | undefined {
    return this.props.services?.Studio?.endpoint ?? undefined;
  }

  /** Step names (keys under `jobs`) of a pipeline job; [] for other job types. */
  get steps(): string[] {
    return Object.keys(this.props.jobs ?? {});
  }

  /** Outputs of the job itself (pipeline-level outputs for a pipeline). */
  get outputs(): string[] {
    return Object.keys(this.props.outputs ?? {});
  }

  private requireStep(step: string, what: string): void {
    if (this.props.jobType && this.props.jobType !== 'Pipeline' && this.steps.length === 0) {
      throw new UserError(msg('JobHasNoSteps', what, this.name, this.props.jobType, step));
    }
    if (this.steps.length > 0 && !this.steps.includes(step)) {
      throw new UserError(msg('JobHasNoStep', what, this.name, step, list(this.steps)));
    }
  }

  private run(runId: string): Promise<MlflowRun> {
    let r = this.runs.get(runId);
    if (!r) {
      r = this.dp.mlflowRun(runId);
      this.runs.set(runId, r);
    }
    return r;
  }

  /** The job's own MLflow run (a pipeline's parent run). */
  mlflow(): Promise<MlflowRun> {
    return this.run(this.name);
  }

  /** Child runs (one per step that ran), found by their parent run. */
  private children(): Promise<MlflowRun[]> {
    this.stepRuns ??= (async () => {
      const exp = (await this.mlflow()).info.experiment_id;
      if (!exp) throw new Error(msg('MlflowRunNoExperiment', this.name));
      return this.dp.searchRuns([exp], `tags.mlflow.parentRunId = '${this.name.replace(/'/g, "\\'")}'`);
    })();
    return this.stepRuns;
  }

  /** The step's display name: its run's mlflow.runName. */
  private displayName(step: string): string {
    const node = this.props.jobs?.[step];
    return node?.display_name ?? node?.displayName ?? step;
  }

  /** The run id of a step (its child job name), found by the step's display name. */
  async stepRunId(step: string, what: string): Promise<string> {
    this.requireStep(step, what);
    const display = this.displayName(step);
    const runs = await this.children();
    const found = runs.find((r) => tagOf(r, 'mlflow.runName') === display) ?? runs.find((r) => r.info.run_name === display);
    if (!found) {
      const names = runs.map((r) => tagOf(r, 'mlflow.runName') ?? r.info.run_name ?? r.info.run_id);
      throw new UserError(msg('StepHasNoRun', what, step, this.name, list(names)));
    }
    return found.info.run_id;
  }

  /** Outputs of a step: what run history recorded for its run, plus the bindings in the job. */
  async stepOutputs(step: string, what: string): Promise<{ runId: string; outputs: string[] }> {
    const runId = await this.stepRunId(step, what);
    const dto = await this.dp.run(runId);
    const names = new Set([...Object.keys(dto.outputs ?? {}), ...Object.keys(this.props.jobs?.[step]?.outputs ?? {})]);
    return { runId, outputs: [...names] };
  }

  /**
   * The `azureml://jobs/<job>/outputs/<name>` URI of an output, the form Azure ML resolves at
   * registration (a step's output under its own run, which is a job too). An output that does
   * not exist fails with the ones that do.
   */
  async outputUri(output: string, step: string | undefined): Promise<string> {
    const what = msg('ModelOutputContext');
    if (step) {
      const s = await this.stepOutputs(step, what);
      if (!s.outputs.includes(output)) {
        throw new UserError(msg('StepHasNoOutput', what, step, this.name, output, list(s.outputs), step), 'modelOutput');
      }
      return `azureml://jobs/${s.runId}/outputs/${output}`;
    }
    if (this.outputs.includes(output)) return `azureml://jobs/${this.name}/outputs/${output}`;
    if (this.steps.length === 0) throw new UserError(msg('JobHasNoOutput', what, this.name, output, list(this.outputs)), 'modelOutput');
    const all: string[] = [];
    for (const st of this.steps) {
      const s = await this.stepOutputs(st, what).catch(() => undefined);
      for (const o of s?.outputs ?? Object.keys(this.props.jobs?.[st]?.outputs ?? {})) all.push(`${st}.${o}`);
    }
    throw new UserError(msg('JobHasNoOutputWithSteps', what, this.name, output, list(this.outputs), list(all)), 'modelOutput');
  }

  /** The last logged value of a metric (MLflow's latest: highest step, then newest), from the job's or a step's run. */
  async metric(ref: MetricRef, where: string): Promise<number> {
    const runId = ref.step ? await this.stepRunId(ref.step, where) : this.name;
    const run = await this.run(runId);
    const metrics = run.data?.metrics ?? [];
    const m = metrics.find((x) => x.key === ref.metric);
    if (m) return typeof m.value === 'number' ? m.value : Number(m.value);
    const logged = [...new Set(metrics.map((x) => x.key))].sort();
    const seen = logged.length ? msg('MetricsLogged', logged.join(', ')) : msg('NoMetricsLogged');
    if (ref.step) throw new UserError(msg('MetricNeverLoggedByStep', where, ref.metric, ref.step, this.name, seen), 'metricGate');
    if (this.steps.length === 0) throw new UserError(msg('MetricNeverLoggedByJob', where, ref.metric, this.name, seen), 'metricGate');
    // Metrics logged inside a pipeline belong to its steps: suggest the step prefix.
    throw new UserError(
      msg(
        'MetricNeverLoggedByPipeline',
        where,
        ref.metric,
        this.name,
        seen,
        this.steps[this.steps.length - 1],
        ref.metric,
        list(this.steps),
      ),
      'metricGate',
    );
  }
}
