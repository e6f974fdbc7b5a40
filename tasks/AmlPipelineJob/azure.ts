/**
 * AmlPipelineJob@1, the part that talks to Azure (loads the SDKs): the branch gate, then every
 * lookup (computes, datastores, registered assets) before any write, then uploads (code, local
 * data, build contexts) and anonymous assets, the job itself, and the wait.
 */
import { randomBytes } from 'node:crypto';
import type { AgentIo } from '../common/agent';
import { ArmClient, studioUrl, type WorkspaceSession } from '../common/arm';
import { DataPlane, type RunDto } from '../common/dataplane';
import { errorLine, translateAzureError, UserError } from '../common/errors';
import type { GateSettings } from '../common/gate';
import { enforceGate } from '../common/gate-run';
import type { WorkspaceInputs } from '../common/inputs';
import { lineageTags } from '../common/lineage';
import { openWorkspace } from '../common/session';
import { Summary, link } from '../common/summary';
import { abortableSleep } from '../common/sleep';
import type { DatastoreTarget } from '../common/upload';
import { WorkspaceArm, type ArmResource } from '../common/workspace-arm';
import { agentStorage, datastoreTarget } from '../common/workspace-assets';
import { jobBody } from './body';
import { msg } from './messages';
import type { SubmissionPlan } from './plan';
import { parseOverrides } from './overrides';
import { resolveRefs, type SubmitContext } from './submit';
import { translateJob } from './translate';
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
  const plan = translateJob(file, { root: i.root, overrides: parseOverrides(overrides), ...opts });
  // The CLI files a job without experiment_name under the current folder's name; here the pipeline's.
  plan.body.experimentName ??= io.variable('Build.DefinitionName')?.replace(/[^\w-]/g, '_') ?? 'Default';
  const what =
    plan.jobType === 'Pipeline'
      ? plan.steps.map((s) => (s.type === 'command' ? s.name : `${s.name} (${s.type})`)).join(', ')
      : plan.jobType.toLowerCase();
  io.info(msg('JobFileSteps', file.slice(i.root.length + 1) || file, plan.steps.length || 1, what));
  return plan;
}

/** Lookups, uploads and registrations the plan needs, through the workspace and its storage. */
async function resolvePlan(io: AgentIo, ws: WorkspaceArm, session: WorkspaceSession, plan: SubmissionPlan, root: string) {
  const targets = new Map<string, Promise<DatastoreTarget>>();
  const storageAccount =
    String(session.workspace.storageAccount ?? '')
      .split('/')
      .pop() ?? '';
  const ctx: SubmitContext = {
    io,
    ws,
    root,
    stats: { uploadedBytes: 0, reused: 0 },
    storage: agentStorage(io),
    datastore: (name) => {
      let t = targets.get(name);
      if (!t)
        targets.set(
          name,
          (t = datastoreTarget(io, ws, name, {
            armUrl: session.arm.endpoint.armUrl,
            workspaceStorageAccount: storageAccount,
            credential: session.arm.credential,
          })),
        );
      return t;
    },
    computeNames: async () => (await ws.list('computes')).map((c) => c.name),
  };
  const values = await resolveRefs(ctx, plan.refs);
  return { values, ...ctx.stats };
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
  const assets = await resolvePlan(io, ws, session, i.plan, i.root).catch(fail(msg('ActionRegisterCodeAndComponents')));
  const name = i.plan.name ?? jobName(io.variable('Build.BuildId'));
  const tags = lineageTags((n) => io.variable(n));
  const body = jobBody(i.plan.body, assets.values, name, tags);
  io.progress(15, msg('ProgressSubmittingJob'));
  const job = await ws.put<ArmResource>(`jobs/${name}`, { properties: body }).catch(fail(msg('ActionSubmitPipelineJob', name)));
  const props = (job.properties ?? {}) as { status?: string; services?: Record<string, { endpoint?: string }> };
  const studio = props.services?.Studio?.endpoint ?? studioUrl(session.ref, `runs/${name}`);
  io.output('jobName', name);
  io.output('studioUrl', studio);
  io.info(msg('PipelineJobSubmitted', name, studio));
  io.info(
    msg(
      'LineageTags',
      Object.entries(tags)
        .map(([k, v]) => `${k}=${v}`)
        .join(', '),
    ),
  );

  if (!i.wait) {
    io.output('jobStatus', props.status ?? 'NotStarted');
    io.summary(
      'aml-pipeline-job',
      new Summary(msg('SummaryTitleSubmitted', name)).para(msg('SummaryDidNotWait', link(msg('SummaryOpenInStudio'), studio))).toMarkdown(),
    );
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

  const summary = new Summary(
    end.kind === 'terminal'
      ? msg('SummaryTitleEnded', name, snap.status)
      : end.kind === 'timeout'
        ? msg('SummaryTitleTimedOut', name)
        : msg('SummaryTitleCancelled', name),
  );
  const writeSummary = () => {
    summary.para(msg('SummaryCodeUploaded', link(msg('SummaryOpenInStudio'), studio), assets.uploadedBytes, assets.reused));
    if (snap.steps.length) {
      const columns = [msg('SummaryColumnStep'), msg('SummaryColumnStatus'), msg('SummaryColumnDuration'), msg('SummaryColumnError')];
      summary.table(
        columns,
        snap.steps.map((s) => [link(s.name, s.link), s.status, duration(s), s.error ?? '']),
      );
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
      end.kind === 'cancelled'
        ? msg('JobLeftRunningCancelled', name, studio)
        : cancel
          ? msg('JobTimedOutCancelled', name, minutes, studio)
          : msg('JobTimedOutStillRunning', name, minutes, studio),
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

async function cancelJob(
  io: AgentIo,
  client: import('@azure/arm-machinelearning').AzureMachineLearningWorkspaces,
  ws: WorkspaceInputs,
  name: string,
): Promise<void> {
  try {
    await client.jobs.beginCancelAndWait(ws.resourceGroup, ws.name, name, { updateIntervalInMs: 1000 });
    io.info(msg('JobCancelled', name));
  } catch (e) {
    io.warn(msg('CouldNotCancelJob', name, errorLine(e)));
  }
}
