/**
 * AmlAksDeploy@1's lookups: read-only, so a bad input (compute, model, environment, code,
 * endpoint, deployment name, instance type) fails before anything is created.
 */
import type { AgentIo } from '../common/agent';
import type { WorkspaceRef } from '../common/arm';
import { type CodeRef, type EnvironmentRef } from '../common/asset-refs';
import { UserError } from '../common/errors';
import { snapshotCode, type CodeSnapshot } from '../common/upload';
import { resolveNamed, whereWritten } from '../common/workspace-assets';
import type { WorkspaceArm, ArmResource } from '../common/workspace-arm';
import type { DeployInputs } from './azure';
import type { DeploymentSpec } from './deployment';
import { checkRegistryModel, versionsThere } from './registry-model';
import { msg } from './messages';
import { isBusy, type OnlineApi, type OnlineDeployment, type OnlineEndpoint } from './online-api';
import type { Traffic } from './rollout';
import { deriveDeploymentName, type ModelRef } from './spec';

interface ComputeProps {
  computeType?: string;
  provisioningState?: string;
  properties?: { defaultInstanceType?: string; instanceTypes?: Record<string, unknown> };
}

/** Code by id, or a local folder to upload with the label its log lines name it by. */
export type ResolvedCode = { id: string; local?: undefined } | { id?: undefined; local: CodeSnapshot; label: string };

export interface Lookups {
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
    const problem =
      props.computeType === 'AKS'
        ? msg('ComputeIsLegacyAks', name, attach)
        : msg('ComputeNotKubernetes', name, props.computeType ?? msg('UnknownComputeType'), attach);
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
    if (
      w.subscriptionId.toLowerCase() !== ws.ref.subscriptionId.toLowerCase() ||
      w.resourceGroup.toLowerCase() !== ws.ref.resourceGroup.toLowerCase() ||
      w.name.toLowerCase() !== ws.ref.name.toLowerCase()
    ) {
      throw new UserError(
        msg('ModelInOtherWorkspace', w.name, w.resourceGroup, w.subscriptionId, ws.ref.name, ws.ref.resourceGroup),
        'model',
      );
    }
  }
  const path = `models/${encodeURIComponent(ref.name)}/versions/${encodeURIComponent(ref.version)}`;
  const found = await ws.find<ArmResource<{ modelType?: string; isArchived?: boolean }>>(path);
  if (!found) {
    const versions = await ws.list(`models/${encodeURIComponent(ref.name)}/versions`).catch(() => []);
    throw new UserError(msg('ModelVersionNotFound', ref.name, ref.version, ws.ref.name, versionsThere(versions, ref.name)), 'model');
  }
  if (found.properties?.isArchived) io.warn(msg('ModelArchived', ref.name, ref.version));
  return { id: found.id, type: String(found.properties?.modelType ?? 'CustomModel') };
}

const isNoCodeModel = (type: string): boolean => /^(mlflow|triton)/i.test(type.replace(/_/g, ''));

async function resolveEnvironment(
  ws: WorkspaceArm,
  env: EnvironmentRef,
): Promise<{ id?: string; inline?: Extract<EnvironmentRef, { kind: 'inline' }> }> {
  if (env.kind === 'inline') return { inline: env };
  if (env.kind === 'id') {
    // parseAssetRef normalised it: an ARM id without 'azureml:', or a registry id with it.
    const id = env.id;
    if (
      /^\/subscriptions\//i.test(id) &&
      !(await ws.arm.get(id, ws.apiVersion).then(
        () => true,
        () => false,
      ))
    ) {
      throw new UserError(msg('EnvironmentNotFound', whereWritten(env), id));
    }
    return { id };
  }
  try {
    return { id: await resolveNamed(ws, 'environments', env) };
  } catch (e) {
    // Curated environments live in the azureml registry when the workspace has no copy.
    if (e instanceof UserError && env.name.startsWith('AzureML-'))
      return { id: `azureml://registries/azureml/environments/${env.name}/${env.version ? `versions/${env.version}` : 'labels/latest'}` };
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
export async function lookUp(
  io: AgentIo,
  ws: WorkspaceArm,
  api: OnlineApi,
  i: DeployInputs,
  spec: DeploymentSpec,
  where: { ref: WorkspaceRef; location?: string | undefined; connection: string },
): Promise<Lookups> {
  const compute = await checkCompute(ws, i.computeName);
  const m = i.model;
  const model: { id: string; type: string; from?: string } = m.registry
    ? await checkRegistryModel(io, ws.arm, where, { registry: m.registry, name: m.name, version: m.version }, where.connection)
    : await checkModel(io, ws, m);
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
    const onCompute = p.compute ? (/\/computes\/([^/]+)$/i.exec(p.compute)?.[1] ?? p.compute) : undefined;
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
    if (p.authMode && p.authMode.toLowerCase() !== i.authMode.toLowerCase())
      io.info(msg('EndpointKeepsAuthMode', i.endpointName, p.authMode, i.authMode));
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
      throw new UserError(
        msg('DeploymentNameTaken', where, clash, i.endpointName, `${previous[clash] ?? 0}%`),
        i.deploymentName ? 'deploymentName' : 'deploymentFile',
      );
    }
  } else {
    deploymentName = deriveDeploymentName(i.model, taken);
  }

  const instanceType = i.instanceType ?? spec.instanceType;
  const types = Object.keys(compute.props.properties?.instanceTypes ?? {});
  if (instanceType && types.length && !types.some((t) => t.toLowerCase() === instanceType.toLowerCase())) {
    const where = i.instanceType ? msg('WhereInput', 'instanceType') : `${spec.file}: 'instance_type'`;
    throw new UserError(
      msg('InstanceTypeNotDefined', where, instanceType, i.computeName, types.join(', ')),
      i.instanceType ? 'instanceType' : 'deploymentFile',
    );
  }
  if (i.instanceCount !== undefined && spec.instanceCount !== undefined && i.instanceCount !== spec.instanceCount)
    io.info(msg('InstanceCountReplaced', spec.file, spec.instanceCount, i.instanceCount));
  if (i.instanceType && spec.instanceType && i.instanceType !== spec.instanceType)
    io.info(msg('InstanceTypeReplaced', spec.file, spec.instanceType, i.instanceType));
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
