/**
 * Runs the planned pipeline the way the agent and the service would, for the subset our templates
 * use: stages in order (conditions evaluated against their dependencies' results and outputs), each
 * job on a fresh rehearsal agent (its own job token, work folder, System.* and Build.* variables,
 * job variables with `$[ stageDependencies... ]` resolved at job start), each step in order
 * (conditions against the steps so far, `checkout: self` puts the repository at Build.SourceVersion
 * into the sources folder), and each task step through testkit/harness.ts's runTask: the BUNDLED task
 * (dist/tasks/<Task>, copied to the agent's _tasks folder as the agent downloads it) as a child
 * process with INPUT_*, ENDPOINT_* and variables in its environment.
 * Output variables a task sets are read back from its ##vso commands and flow on: `$(step.var)`
 * later in the job, `stageDependencies`/`dependencies` in later stages (runOnce deployment jobs
 * prefix them with the job name, as the service does).
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { runTask, type TaskRun } from '../../testkit/harness';
import type { Value } from '../../testkit/yaml-pipeline/expand';
import { conditionHolds, evaluateRuntime, expandMacros, runtimeExpression, Unsupported, type Result, type RuntimeScope } from './expr';
import type { Log } from './log';
import { taskSteps, type JobPlan, type PipelinePlan, type StagePlan, type TaskStep } from './plan';
import type { DemoWorld } from './world';

/** The bundled task is missing (dist/tasks not built). */
export class NotBuilt extends Error {}

export interface StepRecord {
  stage: string;
  job: string;
  /** The step's name (outputs prefix), or its position when unnamed. */
  id: string;
  displayName: string;
  task?: string;
  result: Result;
  /** Date.now() when it started, and its duration. */
  startedAt?: number;
  ms: number;
  outputs: Record<string, string>;
  errors: string[];
  warnings: string[];
  summaryFiles: string[];
  /** Why it was skipped. */
  skipped?: string;
  /** Inputs the rehearsal changed, and why. */
  adjustments: string[];
  inputs?: Record<string, string>;
  run?: TaskRun;
}

export interface JobRecord {
  stage: string;
  name: string;
  kind: 'job' | 'deployment';
  displayName: string;
  result: Result;
  steps: StepRecord[];
  /** Output variables as later stages address them: step.var, or job.step.var for runOnce deployment jobs. */
  outputs: Record<string, string>;
  variables: Record<string, string>;
  skipped?: string;
}

export interface StageRecord {
  name: string;
  displayName: string;
  result: Result;
  jobs: JobRecord[];
  skipped?: string;
  ms: number;
}

export interface RunOptions {
  repoRoot: string;
  /** Built tasks (dist/tasks). */
  tasksDir: string;
  outDir: string;
  /** Upper bound for AmlAksDeploy's stepWaitSeconds (the rehearsal compresses the holds). */
  holdSeconds: number;
  log: Log;
}

const worst = (rs: Result[]): Result => {
  const live = rs.filter((r) => r !== 'Skipped');
  if (!live.length) return 'Skipped';
  if (live.includes('Failed')) return 'Failed';
  if (live.includes('Canceled')) return 'Canceled';
  if (live.includes('SucceededWithIssues')) return 'SucceededWithIssues';
  return 'Succeeded';
};

const secs = (ms: number) => `${(ms / 1000).toFixed(1)} s`;

interface TaskJson {
  name: string;
  friendlyName: string;
  description: string;
  author: string;
  version: { Major: number; Minor: number; Patch: number };
  inputs?: Array<{ name: string; type: string; aliases?: string[] }>;
}

/** Output references in a condition, with their values, to show why it held or not. */
function explainReferences(condition: string, scope: RuntimeScope): string[] {
  const refs = condition.match(/\b(?:stage)?[dD]ependencies\.[A-Za-z0-9_]+(?:\.[A-Za-z0-9_]+)?\.(?:outputs\['[^']+'\]|result)/g) ?? [];
  return [...new Set(refs)].map((r) => {
    let v: Value;
    try {
      v = evaluateRuntime(r, scope);
    } catch {
      v = null;
    }
    return `${r} = ${v === null ? '(not set)' : `'${String(v)}'`}`;
  });
}

export class PipelineRunner {
  readonly stages: StageRecord[] = [];
  private readonly taskJsons = new Map<string, TaskJson>();
  /** Variables a stage condition sees (the run's, not a job's). */
  private readonly pipelineVars: Record<string, string>;
  private jobCounter = 0;

  constructor(
    private readonly plan: PipelinePlan,
    private readonly world: DemoWorld,
    private readonly o: RunOptions,
  ) {
    this.pipelineVars = { ...world.agentJob().variables };
  }

  /** Where the agent keeps the tasks it downloaded for this run (_work/_tasks). */
  private readonly agentTasks = fs.mkdtempSync(path.join(os.tmpdir(), 'aml-demo-tasks-'));
  private readonly taskDirs = new Map<string, string>();

  /**
   * The task as the agent gets it: the bundled folder (dist/tasks/<Task>, what the .vsix carries)
   * copied to _work/_tasks/<Task>_<id>/<version>/ before the job runs, and run from there.
   */
  private taskJson(ref: string, where: string): TaskJson {
    const [name, major] = ref.split('@') as [string, string];
    let j = this.taskJsons.get(name.toLowerCase());
    if (!j) {
      const dir = fs.existsSync(this.o.tasksDir)
        ? fs.readdirSync(this.o.tasksDir).find((d) => d.toLowerCase() === name.toLowerCase())
        : undefined;
      const src = dir && path.join(this.o.tasksDir, dir);
      if (!src || !fs.existsSync(path.join(src, 'task.json')))
        throw new NotBuilt(`${ref} is not built in ${this.o.tasksDir}: run 'node scripts/build.mjs' first (npm run demo does)`);
      j = JSON.parse(fs.readFileSync(path.join(src, 'task.json'), 'utf8')) as TaskJson & { id: string };
      const dest = path.join(
        this.agentTasks,
        `${j.name}_${(j as { id?: string }).id ?? 'task'}`,
        `${j.version.Major}.${j.version.Minor}.${j.version.Patch}`,
      );
      fs.cpSync(src, dest, { recursive: true });
      this.taskDirs.set(name.toLowerCase(), dest);
      this.taskJsons.set(name.toLowerCase(), j);
      this.o.log.print(
        `${this.o.log.dim(`Downloading task: ${j.name} (${j.version.Major}.${j.version.Minor}.${j.version.Patch}) from ${path.relative(this.o.repoRoot, src)} (the bundle the .vsix carries)`)}`,
      );
    }
    if (String(j.version.Major) !== major) throw new Unsupported(where, `${ref}: the built task is ${j.name}@${j.version.Major}`);
    return j;
  }

  /** Removes the agent's task copies. */
  dispose(): void {
    fs.rmSync(this.agentTasks, { recursive: true, force: true });
  }

  async run(): Promise<StageRecord[]> {
    const { log } = this.o;
    // Every task the run uses, taken from the bundle once at the start (a rebuild of dist/ while
    // the rehearsal runs cannot change or remove them halfway).
    log.print();
    for (const { step } of taskSteps(this.plan)) this.taskJson(step.task, step.where);
    for (const stage of this.plan.stages) {
      const started = Date.now();
      const deps = stage.dependsOn.map((d) => this.stages.find((s) => s.name === d)!);
      const scope: RuntimeScope = {
        names: {
          dependencies: Object.fromEntries(deps.map((d) => [d.name, { result: d.result, outputs: this.stageOutputs(d) }])),
          variables: this.pipelineVars,
        },
        statuses: deps.map((d) => ({ name: d.name, result: d.result })),
        where: `stage ${stage.name} condition`,
      };
      log.print();
      log.print(
        log.bold(`▶ Stage ${stage.name}`) +
          log.dim(` · ${stage.displayName}${stage.dependsOn.length ? ` · dependsOn ${stage.dependsOn.join(', ')}` : ''}`),
      );
      const holds = conditionHolds(stage.condition, scope);
      if (!holds) {
        const why = `condition ${stage.condition ? `'${stage.condition}'` : 'succeeded() (the default)'} is false${deps.length ? ` (${deps.map((d) => `${d.name}: ${d.result}`).join(', ')})` : ''}`;
        log.print(`  ${log.dim(`Condition: ${stage.condition ?? 'succeeded()'}`)}`);
        for (const e of explainReferences(stage.condition ?? '', scope)) log.print(`  ${log.dim(`  ${e}`)}`);
        const rec: StageRecord = {
          name: stage.name,
          displayName: stage.displayName,
          result: 'Skipped',
          jobs: stage.jobs.map((j) => ({
            stage: stage.name,
            name: j.name,
            kind: j.kind,
            displayName: j.displayName,
            result: 'Skipped',
            steps: [],
            outputs: {},
            variables: {},
            skipped: 'the stage was skipped',
          })),
          skipped: why,
          ms: 0,
        };
        this.stages.push(rec);
        log.print(`${log.resultText('Skipped')} ${log.bold(`Stage ${stage.name}`)}: ${why}`);
        continue;
      }
      if (stage.condition) {
        log.print(`  ${log.dim(`Condition: ${stage.condition} → true`)}`);
        for (const e of explainReferences(stage.condition, scope)) log.print(`  ${log.dim(`  ${e}`)}`);
      }
      if (stage.lockBehavior)
        log.print(
          `  ${log.dim(`lockBehavior: ${stage.lockBehavior} (with an Exclusive lock check, runs enter this stage one at a time; one run here)`)}`,
        );
      const rec: StageRecord = { name: stage.name, displayName: stage.displayName, result: 'Succeeded', jobs: [], ms: 0 };
      this.stages.push(rec);
      for (const job of stage.jobs) rec.jobs.push(await this.runJob(stage, job, rec));
      rec.result = worst(rec.jobs.map((j) => j.result));
      rec.ms = Date.now() - started;
      log.print(`${log.resultText(rec.result)} ${log.bold(`Stage ${stage.name}`)} ${log.dim(secs(rec.ms))}`);
    }
    return this.stages;
  }

  /** dependencies.<stage>.outputs: '<job>.<step>.<var>' (runOnce: '<job>.<job>.<step>.<var>'). */
  private stageOutputs(s: StageRecord): Record<string, string> {
    const out: Record<string, string> = {};
    for (const j of s.jobs) for (const [k, v] of Object.entries(j.outputs)) out[`${j.name}.${k}`] = v;
    return out;
  }

  private async runJob(stage: StagePlan, job: JobPlan, stageRec: StageRecord): Promise<JobRecord> {
    const { log } = this.o;
    const rec: JobRecord = {
      stage: stage.name,
      name: job.name,
      kind: job.kind,
      displayName: job.displayName,
      result: 'Succeeded',
      steps: [],
      outputs: {},
      variables: {},
    };
    log.print();
    log.print(`  ${log.bold(`▶ ${job.kind === 'deployment' ? 'Deployment job' : 'Job'} ${job.name}`)}${log.dim(` · ${job.displayName}`)}`);
    // A job's condition sees the jobs it depends on: their results (succeeded() by default) and outputs.
    const deps = job.dependsOn.map((d) => stageRec.jobs.find((x) => x.name === d)!);
    const jobScope: RuntimeScope = {
      names: {
        dependencies: Object.fromEntries(deps.map((d) => [d.name, { result: d.result, outputs: d.outputs }])),
        variables: this.pipelineVars,
      },
      statuses: deps.map((d) => ({ name: d.name, result: d.result })),
      where: `job ${stage.name}.${job.name} condition`,
    };
    if (!conditionHolds(job.condition, jobScope)) {
      rec.result = 'Skipped';
      rec.skipped = `condition '${job.condition}' is false`;
      log.print(`  ${log.resultText('Skipped')} ${rec.skipped}`);
      return rec;
    }

    // The agent: pool and demands, a fresh work folder, the job's token and variables.
    const capabilities: Record<string, string> = { 'Agent.OS': 'Linux', 'Agent.Name': 'rehearsal-agent', 'Agent.Version': '4.248.0' };
    const unmet: string[] = [];
    for (const d of job.pool.demands) {
      const m = /^\s*([\w.]+)\s+-equals\s+(.+?)\s*$/.exec(d) ?? /^\s*([\w.]+)\s*$/.exec(d);
      if (!m)
        throw new Unsupported(job.where, `pool demand '${d}': only 'name' and 'name -equals value' demands are supported by the rehearsal`);
      const have = capabilities[m[1]!];
      if (have === undefined || (m[2] !== undefined && have.toLowerCase() !== m[2].toLowerCase())) unmet.push(d);
    }
    log.print(
      `  ${log.dim(`Pool: ${job.pool.name ?? '(default)'}${job.pool.demands.length ? ` · demands: ${job.pool.demands.join('; ')}` : ''} → rehearsal agent on this machine (Agent.OS Linux)${this.world.sandbox ? ', in the VNet (private network namespace)' : ''}`)}`,
    );
    if (unmet.length) {
      rec.result = 'Failed';
      log.print(
        `  ${log.red(`##[error]No agent found in pool ${job.pool.name} which satisfies the specified demands: ${unmet.join(', ')}`)}`,
      );
      return rec;
    }
    if (job.environment)
      log.print(
        `  ${log.dim(`Environment: ${job.environment} · its approvals and checks (e.g. Approvals, Exclusive lock) apply here in Azure DevOps; the rehearsal has none configured`)}`,
      );
    if (job.timeoutInMinutes !== undefined)
      log.print(
        `  ${log.dim(`timeoutInMinutes: ${job.timeoutInMinutes}${job.timeoutInMinutes === 0 ? ' (no agent limit; the task bounds its own wait)' : ''}`)}`,
      );

    const agent = this.world.agentJob();
    const n = ++this.jobCounter;
    const work = fs.mkdtempSync(path.join(os.tmpdir(), `aml-demo-agent-${n}-`));
    const dirs = { s: path.join(work, 's'), a: path.join(work, 'a'), b: path.join(work, 'b') };
    for (const d of Object.values(dirs)) fs.mkdirSync(d, { recursive: true });
    const vars = new Map<string, { name: string; value: string }>();
    const setVar = (name: string, value: string) => vars.set(name.toLowerCase(), { name, value });
    const base: Record<string, string> = {
      ...agent.variables,
      'Agent.BuildDirectory': work,
      'Pipeline.Workspace': work,
      'Build.SourcesDirectory': dirs.s,
      'System.DefaultWorkingDirectory': dirs.s,
      'Build.Repository.LocalPath': dirs.s,
      'Build.ArtifactStagingDirectory': dirs.a,
      'Build.BinariesDirectory': dirs.b,
      'System.StageName': stage.name,
      'System.StageDisplayName': stage.displayName,
      'System.JobName': job.name,
      'System.JobDisplayName': job.displayName,
      'System.PhaseName': job.name,
      'Agent.JobName': job.displayName,
      'System.JobAttempt': '1',
      ...(job.environment ? { 'Environment.Name': job.environment, 'Strategy.Name': 'runOnce' } : {}),
    };
    for (const [k, v] of Object.entries(base)) setVar(k, v);
    const flat = () => new Map([...vars].map(([k, v]) => [k, v.value]));

    // Job variables: literals and macros, and `$[ ]` runtime expressions resolved now.
    const stageDependencies: Record<string, Value> = {};
    for (const s of this.stages) {
      if (s.name === stage.name) continue;
      stageDependencies[s.name] = Object.fromEntries(s.jobs.map((j) => [j.name, { result: j.result, outputs: j.outputs }]));
    }
    const dependencies: Record<string, Value> = Object.fromEntries(
      stageRec.jobs.map((j) => [j.name, { result: j.result, outputs: j.outputs }]),
    );
    for (const [k, raw] of Object.entries(job.variables)) {
      const expr = runtimeExpression(raw);
      let value: string;
      if (expr !== undefined) {
        const v = evaluateRuntime(expr, {
          names: { stageDependencies, dependencies, variables: Object.fromEntries([...vars.values()].map((x) => [x.name, x.value])) },
          statuses: [],
          where: `job ${stage.name}.${job.name} variable ${k}`,
        });
        value = v === null ? '' : String(v);
        log.print(`  ${log.dim(`variable ${k} = ${raw} → '${value}'`)}`);
      } else {
        value = expandMacros(raw, flat()).text;
        log.print(`  ${log.dim(`variable ${k} = '${value}'`)}`);
      }
      setVar(k, value);
      rec.variables[k] = value;
    }

    const steps = job.steps;
    for (let i = 0; i < steps.length; i++) {
      const s = steps[i]!;
      const id = s.kind === 'task' ? (s.name ?? `step${i + 1}`) : `checkout${i + 1}`;
      const statuses = rec.steps.filter((x) => x.result !== 'Skipped').map((x) => ({ name: x.id, result: x.result }));
      const scope: RuntimeScope = {
        names: { variables: Object.fromEntries([...vars.values()].map((x) => [x.name, x.value])) },
        statuses,
        where: `step ${stage.name}.${job.name}.${id} condition`,
      };
      const condition = s.kind === 'task' ? s.condition : undefined;
      const display = s.kind === 'task' ? expandMacros(s.displayName ?? s.task, flat()).text : s.displayName;
      if (!conditionHolds(condition, scope)) {
        const why = `condition ${condition ? `'${condition}'` : 'succeeded() (the default)'} is false`;
        log.print(`    ${log.dim('⊘')} ${display} ${log.dim(`· skipped: ${why}`)}`);
        rec.steps.push({
          stage: stage.name,
          job: job.name,
          id,
          displayName: display,
          ...(s.kind === 'task' ? { task: s.task } : {}),
          result: 'Skipped',
          ms: 0,
          outputs: {},
          errors: [],
          warnings: [],
          summaryFiles: [],
          skipped: why,
          adjustments: [],
        });
        continue;
      }
      if (s.kind === 'checkout') {
        const started = Date.now();
        if (s.repository === 'self') {
          this.checkout(dirs.s);
          log.print(
            `    ${log.cyan('▸')} ${log.bold('Checkout')} ${log.dim(`${this.world.seed.ado.repository.name}@${this.world.branch.ref.replace('refs/heads/', '')} at ${this.world.branch.commit.slice(0, 12)} to s`)}`,
          );
        } else {
          log.print(`    ${log.cyan('▸')} ${log.bold('Checkout: none')} ${log.dim('(this job needs no repository files)')}`);
        }
        rec.steps.push({
          stage: stage.name,
          job: job.name,
          id,
          displayName: display,
          result: 'Succeeded',
          ms: Date.now() - started,
          outputs: {},
          errors: [],
          warnings: [],
          summaryFiles: [],
          adjustments: [],
        });
        continue;
      }
      const stepRec = await this.runTaskStep(stage, job, s, id, display, vars, agent, dirs.s);
      rec.steps.push(stepRec);
      for (const [k, v] of Object.entries(stepRec.outputs)) {
        if (!s.name) continue;
        setVar(`${s.name}.${k}`, v);
        rec.outputs[job.kind === 'deployment' ? `${job.name}.${s.name}.${k}` : `${s.name}.${k}`] = v;
      }
      for (const c of stepRec.run?.commands ?? []) {
        if (c.name === 'task.setvariable' && c.props.isOutput !== 'true' && c.props.variable) setVar(c.props.variable, c.message);
      }
    }
    rec.result = worst(rec.steps.map((x) => x.result));
    if (rec.result === 'Skipped') rec.result = 'Succeeded';
    log.print(`  ${log.resultText(rec.result)} ${log.bold(`Job ${job.name}`)}`);
    // As the agent cleans its work and temp folders after a job (the summaries were copied out).
    for (const d of [work, ...rec.steps.map((x) => x.run?.tempDir)]) if (d) fs.rmSync(d, { recursive: true, force: true });
    return rec;
  }

  /** What `checkout: self` leaves: the repository's files at Build.SourceVersion (HEAD detached there). */
  private checkout(dest: string): void {
    const skip = new Set(['node_modules', 'dist', '.git', '.tmp']);
    for (const e of fs.readdirSync(this.o.repoRoot)) {
      if (skip.has(e)) continue;
      fs.cpSync(path.join(this.o.repoRoot, e), path.join(dest, e), {
        recursive: true,
        filter: (src) => !src.split(path.sep).includes('node_modules'),
      });
    }
    fs.mkdirSync(path.join(dest, '.git'), { recursive: true });
    fs.writeFileSync(path.join(dest, '.git', 'HEAD'), `${this.world.branch.commit}\n`);
  }

  private async runTaskStep(
    stage: StagePlan,
    job: JobPlan,
    s: TaskStep,
    id: string,
    display: string,
    vars: Map<string, { name: string; value: string }>,
    agent: ReturnType<DemoWorld['agentJob']>,
    sources: string,
  ): Promise<StepRecord> {
    const { log } = this.o;
    const tj = this.taskJson(s.task, s.where);
    const flat = new Map([...vars].map(([k, v]) => [k, v.value]));
    const adjustments: string[] = [];
    const inputs: Record<string, string> = {};
    const unknownMacros = new Set<string>();
    const declared = tj.inputs ?? [];
    for (const [k, raw] of Object.entries(s.inputs)) {
      if (runtimeExpression(raw) !== undefined)
        throw new Unsupported(
          s.where,
          `input ${k}: runtime expressions ($[ ]) are only supported in job variables and conditions (as in Azure Pipelines)`,
        );
      const { text, unknown } = expandMacros(raw, flat);
      for (const u of unknown) unknownMacros.add(u);
      const decl = declared.find((d) => d.name === k || (d.aliases ?? []).includes(k));
      inputs[decl?.name ?? k] = text;
    }
    // The service resolves service connection names to ids; the agent roots filePath inputs.
    for (const d of declared) {
      const v = inputs[d.name];
      if (d.type.startsWith('connectedService:') && v) {
        const c = this.world.connections.get(v.toLowerCase()) ?? [...this.world.connections.values()].find((x) => x.id === v.toLowerCase());
        if (!c)
          throw new Unsupported(
            s.where,
            `input ${d.name}: service connection '${v}' could not be found (the rehearsal registers the connections the pipeline names at start)`,
          );
        inputs[d.name] = c.id;
      }
      if (d.type === 'filePath' && v && !path.isAbsolute(v)) inputs[d.name] = path.join(sources, v);
    }
    const taskName = tj.name;
    if (taskName === 'AmlAksDeploy' && Number(inputs.stepWaitSeconds ?? '60') > this.o.holdSeconds) {
      adjustments.push(
        `stepWaitSeconds ${inputs.stepWaitSeconds ?? '60 (default)'} → ${this.o.holdSeconds}: the rehearsal holds each traffic step ${this.o.holdSeconds} s (--hold-seconds)`,
      );
      inputs.stepWaitSeconds = String(this.o.holdSeconds);
    }
    if (taskName === 'AmlPrivateLinkCheck' && !this.world.sandbox) {
      if (!inputs.dnsServers) {
        adjustments.push(
          `dnsServers '' → ${this.world.dns.address}: no private network here, so the names are resolved by asking the VNet DNS (the emulator's DNS server) instead of the agent's own resolver`,
        );
        inputs.dnsServers = this.world.dns.address;
      }
      if ((inputs.tcpCheck ?? 'true').toLowerCase() === 'true') {
        adjustments.push('tcpCheck true → false: the private endpoint IPs are not reachable outside the private network namespace');
        inputs.tcpCheck = 'false';
      }
    }

    log.print();
    log.print(`    ${log.cyan('▸')} ${log.bold(display)}${log.dim(` · ${s.task}${s.name ? ` · name: ${s.name}` : ''}`)}`);
    log.print(`      ${log.dim('='.repeat(78))}`);
    log.print(`      ${log.dim(`Task         : ${tj.friendlyName}`)}`);
    log.print(`      ${log.dim(`Description  : ${tj.description}`)}`);
    log.print(
      `      ${log.dim(`Version      : ${tj.version.Major}.${tj.version.Minor}.${tj.version.Patch} (from ${path.relative(this.o.repoRoot, path.join(this.o.tasksDir, taskName))})`)}`,
    );
    log.print(`      ${log.dim(`Author       : ${tj.author}`)}`);
    log.print(`      ${log.dim('='.repeat(78))}`);
    const shown = Object.entries(s.inputs)
      .filter(([, v]) => v !== '')
      .map(([k, v]) => {
        const val = inputs[declared.find((d) => d.name === k || (d.aliases ?? []).includes(k))?.name ?? k] ?? v;
        const text = v === val ? v : `${v} → ${val.startsWith(sources) ? `s/${path.relative(sources, val)}` : val}`;
        return `${k}: ${JSON.stringify(text).slice(1, -1)}`;
      });
    for (const l of shown) log.print(`      ${log.dim(`input ${l}`)}`);
    for (const a of adjustments) log.print(`      ${log.yellow(`rehearsal: ${a}`)}`);
    for (const u of unknownMacros)
      log.print(`      ${log.yellow(`rehearsal: $(${u}) is not a variable of this job; it stays as written (the agent does the same)`)}`);

    const secretParams = ['serviceprincipalkey', 'servicePrincipalCertificate', 'AccessToken'];
    const known = Object.values(agent.endpoints).flatMap((e) =>
      Object.entries(e.parameters ?? {})
        .filter(([k]) => secretParams.includes(k))
        .map(([, v]) => v),
    );
    const variables = Object.fromEntries([...vars.values()].map((x) => [x.name, x.value]));
    const timeoutMs = Math.min(job.timeoutInMinutes ? job.timeoutInMinutes * 60_000 : Infinity, 15 * 60_000);
    const startedAt = Date.now();
    const run = await runTask(taskName, {
      inputs,
      endpoints: agent.endpoints,
      variables,
      env: agent.env,
      taskDir: this.taskDirs.get(taskName.toLowerCase())!,
      timeoutMs,
    });
    const secrets = [...known, ...run.secrets];
    log.taskOutput(run.stdout, secrets, '      ');
    if (run.stderr.trim()) for (const l of run.stderr.trim().split('\n').slice(-20)) log.print(`      ${log.red(l)}`);
    const result: Result =
      run.result === 'Succeeded' || run.result === 'SucceededWithIssues' || run.result === 'Failed'
        ? run.result
        : run.result === 'Cancelled' || run.result === 'Canceled'
          ? 'Canceled'
          : run.result === 'Skipped'
            ? 'Skipped'
            : 'Failed';

    // The run summary, as the Extensions tab would show it.
    const summaryFiles: string[] = [];
    run.summaries.forEach((sm, k) => {
      const file = path.join(this.o.outDir, `${stage.name}-${id}${run.summaries.length > 1 ? `-${k + 1}` : ''}.md`);
      fs.writeFileSync(file, sm.content);
      summaryFiles.push(file);
    });
    const outs = Object.entries(run.outputs).filter(
      ([k]) => !run.commands.some((c) => c.name === 'task.setvariable' && c.props.variable === k && c.props.issecret === 'true'),
    );
    const tail = [
      secs(run.ms),
      ...(summaryFiles.length
        ? [
            `summary ${summaryFiles.map((f) => (path.relative(process.cwd(), f).startsWith('..') ? f : path.relative(process.cwd(), f))).join(', ')}`,
          ]
        : []),
    ];
    log.print(`      ${log.resultText(result)} ${log.dim(tail.join(' · '))}`);
    if (outs.length && s.name)
      log.print(
        `      ${log.dim(`outputs: ${outs.map(([k, v]) => `${s.name}.${k}=${v.length > 90 ? `${v.slice(0, 87)}...` : v}`).join('  ')}`)}`,
      );
    return {
      stage: stage.name,
      job: job.name,
      id,
      displayName: display,
      task: s.task,
      result,
      startedAt,
      ms: run.ms,
      outputs: run.outputs,
      errors: run.errors,
      warnings: run.warnings,
      summaryFiles,
      adjustments,
      inputs,
      run,
    };
  }
}
