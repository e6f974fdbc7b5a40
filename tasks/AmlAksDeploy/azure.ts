/**
 * AmlAksDeploy@1, the part that talks to Azure (loads the SDKs): the deployment file and the
 * branch gate first, then every lookup (compute, model, environment, code, endpoint) before any
 * write, then the rollout: endpoint, new deployment at 0%, smoke test alone, traffic in steps
 * with health checks, the previous deployment deleted at 100%. Any failure or a cancelled run
 * restores the previous traffic exactly, prints the failed deployment's logs and deletes it.
 */
import type { AgentIo } from '../common/agent';
import { ArmClient, studioUrl } from '../common/arm';
import { type CodeRef, type EnvironmentRef } from '../common/asset-refs';
import { translateAzureError, UserError } from '../common/errors';
import type { GateSettings } from '../common/gate';
import { enforceGate } from '../common/gate-run';
import type { WorkspaceInputs } from '../common/inputs';
import { lineageTags } from '../common/lineage';
import { OperationAbandoned, OperationFailed, type LroOptions } from '../common/lro';
import { openWorkspace } from '../common/session';
import { abortableSleep } from '../common/sleep';
import { Summary, link } from '../common/summary';
import { snapshotCode, type CodeSnapshot } from '../common/upload';
import { ensureCode, ensureInlineEnvironment, resolveNamed } from '../common/workspace-assets';
import { WorkspaceArm, type ArmResource } from '../common/workspace-arm';
import { deploymentBody, loadDeploymentFile, type DeploymentSpec } from './deployment';
import { isBusy, OnlineApi, Scorer, ScoringAuth, type OnlineDeployment, type OnlineEndpoint } from './online-api';
import { formatTraffic, planRollout, sameTraffic, serving, splitAt, trafficCommand, type Traffic } from './rollout';
import { evaluate, type Expectation } from './smoke';
import { checkOnlineName, deriveDeploymentName, type AuthMode, type ModelRef } from './spec';

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
  smoke?: { body: unknown; file: string };
  expect: Expectation;
  rollbackOnFailure: boolean;
  keepPrevious: boolean;
  keepFailedDeployment: boolean;
}

/** How long cleanup may take after a failure or a cancelled run (the agent kills the step eventually). */
const CLEANUP_MS = 15 * 60_000;
const LOG_TAIL = 100;

interface ComputeProps {
  computeType?: string;
  provisioningState?: string;
  properties?: { defaultInstanceType?: string; instanceTypes?: Record<string, unknown> };
}

interface Lookups {
  computeId: string;
  modelId: string;
  modelType: string;
  environment?: { id?: string; inline?: Extract<EnvironmentRef, { kind: 'inline' }> };
  code?: { id?: string; local?: CodeSnapshot; label?: string };
  endpoint?: OnlineEndpoint;
  deployments: OnlineDeployment[];
  previous: Traffic;
  deploymentName: string;
  instanceType?: string;
  instanceCount: number;
}

/** A log line from a container or a scoring answer: never let it issue agent commands. */
export function neutralize(line: string): string {
  return line.replace(/##(vso)?\[/gi, (m) => `#\u200b${m.slice(1)}`);
}

const sec = (ms: number): string => `${Math.round(ms / 1000)} s`;
/** The first line of an error's message, without a closing period (messages compose it into sentences). */
const first = (e: unknown): string => (e instanceof Error ? e.message : String(e)).split('\n')[0]!.replace(/\.+$/, '');

/** Thrown for a failed check of the rollout (smoke test, health); its message is the cause. */
class CheckFailed extends Error {}

class Cancelled extends Error {
  constructor() {
    super('the pipeline run was cancelled');
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
  const attach =
    `Attach the AKS cluster to workspace '${ws.ref.name}' as a Kubernetes compute (the cluster needs the Azure ML extension, Microsoft.AzureML.Kubernetes): ` +
    `az ml compute attach --resource-group ${ws.ref.resourceGroup} --workspace-name ${ws.ref.name} --type Kubernetes --name ${name} ` +
    `--resource-id /subscriptions/<sub>/resourceGroups/<rg>/providers/Microsoft.ContainerService/managedClusters/<aks> --identity-type SystemAssigned --namespace azureml. ` +
    'AmlAksDeploy@1 never deploys to another target.';
  const found = await ws.find<ArmResource<ComputeProps>>(`computes/${encodeURIComponent(name)}`);
  if (!found) {
    const all = await ws.list<ArmResource<ComputeProps>>('computes').catch(() => []);
    const known = all.map((c) => `${c.name} (${c.properties?.computeType ?? '?'})`).join(', ') || 'none';
    throw new UserError(`Input 'computeName': compute '${name}' does not exist in workspace '${ws.ref.name}' (computes there: ${known}). ${attach}`, 'computeName');
  }
  const props = found.properties ?? {};
  if (props.computeType !== 'Kubernetes') {
    const legacy = props.computeType === 'AKS' ? " 'AKS' is the CLI v1 inference cluster type, which v2 online endpoints cannot use." : '';
    throw new UserError(`Input 'computeName': compute '${name}' is of type ${props.computeType ?? 'unknown'}, not Kubernetes.${legacy} ${attach}`, 'computeName');
  }
  if (props.provisioningState && props.provisioningState !== 'Succeeded') {
    throw new UserError(`Input 'computeName': Kubernetes compute '${name}' is ${props.provisioningState}, not Succeeded. Check the cluster's Azure ML extension (az k8s-extension show --name azureml ...) and re-attach the compute.`, 'computeName');
  }
  return { id: found.id, props };
}

async function checkModel(io: AgentIo, ws: WorkspaceArm, ref: ModelRef): Promise<{ id: string; type: string }> {
  if (ref.workspace) {
    const w = ref.workspace;
    if (w.subscriptionId.toLowerCase() !== ws.ref.subscriptionId.toLowerCase() || w.resourceGroup.toLowerCase() !== ws.ref.resourceGroup.toLowerCase() || w.name.toLowerCase() !== ws.ref.name.toLowerCase()) {
      throw new UserError(`Input 'model': the model id names workspace '${w.name}' in resource group '${w.resourceGroup}' (subscription ${w.subscriptionId}), but the deployment goes to workspace '${ws.ref.name}' in '${ws.ref.resourceGroup}'. Register the model in this workspace, or give name:version.`, 'model');
    }
  }
  const path = `models/${encodeURIComponent(ref.name)}/versions/${encodeURIComponent(ref.version)}`;
  const found = await ws.find<ArmResource<{ modelType?: string; isArchived?: boolean }>>(path);
  if (!found) {
    const versions = await ws.list(`models/${encodeURIComponent(ref.name)}/versions`).catch(() => []);
    const which = versions.length ? `versions there: ${versions.map((v) => v.name).slice(0, 20).join(', ')}` : `no model named '${ref.name}' is registered there`;
    throw new UserError(`Input 'model': model '${ref.name}' version ${ref.version} does not exist in workspace '${ws.ref.name}' (${which}). Register it first (AmlModelRegister@1) or fix the version.`, 'model');
  }
  if (found.properties?.isArchived) io.warn(`Model ${ref.name}:${ref.version} is archived; deploying it anyway, as asked.`);
  return { id: found.id, type: String(found.properties?.modelType ?? 'CustomModel') };
}

const isNoCodeModel = (type: string): boolean => /^(mlflow|triton)/i.test(type.replace(/_/g, ''));

async function resolveEnvironment(ws: WorkspaceArm, env: EnvironmentRef): Promise<{ id?: string; inline?: Extract<EnvironmentRef, { kind: 'inline' }> }> {
  if (env.kind === 'inline') return { inline: env };
  if (env.kind === 'id') {
    const id = env.id.replace(/^azureml:/i, '');
    if (/^\/subscriptions\//i.test(id) && !(await ws.arm.get(id, ws.apiVersion).then(() => true, () => false))) {
      throw new UserError(`${env.origin.file.split(/[\\/]/).pop()}: ${env.origin.path}: environment '${id}' does not exist. Register it or fix the reference.`);
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

async function resolveCode(ws: WorkspaceArm, code: CodeRef, root: string): Promise<{ id?: string; local?: CodeSnapshot; label?: string }> {
  if (code.kind === 'local') {
    const label = `'${code.path.slice(root.length + 1) || '.'}'`;
    return { local: snapshotCode(code.path, root, `${code.origin.file.split(/[\\/]/).pop()}: ${code.origin.path}`), label };
  }
  if (code.kind === 'id') return { id: code.id.replace(/^azureml:/i, '') };
  return { id: await resolveNamed(ws, 'codes', code) };
}

async function lookUp(io: AgentIo, ws: WorkspaceArm, api: OnlineApi, i: DeployInputs, spec: DeploymentSpec): Promise<Lookups> {
  const compute = await checkCompute(ws, i.computeName);
  const model = await checkModel(io, ws, i.model);
  const environment = spec.environment ? await resolveEnvironment(ws, spec.environment) : undefined;
  const code = spec.code ? await resolveCode(ws, spec.code, i.root) : undefined;
  if (!environment && !isNoCodeModel(model.type)) {
    throw new UserError(
      `Model ${i.model.name}:${i.model.version} is a ${model.type}: Azure ML deploys only MLflow and Triton models without an environment. ` +
        `Give a deploymentFile with environment: (and code_configuration: with the scoring script), or register the model as mlflow_model.`,
      'deploymentFile',
    );
  }

  const endpoint = await api.endpoint(i.endpointName);
  let deployments: OnlineDeployment[] = [];
  let previous: Traffic = {};
  if (endpoint) {
    const p = endpoint.properties;
    const onCompute = p.compute ? /\/computes\/([^/]+)$/i.exec(p.compute)?.[1] ?? p.compute : undefined;
    if (!onCompute) {
      throw new UserError(`Input 'endpointName': endpoint '${i.endpointName}' exists as a managed online endpoint (no Kubernetes compute). AmlAksDeploy@1 deploys to Kubernetes online endpoints only and never falls back: choose another endpointName, or delete that endpoint.`, 'endpointName');
    }
    if (onCompute.toLowerCase() !== i.computeName.toLowerCase()) {
      throw new UserError(`Input 'computeName': endpoint '${i.endpointName}' runs on compute '${onCompute}', not '${i.computeName}'. An endpoint cannot move between computes: set computeName to ${onCompute}, or use another endpointName.`, 'computeName');
    }
    if (isBusy(p.provisioningState)) {
      throw new UserError(`Endpoint '${i.endpointName}' is ${p.provisioningState}: another operation (perhaps another rollout) is changing it. Wait for it to finish, then re-run.`);
    }
    if (p.provisioningState === 'Failed') io.warn(`Endpoint '${i.endpointName}' is in provisioning state Failed (its last update failed); the rollout goes on and will update it.`);
    if (p.authMode && p.authMode.toLowerCase() !== i.authMode.toLowerCase()) io.info(`Endpoint '${i.endpointName}' keeps its authentication mode ${p.authMode} (authMode ${i.authMode} applies to new endpoints only).`);
    deployments = await api.deployments(i.endpointName);
    const busy = deployments.find((d) => isBusy(d.properties.provisioningState));
    if (busy) {
      throw new UserError(`Deployment '${busy.name}' of endpoint '${i.endpointName}' is ${busy.properties.provisioningState}: another rollout seems to be running. Wait for it to finish (or delete that deployment), then re-run.`);
    }
    previous = Object.fromEntries(Object.entries(p.traffic ?? {}).map(([k, v]) => [k, Number(v) || 0]));
  }

  const taken = deployments.map((d) => d.name);
  let deploymentName = i.deploymentName ?? spec.name;
  if (deploymentName) {
    const where = i.deploymentName ? "Input 'deploymentName'" : `${spec.file}: 'name'`;
    checkOnlineName('deploymentName', deploymentName);
    const clash = taken.find((t) => t.toLowerCase() === deploymentName!.toLowerCase());
    if (clash) {
      throw new UserError(
        `${where}: deployment '${clash}' already exists on endpoint '${i.endpointName}' (traffic ${previous[clash] ?? 0}%). A safe rollout creates a new deployment beside the current one and never updates it in place: ` +
          'leave deploymentName empty to derive a free name from the model version, or choose another name.',
        i.deploymentName ? 'deploymentName' : 'deploymentFile',
      );
    }
  } else {
    deploymentName = deriveDeploymentName(i.model, taken);
  }

  const instanceType = i.instanceType ?? spec.instanceType;
  const types = Object.keys(compute.props.properties?.instanceTypes ?? {});
  if (instanceType && types.length && !types.some((t) => t.toLowerCase() === instanceType.toLowerCase())) {
    throw new UserError(
      `${i.instanceType ? "Input 'instanceType'" : `${spec.file}: 'instance_type'`}: instance type '${instanceType}' is not defined on Kubernetes compute '${i.computeName}' (defined: ${types.join(', ')}). ` +
        'Create it on the cluster (kubectl apply an InstanceType resource of the Azure ML extension) or choose a defined one.',
      i.instanceType ? 'instanceType' : 'deploymentFile',
    );
  }
  if (i.instanceCount !== undefined && spec.instanceCount !== undefined && i.instanceCount !== spec.instanceCount) io.info(`${spec.file}: instance_count ${spec.instanceCount} is replaced by the instanceCount input (${i.instanceCount}).`);
  if (i.instanceType && spec.instanceType && i.instanceType !== spec.instanceType) io.info(`${spec.file}: instance_type ${spec.instanceType} is replaced by the instanceType input (${i.instanceType}).`);
  return {
    computeId: compute.id,
    modelId: model.id,
    modelType: model.type,
    ...(environment ? { environment } : {}),
    ...(code ? { code } : {}),
    ...(endpoint ? { endpoint } : {}),
    deployments,
    previous,
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
  // Local work first: a bad deployment file fails before any Azure call.
  const spec: DeploymentSpec = i.deploymentFile ? loadDeploymentFile(i.deploymentFile, i.root) : { tags: {}, properties: {}, notes: [] };
  for (const n of spec.notes) io.info(n);
  if (i.branchGate) await enforceGate(io, i.branchGate, i.connection);
  else io.warn('enforceBranchGate is false: this production rollout runs from any branch.');

  const session = await openWorkspace(io, i.connection, i.ws);
  const arm = new ArmClient(session.arm);
  const ws = new WorkspaceArm(arm, session.ref);
  const api = new OnlineApi(ws, arm);
  const translate = (action: string) => (e: unknown) => translateAzureError(e, { action, scope: ws.base, connection: session.arm.endpoint.name });
  const E = i.endpointName;

  io.progress(3, 'Checking the compute, model, assets and endpoint');
  const look = await lookUp(io, ws, api, i, spec).catch((e: unknown) => {
    throw translate(`check compute '${i.computeName}', model ${i.model.name}:${i.model.version} and endpoint '${E}'`)(e);
  });
  const D = look.deploymentName;
  const previous = look.previous;
  const plan = planRollout(previous, i.steps);
  const previousServing = serving(previous);
  io.output('endpointName', E);
  io.output('deploymentName', D);
  io.output('previousDeployment', previousServing.join(','));
  io.info(
    `Plan: ${look.endpoint ? `endpoint '${E}' (traffic: ${formatTraffic(previous)})` : `new endpoint '${E}' (${i.authMode})`} on Kubernetes compute '${i.computeName}'; ` +
      `new deployment '${D}' of model ${i.model.name}:${i.model.version} (${look.modelType}), ${look.instanceCount} instance(s)${look.instanceType ? ` of ${look.instanceType}` : ''}; ` +
      `traffic steps ${plan.steps.map((s) => `${s}%`).join(', ')}${plan.steps.length > 1 || i.stepWaitSeconds ? `, holding ${i.stepWaitSeconds} s each` : ''}; ` +
      `${i.smoke ? `smoke test ${i.smoke.file} expecting ${i.expect.text}` : 'no smoke test (smokeTestFile is empty)'}.`,
  );
  if (plan.note) io.info(`Note: ${plan.note}.`);

  const timeline: TimelineRow[] = [];
  const lineage = lineageTags((n) => io.variable(n));
  const studio = studioUrl(session.ref, `endpoints/realtime/${encodeURIComponent(E)}/detail`);
  let scoringUri = look.endpoint?.properties.scoringUri ?? '';
  const summary = (title: string, extra: string[] = []) => {
    const s = new Summary(`${E}: ${title}`);
    s.para(
      [`Model **${i.model.name}:${i.model.version}** as deployment **${D}**`, `compute ${i.computeName}`, link('endpoint in Azure ML studio', studio), scoringUri ? `scoring URI \`${scoringUri}\`` : '']
        .filter(Boolean)
        .join(' · '),
    );
    s.table(['Step', 'Traffic', 'Checks', 'Result'], timeline.map((r) => [r.step, r.traffic, r.checks, r.result]));
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
          io.info(`  ${what}: ${status} (${sec(ms)})`);
          lastStatus = status;
          lastLine = Date.now();
        }
        // Progress moves within its band, approaching the end while the operation runs.
        io.progress(from + (to - from) * (1 - Math.exp(-ms / 120_000)), `${what}: ${status}`);
      },
    };
  };

  let auth: ScoringAuth | undefined;
  let scorer: Scorer | undefined;
  const smokeTest = async (): Promise<string> => {
    if (!i.smoke) return 'no smoke test';
    if (!scoringUri) throw new CheckFailed(`endpoint '${E}' has no scoring URI yet`);
    auth ??= new ScoringAuth(io, api, E, look.endpoint?.properties.authMode ?? i.authMode, session.arm.credential);
    scorer ??= new Scorer(scoringUri, session.arm.proxy, auth);
    let res;
    try {
      res = await scorer.score(D, i.smoke.body, io.signal);
    } catch (e) {
      throwIfCancelled();
      // A missing listKeys/token permission or an unreachable scoring URI says what to fix.
      throw new CheckFailed(`the smoke request to ${D} failed: ${neutralize(first(translate(`call the scoring URI of '${E}' (with its key or token) for the smoke test`)(e)))}`);
    }
    const verdict = evaluate(i.expect, res.status, res.text);
    const detail = neutralize(verdict.detail);
    if (res.servedBy && res.servedBy !== D) throw new CheckFailed(`the smoke request for ${D} was answered by deployment ${res.servedBy}: the endpoint ignored the azureml-model-deployment header`);
    if (!verdict.ok) throw new CheckFailed(`smoke test of ${D} failed: ${detail}`);
    return `smoke ${detail}`;
  };

  const health = async (): Promise<string> => {
    const d = await api.deployment(E, D);
    const st = d?.properties.provisioningState;
    if (st !== 'Succeeded') throw new CheckFailed(`deployment ${D} is ${st ?? 'gone'}, not Succeeded`);
    const checks = [`provisioning ${st}`];
    checks.push(await smokeTest());
    return checks.join('; ');
  };

  /** Set the endpoint's traffic (PUT of the endpoint as it is, with the new split) and check it took. */
  const setTraffic = async (target: Traffic, o: LroOptions, label: string): Promise<void> => {
    const now = await api.endpoint(E);
    if (!now) throw new Error(`endpoint '${E}' disappeared`);
    if (sameTraffic(now.properties.traffic ?? {}, target)) return;
    state.trafficTouched = true;
    const after = await api.putEndpoint(E, withTraffic(now, target), { ...o, onPoll: o.onPoll ?? (() => undefined) });
    const got = after.properties.traffic ?? {};
    if (after.properties.provisioningState !== 'Succeeded' || !sameTraffic(got, target)) {
      throw new CheckFailed(`the traffic update to ${formatTraffic(target)} (${label}) ended ${after.properties.provisioningState}, traffic ${formatTraffic(got)}`);
    }
    state.current = target;
  };

  let failedStep = 'create';
  try {
    // 1. The endpoint, on the Kubernetes compute. Creating it moves no traffic.
    if (!look.endpoint) {
      failedStep = 'endpoint';
      io.info(`Creating endpoint '${E}' on Kubernetes compute '${i.computeName}' (auth ${i.authMode}).`);
      const created = await api
        .putEndpoint(E, { location: session.workspace.location, tags: lineage, properties: { authMode: i.authMode, compute: look.computeId, description: `Kubernetes online endpoint, created by Azure Pipelines (AmlAksDeploy@1).`, traffic: {} } }, lro(`endpoint ${E}`, 5, 15))
        .catch((e: unknown) => {
          // Accepted by Azure (then failed or abandoned): the endpoint exists.
          if (e instanceof OperationAbandoned || e instanceof OperationFailed) state.endpointCreated = true;
          throw e instanceof OperationAbandoned || e instanceof OperationFailed ? e : translate(`create endpoint '${E}'`)(e);
        });
      state.endpointCreated = true;
      if (created.properties.provisioningState !== 'Succeeded') throw new CheckFailed(`endpoint '${E}' ended ${created.properties.provisioningState}`);
      look.endpoint = created;
      timeline.push({ step: 'endpoint', traffic: 'no traffic', checks: `created on ${i.computeName}, auth ${created.properties.authMode ?? i.authMode}`, result: 'created' });
    }
    scoringUri = look.endpoint.properties.scoringUri ?? '';
    io.output('scoringUri', scoringUri);
    throwIfCancelled();

    // 2. Assets the deployment brings (content-addressed: re-runs reuse them).
    failedStep = 'create';
    if (look.code?.local || look.environment?.inline) io.progress(16, 'Registering code and environment');
    const stats = { uploadedBytes: 0, reused: 0 };
    const codeId = look.code?.local ? await ensureCode(io, ws, look.code.local, look.code.label ?? 'code', stats).catch((e: unknown) => { throw translate('upload the deployment\'s code')(e); }) : look.code?.id;
    const environmentId = look.environment?.inline ? await ensureInlineEnvironment(ws, look.environment.inline).catch((e: unknown) => { throw translate('register the deployment\'s environment')(e); }) : look.environment?.id;
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
    io.info(`Creating deployment '${D}' on endpoint '${E}' with 0% traffic.`);
    const t0 = Date.now();
    state.deploymentRequested = true;
    const dep = await api.putDeployment(E, D, body, lro(`deployment ${D}`, 20, 50)).catch((e: unknown) => {
      throw e instanceof OperationAbandoned || e instanceof OperationFailed ? e : translate(`create deployment '${D}'`)(e);
    });
    if (dep.properties.provisioningState !== 'Succeeded') throw new CheckFailed(`deployment ${D} ended ${dep.properties.provisioningState}`);
    timeline.push({ step: 'create', traffic: `${D} 0%${previousServing.length ? ` (${formatTraffic(previous)})` : ''}`, checks: `provisioning Succeeded in ${sec(Date.now() - t0)}`, result: 'ok' });
    throwIfCancelled();

    // 4. The smoke test, on the new deployment alone.
    failedStep = 'smoke';
    io.progress(52, `Smoke-testing ${D}`);
    if (i.smoke) {
      const s = await smokeTest();
      io.info(`Smoke test of ${D} alone: ${s.replace(/^smoke /, '')}.`);
      timeline.push({ step: 'smoke', traffic: `${D} only (header)`, checks: s.replace(/^smoke /, ''), result: 'passed' });
    }
    throwIfCancelled();

    // 5. Traffic in steps, with a health check after each hold.
    for (const [n, pct] of plan.steps.entries()) {
      failedStep = `${pct}%`;
      const target = splitAt(previous, D, pct);
      const band = 55 + (40 * n) / plan.steps.length;
      io.info(`Step ${n + 1}/${plan.steps.length}: traffic ${formatTraffic(target)}.`);
      await setTraffic(target, lro(`traffic ${pct}%`, band, band + 5), `step ${pct}%`).catch((e: unknown) => {
        throw e instanceof OperationAbandoned || e instanceof OperationFailed || e instanceof CheckFailed ? e : translate(`set the traffic of endpoint '${E}' to ${formatTraffic(target)}`)(e);
      });
      if (i.stepWaitSeconds > 0) {
        io.progress(band + 5, `Holding ${pct}% for ${i.stepWaitSeconds} s`);
        await abortableSleep(i.stepWaitSeconds * 1000, io.signal);
      }
      throwIfCancelled();
      const checks = await health();
      io.info(`  health at ${pct}%: ${checks}.`);
      timeline.push({ step: `${pct}%`, traffic: formatTraffic(target), checks: `${i.stepWaitSeconds ? `held ${i.stepWaitSeconds} s; ` : ''}${checks}`, result: 'passed' });
      throwIfCancelled();
    }
  } catch (e) {
    await rollBack(e);
  }

  // 6. The new deployment has 100%: the previous one goes, unless asked to keep it.
  const issues: string[] = [];
  if (previousServing.length && !i.keepPrevious) {
    io.progress(96, 'Deleting the previous deployment');
    for (const old of previousServing) {
      try {
        io.info(`Deleting previous deployment '${old}' (0% traffic now).`);
        await api.deleteDeployment(E, old, lro(`delete ${old}`, 96, 99));
        timeline.push({ step: 'cleanup', traffic: formatTraffic(state.current), checks: `deleted ${old}`, result: 'done' });
      } catch (e) {
        const why = e instanceof OperationAbandoned ? 'the run was cancelled while it was being deleted' : first(translate(`delete deployment '${old}'`)(e));
        issues.push(`Previous deployment ${old} was not deleted (${why}); it has 0% traffic. Delete it with: az ml online-deployment delete --endpoint-name ${E} --name ${old} --yes`);
        timeline.push({ step: 'cleanup', traffic: formatTraffic(state.current), checks: `delete ${old}: ${why}`, result: 'not done' });
      }
    }
  } else if (previousServing.length) {
    timeline.push({ step: 'cleanup', traffic: formatTraffic(state.current), checks: `kept ${previousServing.join(', ')} at 0% (keepPrevious)`, result: 'kept' });
  }
  summary(`${D} serves 100%`, issues);
  io.progress(100, 'Rollout complete');
  io.info(`Rollout complete: deployment '${D}' serves 100% of endpoint '${E}'${previousServing.length ? ` (previously ${formatTraffic(previous)})` : ''}.`);
  if (issues.length) io.succeededWithIssues(issues.join(' '));

  async function rollBack(e: unknown): Promise<never> {
    const wasCancelled = e instanceof Cancelled || cancelled() || (e instanceof OperationAbandoned && e.reason === 'cancelled');
    const cause = wasCancelled
      ? 'the pipeline run was cancelled'
      : e instanceof OperationFailed
        ? `the ${failedStep === 'endpoint' ? `creation of endpoint ${E}` : failedStep === 'create' ? `creation of deployment ${D}` : `traffic update at ${failedStep}`} failed in Azure: ${e.code ? `${e.code}: ` : ''}${neutralize(e.message)}`
        : e instanceof CheckFailed
          ? e.message
          : first(e instanceof UserError ? e : translate(`roll out deployment '${D}'`)(e));
    io.warn(`Rollout of '${D}' ${wasCancelled ? 'cancelled' : 'failed'} at ${failedStep}: ${cause}`);
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
      const where = state.trafficTouched ? `traffic is left at ${formatTraffic(state.current)}` : 'traffic was not changed';
      summary(`rollout ${wasCancelled ? 'cancelled' : 'failed'} (no rollback)`, [`rollbackOnFailure is false: ${where}; deployment ${D} was kept.`, `To restore: ${trafficCommand(E, previous)}`]);
      throw new UserError(`Rollout of deployment '${D}' to endpoint '${E}' ${wasCancelled ? 'was cancelled' : 'failed'} at ${failedStep}: ${cause}. rollbackOnFailure is false, so ${where} and '${D}' was kept. To restore the previous split: ${trafficCommand(E, previous)}`);
    }

    // 1. Users first: the previous split, exactly.
    if (state.trafficTouched || state.deploymentRequested) {
      try {
        const ep = await waitIdle(() => api.endpoint(E));
        if (ep && !sameTraffic(ep.properties.traffic ?? {}, previous)) {
          io.info(`Restoring the previous traffic: ${formatTraffic(previous)}.`);
          state.trafficTouched = true;
          await setTraffic(previous, quiet, 'rollback');
        }
        if (state.trafficTouched) done.push(`traffic restored to ${formatTraffic(previous)}`);
        state.current = previous;
      } catch (err) {
        problems.push(`Could not restore the previous traffic (${first(err instanceof CheckFailed ? err : translate(`restore the traffic of endpoint '${E}'`)(err))}). Restore it now: ${trafficCommand(E, previous)}`);
      }
    }

    // 2. What the failed deployment said, then 3. the deployment itself.
    if (state.deploymentRequested) {
      await printLogs();
      if (i.keepFailedDeployment) {
        done.push(`deployment ${D} kept for debugging at 0% (keepFailedDeployment)`);
      } else {
        try {
          const d = await waitIdle(() => api.deployment(E, D));
          if (d) {
            io.info(`Deleting the failed deployment '${D}'.`);
            await api.deleteDeployment(E, D, quiet);
            done.push(`deployment ${D} deleted`);
          }
        } catch (err) {
          problems.push(`Could not delete deployment ${D} (${first(translate(`delete deployment '${D}'`)(err))}). Delete it: az ml online-deployment delete --endpoint-name ${E} --name ${D} --yes`);
        }
      }
    }
    // A new endpoint stays (empty, no traffic): its name and keys are ready for the re-run.
    if (state.endpointCreated) done.push(`endpoint ${E}, created by this run, kept without deployments`);
    const outcome = problems.length ? 'rollback incomplete' : 'rolled back';
    timeline.push({ step: 'rollback', traffic: formatTraffic(state.current), checks: [...done, ...problems].join('; ') || 'nothing to undo', result: outcome });
    summary(`${wasCancelled ? 'cancelled' : 'failed'}, ${outcome}`, problems);
    for (const p of problems) io.warn(p);
    throw new UserError(
      `Rollout of deployment '${D}' to endpoint '${E}' ${wasCancelled ? 'was cancelled' : 'failed'} at ${failedStep}: ${cause}. ` +
        `${problems.length ? `Rollback incomplete: ${problems.join(' ')}` : `Rolled back: ${done.join('; ') || 'nothing had changed'}.`}${state.deploymentRequested && !i.keepFailedDeployment && !problems.length ? ' The container logs are above.' : ''}`,
    );
  }

  async function printLogs(): Promise<void> {
    for (const container of ['StorageInitializer', 'InferenceServer'] as const) {
      try {
        const text = await api.logs(E, D, container, LOG_TAIL);
        const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
        if (!lines.length) continue;
        io.info(`##[group]Container logs of ${D} (${container}, last ${lines.length} lines)`);
        for (const l of lines) io.info(neutralize(l));
        io.info('##[endgroup]');
      } catch (err) {
        io.info(`No ${container} logs of ${D}: ${first(err)}`);
      }
    }
  }
}

