/**
 * The expanded pipeline as the rehearsal runs it: stages -> jobs -> steps, with every key checked
 * against what the rehearsal supports (exactly what our templates use). Anything else stops the
 * rehearsal before it starts, naming the key, the file and the line it came from.
 */
import { originOf, type Value } from '../../testkit/yaml-pipeline/expand';
import { checkRuntimeExpression, runtimeExpression, Unsupported } from './expr';

export interface CheckoutStep {
  kind: 'checkout';
  repository: 'self' | 'none';
  displayName: string;
  where: string;
}

export interface TaskStep {
  kind: 'task';
  /** e.g. AmlPipelineJob@1 */
  task: string;
  name: string | undefined;
  displayName: string | undefined;
  condition: string | undefined;
  inputs: Record<string, string>;
  where: string;
}

export type StepPlan = CheckoutStep | TaskStep;

export interface JobPlan {
  kind: 'job' | 'deployment';
  name: string;
  displayName: string;
  condition: string | undefined;
  /** Earlier jobs of the stage this one waits for (jobs run in file order in the rehearsal). */
  dependsOn: string[];
  pool: { name?: string; demands: string[] };
  /** Job variables as written: literals, macros or `$[ ]` runtime expressions. */
  variables: Record<string, string>;
  environment: string | undefined;
  /** runOnce lifecycle hook the steps come from (deployment jobs). */
  strategy: string | undefined;
  timeoutInMinutes: number | undefined;
  clean: boolean;
  steps: StepPlan[];
  where: string;
}

export interface StagePlan {
  name: string;
  displayName: string;
  dependsOn: string[];
  condition: string | undefined;
  lockBehavior: string | undefined;
  jobs: JobPlan[];
  where: string;
}

export interface PipelinePlan {
  stages: StagePlan[];
  /** Top-level keys that do not apply to a rehearsal run (trigger, pr), noted in the log. */
  notes: string[];
}

type Obj = Record<string, Value>;
const isObj = (v: Value | undefined): v is Obj => v !== null && v !== undefined && typeof v === 'object' && !Array.isArray(v);

function whereOf(v: Value | undefined, path: string): string {
  const o = originOf(v);
  return o ? `${o.file}:${o.line} (${path})` : path;
}

function str(v: Value | undefined, where: string, key: string): string | undefined {
  if (v === undefined) return undefined;
  if (typeof v === 'string') return v;
  throw new Unsupported(
    where,
    `'${key}' must be a string here, not ${Array.isArray(v) ? 'a sequence' : typeof v === 'object' && v !== null ? 'a mapping' : typeof v}`,
  );
}

function only(o: Obj, allowed: string[], where: string, what: string): void {
  for (const k of Object.keys(o)) {
    if (/^REFUSED\b/.test(k)) throw new Unsupported(where, `the template refused this input: ${k}`);
    if (!allowed.includes(k))
      throw new Unsupported(where, `${what} key '${k}' is not supported by the rehearsal (supported: ${allowed.join(', ')})`);
  }
}

const STAGE_KEYS = ['stage', 'displayName', 'dependsOn', 'condition', 'lockBehavior', 'jobs'];
const JOB_KEYS = [
  'job',
  'deployment',
  'displayName',
  'dependsOn',
  'condition',
  'pool',
  'timeoutInMinutes',
  'workspace',
  'variables',
  'steps',
  'environment',
  'strategy',
];
const TASK_KEYS = ['task', 'name', 'displayName', 'condition', 'inputs'];
const CHECKOUT_KEYS = ['checkout', 'displayName'];
const TOP_KEYS: Record<string, string> = {
  trigger: 'CI trigger (the rehearsal is one CI run of the branch)',
  pr: 'pull-request trigger',
  name: 'run number format',
  resources: 'repository resources (their templates were read when the pipeline was compiled)',
};

function step(s: Value, path: string, tasks: Set<string>): StepPlan {
  const where = whereOf(s, path);
  if (!isObj(s)) throw new Unsupported(where, 'a step must be a mapping');
  const first = Object.keys(s)[0];
  if (first === 'checkout') {
    only(s, CHECKOUT_KEYS, where, 'checkout step');
    const repo = str(s.checkout, where, 'checkout');
    if (repo !== 'self' && repo !== 'none')
      throw new Unsupported(
        where,
        `checkout: ${repo} is not supported by the rehearsal (only self and none: it has no repository resources)`,
      );
    return {
      kind: 'checkout',
      repository: repo,
      displayName: str(s.displayName, where, 'displayName') ?? (repo === 'self' ? 'Checkout self' : 'Checkout: none'),
      where,
    };
  }
  if (first === 'task') {
    only(s, TASK_KEYS, where, 'task step');
    const task = str(s.task, where, 'task')!;
    const cond = str(s.condition, where, 'condition');
    if (cond) checkRuntimeExpression(cond, ['variables'], `${where} condition`);
    if (![...tasks].some((t) => t.toLowerCase() === task.toLowerCase())) {
      throw new Unsupported(
        where,
        `task ${task} is not supported by the rehearsal: it runs only this extension's bundled tasks (${[...tasks].join(', ')})`,
      );
    }
    const inputs: Record<string, string> = {};
    if (s.inputs !== undefined && s.inputs !== '') {
      if (!isObj(s.inputs)) throw new Unsupported(where, "'inputs' must be a mapping");
      for (const [k, v] of Object.entries(s.inputs)) inputs[k] = str(v, where, `inputs.${k}`) ?? '';
    }
    return {
      kind: 'task',
      task,
      name: str(s.name, where, 'name'),
      displayName: str(s.displayName, where, 'displayName'),
      condition: str(s.condition, where, 'condition'),
      inputs,
      where,
    };
  }
  const kinds = ['script', 'bash', 'pwsh', 'powershell', 'download', 'downloadBuild', 'getPackage', 'publish', 'reviewApp', 'template'];
  if (first && kinds.includes(first)) {
    throw new Unsupported(where, `'${first}' steps are not supported by the rehearsal (it runs checkout and this extension's tasks only)`);
  }
  throw new Unsupported(where, `a step starting with '${first ?? '(nothing)'}' is not supported by the rehearsal`);
}

function job(j: Value, path: string, tasks: Set<string>, earlier: string[]): JobPlan {
  const where = whereOf(j, path);
  if (!isObj(j)) throw new Unsupported(where, 'a job must be a mapping');
  only(j, JOB_KEYS, where, 'job');
  const kind = j.deployment !== undefined ? 'deployment' : 'job';
  const name = str(kind === 'job' ? j.job : j.deployment, where, kind);
  if (!name) throw new Unsupported(where, "a job needs a name ('job' or 'deployment')");
  let steps: Value | undefined = j.steps;
  let strategy: string | undefined;
  if (kind === 'deployment') {
    if (j.steps !== undefined) throw new Unsupported(where, 'a deployment job takes its steps from strategy.runOnce.deploy.steps');
    const st = j.strategy;
    if (!isObj(st) || Object.keys(st).length !== 1 || !isObj(st.runOnce))
      throw new Unsupported(where, `deployment job ${name}: only the runOnce strategy is supported by the rehearsal`);
    only(st.runOnce, ['deploy'], where, 'runOnce lifecycle hook');
    const deploy = st.runOnce.deploy;
    if (!isObj(deploy)) throw new Unsupported(where, 'runOnce needs a deploy hook with steps');
    only(deploy, ['steps'], where, 'deploy hook');
    steps = deploy.steps;
    strategy = 'runOnce.deploy';
  } else {
    if (j.strategy !== undefined) throw new Unsupported(where, 'job strategies (matrix, parallel) are not supported by the rehearsal');
    if (j.environment !== undefined) throw new Unsupported(where, "'environment' belongs to a deployment job");
  }
  let environment: string | undefined;
  if (j.environment !== undefined) {
    if (isObj(j.environment)) {
      only(j.environment, ['name'], where, 'environment');
      environment = str(j.environment.name, where, 'environment.name');
    } else environment = str(j.environment, where, 'environment');
  }
  const pool: JobPlan['pool'] = { demands: [] };
  if (j.pool !== undefined) {
    if (typeof j.pool === 'string') pool.name = j.pool;
    else if (isObj(j.pool)) {
      only(j.pool, ['name', 'demands'], where, 'pool');
      pool.name = str(j.pool.name, where, 'pool.name');
      const d = j.pool.demands;
      pool.demands =
        d === undefined || d === ''
          ? []
          : Array.isArray(d)
            ? d.map((x) => str(x, where, 'pool.demands')!)
            : [str(d, where, 'pool.demands')!];
    } else throw new Unsupported(where, "'pool' must be a name or a mapping");
  }
  const variables: Record<string, string> = {};
  if (j.variables !== undefined && j.variables !== '') {
    if (!isObj(j.variables))
      throw new Unsupported(
        where,
        'only the mapping form of job variables (name: value) is supported by the rehearsal (no variable groups or templates)',
      );
    for (const [k, v] of Object.entries(j.variables)) {
      variables[k] = str(v, where, `variables.${k}`) ?? '';
      const expr = runtimeExpression(variables[k]!);
      if (expr !== undefined) checkRuntimeExpression(expr, ['stageDependencies', 'dependencies', 'variables'], `${where} variables.${k}`);
    }
  }
  let clean = false;
  if (j.workspace !== undefined) {
    if (!isObj(j.workspace)) throw new Unsupported(where, "'workspace' must be a mapping");
    only(j.workspace, ['clean'], where, 'workspace');
    clean = ['all', 'outputs', 'resources'].includes(String(j.workspace.clean).toLowerCase());
  }
  const timeout = str(j.timeoutInMinutes, where, 'timeoutInMinutes');
  const jobCondition = str(j.condition, where, 'condition');
  if (jobCondition) checkRuntimeExpression(jobCondition, ['dependencies', 'variables'], `${where} condition`);
  const dependsOn =
    j.dependsOn === undefined || j.dependsOn === ''
      ? []
      : Array.isArray(j.dependsOn)
        ? j.dependsOn.map((d) => str(d, where, 'dependsOn')!)
        : [str(j.dependsOn, where, 'dependsOn')!];
  for (const d of dependsOn)
    if (!earlier.includes(d))
      throw new Unsupported(
        where,
        `dependsOn '${d}': the rehearsal runs the jobs of a stage in file order and needs each dependency to come earlier`,
      );
  if (!Array.isArray(steps)) throw new Unsupported(where, `job ${name} has no steps`);
  const stepsPath = kind === 'job' ? `${path}.steps` : `${path}.strategy.runOnce.deploy.steps`;
  return {
    kind,
    name,
    displayName: str(j.displayName, where, 'displayName') ?? name,
    condition: jobCondition,
    dependsOn,
    pool,
    variables,
    environment,
    strategy,
    timeoutInMinutes: timeout === undefined ? undefined : Number(timeout),
    clean,
    steps: steps.map((s, i) => step(s, `${stepsPath}[${i}]`, tasks)),
    where,
  };
}

/** The rehearsal's view of an expanded (and normalized: every scalar a string) pipeline. */
export function planPipeline(p: Value, tasks: Set<string>): PipelinePlan {
  if (!isObj(p)) throw new Unsupported('pipeline', 'the expanded pipeline is not a mapping');
  const notes: string[] = [];
  for (const k of Object.keys(p)) {
    if (k === 'stages') continue;
    if (/^REFUSED\b/.test(k)) throw new Unsupported(whereOf(p, k), `the template refused this input: ${k}`);
    if (TOP_KEYS[k]) notes.push(`${k}: ${TOP_KEYS[k]}; not used by the rehearsal`);
    else
      throw new Unsupported(
        whereOf(p, k),
        `top-level '${k}' is not supported by the rehearsal (it runs pipelines made of stages: ${['stages', ...Object.keys(TOP_KEYS)].join(', ')})`,
      );
  }
  if (!Array.isArray(p.stages))
    throw new Unsupported(whereOf(p, 'pipeline'), "the rehearsal runs pipelines with 'stages' (as the extends template produces)");
  const stages: StagePlan[] = [];
  p.stages.forEach((s, i) => {
    const path = `stages[${i}]`;
    const where = whereOf(s, path);
    if (!isObj(s)) throw new Unsupported(where, 'a stage must be a mapping');
    only(s, STAGE_KEYS, where, 'stage');
    const name = str(s.stage, where, 'stage');
    if (!name) throw new Unsupported(where, "a stage needs a name ('stage')");
    let dependsOn: string[];
    if (s.dependsOn === undefined) dependsOn = stages.length ? [stages[stages.length - 1]!.name] : [];
    else if (s.dependsOn === '') dependsOn = [];
    else if (Array.isArray(s.dependsOn)) dependsOn = s.dependsOn.map((d) => str(d, where, 'dependsOn')!);
    else dependsOn = [str(s.dependsOn, where, 'dependsOn')!];
    for (const d of dependsOn) {
      if (!stages.some((x) => x.name === d))
        throw new Unsupported(where, `dependsOn '${d}': the rehearsal runs stages in file order and needs each dependency to come earlier`);
    }
    const condition = str(s.condition, where, 'condition');
    if (condition) checkRuntimeExpression(condition, ['dependencies', 'variables'], `${where} condition`);
    if (!Array.isArray(s.jobs)) throw new Unsupported(where, `stage ${name} has no jobs`);
    const jobs: JobPlan[] = [];
    s.jobs.forEach((j, k) =>
      jobs.push(
        job(
          j,
          `${path}.jobs[${k}]`,
          tasks,
          jobs.map((x) => x.name),
        ),
      ),
    );
    stages.push({
      name,
      displayName: str(s.displayName, where, 'displayName') ?? name,
      dependsOn,
      condition,
      lockBehavior: str(s.lockBehavior, where, 'lockBehavior'),
      jobs,
      where,
    });
  });
  return { stages, notes };
}

/** Every task step of the plan, with its stage and job (for seeding the world). */
export function taskSteps(plan: PipelinePlan): Array<{ stage: StagePlan; job: JobPlan; step: TaskStep }> {
  return plan.stages.flatMap((stage) =>
    stage.jobs.flatMap((job) => job.steps.filter((s): s is TaskStep => s.kind === 'task').map((step) => ({ stage, job, step }))),
  );
}
