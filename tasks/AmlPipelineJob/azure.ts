/**
 * AmlPipelineJob@1, the part that talks to Azure (loads the SDKs): the branch gate, then every
 * lookup (computes, registered assets) before any write, then code uploads and anonymous
 * assets, the job itself, and the wait.
 */
import { randomBytes } from 'node:crypto';
import type { AgentIo } from '../common/agent';
import { ArmClient, studioUrl } from '../common/arm';
import { DataPlane, type RunDto } from '../common/dataplane';
import { errorLine, translateAzureError, UserError } from '../common/errors';
import type { GateSettings } from '../common/gate';
import { enforceGate } from '../common/gate-run';
import type { WorkspaceInputs } from '../common/inputs';
import { lineageTags } from '../common/lineage';
import { openWorkspace } from '../common/session';
import { Summary, link } from '../common/summary';
import { abortableSleep } from '../common/sleep';
import { snapshotCode } from '../common/upload';
import { WorkspaceArm, type ArmResource } from '../common/workspace-arm';
import { ensureCode, ensureInlineEnvironment, resolveNamed, whereWritten as where } from '../common/workspace-assets';
import { ANONYMOUS_COMPONENT_NAME, anonymousComponentSpec, anonymousComponentVersionBody, toPipelineJobBody } from './body';
import { msg } from './messages';
import type { CodeRef, ComponentRef, EnvironmentRef, NamedRef, SubmissionPlan } from './plan';
import { parseOverrides } from './overrides';
import { translatePipelineJob } from './translate';
import { waitForJob, type JobSnapshot, type StepState } from './wait';

interface JobFileInputs {
  file: string;
  overrides: string[];
  tags: Record<string, string>;
  experimentName?: string;
  displayName?: string;
}

interface PipelineJobInputs {
  connection: string;
  ws: WorkspaceInputs;
  job: JobFileInputs;
  /** The repository root: code may not come from outside it. */
  root: string;
  gate: GateSettings;
  wait: boolean;
  timeoutMs: number;
  cancelOnTimeout: boolean;
}

/** Curated environments live in the azureml registry, not the workspace: the service resolves them. */
const isCurated = (e: EnvironmentRef): boolean => e.kind === 'named' && e.name.startsWith('AzureML-');
const curatedId = (e: NamedRef): string => (e.version ? `${e.name}:${e.version}` : `${e.name}@latest`);

interface Resolution {
  computes: Record<string, string>;
  datastores: Record<string, string>;
  assets: Record<string, string>;
  named: Map<NamedRef, string>;
}

/** Every read-only lookup, so a bad reference fails before anything is written. */
async function lookUp(io: AgentIo, ws: WorkspaceArm, plan: SubmissionPlan): Promise<Resolution> {
  const defaultCompute = typeof plan.settings.default_compute === 'string' ? plan.settings.default_compute : undefined;
  const names = new Set<string>();
  if (plan.compute) names.add(plan.compute);
  if (defaultCompute) names.add(defaultCompute);
  // translatePipelineJob refuses a step without compute when the pipeline has no default either.
  for (const s of plan.steps) names.add(s.compute ?? defaultCompute ?? plan.compute!);
  const computes: Record<string, string> = {};
  for (const name of names) {
    if (name.startsWith('/subscriptions/') || name === 'serverless') continue;
    const found = await ws.find(`computes/${encodeURIComponent(name)}`);
    if (!found) {
      // Every page of the list, so the message names all the computes there.
      const all = await ws.list('computes').catch(() => [] as ArmResource[]);
      const known = all.map((c) => c.name).join(', ');
      throw new UserError(known ? msg('ComputeNotFound', name, ws.ref.name, known) : msg('ComputeNotFoundNoneThere', name, ws.ref.name));
    }
    computes[name] = found.id;
  }
  const datastores: Record<string, string> = {};
  const ds = plan.settings.default_datastore;
  if (typeof ds === 'string' && !ds.startsWith('/subscriptions/')) {
    const found = await ws.find(`datastores/${encodeURIComponent(ds)}`);
    if (!found) throw new UserError(msg('DatastoreNotFound', ds, ws.ref.name));
    datastores[ds] = found.id;
  }
  const assets: Record<string, string> = {};
  for (const [uri, ref] of Object.entries(plan.assets ?? {})) assets[uri] = await resolveNamed(ws, ref.assetType === 'data' ? 'data' : 'models', ref);
  const named = new Map<NamedRef, string>();
  // One lookup per distinct reference: the same `azureml:x:1` (or `@latest`) in several steps is read once.
  const lookups = new Map<string, Promise<string>>();
  const resolve = (kind: 'components' | 'environments' | 'codes', r: NamedRef): Promise<string> => {
    const key = `${kind}/${r.name}${r.version ? `:${r.version}` : '@latest'}`;
    let found = lookups.get(key);
    if (!found) lookups.set(key, (found = resolveNamed(ws, kind, r)));
    return found;
  };
  const visitEnv = async (e: EnvironmentRef) => {
    if (e.kind !== 'named') return;
    try {
      named.set(e, await resolve('environments', e));
    } catch (err) {
      // Curated environments may live only in the azureml registry: the service resolves those.
      if (!(isCurated(e) && err instanceof UserError)) throw err;
    }
  };
  const visitCode = async (c: CodeRef | undefined) => {
    if (c?.kind === 'named') named.set(c, await resolve('codes', c));
  };
  for (const s of plan.steps) {
    const c: ComponentRef = s.component;
    if (c.kind === 'named') named.set(c, await resolve('components', c));
    if (c.kind === 'anonymous') {
      await visitEnv(c.environment);
      await visitCode(c.code);
    }
  }
  io.info(msg('ResolvedComputesAndAssets', Object.keys(computes).length, named.size + Object.keys(assets).length));
  return { computes, datastores, assets, named };
}

/** `inline`: the ids of the inline environments already ensured, by content hash. */
async function ensureEnvironment(ws: WorkspaceArm, env: EnvironmentRef, res: Resolution, inline: Map<string, string>): Promise<string> {
  if (env.kind === 'named') return res.named.get(env) ?? curatedId(env);
  // ARM ids come without `azureml:` (parseAssetRef strips it); registry ids keep theirs.
  if (env.kind === 'id') return env.id;
  let id = inline.get(env.hash);
  if (!id) inline.set(env.hash, (id = await ensureInlineEnvironment(ws, env)));
  return id;
}

/** Code, environments and anonymous components, reusing whatever already exists by hash. */
async function ensureAssets(io: AgentIo, ws: WorkspaceArm, plan: SubmissionPlan, root: string, res: Resolution): Promise<{ components: Record<string, string>; uploadedBytes: number; reused: number }> {
  const stats = { uploadedBytes: 0, reused: 0 };
  // Each code folder, inline environment and anonymous component is looked up (and created) once per run.
  const codeIds = new Map<string, string>();
  const environmentIds = new Map<string, string>();
  const anonymousIds = new Map<string, string>();
  const components: Record<string, string> = {};
  for (const step of plan.steps) {
    const c = step.component;
    if (c.kind === 'named') {
      components[step.name] = res.named.get(c)!;
      continue;
    }
    // An id is passed through as written: toPipelineJobBody takes it from the step.
    if (c.kind === 'id') continue;
    let codeId: string | undefined;
    if (c.code?.kind === 'local') {
      const key = c.code.path;
      if (!codeIds.has(key)) {
        const snap = snapshotCode(c.code.path, root, where(c.code));
        codeIds.set(key, await ensureCode(io, ws, snap, `'${c.code.path.slice(root.length + 1) || '.'}'`, stats));
      }
      codeId = codeIds.get(key);
    } else if (c.code?.kind === 'named') {
      codeId = res.named.get(c.code);
    } else if (c.code?.kind === 'id') {
      codeId = c.code.id;
    }
    const environmentId = await ensureEnvironment(ws, c.environment, res, environmentIds);
    const { spec, hash } = anonymousComponentSpec(c, { ...(codeId ? { codeId } : {}), environmentId });
    let id = anonymousIds.get(hash);
    if (!id) {
      const path = `components/${ANONYMOUS_COMPONENT_NAME}/versions/${hash}`;
      const existing = await ws.find(path);
      id = existing ? existing.id : (await ws.put(path, anonymousComponentVersionBody(spec))).id;
      anonymousIds.set(hash, id);
    }
    components[step.name] = id;
  }
  return { components, ...stats };
}

/** Azure ML job names: letters, digits, '_' and '-', unique per workspace. */
function jobName(buildId: string | undefined): string {
  return `ado_${(buildId ?? 'local').replace(/[^\w-]/g, '')}_${randomBytes(5).toString('hex')}`;
}

function stepOf(r: RunDto, studio: string): StepState {
  // Step runs carry the step's display name (the step key unless display_name is set).
  const name = r.displayName ?? r.name ?? r.runId;
  const err = r.error?.error;
  return {
    name,
    runId: r.runId,
    status: r.status ?? 'Unknown',
    ...(r.startTimeUtc ? { start: r.startTimeUtc } : {}),
    ...(r.endTimeUtc ? { end: r.endTimeUtc } : {}),
    ...(err?.message ? { error: `${err.code ? `${err.code}: ` : ''}${err.message}` } : {}),
    // The job's studio link with the step's run id in place of the job's.
    link: studio.replace(/\/runs\/[^/?]+/, `/runs/${encodeURIComponent(r.runId)}`),
  };
}

function duration(s: StepState): string {
  if (!s.start) return '';
  const ms = (s.end ? Date.parse(s.end) : Date.now()) - Date.parse(s.start);
  return Number.isFinite(ms) ? msg('DurationSeconds', Math.round(ms / 1000)) : '';
}

/** The job file as a plan: local only, so a bad file fails here, after the gate and before any Azure call. */
function translate(io: AgentIo, i: PipelineJobInputs): SubmissionPlan {
  const { file, overrides, ...opts } = i.job;
  const plan = translatePipelineJob(file, { root: i.root, overrides: parseOverrides(overrides), ...opts });
  plan.experimentName ??= io.variable('Build.DefinitionName')?.replace(/[^\w-]/g, '_');
  io.info(msg('JobFileSteps', file.slice(i.root.length + 1) || file, plan.steps.length, plan.steps.map((s) => s.name).join(', ')));
  return plan;
}

export async function run(io: AgentIo, inputs: PipelineJobInputs): Promise<void> {
  // The gate runs first: no file of the repository is read, and nothing touches Azure, for a run that may not submit.
  await enforceGate(io, inputs.gate, inputs.connection);
  const plan = translate(io, inputs);
  const i = { ...inputs, plan };
  const session = await openWorkspace(io, i.connection, i.ws);
  const ws = new WorkspaceArm(new ArmClient(session.arm), session.ref);
  const fail = (action: string) => (e: unknown) => {
    throw translateAzureError(e, { action, scope: ws.base, connection: session.arm.endpoint.name });
  };

  io.progress(5, msg('ProgressCheckingComputesAndAssets'));
  const res = await lookUp(io, ws, i.plan).catch(fail(msg('ActionLookUpComputesAndAssets')));
  const assets = await ensureAssets(io, ws, i.plan, i.root, res).catch(fail(msg('ActionRegisterCodeAndComponents')));
  const name = i.plan.name ?? jobName(io.variable('Build.BuildId'));
  const tags = lineageTags((n) => io.variable(n));
  const body = toPipelineJobBody(i.plan, { components: assets.components, computes: res.computes, datastores: res.datastores, assets: res.assets }, tags);
  io.progress(15, msg('ProgressSubmittingJob'));
  const job = await ws.put<ArmResource>(`jobs/${name}`, { properties: body }).catch(fail(msg('ActionSubmitPipelineJob', name)));
  const props = (job.properties ?? {}) as { status?: string; services?: Record<string, { endpoint?: string }> };
  const studio = props.services?.Studio?.endpoint ?? studioUrl(session.ref, `runs/${name}`);
  io.output('jobName', name);
  io.output('studioUrl', studio);
  io.info(msg('PipelineJobSubmitted', name, studio));
  io.info(msg('LineageTags', Object.entries(tags).map(([k, v]) => `${k}=${v}`).join(', ')));

  if (!i.wait) {
    io.output('jobStatus', props.status ?? 'NotStarted');
    io.summary('aml-pipeline-job', new Summary(msg('SummaryTitleSubmitted', name)).para(msg('SummaryDidNotWait', link(msg('SummaryOpenInStudio'), studio))).toMarkdown());
    return;
  }

  const dataPlane = new DataPlane(session.arm, session.ref, session.workspace);
  let stepsUnavailable = false;
  const poll = async (): Promise<JobSnapshot> => {
    const j = await ws.get<ArmResource>(`jobs/${name}`).catch(fail(msg('ActionReadPipelineJob', name)));
    const status = String((j.properties as { status?: string } | undefined)?.status ?? 'Unknown');
    let steps: StepState[] = [];
    if (!stepsUnavailable) {
      try {
        steps = (await dataPlane.children(name)).map((r) => stepOf(r, studio));
      } catch (e) {
        stepsUnavailable = true;
        io.warn(msg('StepStatusesUnavailable', errorLine(e)));
      }
    }
    return { status, steps };
  };

  const end = await waitForJob(
    { poll, now: () => Date.now(), sleep: abortableSleep, log: (l) => io.info(l), progress: (p, t) => io.progress(15 + p * 0.85, t) },
    { timeoutMs: i.timeoutMs, signal: io.signal },
  );
  const snap = end.snapshot;
  io.output('jobStatus', snap.status);

  const summary = new Summary(end.kind === 'terminal' ? msg('SummaryTitleEnded', name, snap.status) : end.kind === 'timeout' ? msg('SummaryTitleTimedOut', name) : msg('SummaryTitleCancelled', name));
  const writeSummary = () => {
    summary.para(msg('SummaryCodeUploaded', link(msg('SummaryOpenInStudio'), studio), assets.uploadedBytes, assets.reused));
    if (snap.steps.length) {
      const columns = [msg('SummaryColumnStep'), msg('SummaryColumnStatus'), msg('SummaryColumnDuration'), msg('SummaryColumnError')];
      summary.table(columns, snap.steps.map((s) => [link(s.name, s.link), s.status, duration(s), s.error ?? '']));
    }
    io.summary('aml-pipeline-job', summary.toMarkdown());
  };

  if (end.kind !== 'terminal') {
    const cancel = end.kind === 'cancelled' || i.cancelOnTimeout;
    if (cancel) {
      io.info(msg('CancellingJob', name));
      await cancelJob(io, session.client, i.ws, name);
      io.output('jobStatus', 'Canceled');
    }
    writeSummary();
    const minutes = Math.round(i.timeoutMs / 60000);
    throw new UserError(
      end.kind === 'cancelled' ? msg('JobLeftRunningCancelled', name, studio) : cancel ? msg('JobTimedOutCancelled', name, minutes, studio) : msg('JobTimedOutStillRunning', name, minutes, studio),
    );
  }
  writeSummary();
  if (snap.status === 'Completed') {
    io.info(msg('PipelineJobCompleted', name));
    return;
  }
  const failed = snap.steps.filter((s) => s.status === 'Failed');
  let detail = failed.map((s) => msg('StepStatus', s.name, s.error ?? msg('StepFailedWithoutError'))).join('; ');
  if (!detail) {
    const parent = await dataPlane.run(name).catch(() => undefined);
    detail = parent?.error?.error?.message ?? msg('NoErrorDetailsRecorded');
  }
  throw new UserError(msg('PipelineJobEnded', name, snap.status, detail, studio));
}

async function cancelJob(io: AgentIo, client: import('@azure/arm-machinelearning').AzureMachineLearningWorkspaces, ws: WorkspaceInputs, name: string): Promise<void> {
  try {
    await client.jobs.beginCancelAndWait(ws.resourceGroup, ws.name, name, { updateIntervalInMs: 1000 });
    io.info(msg('JobCancelled', name));
  } catch (e) {
    io.warn(msg('CouldNotCancelJob', name, errorLine(e)));
  }
}

