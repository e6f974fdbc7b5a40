// Microsoft.MachineLearningServices jobs: PUT (validated like Azure ML), GET, list, and cancel
// as a long-running operation, with a job engine that moves pipeline jobs and their step runs
// through the real status values on a schedule the test controls.
//
//   emu.aml.scriptJobs({ startDelayMs: 20, stepDurationMs: 50 });                  // defaults for later jobs
//   emu.aml.scriptJob('my-job', { fail: { step: 'train', code: 'UserError', message: 'boom' } });
//   emu.aml.setMetrics('my-job', 'train', { auc: [0.91], rmse: [3.0, 2.9] });
//   emu.aml.terminalAt('my-job')                                                     // ms when it ended
//
// Parent (pipeline) run: NotStarted -> Running -> Completed | Failed | CancelRequested -> Canceled.
// Step runs, created when the step is scheduled (dependency order, independent steps at once):
// NotStarted -> Queued -> Preparing -> Running -> Finalizing -> Completed, or Failed with an error.
// A failed step fails the pipeline (running siblings are canceled) unless
// settings.continue_on_step_failure is true, in which case independent steps go on.
import { createHash, randomBytes, randomUUID } from 'node:crypto';
import type { ArmRequest, ArmService, StoredResource } from './arm';
import {
  type AddComputeOptions,
  AmlError,
  AssetStore,
  addCompute,
  amlErrors,
  computeArmId,
  computeNameOf,
  defaultBlobContainer,
  parseAssetRef,
  stableJson,
  storageAccountNameOf,
  seedWorkspaceAssets,
  systemData,
  installAssetRoutes,
  validateComponentSpec,
  validateName,
} from './assets';
import type { EmulatedStorage } from './azurite';
import { ML_NS, requireWorkspace } from './aml';
import { DataPlaneService } from './dataplane';
import type { JobStatus, JobView, MetricPoint, RunError, RunHistory, RunState } from './run-types';

export type { JobStatus, MetricPoint, RunError, RunState } from './run-types';
import type { EntraService } from './entra';
import { type JsonObject, isJsonObject } from './jwt';
import type { Operation } from './lro';
import type { Clock } from './types';

export const TERMINAL_STATUSES: ReadonlySet<string> = new Set(['Completed', 'Failed', 'Canceled']);

export interface StepScript {
  /** Time the step spends Running (default: the job's stepDurationMs); Infinity never ends. */
  durationMs?: number;
  /** Makes the step fail after running, with this error. */
  fail?: { code?: string; message?: string };
}

export interface JobScript {
  /** NotStarted -> Running of the pipeline (default 50 ms). */
  startDelayMs?: number;
  /** Time each step spends Running (default 100 ms). Infinity: steps run until the job is canceled. */
  stepDurationMs?: number;
  /** Time a step spends in each of NotStarted, Queued, Preparing and Finalizing (default 10 ms). */
  phaseMs?: number;
  /** CancelRequested -> Canceled (default 50 ms). */
  cancelDelayMs?: number;
  /** Independent steps run at once, as in Azure ML (default true); false runs them one by one. */
  parallel?: boolean;
  /** Fails one step (pipelines) or the job itself (command jobs, `step` ignored). */
  fail?: { step?: string; code?: string; message?: string };
  steps?: Record<string, StepScript>;
}

const DEFAULT_SCRIPT: Required<Omit<JobScript, 'fail' | 'steps'>> = {
  startDelayMs: 50,
  stepDurationMs: 100,
  phaseMs: 10,
  cancelDelayMs: 50,
  parallel: true,
};

export interface Transition {
  /** Date.now() when it happened (real time, for latency measurements). */
  time: number;
  job: string;
  step?: string;
  runId: string;
  status: JobStatus;
}

export type MetricInput = Record<string, Array<number | { value: number; step?: number; timestamp?: number }>>;

export type OutputInput = Record<string, string | { uri?: string; files?: Record<string, string | Buffer> }>;

interface StepPlan {
  name: string;
  deps: string[];
  displayName: string;
  componentId?: string;
  componentName?: string;
  computeName?: string;
  outputs: string[];
}

export interface JobRecord extends JobView {
  steps: StepPlan[];
  children: Map<string, RunState>;
  continueOnStepFailure: boolean;
  script: JobScript;
  timers: Set<NodeJS.Timeout>;
  cancelOp?: Operation;
  /** Pipeline outputs bound to step outputs: pipeline output -> [step, step output]. */
  outputBindings: Record<string, [string, string]>;
}

export interface JobDeps {
  arm: ArmService;
  storage: EmulatedStorage;
  clock: Clock;
}

function uuidFrom(seed: string): string {
  const x = createHash('sha1').update(seed).digest('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-5${x.slice(13, 16)}-a${x.slice(17, 20)}-${x.slice(20, 32)}`;
}

const BINDING = /\$\{\{\s*parent\.(inputs|outputs|jobs)\.([A-Za-z0-9_-]+)(?:\.(outputs|inputs)\.([A-Za-z0-9_-]+))?\s*\}\}/g;

/** Every string in a node's inputs/outputs that may hold a binding (value, uri, path). */
function bindingStrings(ports: unknown): Array<{ port: string; text: string }> {
  if (!isJsonObject(ports)) return [];
  const out: Array<{ port: string; text: string }> = [];
  for (const [port, v] of Object.entries(ports)) {
    if (typeof v === 'string') out.push({ port, text: v });
    else if (isJsonObject(v))
      for (const k of ['value', 'uri', 'path']) if (typeof v[k] === 'string') out.push({ port, text: v[k] as string });
  }
  return out;
}

export class JobEngine implements RunHistory {
  readonly jobs = new Map<string, JobRecord>();
  /** Every status change of every job and step run, in order. */
  readonly transitions: Transition[] = [];
  private defaults: JobScript = {};
  private readonly perJob = new Map<string, JobScript>();
  private readonly metrics = new Map<string, Map<string, MetricPoint[]>>();
  private readonly outputScripts = new Map<string, OutputInput>();
  private readonly runs = new Map<string, RunState>();

  constructor(private readonly deps: JobDeps) {}

  // ---- scripting API ---------------------------------------------------------------------

  /** Script for jobs created from now on (replaces earlier defaults). */
  scriptJobs(script: JobScript): void {
    this.defaults = { ...script };
  }

  /** Script for one job name (set it before the job is created). */
  scriptJob(name: string, script: JobScript): void {
    this.perJob.set(name, script);
  }

  /** Metrics a job (stepName undefined) or one of its steps logged, as MLflow serves them. */
  setMetrics(jobName: string, stepName: string | undefined, metrics: MetricInput): void {
    const key = `${jobName}\0${stepName ?? ''}`;
    let byKey = this.metrics.get(key);
    if (!byKey) this.metrics.set(key, (byKey = new Map()));
    const base = this.deps.clock.now();
    for (const [metric, values] of Object.entries(metrics)) {
      byKey.set(
        metric,
        values.map((v, i) =>
          typeof v === 'number'
            ? { key: metric, value: v, step: i, timestamp: base + i }
            : { key: metric, value: v.value, step: v.step ?? i, timestamp: v.timestamp ?? base + i },
        ),
      );
    }
  }

  /**
   * Outputs a step (or the job) produced: a URI, or files written to the default datastore at
   * azureml/<runId>/<output>/ when the run completes. Steps get default URIs for every output anyway.
   */
  setOutputs(jobName: string, stepName: string | undefined, outputs: OutputInput): void {
    const key = `${jobName}\0${stepName ?? ''}`;
    this.outputScripts.set(key, { ...(this.outputScripts.get(key) ?? {}), ...outputs });
  }

  /** Date.now() when the job reached Completed, Failed or Canceled. */
  terminalAt(jobName: string): number | undefined {
    return this.transitions.find((t) => t.job === jobName && t.step === undefined && TERMINAL_STATUSES.has(t.status))?.time;
  }

  run(runId: string): RunState | undefined {
    return this.runs.get(runId);
  }

  children(jobName: string): RunState[] {
    const job = this.jobs.get(jobName);
    return job ? [...job.children.values()].sort((a, b) => a.createdMs - b.createdMs) : [];
  }

  metricsOf(runId: string): Map<string, MetricPoint[]> {
    const r = this.runs.get(runId);
    if (!r) return new Map();
    return this.metrics.get(`${r.jobName}\0${r.step ?? ''}`) ?? new Map();
  }

  experimentId(workspaceId: string, experimentName: string): string {
    return uuidFrom(`${workspaceId.toLowerCase()}|experiment|${experimentName}`);
  }

  dispose(): void {
    for (const j of this.jobs.values()) this.clearTimers(j);
  }

  // ---- routes ------------------------------------------------------------------------------

  install(): void {
    const { arm } = this.deps;
    const wsBase = `/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/${ML_NS}/workspaces/{workspaceName}`;
    const ws = (req: ArmRequest): StoredResource =>
      requireWorkspace(arm, req.params.subscriptionId, req.params.resourceGroupName, req.params.workspaceName);

    arm.route('PUT', `${wsBase}/jobs/{id}`, {
      action: `${ML_NS}/workspaces/jobs/write`,
      handler: (req) => this.put(req, ws(req)),
    });
    arm.route('GET', `${wsBase}/jobs/{id}`, {
      action: `${ML_NS}/workspaces/jobs/read`,
      handler: (req) => {
        const w = ws(req);
        const job = this.jobs.get(req.params.id);
        if (job && job.workspaceId.toLowerCase() === w.id.toLowerCase()) return { status: 200, body: this.view(job) };
        const child = this.runs.get(req.params.id);
        if (child?.parentRunId && this.jobs.get(child.jobName)?.workspaceId.toLowerCase() === w.id.toLowerCase()) {
          // Pipeline step jobs have no properties through this API (the SDK reads them from run history).
          return {
            status: 200,
            body: { id: `${w.id}/jobs/${child.runId}`, name: child.runId, type: `${ML_NS}/workspaces/jobs`, properties: null },
          };
        }
        throw this.jobNotFound(req.params.id);
      },
    });
    arm.route('GET', `${wsBase}/jobs`, {
      action: `${ML_NS}/workspaces/jobs/read`,
      handler: (req) => {
        const w = ws(req);
        const jobType = req.query.get('jobType');
        const value = [...this.jobs.values()]
          .filter((j) => j.workspaceId.toLowerCase() === w.id.toLowerCase())
          .filter((j) => !jobType || j.jobType.toLowerCase() === jobType.toLowerCase())
          .sort((a, b) => b.run.createdMs - a.run.createdMs)
          .map((j) => this.view(j));
        return { status: 200, body: { value } };
      },
    });
    arm.route('POST', `${wsBase}/jobs/{id}/cancel`, {
      action: `${ML_NS}/workspaces/jobs/cancel/action`,
      handler: (req) => {
        const w = ws(req);
        const job = this.jobs.get(req.params.id);
        if (!job || job.workspaceId.toLowerCase() !== w.id.toLowerCase()) throw this.jobNotFound(req.params.id);
        const status = job.run.status;
        if (TERMINAL_STATUSES.has(status) || status === 'Finalizing') {
          throw amlErrors.userError(`Job ${job.name} is in status ${status} and cannot be canceled.`, [
            'BadArgument',
            'JobInTerminalState',
          ]);
        }
        if (!job.cancelOp) {
          job.cancelOp = arm.startOperation({ req, manual: true });
          this.requestCancel(job);
        }
        return { status: 202, headers: { Location: job.cancelOp.resultUrl, 'Retry-After': job.cancelOp.headers['Retry-After'] } };
      },
    });
  }

  private jobNotFound(name: string): AmlError {
    return amlErrors.notFound(`Job ${name} was not found.`);
  }

  // ---- PUT ---------------------------------------------------------------------------------

  private put(req: ArmRequest, w: StoredResource): { status: number; body: JsonObject } {
    const name = req.params.id;
    validateName('Job', name);
    if (!isJsonObject(req.body) || !isJsonObject(req.body.properties))
      throw amlErrors.userError("The request body must have a 'properties' object.", ['BadArgument', 'InvalidRequestBody']);
    const props = req.body.properties;
    const jobType = props.jobType;
    if (typeof jobType !== 'string') throw amlErrors.userError('properties.jobType is required (Pipeline or Command).');
    const existing = this.jobs.get(name);
    if (existing) return this.update(existing, props, req);
    // A step run's id is a job name too.
    if (this.runs.has(name)) throw this.immutable([' Jobs']);
    const validate: Record<string, (w: StoredResource, props: JsonObject) => StepPlan[]> = {
      Pipeline: (a, b) => this.validatePipeline(a, b),
      Command: (a, b) => this.validateCommand(a, b),
      Sweep: (a, b) => this.validateSweep(a, b),
      Spark: (a, b) => this.validateSpark(a, b),
      AutoML: (a, b) => this.validateAutoML(a, b),
    };
    if (!(jobType in validate))
      throw amlErrors.userError(
        `jobType '${jobType}' is not supported by the emulator (it emulates ${Object.keys(validate).join(', ')} jobs).`,
      );
    const steps = validate[jobType]!(w, props);
    const settings = isJsonObject(props.settings) ? props.settings : {};
    const cosf = settings.continue_on_step_failure ?? settings.continueOnStepFailure;
    const experimentName = typeof props.experimentName === 'string' && props.experimentName !== '' ? props.experimentName : 'Default';
    const displayName = typeof props.displayName === 'string' && props.displayName !== '' ? props.displayName : name;
    const now = this.deps.clock.now();
    const tags = this.stringMap(props.tags);
    const properties: Record<string, string> = {
      'azureml.DevPlatv2': 'true',
      'azureml.runsource': jobType === 'Pipeline' ? 'azureml.PipelineRun' : 'azureml.scriptrun',
      runSource: 'MFE',
      runType: 'HTTP',
      ...(jobType === 'Pipeline'
        ? {
            'azureml.parameters': JSON.stringify(
              Object.fromEntries(
                Object.entries(isJsonObject(props.inputs) ? props.inputs : {}).map(([k, v]) => [
                  k,
                  isJsonObject(v) ? (v.value ?? null) : v,
                ]),
              ),
            ),
            'azureml.continue_on_step_failure': cosf === true || cosf === 'true' || cosf === 'True' ? 'True' : 'False',
            'azureml.pipelineComponent': 'pipelinerun',
            'azureml.defaultDataStoreName': 'workspaceblobstore',
          }
        : {}),
      ...this.stringMap(props.properties),
    };
    const createdBy = { objectId: req.caller.objectId, tenantId: req.caller.tenantId, appId: req.caller.appId };
    const run: RunState = {
      runId: name,
      jobName: name,
      displayName,
      status: 'NotStarted',
      createdMs: now,
      outputs: {},
      properties,
      tags,
      createdBy,
    };
    const outputBindings: Record<string, [string, string]> = {};
    if (jobType === 'Pipeline' && isJsonObject(props.jobs)) {
      for (const [stepName, node] of Object.entries(props.jobs)) {
        for (const { port, text } of bindingStrings(isJsonObject(node) ? node.outputs : undefined)) {
          const m = /\$\{\{\s*parent\.outputs\.([A-Za-z0-9_-]+)\s*\}\}/.exec(text);
          if (m) outputBindings[m[1]] = [stepName, port];
        }
      }
    }
    const job: JobRecord = {
      name,
      workspaceId: w.id,
      jobType,
      experimentName,
      experimentId: this.experimentId(w.id, experimentName),
      run,
      steps,
      children: new Map(),
      continueOnStepFailure: run.properties['azureml.continue_on_step_failure'] === 'True',
      script: { ...this.defaults, ...(this.perJob.get(name) ?? {}) },
      timers: new Set(),
      outputBindings,
    };
    if (jobType !== 'Pipeline') run.computeName = typeof props.computeId === 'string' ? computeNameOf(props.computeId) : undefined;
    const body: JsonObject = {
      id: `${w.id}/jobs/${name}`,
      name,
      type: `${ML_NS}/workspaces/jobs`,
      properties: {
        description: null,
        isArchived: false,
        computeId: null,
        ...props,
        tags,
        properties,
        displayName,
        experimentName,
        services: { ...(isJsonObject(props.services) ? props.services : {}), ...this.services(w, name) },
        status: 'NotStarted',
      },
      systemData: systemData(req, new Date(now).toISOString()),
    };
    this.deps.arm.resources.put(body.id as string, body);
    this.jobs.set(name, job);
    this.runs.set(name, run);
    this.record(job, run, 'NotStarted');
    const script = this.script(job);
    this.after(job, script.startDelayMs, () => this.start(job));
    return { status: 201, body: this.view(job) };
  }

  private immutable(props: string[]): AmlError {
    return amlErrors.userError(
      `A job with this name already exists. If you are trying to create a new job, use a different name. If you are trying to update an existing job, the existing job's${props.join(', ')} cannot be changed. Only description, tags, displayName, properties, and isArchived can be updated.`,
      ['Immutable', 'JobPropertyImmutable'],
      { property: props.join(',') },
    );
  }

  /** A PUT to an existing job: only description, tags, displayName, properties and isArchived may change. */
  private update(job: JobRecord, props: JsonObject, req: ArmRequest): { status: number; body: JsonObject } {
    const stored = this.deps.arm.resources.get(`${job.workspaceId}/jobs/${job.name}`) as StoredResource;
    const old = stored.body.properties as JsonObject;
    const changed: string[] = [];
    const same = (a: unknown, b: unknown): boolean => stableJson(a ?? {}) === stableJson(b ?? {});
    const nodes = (j: unknown, part: 'inputs' | 'outputs' | 'rest'): unknown =>
      isJsonObject(j)
        ? Object.fromEntries(
            Object.entries(j).map(([k, n]) => {
              if (!isJsonObject(n)) return [k, n];
              if (part === 'rest') {
                const { inputs: _i, outputs: _o, ...rest } = n;
                return [k, rest];
              }
              return [k, n[part] ?? {}];
            }),
          )
        : {};
    if (!same(old.settings, props.settings)) changed.push(' Settings');
    if (!same(old.inputs, props.inputs)) changed.push(' Inputs');
    if (!same(old.outputs, props.outputs)) changed.push(' Outputs');
    if (props.jobType !== old.jobType || !same(nodes(old.jobs, 'rest'), nodes(props.jobs, 'rest'))) changed.push(' Jobs');
    if (!same(nodes(old.jobs, 'inputs'), nodes(props.jobs, 'inputs'))) changed.push(' InputBindings');
    if (!same(nodes(old.jobs, 'outputs'), nodes(props.jobs, 'outputs'))) changed.push(' OutputBindings');
    if (changed.length > 0) throw this.immutable(changed);
    if (typeof props.description === 'string' || props.description === null) old.description = props.description;
    if (isJsonObject(props.tags)) job.run.tags = this.stringMap(props.tags);
    if (typeof props.displayName === 'string') job.run.displayName = props.displayName;
    if (isJsonObject(props.properties)) Object.assign(job.run.properties, this.stringMap(props.properties));
    if (typeof props.isArchived === 'boolean') old.isArchived = props.isArchived;
    stored.body.systemData = systemData(req, new Date(this.deps.clock.now()).toISOString(), stored.body.systemData as JsonObject);
    return { status: 200, body: this.view(job) };
  }

  private stringMap(v: unknown): Record<string, string> {
    if (!isJsonObject(v)) return {};
    return Object.fromEntries(
      Object.entries(v)
        .filter(([, x]) => x !== null && x !== undefined)
        .map(([k, x]) => [k, typeof x === 'string' ? x : JSON.stringify(x)]),
    );
  }

  private services(w: StoredResource, name: string): JsonObject {
    const wp = w.body.properties as JsonObject;
    const [, , sub, , rg] = w.id.split('/');
    const tid = String(wp.tenantId ?? '');
    const svc = (type: string, endpoint: string): JsonObject => ({
      jobServiceType: type,
      port: null,
      endpoint,
      status: null,
      errorMessage: null,
      properties: null,
      nodes: null,
    });
    return {
      Tracking: svc('Tracking', `${String(wp.mlFlowTrackingUri ?? '')}?`),
      Studio: svc(
        'Studio',
        `https://ml.azure.com/runs/${name}?wsid=/subscriptions/${sub}/resourcegroups/${rg}/workspaces/${String(w.body.name)}${tid ? `&tid=${tid}` : ''}`,
      ),
    };
  }

  /** A compute reference must name a compute of the workspace ('serverless' is always there). */
  private requireCompute(w: StoredResource, ref: unknown, where: string, pipelineInputs: JsonObject = {}): string | undefined {
    if (ref === undefined || ref === null || ref === '') return undefined;
    if (typeof ref !== 'string') throw amlErrors.userError(`${where} must be a compute ARM id or name.`);
    // A step's compute may be promoted to a pipeline input: ${{parent.inputs.<name>}}, a literal.
    const bound = /^\$\{\{\s*parent\.inputs\.([A-Za-z_][\w]*)\s*\}\}$/.exec(ref);
    if (bound) {
      const input = pipelineInputs[bound[1]!];
      const value = isJsonObject(input) ? input.value : input;
      if (typeof value !== 'string' || value === '')
        throw amlErrors.userError(`${where}: compute is bound to pipeline input '${bound[1]}', which has no literal value.`);
      return this.requireCompute(w, value, where);
    }
    const name = computeNameOf(ref);
    if (name.toLowerCase() === 'serverless') return 'serverless';
    const armId = /^\/subscriptions\//i.test(ref.replace(/^azureml:/i, '')) ? ref.replace(/^azureml:/i, '') : computeArmId(w.id, name);
    if (!armId.toLowerCase().startsWith(`${w.id.toLowerCase()}/computes/`) || !this.deps.arm.resources.get(armId)) {
      throw amlErrors.userError(
        `${where}: compute '${name}' was not found in workspace '${String(w.body.name)}'. Create the compute, or use the name of an existing one.`,
        ['BadArgument', 'ComputeNotFound'],
      );
    }
    return name;
  }

  private componentOf(ref: string): JsonObject | undefined {
    const p = parseAssetRef(ref);
    if (!p?.id) return undefined;
    const c = this.deps.arm.resources.get(p.id);
    return c ? ((c.body.properties as JsonObject).componentSpec as JsonObject | undefined) : undefined;
  }

  private validatePipeline(w: StoredResource, props: JsonObject): StepPlan[] {
    const jobs = props.jobs;
    if (!isJsonObject(jobs) || Object.keys(jobs).length === 0)
      throw amlErrors.userError('properties.jobs is required: a pipeline job needs at least one step.');
    const settings = isJsonObject(props.settings) ? props.settings : {};
    const defaultCompute = settings.default_compute ?? settings.defaultCompute ?? props.computeId;
    const pipelineInputs = isJsonObject(props.inputs) ? props.inputs : {};
    const pipelineOutputs = isJsonObject(props.outputs) ? props.outputs : {};
    if (defaultCompute !== undefined) this.requireCompute(w, defaultCompute, 'settings.default_compute');
    this.requireDataInputs(pipelineInputs, 'Pipeline');
    for (const [stepName, node] of Object.entries(jobs)) if (isJsonObject(node)) this.requireDataInputs(node.inputs, `Step '${stepName}'`);
    const plans: StepPlan[] = [];
    const specs = new Map<string, JsonObject | undefined>();
    for (const [stepName, node] of Object.entries(jobs)) {
      if (!isJsonObject(node)) throw amlErrors.userError(`Step '${stepName}' must be an object.`);
      const displayName0 = typeof node.display_name === 'string' ? node.display_name : stepName;
      if (node.type === 'automl') {
        // An AutoML node runs the service's own trials: no component; best_model is always an output.
        const computeName = this.requireCompute(w, node.computeId ?? node.compute ?? defaultCompute, `Step '${stepName}'`, pipelineInputs);
        if (typeof node.task !== 'string' || typeof node.training_data !== 'string')
          throw amlErrors.userError(`Step '${stepName}': an automl node needs task and training_data.`);
        specs.set(stepName, undefined);
        const outputs = [...new Set([...Object.keys(isJsonObject(node.outputs) ? node.outputs : {}), 'best_model'])];
        plans.push({
          name: stepName,
          deps: [],
          displayName: displayName0,
          componentId: `automl:${String(node.task)}`,
          componentName: 'automl',
          ...(computeName ? { computeName } : {}),
          outputs,
        });
        continue;
      }
      // A sweep node runs its trial's component.
      const componentId =
        node.componentId ?? node.component_id ?? (node.type === 'sweep' && isJsonObject(node.trial) ? node.trial.componentId : undefined);
      if (typeof componentId !== 'string' || componentId === '') throw amlErrors.userError(`Step '${stepName}' has no componentId.`);
      const ref = parseAssetRef(componentId);
      if (!ref || ref.kind !== 'components') {
        throw amlErrors.userError(
          `Step '${stepName}': componentId '${componentId}' is not a component version id (azureml:/subscriptions/.../workspaces/<ws>/components/<name>/versions/<version>).`,
        );
      }
      if (ref.id && !this.deps.arm.resources.get(ref.id)) {
        throw amlErrors.userError(
          `Step '${stepName}': component '${ref.name}:${ref.version}' was not found in workspace '${String(ref.workspaceId).split('/').pop()}'.`,
          ['BadArgument', 'AssetNotFound'],
        );
      }
      const computeName = this.requireCompute(w, node.computeId ?? node.compute ?? defaultCompute, `Step '${stepName}'`, pipelineInputs);
      const spec = ref.id ? this.componentOf(ref.id) : undefined;
      specs.set(stepName, spec);
      const displayName =
        typeof node.display_name === 'string' ? node.display_name : typeof node.displayName === 'string' ? node.displayName : stepName;
      const outputs = Object.keys(isJsonObject(spec?.outputs) ? (spec?.outputs as JsonObject) : {});
      plans.push({
        name: stepName,
        deps: [],
        displayName,
        componentId: ref.id ?? componentId,
        componentName: ref.name,
        ...(computeName ? { computeName } : {}),
        outputs,
      });
    }
    for (const plan of plans) {
      const node = jobs[plan.name] as JsonObject;
      const check = (ports: unknown, direction: 'inputs' | 'outputs'): void => {
        for (const { port, text } of bindingStrings(ports)) {
          for (const m of text.matchAll(BINDING)) {
            const [, kind, target, sub, subName] = m;
            const where = `Step '${plan.name}' ${direction === 'inputs' ? 'input' : 'output'} '${port}' binds ${m[0]}`;
            if (kind === 'inputs' && !sub) {
              if (!(target in pipelineInputs))
                throw amlErrors.userError(
                  `${where}, but the pipeline has no input '${target}'. Pipeline inputs: ${Object.keys(pipelineInputs).join(', ') || '(none)'}.`,
                );
            } else if (kind === 'outputs' && !sub) {
              if (!(target in pipelineOutputs))
                throw amlErrors.userError(
                  `${where}, but the pipeline has no output '${target}'. Pipeline outputs: ${Object.keys(pipelineOutputs).join(', ') || '(none)'}.`,
                );
            } else if (kind === 'jobs' && sub === 'outputs' && subName) {
              if (target === plan.name) throw amlErrors.userError(`${where}: a step cannot bind its own output.`);
              if (!(target in jobs))
                throw amlErrors.userError(`${where}, but the pipeline has no step '${target}'. Steps: ${Object.keys(jobs).join(', ')}.`);
              const spec = specs.get(target);
              if (spec && !(isJsonObject(spec.outputs) && subName in spec.outputs)) {
                const outs = Object.keys(isJsonObject(spec.outputs) ? spec.outputs : {});
                throw amlErrors.userError(
                  `${where}, but step '${target}' has no output '${subName}'. Its outputs: ${outs.join(', ') || '(none)'}.`,
                );
              }
              if (!plan.deps.includes(target)) plan.deps.push(target);
            } else {
              throw amlErrors.userError(
                `${where}, which is not a supported binding (\${{parent.inputs.<name>}}, \${{parent.outputs.<name>}}, \${{parent.jobs.<step>.outputs.<name>}}).`,
              );
            }
          }
        }
      };
      check(node.inputs, 'inputs');
      check(node.outputs, 'outputs');
    }
    // Cycles make the graph invalid.
    const state = new Map<string, number>();
    const byName = new Map(plans.map((p) => [p.name, p]));
    const visit = (n: string, path: string[]): void => {
      if (state.get(n) === 2) return;
      if (state.get(n) === 1) throw amlErrors.userError(`The pipeline's steps form a cycle: ${[...path, n].join(' -> ')}.`);
      state.set(n, 1);
      for (const d of byName.get(n)?.deps ?? []) visit(d, [...path, n]);
      state.set(n, 2);
    };
    for (const p of plans) visit(p.name, []);
    return plans;
  }

  /** Inputs whose uri is a workspace data or model asset id must name an existing version. */
  private requireDataInputs(inputs: unknown, where: string): void {
    if (!isJsonObject(inputs)) return;
    for (const [port, v] of Object.entries(inputs)) {
      const uri = isJsonObject(v) ? v.uri : undefined;
      if (typeof uri !== 'string') continue;
      const ref = parseAssetRef(uri);
      if (ref?.id && (ref.kind === 'data' || ref.kind === 'models') && !this.deps.arm.resources.get(ref.id)) {
        throw amlErrors.userError(
          `${where} input '${port}': ${ref.kind === 'data' ? 'data' : 'model'} asset '${ref.name}:${ref.version}' was not found in workspace '${String(ref.workspaceId).split('/').pop()}'.`,
          ['BadArgument', 'AssetNotFound'],
        );
      }
    }
  }

  /** A sweep job: the sweep's own parts, and its trial checked as a command job on the sweep's compute. It runs as one run. */
  private validateSweep(w: StoredResource, props: JsonObject): StepPlan[] {
    for (const k of ['trial', 'objective', 'samplingAlgorithm', 'searchSpace', 'limits'])
      if (!isJsonObject(props[k])) throw amlErrors.userError(`properties.${k} is required for a sweep job.`);
    return this.validateCommand(w, { ...(props.trial as JsonObject), computeId: props.computeId ?? null });
  }

  /** A standalone Spark job (SparkJob): its entry file in its code, on serverless Spark (resources) or an attached pool. It runs as one run. */
  private validateSpark(w: StoredResource, props: JsonObject): StepPlan[] {
    const entry = props.entry;
    if (!isJsonObject(entry) || typeof entry.sparkJobEntryType !== 'string')
      throw amlErrors.userError('properties.entry is required for a Spark job (sparkJobEntryType and file or className).');
    this.checkJobAsset(props.codeId, 'codes', 'codeId', true, 'a Spark job');
    this.checkJobAsset(props.environmentId, 'environments', 'environmentId', false, 'a Spark job');
    if (props.computeId === undefined || props.computeId === null) {
      if (!isJsonObject(props.resources) || typeof props.resources.instanceType !== 'string')
        throw amlErrors.userError(
          'A Spark job needs properties.computeId (an attached Spark pool) or properties.resources.instanceType (serverless Spark).',
        );
    } else this.requireCompute(w, props.computeId, 'properties.computeId');
    return [];
  }

  /** A standalone AutoML job (AutoMLJob): the service runs its own trials on its compute. It runs as one run. */
  private validateAutoML(w: StoredResource, props: JsonObject): StepPlan[] {
    const task = props.taskDetails;
    if (!isJsonObject(task) || typeof task.taskType !== 'string')
      throw amlErrors.userError('properties.taskDetails with taskType is required for an AutoML job.');
    if (!isJsonObject(task.trainingData) || typeof task.trainingData.uri !== 'string')
      throw amlErrors.userError('properties.taskDetails.trainingData (an mltable input with uri) is required for an AutoML job.');
    this.requireDataInputs(
      { training_data: task.trainingData, ...(isJsonObject(task.validationData) ? { validation_data: task.validationData } : {}) },
      'AutoML job',
    );
    this.checkJobAsset(props.environmentId, 'environments', 'environmentId', false, 'an AutoML job');
    this.requireCompute(w, props.computeId, 'properties.computeId');
    return [];
  }

  /** A job's code or environment reference: an existing version (registry ids as they are). */
  private checkJobAsset(ref: unknown, kind: 'codes' | 'environments', field: string, required: boolean, what: string): void {
    if (ref === undefined || ref === null) {
      if (required) throw amlErrors.userError(`properties.${field} is required for ${what}.`);
      return;
    }
    const p = typeof ref === 'string' ? parseAssetRef(ref) : undefined;
    if (!p || p.kind !== kind) throw amlErrors.userError(`properties.${field} '${String(ref)}' is not a ${kind.slice(0, -1)} version id.`);
    if (p.id && !this.deps.arm.resources.get(p.id))
      throw amlErrors.userError(`properties.${field}: '${p.name}:${p.version}' was not found.`, ['BadArgument', 'AssetNotFound']);
  }

  private validateCommand(w: StoredResource, props: JsonObject): StepPlan[] {
    if (typeof props.command !== 'string' || props.command.trim() === '')
      throw amlErrors.userError('properties.command is required for a command job.');
    this.checkJobAsset(props.environmentId, 'environments', 'environmentId', true, 'a command job');
    this.checkJobAsset(props.codeId, 'codes', 'codeId', false, 'a command job');
    this.requireCompute(w, props.computeId, 'properties.computeId');
    return [];
  }

  // ---- engine ------------------------------------------------------------------------------

  private script(job: JobRecord): Required<Omit<JobScript, 'fail' | 'steps'>> & JobScript {
    return { ...DEFAULT_SCRIPT, ...job.script } as Required<Omit<JobScript, 'fail' | 'steps'>> & JobScript;
  }

  private after(job: JobRecord, ms: number, fn: () => void): void {
    if (!Number.isFinite(ms)) return;
    const t = setTimeout(
      () => {
        job.timers.delete(t);
        fn();
      },
      Math.max(0, ms),
    );
    t.unref();
    job.timers.add(t);
  }

  private clearTimers(job: JobRecord): void {
    for (const t of job.timers) clearTimeout(t);
    job.timers.clear();
  }

  private record(job: JobRecord, run: RunState, status: JobStatus): void {
    run.status = status;
    const now = this.deps.clock.now();
    if (status === 'Running' && run.startMs === undefined) run.startMs = now;
    if (TERMINAL_STATUSES.has(status)) {
      run.endMs = now;
      run.startMs ??= now;
    }
    this.transitions.push({ time: Date.now(), job: job.name, ...(run.step ? { step: run.step } : {}), runId: run.runId, status });
    if (!run.step) {
      const stored = this.deps.arm.resources.get(`${job.workspaceId}/jobs/${job.name}`);
      if (stored) (stored.body.properties as JsonObject).status = status;
    }
  }

  private start(job: JobRecord): void {
    if (job.run.status !== 'NotStarted') return;
    if (job.jobType === 'Command' || job.jobType === 'Sweep') {
      // A command (or sweep) job is its own (only) run: Queued, Preparing, Running, Finalizing, Completed or Failed.
      this.runSteps(job, job.run, () => undefined);
      return;
    }
    this.record(job, job.run, 'Running');
    this.schedule(job);
  }

  /** Moves a run through Queued, Preparing, Running, Finalizing; then calls done. */
  private runSteps(job: JobRecord, run: RunState, done: () => void): void {
    const s = this.script(job);
    const stepScript = run.step ? s.steps?.[run.step] : undefined;
    const duration = stepScript?.durationMs ?? s.stepDurationMs;
    const phases: JobStatus[] = ['Queued', 'Preparing', 'Running'];
    const next = (i: number): void => {
      if (this.stopped(job, run)) return;
      if (i < phases.length) {
        this.record(job, run, phases[i]);
        this.after(job, phases[i] === 'Running' ? duration : s.phaseMs, () => next(i + 1));
        return;
      }
      const failure = this.failureFor(job, run);
      if (failure) {
        run.error = failure;
        this.record(job, run, 'Failed');
        done();
        return;
      }
      this.record(job, run, 'Finalizing');
      this.after(job, s.phaseMs, () => {
        if (this.stopped(job, run)) return;
        void this.completeOutputs(job, run).finally(() => {
          if (this.stopped(job, run)) return;
          this.record(job, run, 'Completed');
          done();
        });
      });
    };
    this.after(job, s.phaseMs, () => next(0));
  }

  private stopped(job: JobRecord, run: RunState): boolean {
    return job.run.status === 'CancelRequested' || job.run.status === 'Canceled' || TERMINAL_STATUSES.has(run.status);
  }

  private failureFor(job: JobRecord, run: RunState): RunError | undefined {
    const s = this.script(job);
    const stepFail = run.step ? s.steps?.[run.step]?.fail : undefined;
    const f =
      stepFail ??
      (s.fail && (job.jobType === 'Command' || job.jobType === 'Sweep' ? !run.step : s.fail.step === run.step) ? s.fail : undefined);
    if (!f) return undefined;
    return {
      code: f.code ?? 'UserError',
      message:
        f.message ??
        "Execution failed. User process 'python' exited with status code 1. Please check log file 'user_logs/std_log.txt' for error details.",
    };
  }

  private schedule(job: JobRecord): void {
    if (job.run.status !== 'Running') return;
    const s = this.script(job);
    const runs = job.children;
    const running = [...runs.values()].filter((r) => !TERMINAL_STATUSES.has(r.status));
    const failed = [...runs.values()].filter((r) => r.status === 'Failed');
    if (failed.length > 0 && !job.continueOnStepFailure) {
      for (const r of running) this.record(job, r, 'Canceled');
      this.failPipeline(job, failed);
      return;
    }
    const ready = job.steps.filter((p) => !runs.has(p.name) && p.deps.every((d) => runs.get(d)?.status === 'Completed'));
    const toStart = s.parallel ? ready : running.length === 0 ? ready.slice(0, 1) : [];
    for (const p of toStart) this.startStep(job, p);
    if (toStart.length === 0 && running.length === 0) {
      if (failed.length > 0) this.failPipeline(job, failed);
      else {
        void this.completeOutputs(job, job.run).finally(() => {
          if (job.run.status === 'Running') this.record(job, job.run, 'Completed');
        });
      }
    }
  }

  private failPipeline(job: JobRecord, failed: RunState[]): void {
    job.run.error = {
      code: 'UserError',
      message: `Pipeline has failed child jobs. Failed nodes: ${failed.map((r) => `/${r.step}`).join(', ')}. For more details and logs, please go to the job detail page and check the child jobs.`,
    };
    this.record(job, job.run, 'Failed');
  }

  private startStep(job: JobRecord, plan: StepPlan): void {
    const run: RunState = {
      runId: randomUUID(),
      jobName: job.name,
      step: plan.name,
      nodeId: randomBytes(4).toString('hex'),
      parentRunId: job.name,
      displayName: plan.displayName,
      status: 'NotStarted',
      createdMs: this.deps.clock.now(),
      ...(plan.computeName ? { computeName: plan.computeName } : {}),
      ...(plan.componentId ? { componentId: plan.componentId } : {}),
      ...(plan.componentName ? { componentName: plan.componentName } : {}),
      outputs: {},
      properties: {},
      tags: {},
      ...(job.run.createdBy ? { createdBy: job.run.createdBy } : {}),
    };
    run.properties = {
      'azureml.DevPlatv2': 'true',
      StepType: 'Command',
      ComputeTargetType: run.computeName === 'serverless' ? 'Serverless' : 'AmlCompute',
      'azureml.moduleid': uuidFrom(plan.componentId ?? plan.name),
      'azureml.moduleName': plan.componentName ?? plan.name,
      'azureml.runsource': 'azureml.StepRun',
      'azureml.nodeid': run.nodeId as string,
      'azureml.pipelinerunid': job.name,
      'azureml.pipeline': job.name,
      'azureml.rootpipelinerunid': job.name,
      'azureml.pipelineComponent': 'masterescloud',
      'azureml.isreused': 'false',
    };
    run.tags = { 'azureml.nodeid': run.nodeId as string, 'azureml.pipeline': job.name };
    job.children.set(plan.name, run);
    this.runs.set(run.runId, run);
    this.record(job, run, 'NotStarted');
    this.runSteps(job, run, () => this.schedule(job));
  }

  /** Default output URIs, plus what setOutputs scripted (files are written to Azurite). */
  private async completeOutputs(job: JobRecord, run: RunState): Promise<void> {
    const w = this.deps.arm.resources.get(job.workspaceId);
    if (!w) return;
    const plan = run.step ? job.steps.find((p) => p.name === run.step) : undefined;
    for (const o of plan?.outputs ?? []) run.outputs[o] ??= `azureml://datastores/workspaceblobstore/paths/azureml/${run.runId}/${o}/`;
    if (!run.step) {
      for (const [out, [step, port]] of Object.entries(job.outputBindings)) {
        const uri = job.children.get(step)?.outputs[port];
        if (uri) run.outputs[out] ??= uri;
      }
    }
    const scripted = this.outputScripts.get(`${job.name}\0${run.step ?? ''}`) ?? {};
    for (const [out, spec] of Object.entries(scripted)) {
      if (typeof spec === 'string') {
        run.outputs[out] = spec;
        continue;
      }
      const path = `azureml/${run.runId}/${out}`;
      run.outputs[out] = spec.uri ?? `azureml://datastores/workspaceblobstore/paths/${path}/`;
      if (spec.files && Object.keys(spec.files).length > 0) {
        const account = this.deps.storage.azuriteAccount(storageAccountNameOf(w));
        await this.deps.storage.start();
        for (const [file, content] of Object.entries(spec.files)) {
          await this.deps.storage.putBlob(
            this.deps.storage.blobUrl({ account, container: defaultBlobContainer(w), path: `${path}/${file}` }),
            content,
          );
        }
      }
    }
    if (!run.step) {
      const stored = this.deps.arm.resources.get(`${job.workspaceId}/jobs/${job.name}`);
      const outs = (stored?.body.properties as JsonObject | undefined)?.outputs;
      if (isJsonObject(outs))
        for (const [k, v] of Object.entries(outs)) if (isJsonObject(v) && run.outputs[k] && !v.uri) v.uri = run.outputs[k];
    }
  }

  private requestCancel(job: JobRecord): void {
    this.clearTimers(job);
    const active = [...job.children.values()].filter((r) => !TERMINAL_STATUSES.has(r.status));
    this.record(job, job.run, 'CancelRequested');
    for (const r of active) this.record(job, r, 'CancelRequested');
    const s = this.script(job);
    this.after(job, s.cancelDelayMs, () => {
      for (const r of active) this.record(job, r, 'Canceled');
      this.record(job, job.run, 'Canceled');
      job.cancelOp?.complete('Succeeded');
    });
  }

  /** The job as GET returns it. */
  view(job: JobRecord): JsonObject {
    const stored = this.deps.arm.resources.get(`${job.workspaceId}/jobs/${job.name}`) as StoredResource;
    const props = stored.body.properties as JsonObject;
    return {
      ...stored.body,
      properties: {
        ...props,
        displayName: job.run.displayName,
        tags: { ...job.run.tags },
        properties: { ...job.run.properties },
        status: job.run.status,
      },
    };
  }
}

// ---- the emulator's Azure ML workloads (emu.aml) ----------------------------------------------

export interface AmlWorkloadsDeps extends JobDeps {
  entra: EntraService;
  /** Emulator origin (the data plane's URLs). */
  url: () => string;
}

/** Assets, jobs and the data plane of the emulated workspaces, with the test-facing helpers. */
export class AmlWorkloads {
  readonly assets: AssetStore;
  readonly engine: JobEngine;
  readonly dataPlane: DataPlaneService;

  constructor(private readonly deps: AmlWorkloadsDeps) {
    this.assets = new AssetStore(deps);
    this.engine = new JobEngine(deps);
    this.dataPlane = new DataPlaneService({ arm: deps.arm, entra: deps.entra, engine: this.engine, url: deps.url });
  }

  /** Registers the asset, compute, datastore and job routes on ARM. */
  install(): void {
    installAssetRoutes(this.deps, this.assets);
    this.engine.install();
  }

  dispose(): void {
    this.engine.dispose();
  }

  // jobs
  scriptJobs(script: JobScript): void {
    this.engine.scriptJobs(script);
  }
  scriptJob(name: string, script: JobScript): void {
    this.engine.scriptJob(name, script);
  }
  setMetrics(jobName: string, stepName: string | undefined, metrics: MetricInput): void {
    this.engine.setMetrics(jobName, stepName, metrics);
  }
  setOutputs(jobName: string, stepName: string | undefined, outputs: OutputInput): void {
    this.engine.setOutputs(jobName, stepName, outputs);
  }
  get transitions(): Transition[] {
    return this.engine.transitions;
  }
  terminalAt(jobName: string): number | undefined {
    return this.engine.terminalAt(jobName);
  }
  /** The engine's record of a job, with `body`: the job as GET returns it now. */
  job(name: string): (JobRecord & { body: JsonObject }) | undefined {
    const record = this.engine.jobs.get(name);
    return record ? Object.assign(Object.create(record) as JobRecord, { body: this.engine.view(record) }) : undefined;
  }
  /** Step runs of a pipeline job, in creation order. */
  children(jobName: string): RunState[] {
    return this.engine.children(jobName);
  }

  /**
   * The blob URL (on emu.storage) of an azureml://datastores/<name>/paths/<path> URI of a workspace,
   * e.g. a job output; undefined for other URIs. Starts storage if needed.
   */
  async datastoreUrl(workspaceId: string, uri: string): Promise<string | undefined> {
    const m = /^azureml:\/\/datastores\/([^/]+)\/paths\/(.*)$/i.exec(uri);
    if (!m) return undefined;
    const ds = this.deps.arm.resources.get(`${workspaceId}/datastores/${m[1]}`);
    const p = ds?.body.properties as JsonObject | undefined;
    if (!p || typeof p.containerName !== 'string') return undefined;
    await this.deps.storage.start();
    return this.deps.storage.blobUrl({
      account: this.deps.storage.azuriteAccount(String(p.accountName ?? '')),
      container: p.containerName,
      path: m[2].replace(/\/+$/, ''),
    });
  }

  // state
  /** cpu-cluster, gpu-cluster, Kubernetes aks-prod and the registered environments (datastores come with every workspace). */
  seedWorkspace(workspaceId: string): void {
    seedWorkspaceAssets(this.deps.arm, this.assets, workspaceId);
  }
  addCompute(workspaceId: string, name: string, opts?: AddComputeOptions): JsonObject {
    return addCompute(this.deps.arm, workspaceId, name, opts);
  }
  addEnvironment(workspaceId: string, name: string, version: string, properties: JsonObject): JsonObject {
    return this.assets.putVersion(workspaceId, 'environments', name, version, {
      environmentType: 'UserCreated',
      osType: 'Linux',
      autoRebuild: 'OnBaseImageUpdate',
      ...properties,
    }).body;
  }
  /** Registers a code version without checking its codeUri. */
  addCode(workspaceId: string, name: string, version: string, codeUri: string, properties: JsonObject = {}): JsonObject {
    return this.assets.putVersion(workspaceId, 'codes', name, version, { ...properties, codeUri }).body;
  }
  /** Registers a data asset version (dataType uri_folder unless given). */
  addData(workspaceId: string, name: string, version: string, dataUri: string, properties: JsonObject = {}): JsonObject {
    return this.assets.putVersion(workspaceId, 'data', name, version, { dataType: 'uri_folder', ...properties, dataUri }).body;
  }
  /** Registers a component version (its code and environment references are checked). */
  addComponent(workspaceId: string, name: string, version: string, componentSpec: JsonObject, properties: JsonObject = {}): JsonObject {
    validateComponentSpec(this.deps.arm, componentSpec);
    // As a client registers it: the spec names the component and its version.
    return this.assets.putVersion(workspaceId, 'components', name, version, {
      ...properties,
      componentSpec: { name, version, ...componentSpec },
    }).body;
  }
}
