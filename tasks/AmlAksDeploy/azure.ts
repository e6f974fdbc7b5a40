/**
 * AmlAksDeploy@1, the part that talks to Azure (loads the SDKs): the deployment file and the
 * branch gate first, then every lookup (compute, model, environment, code, endpoint) before any
 * write, then the rollout: endpoint, new deployment at 0%, smoke test alone, traffic in steps
 * with health checks, the previous deployment deleted at 100%. Any failure or a cancelled run
 * restores the previous traffic exactly, prints the failed deployment's logs and deletes it.
 */
import * as fs from 'node:fs';
import type { AgentIo } from '../common/agent';
import { ArmClient, studioUrl, type WorkspaceSession } from '../common/arm';
import { translateAzureError } from '../common/errors';
import type { GateSettings } from '../common/gate';
import { enforceGate } from '../common/gate-run';
import type { WorkspaceInputs } from '../common/inputs';
import { lineageTags } from '../common/lineage';
import { openWorkspace } from '../common/session';
import { agentStorage, ensureCode, ensureInlineEnvironment, type AssetContext } from '../common/workspace-assets';
import { WorkspaceArm } from '../common/workspace-arm';
import { deploymentBody, loadDeploymentFile, type DeploymentSpec } from './deployment';
import { lookUp, type Lookups } from './lookups';
import { markProduction, type ProductionTag } from './production-tag';
import { msg } from './messages';
import { OnlineApi, Scorer, ScoringAuth } from './online-api';
import { RolloutReport } from './report';
import { formatTraffic, planRollout, serving } from './rollout';
import { CheckFailed, first, Rollout } from './rollout-machine';
import { evaluate, parseSmokeBody, type Expectation } from './smoke';
import type { AuthMode, ModelRef } from './spec';

export interface DeployInputs {
  connection: string;
  ws: WorkspaceInputs;
  /** Undefined when enforceBranchGate is false. */
  branchGate?: GateSettings;
  endpointName: string;
  computeName: string;
  model: ModelRef;
  deploymentName?: string;
  deploymentFile?: string;
  /** The repository: local code and conda files may not come from outside it. */
  root: string;
  instanceType?: string;
  instanceCount?: number;
  authMode: AuthMode;
  steps: number[];
  stepWaitSeconds: number;
  /** The smoke-test file: checked to be inside the sources folder, read after the gate. */
  smoke?: { path: string; file: string; written: string };
  expect: Expectation;
  rollbackOnFailure: boolean;
  keepPrevious: boolean;
  keepFailedDeployment: boolean;
  /** Put on the model version brought to 100% (production-tag.ts); undefined: tag nothing. */
  productionTag?: ProductionTag;
}

/** The smoke test against the new deployment alone: one scoring call and its verdict, or CheckFailed. */
function smokeTester(
  io: AgentIo,
  i: DeployInputs,
  api: OnlineApi,
  session: WorkspaceSession,
  look: Lookups,
  body: unknown,
  translate: (action: string) => (e: unknown) => Error,
): ((uri: string) => Promise<string>) | undefined {
  if (!i.smoke) return undefined;
  const E = i.endpointName;
  const D = look.deploymentName;
  let scorer: Scorer | undefined;
  return async (uri) => {
    scorer ??= new Scorer(
      uri,
      session.arm.proxy,
      new ScoringAuth(io, api, E, look.endpoint?.properties.authMode ?? i.authMode, session.arm.credential),
    );
    let res;
    try {
      res = await scorer.score(D, body, io.signal);
    } catch (e) {
      // A missing listKeys/token permission or an unreachable scoring URI says what to fix.
      throw new CheckFailed(msg('CheckSmokeRequestFailed', D, first(translate(msg('ActionCallScoringUri', E))(e))));
    }
    const verdict = evaluate(i.expect, res.status, res.text);
    if (res.servedBy && res.servedBy !== D) throw new CheckFailed(msg('CheckSmokeWrongDeployment', D, res.servedBy));
    if (!verdict.ok) throw new CheckFailed(msg('CheckSmokeFailed', D, verdict.detail));
    return verdict.detail;
  };
}

/** The plan, in one line before anything is written. */
function logPlan(io: AgentIo, i: DeployInputs, look: Lookups, steps: number[], note: string | undefined): void {
  const list = steps.map((s) => `${s}%`).join(', ');
  io.info(
    msg(
      'Plan',
      look.endpoint
        ? msg('PlanExistingEndpoint', i.endpointName, formatTraffic(look.previous))
        : msg('PlanNewEndpoint', i.endpointName, i.authMode),
      i.computeName,
      look.deploymentName,
      i.model.name,
      i.model.version,
      look.modelType,
      look.instanceType ? msg('PlanInstancesOfType', look.instanceCount, look.instanceType) : msg('PlanInstances', look.instanceCount),
      steps.length > 1 || i.stepWaitSeconds ? msg('PlanStepsHolding', list, i.stepWaitSeconds) : list,
      i.smoke ? msg('PlanSmokeTest', i.smoke.file, i.expect.text) : msg('PlanNoSmokeTest'),
    ),
  );
  if (note) io.info(msg('PlanNote', note));
}

export async function run(io: AgentIo, i: DeployInputs): Promise<void> {
  // The gate first: no file of the repository is read for a run that may not deploy.
  if (i.branchGate) await enforceGate(io, i.branchGate, i.connection);
  else io.warn(msg('BranchGateOff'));
  // Then the local files: a bad deployment or smoke-test file fails before any Azure write.
  const spec: DeploymentSpec = i.deploymentFile ? loadDeploymentFile(i.deploymentFile, i.root) : { tags: {}, properties: {}, notes: [] };
  for (const n of spec.notes) io.info(n);
  const smokeBody = i.smoke ? parseSmokeBody(fs.readFileSync(i.smoke.path, 'utf8'), i.smoke.written) : undefined;

  const session = await openWorkspace(io, i.connection, i.ws);
  const ws = new WorkspaceArm(new ArmClient(session.arm), session.ref);
  const api = new OnlineApi(ws);
  const translate = (action: string) => (e: unknown) =>
    translateAzureError(e, { action, scope: ws.base, connection: session.arm.endpoint.name });
  const E = i.endpointName;

  io.progress(3, msg('ProgressLookups'));
  const look = await lookUp(io, ws, api, i, spec, {
    ref: session.ref,
    location: session.workspace.location,
    connection: session.arm.endpoint.name,
  }).catch((e: unknown) => {
    throw translate(msg('ActionLookUp', i.computeName, i.model.name, i.model.version, E))(e);
  });
  const D = look.deploymentName;
  const plan = planRollout(look.previous, i.steps);
  const previousServing = serving(look.previous);
  io.output('endpointName', E);
  io.output('deploymentName', D);
  io.output('previousDeployment', previousServing.join(','));
  logPlan(io, i, look, plan.steps, plan.note);

  const lineage = lineageTags((n) => io.variable(n));
  const report: RolloutReport = new RolloutReport({
    endpoint: E,
    deployment: D,
    model: i.model,
    ...(look.modelFrom ? { modelFrom: look.modelFrom } : {}),
    computeName: i.computeName,
    studioUrl: studioUrl(session.ref, `endpoints/realtime/${encodeURIComponent(E)}/detail`),
    // Read only once the rollout runs (it publishes the report).
    scoringUri: (): string => rollout.scoringUri,
    publish: (name, markdown) => io.summary(name, markdown),
  });
  // Assets the deployment brings (content-addressed: re-runs reuse them). Deployments take no build
  // contexts (environmentRef refuses them), so no datastore is written.
  const assets = async (): Promise<{ codeId?: string; environmentId?: string }> => {
    if (look.code?.local || look.environment?.inline) io.progress(16, msg('ProgressRegisteringAssets'));
    const ctx: AssetContext = {
      io,
      ws,
      stats: { uploadedBytes: 0, reused: 0 },
      storage: agentStorage(io),
      datastore: () => Promise.reject(new Error('deployments upload no data')),
    };
    const codeId = look.code?.local
      ? await ensureCode(ctx, look.code.local, look.code.label).catch((e: unknown) => {
          throw translate(msg('ActionUploadCode'))(e);
        })
      : look.code?.id;
    const environmentId = look.environment?.inline
      ? await ensureInlineEnvironment(ctx, look.environment.inline).catch((e: unknown) => {
          throw translate(msg('ActionRegisterEnvironment'))(e);
        })
      : look.environment?.id;
    return { ...(codeId ? { codeId } : {}), ...(environmentId ? { environmentId } : {}) };
  };
  const body = (a: { codeId?: string; environmentId?: string }, location: string | undefined): unknown =>
    deploymentBody(spec, {
      modelId: look.modelId,
      ...a,
      ...(look.instanceType ? { instanceType: look.instanceType } : {}),
      instanceCount: look.instanceCount,
      ...(location ? { location } : {}),
      tags: { ...spec.tags, ...lineage },
    });
  const smokeTest = smokeTester(io, i, api, session, look, smokeBody, translate);
  const rollout: Rollout = new Rollout(
    {
      endpoint: E,
      deployment: D,
      computeName: i.computeName,
      computeId: look.computeId,
      authMode: i.authMode,
      location: session.workspace.location,
      lineage,
      ...(look.endpoint ? { existing: look.endpoint } : {}),
      previous: look.previous,
      steps: plan.steps,
      stepWaitSeconds: i.stepWaitSeconds,
      rollbackOnFailure: i.rollbackOnFailure,
      keepPrevious: i.keepPrevious,
      keepFailedDeployment: i.keepFailedDeployment,
    },
    { log: io, api, report, translate, assets, deploymentBody: body, ...(smokeTest ? { smokeTest } : {}) },
  );
  await rollout.run((uri) => io.output('scoringUri', uri));

  const issues = await rollout.finish(previousServing);
  // 7. The model now in production says so, for the next registration's compareWith.
  if (i.productionTag) issues.push(...(await markProduction(ws, i.productionTag, E, look.modelId, look.previousModels, (l) => io.info(l))));
  report.publish(msg('SummaryTitleServing', D, '100%'), issues);
  io.progress(100, msg('ProgressRolloutComplete'));
  io.info(
    previousServing.length
      ? msg('RolloutCompleteReplacing', D, '100%', E, formatTraffic(look.previous))
      : msg('RolloutComplete', D, '100%', E),
  );
  if (issues.length) io.succeededWithIssues(issues.join(' '));
}
