/**
 * The job a model comes from, read-only: its status and outputs (ARM), its steps' runs and
 * outputs (MLflow runs/search by parent run, run history), and the metrics a run logged
 * (MLflow runs/get: the latest value of each metric). Every failure says what exists instead.
 */
import type { DataPlane, MlflowRun } from '../common/dataplane';
import { UserError } from '../common/errors';
import type { WorkspaceArm } from '../common/workspace-arm';
import type { MetricRef } from './gate-expr';

export interface JobProperties {
  status?: string;
  jobType?: string;
  displayName?: string;
  experimentName?: string;
  outputs?: Record<string, { uri?: string | null; jobOutputType?: string } | null> | null;
  jobs?: Record<string, { display_name?: string; displayName?: string; name?: string; outputs?: Record<string, unknown> | null } | null> | null;
  services?: Record<string, { endpoint?: string | null } | null> | null;
}

const STILL_RUNNING = new Set(['NotStarted', 'Starting', 'Provisioning', 'Preparing', 'Queued', 'Running', 'Finalizing', 'CancelRequested', 'Paused']);

const list = (names: Iterable<string>): string => [...names].join(', ') || 'none';
const tagOf = (r: MlflowRun, key: string): string | undefined => r.data?.tags?.find((t) => t.key === key)?.value;

export class TrainingJob {
  private ownRun?: Promise<MlflowRun>;
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
      throw new UserError(`Job '${name}' does not exist in workspace '${ws.ref.name}'. Check the jobName input: it is usually the jobName output of the AmlPipelineJob@1 step that trained the model.`, 'jobName');
    }
    const props = job.properties ?? {};
    const status = props.status ?? 'Unknown';
    if (status !== 'Completed') {
      const why = STILL_RUNNING.has(status)
        ? `is still ${status}. Register after it completes: run AmlPipelineJob@1 with wait: true before this step`
        : `ended ${status}, so its outputs are not a trained model. Fix the job and re-run it`;
      throw new UserError(`Job '${name}' ${why}. Nothing was registered.`, 'jobName');
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
      throw new UserError(`${what}: job '${this.name}' is a ${this.props.jobType} job and has no steps. Drop the '${step}.' prefix.`);
    }
    if (this.steps.length > 0 && !this.steps.includes(step)) {
      throw new UserError(`${what}: job '${this.name}' has no step '${step}' (steps: ${list(this.steps)}).`);
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
    this.ownRun ??= this.run(this.name);
    return this.ownRun;
  }

  /** Child runs (one per step that ran), found by their parent run. */
  private children(): Promise<MlflowRun[]> {
    this.stepRuns ??= (async () => {
      const exp = (await this.mlflow()).info.experiment_id;
      if (!exp) throw new Error(`MLflow run ${this.name} has no experiment id`);
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
      throw new UserError(`${what}: step '${step}' of job '${this.name}' has no run (runs of its steps: ${list(names)}). Was the step skipped?`);
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
    const what = `Input 'modelOutput'`;
    if (step) {
      const s = await this.stepOutputs(step, what);
      if (!s.outputs.includes(output)) {
        throw new UserError(`${what}: step '${step}' of job '${this.name}' has no output '${output}' (its outputs: ${list(s.outputs)}). Set modelOutput to ${step}.<one of them>.`, 'modelOutput');
      }
      return `azureml://jobs/${s.runId}/outputs/${output}`;
    }
    if (this.outputs.includes(output)) return `azureml://jobs/${this.name}/outputs/${output}`;
    let stepList = '';
    if (this.steps.length > 0) {
      const all: string[] = [];
      for (const st of this.steps) {
        const s = await this.stepOutputs(st, what).catch(() => undefined);
        for (const o of s?.outputs ?? Object.keys(this.props.jobs?.[st]?.outputs ?? {})) all.push(`${st}.${o}`);
      }
      stepList = ` Step outputs: ${list(all)}.`;
    }
    throw new UserError(`${what}: job '${this.name}' has no output '${output}'. Its outputs: ${list(this.outputs)}.${stepList} Set modelOutput to one of them.`, 'modelOutput');
  }

  /** The last logged value of a metric (MLflow's latest: highest step, then newest), from the job's or a step's run. */
  async metric(ref: MetricRef, where: string): Promise<number> {
    const runId = ref.step ? await this.stepRunId(ref.step, where) : this.name;
    const run = await this.run(runId);
    const metrics = run.data?.metrics ?? [];
    const m = metrics.find((x) => x.key === ref.metric);
    if (m) return typeof m.value === 'number' ? m.value : Number(m.value);
    const logged = [...new Set(metrics.map((x) => x.key))].sort();
    const whose = ref.step ? `step '${ref.step}' of job '${this.name}'` : `job '${this.name}' itself`;
    let hint = '';
    if (!ref.step && this.steps.length > 0) hint = ` Metrics logged inside a pipeline belong to its steps: prefix the step name, e.g. ${this.steps[this.steps.length - 1]}.${ref.metric} (steps: ${list(this.steps)}).`;
    throw new UserError(`${where}: metric '${ref.metric}' was never logged by ${whose} (${logged.length ? `logged: ${logged.join(', ')}` : 'it logged no metrics'}).${hint}`, 'metricGate');
  }
}
