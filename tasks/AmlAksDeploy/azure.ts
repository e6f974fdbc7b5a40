/**
 * AmlAksDeploy@1, the part that talks to Azure (loads the SDKs): the deployment file and the
 * branch gate first, then every lookup (compute, model, environment, code, endpoint) before any
 * write, then the rollout: endpoint, new deployment at 0%, smoke test alone, traffic in steps
 * with health checks, the previous deployment deleted at 100%. Any failure or a cancelled run
 * restores the previous traffic exactly, prints the failed deployment's logs and deletes it.
 */
import * as fs from 'node:fs';
import type { AgentIo } from '../common/agent';
import { ArmClient, studioUrl, type WorkspaceRef } from '../common/arm';
import { type CodeRef, type EnvironmentRef } from '../common/asset-refs';
import { errorLine, translateAzureError, UserError } from '../common/errors';
import type { GateSettings } from '../common/gate';
import { enforceGate } from '../common/gate-run';
import type { WorkspaceInputs } from '../common/inputs';
import { lineageTags } from '../common/lineage';
import { OperationAbandoned, OperationFailed, type LroOptions } from '../common/lro';
import { openWorkspace } from '../common/session';
import { abortableSleep } from '../common/sleep';
import { Summary, link } from '../common/summary';
import { snapshotCode, type CodeSnapshot } from '../common/upload';
import { agentStorage, ensureCode, ensureInlineEnvironment, resolveNamed, whereWritten, type AssetContext } from '../common/workspace-assets';
import { WorkspaceArm, type ArmResource } from '../common/workspace-arm';
import { deploymentBody, loadDeploymentFile, type DeploymentSpec } from './deployment';
import { checkRegistryModel } from './registry-model';
import { markProduction, type ProductionTag } from './production-tag';
import { msg } from './messages';
import { isBusy, OnlineApi, Scorer, ScoringAuth, type OnlineDeployment, type OnlineEndpoint } from './online-api';
import { formatTraffic, planRollout, sameTraffic, serving, splitAt, trafficCommand, type Traffic } from './rollout';
import { evaluate, parseSmokeBody, type Expectation } from './smoke';
import { deriveDeploymentName, type AuthMode, type ModelRef } from './spec';

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

/** How long cleanup may take after a failure or a cancelled run (the agent kills the step eventually). */
const CLEANUP_MS = 15 * 60_000;
const LOG_TAIL = 100;

interface ComputeProps {
  computeType?: string;
  provisioningState?: string;
  properties?: { defaultInstanceType?: string; instanceTypes?: Record<string, unknown> };
}

/** Code by id, or a local folder to upload with the label its log lines name it by. */
type ResolvedCode = { id: string; local?: undefined } | { id?: undefined; local: CodeSnapshot; label: string };

interface Lookups {
  computeId: string;
  /** A registry model: where it came from (registry and lineage), for the summary. */
  modelFrom?: string;
  modelId: string;
  modelType: string;
  environment?: { id?: string; inline?: Extract<EnvironmentRef, { kind: 'inline' }> };
  code?: ResolvedCode;
  endpoint?: OnlineEndpoint;
  previous: Traffic;
  /** The models of the deployments that served traffic before. */
  previousModels: string[];
  deploymentName: string;
  instanceType?: string;
  instanceCount: number;
}

const sec = (ms: number): string => msg('DurationSeconds', Math.round(ms / 1000));
/** The first line of an error's message, without a closing period (messages compose it into sentences). */
const first = (e: unknown): string => errorLine(e).replace(/\.+$/, '');

/** Thrown for a failed check of the rollout (smoke test, health); its message is the cause. */
class CheckFailed extends Error {}

class Cancelled extends Error {
  constructor() {
    super(msg('PipelineRunCancelled'));
  }
}

interface TimelineRow {
  step: string;
  traffic: string;
  checks: string;
  result: string;
}

// ---------------------------------------------------------------------------------------------
// Lookups: read-only, so a bad input fails before anything is created.

async function checkCompute(ws: WorkspaceArm, name: string): Promise<{ id: string; props: ComputeProps }> {
  const attach = msg('ComputeAttachFix', ws.ref.name, ws.ref.resourceGroup, ws.ref.name, name);
  const found = await ws.find<ArmResource<ComputeProps>>(`computes/${encodeURIComponent(name)}`);
  if (!found) {
    const all = await ws.list<ArmResource<ComputeProps>>('computes').catch(() => []);
    const known = all.map((c) => `${c.name} (${c.properties?.computeType ?? '?'})`).join(', ') || msg('NoComputes');
    throw new UserError(msg('ComputeNotFound', name, ws.ref.name, known, attach), 'computeName');
  }
  const props = found.properties ?? {};
  if (props.computeType !== 'Kubernetes') {
    const problem = props.computeType === 'AKS' ? msg('ComputeIsLegacyAks', name, attach) : msg('ComputeNotKubernetes', name, props.computeType ?? msg('UnknownComputeType'), attach);
    throw new UserError(problem, 'computeName');
  }
  if (props.provisioningState && props.provisioningState !== 'Succeeded') {
    throw new UserError(msg('ComputeNotSucceeded', name, props.provisioningState), 'computeName');
  }
  return { id: found.id, props };
}

async function checkModel(io: AgentIo, ws: WorkspaceArm, ref: ModelRef): Promise<{ id: string; type: string }> {
  if (ref.workspace) {
    const w = ref.workspace;
    if (w.subscriptionId.toLowerCase() !== ws.ref.subscriptionId.toLowerCase() || w.resourceGroup.toLowerCase() !== ws.ref.resourceGroup.toLowerCase() || w.name.toLowerCase() !== ws.ref.name.toLowerCase()) {
      throw new UserError(msg('ModelInOtherWorkspace', w.name, w.resourceGroup, w.subscriptionId, ws.ref.name, ws.ref.resourceGroup), 'model');
    }
  }
  const path = `models/${encodeURIComponent(ref.name)}/versions/${encodeURIComponent(ref.version)}`;
  const found = await ws.find<ArmResource<{ modelType?: string; isArchived?: boolean }>>(path);
  if (!found) {
    const versions = await ws.list(`models/${encodeURIComponent(ref.name)}/versions`).catch(() => []);
    const which = versions.length ? msg('ModelVersionsThere', versions.map((v) => v.name).slice(0, 20).join(', ')) : msg('ModelNotRegisteredThere', ref.name);
    throw new UserError(msg('ModelVersionNotFound', ref.name, ref.version, ws.ref.name, which), 'model');
  }
  if (found.properties?.isArchived) io.warn(msg('ModelArchived', ref.name, ref.version));
  return { id: found.id, type: String(found.properties?.modelType ?? 'CustomModel') };
}

const isNoCodeModel = (type: string): boolean => /^(mlflow|triton)/i.test(type.replace(/_/g, ''));

async function resolveEnvironment(ws: WorkspaceArm, env: EnvironmentRef): Promise<{ id?: string; inline?: Extract<EnvironmentRef, { kind: 'inline' }> }> {
  if (env.kind === 'inline') return { inline: env };
  if (env.kind === 'id') {
    // parseAssetRef normalised it: an ARM id without 'azureml:', or a registry id with it.
    const id = env.id;
    if (/^\/subscriptions\//i.test(id) && !(await ws.arm.get(id, ws.apiVersion).then(() => true, () => false))) {
      throw new UserError(msg('EnvironmentNotFound', whereWritten(env), id));
    }
    return { id };
  }
  try {
    return { id: await resolveNamed(ws, 'environments', env) };
  } catch (e) {
    // Curated environments live in the azureml registry when the workspace has no copy.
    if (e instanceof UserError && env.name.startsWith('AzureML-')) return { id: `azureml://registries/azureml/environments/${env.name}/${env.version ? `versions/${env.version}` : 'labels/latest'}` };
    throw e;
  }
}

async function resolveCode(ws: WorkspaceArm, code: CodeRef, root: string): Promise<ResolvedCode> {
  if (code.kind === 'local') {
    const label = `'${code.path.slice(root.length + 1) || '.'}'`;
    return { local: snapshotCode(code.path, root, whereWritten(code)), label };
  }
  if (code.kind === 'id') return { id: code.id };
  return { id: await resolveNamed(ws, 'codes', code) };
}

/** `where`: the workspace's place (registry models must be in one of the registry's regions) and the connection's name. */
async function lookUp(io: AgentIo, ws: WorkspaceArm, api: OnlineApi, i: DeployInputs, spec: DeploymentSpec, where: { ref: WorkspaceRef; location?: string | undefined; connection: string }): Promise<Lookups> {
  const compute = await checkCompute(ws, i.computeName);
  const m = i.model;
  const model: { id: string; type: string; from?: string } = m.registry ? await checkRegistryModel(io, ws.arm, where, { registry: m.registry, name: m.name, version: m.version }, where.connection) : await checkModel(io, ws, m);
  const environment = spec.environment ? await resolveEnvironment(ws, spec.environment) : undefined;
  const code = spec.code ? await resolveCode(ws, spec.code, i.root) : undefined;
  if (!environment && !isNoCodeModel(model.type)) {
    throw new UserError(msg('ModelNeedsEnvironment', i.model.name, i.model.version, model.type), 'deploymentFile');
  }

  const endpoint = await api.endpoint(i.endpointName);
  let deployments: OnlineDeployment[] = [];
  let previous: Traffic = {};
  if (endpoint) {
    const p = endpoint.properties;
    const onCompute = p.compute ? /\/computes\/([^/]+)$/i.exec(p.compute)?.[1] ?? p.compute : undefined;
    if (!onCompute) {
      throw new UserError(msg('EndpointIsManaged', i.endpointName), 'endpointName');
    }
    if (onCompute.toLowerCase() !== i.computeName.toLowerCase()) {
      throw new UserError(msg('EndpointOnOtherCompute', i.endpointName, onCompute, i.computeName, onCompute), 'computeName');
    }
    if (isBusy(p.provisioningState)) {
      throw new UserError(msg('EndpointBusy', i.endpointName, p.provisioningState));
    }
    if (p.provisioningState === 'Failed') io.warn(msg('EndpointStateFailed', i.endpointName));
    if (p.authMode && p.authMode.toLowerCase() !== i.authMode.toLowerCase()) io.info(msg('EndpointKeepsAuthMode', i.endpointName, p.authMode, i.authMode));
    deployments = await api.deployments(i.endpointName);
    const busy = deployments.find((d) => isBusy(d.properties.provisioningState));
    if (busy) {
      throw new UserError(msg('DeploymentBusy', busy.name, i.endpointName, busy.properties.provisioningState));
    }
    previous = Object.fromEntries(Object.entries(p.traffic ?? {}).map(([k, v]) => [k, Number(v) || 0]));
  }

  const taken = deployments.map((d) => d.name);
  let deploymentName = i.deploymentName ?? spec.name;
  if (deploymentName) {
    const where = i.deploymentName ? msg('WhereInput', 'deploymentName') : `${spec.file}: 'name'`;
    const clash = taken.find((t) => t.toLowerCase() === deploymentName!.toLowerCase());
    if (clash) {
      throw new UserError(msg('DeploymentNameTaken', where, clash, i.endpointName, `${previous[clash] ?? 0}%`), i.deploymentName ? 'deploymentName' : 'deploymentFile');
    }
  } else {
    deploymentName = deriveDeploymentName(i.model, taken);
  }

  const instanceType = i.instanceType ?? spec.instanceType;
  const types = Object.keys(compute.props.properties?.instanceTypes ?? {});
  if (instanceType && types.length && !types.some((t) => t.toLowerCase() === instanceType.toLowerCase())) {
    const where = i.instanceType ? msg('WhereInput', 'instanceType') : `${spec.file}: 'instance_type'`;
    throw new UserError(msg('InstanceTypeNotDefined', where, instanceType, i.computeName, types.join(', ')), i.instanceType ? 'instanceType' : 'deploymentFile');
  }
  if (i.instanceCount !== undefined && spec.instanceCount !== undefined && i.instanceCount !== spec.instanceCount) io.info(msg('InstanceCountReplaced', spec.file, spec.instanceCount, i.instanceCount));
  if (i.instanceType && spec.instanceType && i.instanceType !== spec.instanceType) io.info(msg('InstanceTypeReplaced', spec.file, spec.instanceType, i.instanceType));
  return {
    computeId: compute.id,
    modelId: model.id,
    modelType: model.type,
    ...(model.from ? { modelFrom: model.from } : {}),
    ...(environment ? { environment } : {}),
    ...(code ? { code } : {}),
    ...(endpoint ? { endpoint } : {}),
    previous,
    previousModels: deployments.filter((d) => (previous[d.name] ?? 0) > 0 && d.properties.model).map((d) => d.properties.model!),
    deploymentName,
    ...(instanceType ? { instanceType } : {}),
    instanceCount: i.instanceCount ?? spec.instanceCount ?? 1,
  };
}

// ---------------------------------------------------------------------------------------------
// The rollout

/** The PUT body that changes only the traffic of an endpoint as GET returned it. */
function withTraffic(e: OnlineEndpoint, traffic: Traffic): unknown {
  const { provisioningState: _p, scoringUri: _s, swaggerUri: _w, ...props } = e.properties;
  const body: Record<string, unknown> = { location: e.location, properties: { ...props, traffic } };
  if (e.tags) body.tags = e.tags;
  if (e.kind) body.kind = e.kind;
  if (e.identity?.type) body.identity = { type: e.identity.type, ...(e.identity.userAssignedIdentities ? { userAssignedIdentities: Object.fromEntries(Object.keys(e.identity.userAssignedIdentities).map((k) => [k, {}])) } : {}) };
  return body;
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
  const translate = (action: string) => (e: unknown) => translateAzureError(e, { action, scope: ws.base, connection: session.arm.endpoint.name });
  /** For a rollout step's catch: the operation's own outcome and failed checks as they are, anything else translated. */
  const rethrow =
    (action: string) =>
    (e: unknown): never => {
      throw e instanceof OperationAbandoned || e instanceof OperationFailed || e instanceof CheckFailed ? e : translate(action)(e);
    };
  const E = i.endpointName;

  io.progress(3, msg('ProgressLookups'));
  const look = await lookUp(io, ws, api, i, spec, { ref: session.ref, location: session.workspace.location, connection: session.arm.endpoint.name }).catch((e: unknown) => {
    throw translate(msg('ActionLookUp', i.computeName, i.model.name, i.model.version, E))(e);
  });
  const D = look.deploymentName;
  const previous = look.previous;
  const plan = planRollout(previous, i.steps);
  const previousServing = serving(previous);
  io.output('endpointName', E);
  io.output('deploymentName', D);
  io.output('previousDeployment', previousServing.join(','));
  const steps = plan.steps.map((s) => `${s}%`).join(', ');
  io.info(
    msg(
      'Plan',
      look.endpoint ? msg('PlanExistingEndpoint', E, formatTraffic(previous)) : msg('PlanNewEndpoint', E, i.authMode),
      i.computeName,
      D,
      i.model.name,
      i.model.version,
      look.modelType,
      look.instanceType ? msg('PlanInstancesOfType', look.instanceCount, look.instanceType) : msg('PlanInstances', look.instanceCount),
      plan.steps.length > 1 || i.stepWaitSeconds ? msg('PlanStepsHolding', steps, i.stepWaitSeconds) : steps,
      i.smoke ? msg('PlanSmokeTest', i.smoke.file, i.expect.text) : msg('PlanNoSmokeTest'),
    ),
  );
  if (plan.note) io.info(msg('PlanNote', plan.note));

  const timeline: TimelineRow[] = [];
  const lineage = lineageTags((n) => io.variable(n));
  const studio = studioUrl(session.ref, `endpoints/realtime/${encodeURIComponent(E)}/detail`);
  /** The endpoint's scoring URI once the endpoint exists. */
  const scoringUri = (): string => look.endpoint?.properties.scoringUri ?? '';
  const summary = (title: string, extra: string[] = []) => {
    const uri = scoringUri();
    const s = new Summary(`${E}: ${title}`);
    s.para(
      [look.modelFrom ? msg('SummaryModelFrom', i.model.name, i.model.version, look.modelFrom, D) : msg('SummaryModel', i.model.name, i.model.version, D), msg('SummaryCompute', i.computeName), link(msg('SummaryStudioLink'), studio), uri ? msg('SummaryScoringUri', uri) : '']
        .filter(Boolean)
        .join(' · '),
    );
    s.table([msg('SummaryColumnStep'), msg('SummaryColumnTraffic'), msg('SummaryColumnChecks'), msg('SummaryColumnResult')], timeline.map((r) => [r.step, r.traffic, r.checks, r.result]));
    if (extra.length) s.bullets(extra);
    io.summary('aml-aks-deploy', s.toMarkdown());
  };

  // What the rollout changed, so a failure undoes exactly that.
  const state = { endpointCreated: false, deploymentRequested: false, trafficTouched: false, current: previous };
  const cancelled = () => io.signal.aborted;
  const throwIfCancelled = () => {
    if (cancelled()) throw new Cancelled();
  };
  let lastLine = 0;
  const lro = (what: string, from: number, to: number): LroOptions => {
    let lastStatus = '';
    return {
      signal: io.signal,
      minIntervalMs: 500,
      maxIntervalMs: 10_000,
      onPoll: (status, ms) => {
        if (status !== lastStatus || Date.now() - lastLine > 30_000) {
          io.info(msg('OperationStatusLine', what, status, sec(ms)));
          lastStatus = status;
          lastLine = Date.now();
        }
        // Progress moves within its band, approaching the end while the operation runs.
        io.progress(from + (to - from) * (1 - Math.exp(-ms / 120_000)), msg('OperationStatusProgress', what, status));
      },
    };
  };

  let auth: ScoringAuth | undefined;
  let scorer: Scorer | undefined;
  /** The smoke test's verdict on the new deployment alone, or undefined when there is no smoke test. */
  const smokeTest = async (): Promise<string | undefined> => {
    if (!i.smoke) return undefined;
    const uri = scoringUri();
    if (!uri) throw new CheckFailed(msg('CheckNoScoringUri', E));
    auth ??= new ScoringAuth(io, api, E, look.endpoint?.properties.authMode ?? i.authMode, session.arm.credential);
    scorer ??= new Scorer(uri, session.arm.proxy, auth);
    let res;
    try {
      res = await scorer.score(D, smokeBody, io.signal);
    } catch (e) {
      throwIfCancelled();
      // A missing listKeys/token permission or an unreachable scoring URI says what to fix.
      throw new CheckFailed(msg('CheckSmokeRequestFailed', D, first(translate(msg('ActionCallScoringUri', E))(e))));
    }
    const verdict = evaluate(i.expect, res.status, res.text);
    const detail = verdict.detail;
    if (res.servedBy && res.servedBy !== D) throw new CheckFailed(msg('CheckSmokeWrongDeployment', D, res.servedBy));
    if (!verdict.ok) throw new CheckFailed(msg('CheckSmokeFailed', D, detail));
    return detail;
  };

  const health = async (): Promise<string> => {
    const d = await api.deployment(E, D);
    const st = d?.properties.provisioningState;
    if (st !== 'Succeeded') throw new CheckFailed(st === undefined ? msg('CheckDeploymentGone', D) : msg('CheckDeploymentNotSucceeded', D, st));
    const smoke = await smokeTest();
    return [msg('HealthProvisioning', st), smoke === undefined ? msg('HealthNoSmokeTest') : msg('HealthSmoke', smoke)].join('; ');
  };

  /** Set the endpoint's traffic (PUT of the endpoint as it is, with the new split) and check it took. */
  const setTraffic = async (target: Traffic, o: LroOptions, label: string): Promise<void> => {
    const now = await api.endpoint(E);
    if (!now) throw new Error(msg('EndpointDisappeared', E));
    if (sameTraffic(now.properties.traffic ?? {}, target)) return;
    state.trafficTouched = true;
    const after = await api.putEndpoint(E, withTraffic(now, target), o);
    const got = after.properties.traffic ?? {};
    if (after.properties.provisioningState !== 'Succeeded' || !sameTraffic(got, target)) {
      throw new CheckFailed(msg('CheckTrafficUpdateEnded', formatTraffic(target), label, after.properties.provisioningState, formatTraffic(got)));
    }
    state.current = target;
  };

  let failedStep = 'create';
  try {
    // 1. The endpoint, on the Kubernetes compute. Creating it moves no traffic.
    if (!look.endpoint) {
      failedStep = 'endpoint';
      io.info(msg('CreatingEndpoint', E, i.computeName, i.authMode));
      const created = await api
        .putEndpoint(E, { location: session.workspace.location, tags: lineage, properties: { authMode: i.authMode, compute: look.computeId, description: `Kubernetes online endpoint, created by Azure Pipelines (AmlAksDeploy@1).`, traffic: {} } }, lro(msg('OperationEndpoint', E), 5, 15))
        .catch((e: unknown) => {
          // Accepted by Azure (then failed or abandoned): the endpoint exists.
          if (e instanceof OperationAbandoned || e instanceof OperationFailed) state.endpointCreated = true;
          return rethrow(msg('ActionCreateEndpoint', E))(e);
        });
      state.endpointCreated = true;
      if (created.properties.provisioningState !== 'Succeeded') throw new CheckFailed(msg('CheckEndpointEnded', E, created.properties.provisioningState));
      look.endpoint = created;
      timeline.push({ step: 'endpoint', traffic: msg('NoTraffic'), checks: msg('TimelineEndpointCreated', i.computeName, created.properties.authMode ?? i.authMode), result: 'created' });
    }
    io.output('scoringUri', scoringUri());
    throwIfCancelled();

    // 2. Assets the deployment brings (content-addressed: re-runs reuse them).
    failedStep = 'create';
    if (look.code?.local || look.environment?.inline) io.progress(16, msg('ProgressRegisteringAssets'));
    // Deployments take no build contexts (environmentRef refuses them), so no datastore is written.
    const assets: AssetContext = { io, ws, stats: { uploadedBytes: 0, reused: 0 }, storage: agentStorage(io), datastore: () => Promise.reject(new Error('deployments upload no data')) };
    const codeId = look.code?.local ? await ensureCode(assets, look.code.local, look.code.label).catch((e: unknown) => { throw translate(msg('ActionUploadCode'))(e); }) : look.code?.id;
    const environmentId = look.environment?.inline ? await ensureInlineEnvironment(assets, look.environment.inline).catch((e: unknown) => { throw translate(msg('ActionRegisterEnvironment'))(e); }) : look.environment?.id;
    throwIfCancelled();

    // 3. The new deployment beside the current one, with 0% traffic.
    const body = deploymentBody(spec, {
      modelId: look.modelId,
      ...(codeId ? { codeId } : {}),
      ...(environmentId ? { environmentId } : {}),
      ...(look.instanceType ? { instanceType: look.instanceType } : {}),
      instanceCount: look.instanceCount,
      ...(look.endpoint.location ? { location: look.endpoint.location } : {}),
      tags: { ...spec.tags, ...lineage },
    });
    io.info(msg('CreatingDeployment', D, E, '0%'));
    const t0 = Date.now();
    state.deploymentRequested = true;
    const dep = await api.putDeployment(E, D, body, lro(msg('OperationDeployment', D), 20, 50)).catch(rethrow(msg('ActionCreateDeployment', D)));
    if (dep.properties.provisioningState !== 'Succeeded') throw new CheckFailed(msg('CheckDeploymentEnded', D, dep.properties.provisioningState));
    timeline.push({ step: 'create', traffic: `${D} 0%${previousServing.length ? ` (${formatTraffic(previous)})` : ''}`, checks: msg('TimelineDeploymentCreated', sec(Date.now() - t0)), result: 'ok' });
    throwIfCancelled();

    // 4. The smoke test, on the new deployment alone.
    failedStep = 'smoke';
    io.progress(52, msg('ProgressSmokeTest', D));
    const smoke = await smokeTest();
    if (smoke !== undefined) {
      io.info(msg('SmokeTestAlone', D, smoke));
      timeline.push({ step: 'smoke', traffic: msg('TimelineSmokeTraffic', D), checks: smoke, result: 'passed' });
    }
    throwIfCancelled();

    // 5. Traffic in steps, with a health check after each hold.
    for (const [n, pct] of plan.steps.entries()) {
      failedStep = `${pct}%`;
      const target = splitAt(previous, D, pct);
      const band = 55 + (40 * n) / plan.steps.length;
      io.info(msg('RolloutStep', n + 1, plan.steps.length, formatTraffic(target)));
      await setTraffic(target, lro(msg('OperationTraffic', `${pct}%`), band, band + 5), msg('TrafficLabelStep', `${pct}%`)).catch(rethrow(msg('ActionSetTraffic', E, formatTraffic(target))));
      if (i.stepWaitSeconds > 0) {
        io.progress(band + 5, msg('ProgressHolding', `${pct}%`, i.stepWaitSeconds));
        await abortableSleep(i.stepWaitSeconds * 1000, io.signal);
      }
      throwIfCancelled();
      const checks = await health();
      io.info(msg('HealthAtStep', `${pct}%`, checks));
      timeline.push({ step: `${pct}%`, traffic: formatTraffic(target), checks: i.stepWaitSeconds ? msg('TimelineHeldChecks', i.stepWaitSeconds, checks) : checks, result: 'passed' });
      throwIfCancelled();
    }
  } catch (e) {
    await rollBack(e);
  }

  // 6. The new deployment has 100%: the previous one goes, unless asked to keep it.
  const issues: string[] = [];
  if (previousServing.length && !i.keepPrevious) {
    io.progress(96, msg('ProgressDeletingPrevious'));
    for (const old of previousServing) {
      try {
        io.info(msg('DeletingPreviousDeployment', old, '0%'));
        await api.deleteDeployment(E, old, lro(msg('OperationDelete', old), 96, 99));
        timeline.push({ step: 'cleanup', traffic: formatTraffic(state.current), checks: msg('TimelineDeleted', old), result: 'done' });
      } catch (e) {
        const why = e instanceof OperationAbandoned ? msg('CancelledWhileDeleting') : first(translate(msg('ActionDeleteDeployment', old))(e));
        issues.push(msg('PreviousNotDeleted', old, why, '0%', E, old));
        timeline.push({ step: 'cleanup', traffic: formatTraffic(state.current), checks: msg('TimelineDeleteFailed', old, why), result: 'not done' });
      }
    }
  } else if (previousServing.length) {
    timeline.push({ step: 'cleanup', traffic: formatTraffic(state.current), checks: msg('TimelineKeptPrevious', previousServing.join(', '), '0%'), result: 'kept' });
  }
  // 7. The model now in production says so, for the next registration's compareWith.
  if (i.productionTag) issues.push(...(await markProduction(ws, i.productionTag, E, look.modelId, look.previousModels, (l) => io.info(l))));
  summary(msg('SummaryTitleServing', D, '100%'), issues);
  io.progress(100, msg('ProgressRolloutComplete'));
  io.info(
    previousServing.length ? msg('RolloutCompleteReplacing', D, '100%', E, formatTraffic(previous)) : msg('RolloutComplete', D, '100%', E),
  );
  if (issues.length) io.succeededWithIssues(issues.join(' '));

  async function rollBack(e: unknown): Promise<never> {
    const wasCancelled = e instanceof Cancelled || cancelled() || (e instanceof OperationAbandoned && e.reason === 'cancelled');
    const azureFailure = (f: OperationFailed): string => {
      const said = `${f.code ? `${f.code}: ` : ''}${f.message}`;
      if (failedStep === 'endpoint') return msg('CauseEndpointCreationFailed', E, said);
      if (failedStep === 'create') return msg('CauseDeploymentCreationFailed', D, said);
      return msg('CauseTrafficUpdateFailed', failedStep, said);
    };
    const cause = wasCancelled
      ? msg('PipelineRunCancelled')
      : e instanceof OperationFailed
        ? azureFailure(e)
        : e instanceof CheckFailed
          ? e.message
          : first(translate(msg('ActionRollOut', D))(e));
    io.warn(wasCancelled ? msg('RolloutCancelledAt', D, failedStep, cause) : msg('RolloutFailedAt', D, failedStep, cause));
    // The first sentence of the task's error: what happened, where, why.
    const outcomeSentence = wasCancelled ? msg('RolloutOfDeploymentCancelled', D, E, failedStep, cause) : msg('RolloutOfDeploymentFailed', D, E, failedStep, cause);
    timeline.push({ step: failedStep, traffic: formatTraffic(state.current), checks: cause, result: wasCancelled ? 'cancelled' : 'failed' });

    // Cleanup runs to its end even though the run is cancelled: its own deadline, not io.signal.
    const deadline = AbortSignal.timeout(CLEANUP_MS);
    const quiet: LroOptions = { signal: deadline, minIntervalMs: 500, maxIntervalMs: 5000, onPoll: () => undefined };
    const done: string[] = [];
    const problems: string[] = [];
    const waitIdle = async <T extends { properties: { provisioningState?: string } }>(get: () => Promise<T | undefined>): Promise<T | undefined> => {
      for (let n = 0; n < 600 && !deadline.aborted; n++) {
        const r = await get();
        if (!r || !isBusy(r.properties.provisioningState)) return r;
        await abortableSleep(Math.min(5000, 250 * 2 ** Math.min(n, 5)), deadline);
      }
      return get();
    };

    if (!i.rollbackOnFailure) {
      await printLogs();
      const restore = trafficCommand(E, previous);
      summary(wasCancelled ? msg('SummaryTitleCancelledNoRollback') : msg('SummaryTitleFailedNoRollback'), [
        state.trafficTouched ? msg('NoRollbackTrafficLeft', formatTraffic(state.current), D) : msg('NoRollbackTrafficUnchanged', D),
        msg('NoRollbackRestoreCommand', restore),
      ]);
      const kept = state.trafficTouched ? msg('NoRollbackTrafficLeftKept', formatTraffic(state.current), D, restore) : msg('NoRollbackTrafficUnchangedKept', D, restore);
      throw new UserError([outcomeSentence, kept].join(' '));
    }

    // 1. Users first: the previous split, exactly.
    if (state.trafficTouched || state.deploymentRequested) {
      try {
        const ep = await waitIdle(() => api.endpoint(E));
        if (ep && !sameTraffic(ep.properties.traffic ?? {}, previous)) {
          io.info(msg('RestoringTraffic', formatTraffic(previous)));
          state.trafficTouched = true;
          await setTraffic(previous, quiet, msg('TrafficLabelRollback'));
        }
        if (state.trafficTouched) done.push(msg('RollbackTrafficRestored', formatTraffic(previous)));
        state.current = previous;
      } catch (err) {
        problems.push(msg('RollbackTrafficNotRestored', first(err instanceof CheckFailed ? err : translate(msg('ActionRestoreTraffic', E))(err)), trafficCommand(E, previous)));
      }
    }

    // 2. What the failed deployment said, then 3. the deployment itself.
    if (state.deploymentRequested) {
      await printLogs();
      if (i.keepFailedDeployment) {
        done.push(msg('RollbackDeploymentKept', D, '0%'));
      } else {
        try {
          const d = await waitIdle(() => api.deployment(E, D));
          if (d) {
            io.info(msg('DeletingFailedDeployment', D));
            await api.deleteDeployment(E, D, quiet);
            done.push(msg('RollbackDeploymentDeleted', D));
          }
        } catch (err) {
          problems.push(msg('RollbackDeploymentNotDeleted', D, first(translate(msg('ActionDeleteDeployment', D))(err)), E, D));
        }
      }
    }
    // A new endpoint stays (empty, no traffic): its name and keys are ready for the re-run.
    if (state.endpointCreated) done.push(msg('RollbackEndpointKept', E));
    const complete = !problems.length;
    timeline.push({ step: 'rollback', traffic: formatTraffic(state.current), checks: [...done, ...problems].join('; ') || msg('RollbackNothingToUndo'), result: complete ? 'rolled back' : 'rollback incomplete' });
    summary(
      wasCancelled
        ? complete ? msg('SummaryTitleCancelledRolledBack') : msg('SummaryTitleCancelledRollbackIncomplete')
        : complete ? msg('SummaryTitleFailedRolledBack') : msg('SummaryTitleFailedRollbackIncomplete'),
      problems,
    );
    for (const p of problems) io.warn(p);
    const rollback = !complete ? msg('RollbackIncomplete', problems.join(' ')) : done.length ? msg('RolledBack', done.join('; ')) : msg('RolledBackNothingChanged');
    const logs = state.deploymentRequested && !i.keepFailedDeployment && complete ? [msg('ContainerLogsAbove')] : [];
    throw new UserError([outcomeSentence, rollback, ...logs].join(' '));
  }

  async function printLogs(): Promise<void> {
    for (const container of ['StorageInitializer', 'InferenceServer'] as const) {
      try {
        const text = await api.logs(E, D, container, LOG_TAIL);
        const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
        if (!lines.length) continue;
        io.group(msg('ContainerLogsGroup', D, container, lines.length), lines);
      } catch (err) {
        io.info(msg('NoContainerLogs', container, D, first(err)));
      }
    }
  }
}

