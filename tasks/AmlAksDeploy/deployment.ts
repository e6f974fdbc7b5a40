/**
 * The deployment: a CLI v2 Kubernetes online deployment YAML (kubernetesOnlineDeployment
 * schema) read into a spec, and the ARM body (KubernetesOnlineDeployment, 2024-04-01) the CLI
 * would send for it. Unknown keys are refused by name; local code and conda files must stay in
 * the repository. Pure: reads the YAML and the files it names, never calls Azure.
 *
 * Facts from azure-ai-ml (entities/_deployment): request_settings are milliseconds and probes
 * and polling_interval seconds, sent as ISO 8601 durations; instance_count becomes
 * sku {name: Default, capacity}; resources.requests/limits become containerResourceRequirements
 * with `nvidia.com/gpu` as `gpu`; scale_settings type default | target_utilization.
 */
import { codeRef, environmentRef, type CodeRef, type EnvironmentRef } from '../common/asset-refs';
import { sourcesRootOf } from '../common/files';
import { isoDuration } from '../common/duration';
import { loadYamlFile, type Json, type JsonObject, type LoadedYaml, type YamlPath } from '../common/yaml';
import { bool, checkKeys, mapping, stringMap, text, wholeNumber } from '../common/yaml-fields';
import { msg } from './messages';
import { ONLINE_NAME } from './spec';

export interface DeploymentSpec {
  /** The file as messages name it. */
  file?: string;
  name?: string;
  description?: string;
  tags: Record<string, string>;
  properties: Record<string, string>;
  code?: CodeRef;
  scoringScript?: string;
  environment?: EnvironmentRef;
  environmentVariables?: Record<string, string>;
  instanceType?: string;
  instanceCount?: number;
  appInsightsEnabled?: boolean;
  modelMountPath?: string;
  scaleSettings?: JsonObject;
  requestSettings?: JsonObject;
  livenessProbe?: JsonObject;
  readinessProbe?: JsonObject;
  containerResourceRequirements?: JsonObject;
  /** Values of the file the task replaces (model, endpoint_name), for the log. */
  notes: string[];
}

export const DEPLOYMENT_KEYS = [
  '$schema',
  'name',
  'type',
  'endpoint_name',
  'description',
  'tags',
  'properties',
  'model',
  'code_configuration',
  'environment',
  'environment_variables',
  'app_insights_enabled',
  'scale_settings',
  'request_settings',
  'liveness_probe',
  'readiness_probe',
  'instance_type',
  'instance_count',
  'resources',
  'model_mount_path',
] as const;

/** Keys the schema has that this task does not take, and why. */
const REFUSED: Record<string, () => string> = {
  egress_public_network_access: () => msg('DeployKeyEgressManagedOnly'),
  private_network_connection: () => msg('DeployKeyManagedOnly'),
  data_collector: () => msg('DeployKeyDataCollectorUnsupported'),
  code_path: () => msg('DeployKeyCodePathOld'),
  scoring_script: () => msg('DeployKeyScoringScriptMisplaced'),
};

const PROBE_KEYS = ['initial_delay', 'period', 'timeout', 'success_threshold', 'failure_threshold'];

function probe(doc: LoadedYaml, at: YamlPath, v: Json | undefined): JsonObject | undefined {
  const m = mapping(doc, at, v, undefined, PROBE_KEYS);
  if (!m) return undefined;
  const out: JsonObject = {};
  const secs = (k: string, rest: string) => {
    const n = wholeNumber(doc, [...at, k], m[k], k === 'initial_delay' ? 0 : 1, 'seconds');
    if (n !== undefined) out[rest] = isoDuration(n);
  };
  secs('initial_delay', 'initialDelay');
  secs('period', 'period');
  secs('timeout', 'timeout');
  const st = wholeNumber(doc, [...at, 'success_threshold'], m.success_threshold, 1);
  const ft = wholeNumber(doc, [...at, 'failure_threshold'], m.failure_threshold, 1);
  if (st !== undefined) out.successThreshold = st;
  if (ft !== undefined) out.failureThreshold = ft;
  return out;
}

function requestSettings(doc: LoadedYaml, v: Json | undefined): JsonObject | undefined {
  const at = ['request_settings'];
  const m = mapping(doc, at, v, undefined, ['request_timeout_ms', 'max_concurrent_requests_per_instance', 'max_queue_wait_ms']);
  if (!m) return undefined;
  const out: JsonObject = {};
  const timeout = wholeNumber(doc, [...at, 'request_timeout_ms'], m.request_timeout_ms, 1, 'milliseconds');
  const queue = wholeNumber(doc, [...at, 'max_queue_wait_ms'], m.max_queue_wait_ms, 0, 'milliseconds');
  const conc = wholeNumber(doc, [...at, 'max_concurrent_requests_per_instance'], m.max_concurrent_requests_per_instance, 1);
  if (timeout !== undefined) out.requestTimeout = isoDuration(timeout / 1000);
  if (queue !== undefined) out.maxQueueWait = isoDuration(queue / 1000);
  if (conc !== undefined) out.maxConcurrentRequestsPerInstance = conc;
  return out;
}

function scaleSettings(doc: LoadedYaml, v: Json | undefined): JsonObject | undefined {
  const at = ['scale_settings'];
  const m = mapping(doc, at, v, undefined, ['type', 'min_instances', 'max_instances', 'polling_interval', 'target_utilization_percentage']);
  if (!m) return undefined;
  const type = m.type ?? 'default';
  if (type === 'default') {
    for (const k of Object.keys(m))
      if (k !== 'type') doc.fail([...at, k], msg('ScaleSettingTargetUtilizationOnly'), msg('ScaleSettingTargetUtilizationOnlyFix'));
    return { scaleType: 'Default' };
  }
  if (type !== 'target_utilization') doc.fail([...at, 'type'], msg('YamlIsValue', String(type)), msg('ScaleTypeFix'));
  const out: JsonObject = { scaleType: 'TargetUtilization' };
  const min = wholeNumber(doc, [...at, 'min_instances'], m.min_instances, 1);
  const max = wholeNumber(doc, [...at, 'max_instances'], m.max_instances, 1);
  const poll = wholeNumber(doc, [...at, 'polling_interval'], m.polling_interval, 1, 'seconds');
  const target = wholeNumber(doc, [...at, 'target_utilization_percentage'], m.target_utilization_percentage, 1);
  if (min !== undefined && max !== undefined && min > max)
    doc.fail([...at, 'min_instances'], msg('ScaleMinAboveMax', min, max), msg('ScaleMinAboveMaxFix'));
  if (target !== undefined && target > 100)
    doc.fail([...at, 'target_utilization_percentage'], msg('ScaleTargetTooHigh', target), msg('ScaleTargetTooHighFix'));
  if (min !== undefined) out.minInstances = min;
  if (max !== undefined) out.maxInstances = max;
  if (poll !== undefined) out.pollingInterval = isoDuration(poll);
  if (target !== undefined) out.targetUtilizationPercentage = target;
  return out;
}

function resources(doc: LoadedYaml, v: Json | undefined): JsonObject | undefined {
  const m = mapping(doc, ['resources'], v, undefined, ['requests', 'limits']);
  if (!m) return undefined;
  const side = (k: 'requests' | 'limits'): JsonObject | undefined => {
    const r = mapping(doc, ['resources', k], m[k], undefined, ['cpu', 'memory', 'nvidia.com/gpu']);
    if (!r) return undefined;
    const out: JsonObject = {};
    for (const [key, val] of Object.entries(r)) {
      if (typeof val !== 'string' && typeof val !== 'number')
        doc.fail(['resources', k, key], msg('ResourceNotQuantity'), msg('YamlQuoteIt'));
      out[key === 'nvidia.com/gpu' ? 'gpu' : key] = String(val);
    }
    return out;
  };
  const out: JsonObject = {};
  const req = side('requests');
  const lim = side('limits');
  if (req) out.containerResourceRequests = req;
  if (lim) out.containerResourceLimits = lim;
  return out;
}

/** Read a Kubernetes online deployment YAML; `root` is the repository, which local files may not leave. */
export function loadDeploymentFile(file: string, root: string): DeploymentSpec {
  // Annotated so that doc.fail(): never narrows the values checked before it.
  const doc: LoadedYaml = loadYamlFile(file, { root, what: msg('DeploymentYamlWhat') });
  const d = doc.data;
  const rootCheck = sourcesRootOf(root);
  const schema = typeof d.$schema === 'string' ? d.$schema : '';
  if (/managedOnlineDeployment/i.test(schema) || d.type === 'managed') {
    doc.fail(d.type === 'managed' ? ['type'] : ['$schema'], msg('DeploymentIsManaged'), msg('DeploymentIsManagedFix'));
  }
  if (schema && !/kubernetesOnlineDeployment/i.test(schema))
    doc.fail(['$schema'], msg('DeploymentSchemaWrong', schema), msg('DeploymentSchemaWrongFix'));
  if (d.type !== undefined && d.type !== 'kubernetes') doc.fail(['type'], msg('YamlIsValue', String(d.type)), msg('DeploymentTypeFix'));
  for (const k of Object.keys(d)) if (Object.hasOwn(REFUSED, k)) doc.fail([k], REFUSED[k]!());
  checkKeys(doc, [], d, DEPLOYMENT_KEYS, msg('DeploymentUnknownKey'));
  const spec: DeploymentSpec = { file: doc.name, tags: {}, properties: {}, notes: [] };
  const name = text(doc, ['name'], d.name, { nonEmpty: true });
  if (name !== undefined) {
    if (!ONLINE_NAME.test(name)) doc.fail(['name'], msg('DeploymentFileNameInvalid', name), msg('DeploymentFileNameInvalidFix'));
    spec.name = name;
  }
  if (d.model !== undefined && d.model !== null) spec.notes.push(msg('DeploymentModelReplaced', doc.where(['model'])));
  if (d.endpoint_name !== undefined && d.endpoint_name !== null)
    spec.notes.push(msg('DeploymentEndpointReplaced', doc.where(['endpoint_name'])));
  const description = text(doc, ['description'], d.description, { nonEmpty: true });
  if (description !== undefined) spec.description = description;
  spec.tags = stringMap(doc, ['tags'], d.tags, { scalars: 'text' }) ?? {};
  spec.properties = stringMap(doc, ['properties'], d.properties, { scalars: 'text' }) ?? {};

  const cc = mapping(doc, ['code_configuration'], d.code_configuration, undefined, ['code', 'scoring_script']);
  if (cc) {
    if (cc.code === undefined || cc.code === null)
      doc.fail(['code_configuration', 'code'], msg('YamlIsMissing'), msg('CodeFolderMissingFix'));
    spec.code = codeRef(doc, ['code_configuration', 'code'], cc.code, rootCheck);
    const script = text(doc, ['code_configuration', 'scoring_script'], cc.scoring_script, { nonEmpty: true });
    if (!script) doc.fail(['code_configuration', 'scoring_script'], msg('YamlIsMissing'), msg('ScoringScriptMissingFix'));
    spec.scoringScript = script;
  }
  if (d.environment !== undefined && d.environment !== null)
    spec.environment = environmentRef(doc, ['environment'], d.environment, rootCheck);
  const env = stringMap(doc, ['environment_variables'], d.environment_variables, { scalars: 'text' });
  if (env) spec.environmentVariables = env;
  const instanceType = text(doc, ['instance_type'], d.instance_type, { nonEmpty: true });
  if (instanceType !== undefined) spec.instanceType = instanceType;
  const count = wholeNumber(doc, ['instance_count'], d.instance_count, 1);
  if (count !== undefined) spec.instanceCount = count;
  const ai = bool(doc, ['app_insights_enabled'], d.app_insights_enabled);
  if (ai !== undefined) spec.appInsightsEnabled = ai;
  const mount = text(doc, ['model_mount_path'], d.model_mount_path, { nonEmpty: true });
  if (mount !== undefined) {
    if (!mount.startsWith('/')) doc.fail(['model_mount_path'], msg('YamlIsValue', mount), msg('ModelMountPathFix'));
    spec.modelMountPath = mount;
  }
  const scale = scaleSettings(doc, d.scale_settings);
  if (scale) spec.scaleSettings = scale;
  const req = requestSettings(doc, d.request_settings);
  if (req) spec.requestSettings = req;
  const live = probe(doc, ['liveness_probe'], d.liveness_probe);
  if (live) spec.livenessProbe = live;
  const ready = probe(doc, ['readiness_probe'], d.readiness_probe);
  if (ready) spec.readinessProbe = ready;
  const res = resources(doc, d.resources);
  if (res) spec.containerResourceRequirements = res;
  return spec;
}

export interface ResolvedDeployment {
  modelId: string;
  codeId?: string;
  environmentId?: string;
  instanceType?: string;
  instanceCount: number;
  location?: string;
  /** Lineage and the file's tags (lineage wins). */
  tags: Record<string, string>;
}

/** The PUT body of onlineEndpoints/<e>/deployments/<d> for a Kubernetes endpoint. */
export function deploymentBody(spec: DeploymentSpec, r: ResolvedDeployment): JsonObject {
  const p: JsonObject = { endpointComputeType: 'Kubernetes', model: r.modelId };
  if (spec.description) p.description = spec.description;
  if (Object.keys(spec.properties).length) p.properties = spec.properties;
  if (r.codeId) p.codeConfiguration = { codeId: r.codeId, scoringScript: spec.scoringScript ?? 'score.py' };
  if (r.environmentId) p.environmentId = r.environmentId;
  if (spec.environmentVariables) p.environmentVariables = spec.environmentVariables;
  if (r.instanceType) p.instanceType = r.instanceType;
  if (spec.appInsightsEnabled !== undefined) p.appInsightsEnabled = spec.appInsightsEnabled;
  if (spec.modelMountPath) p.modelMountPath = spec.modelMountPath;
  p.scaleSettings = spec.scaleSettings ?? { scaleType: 'Default' };
  if (spec.requestSettings) p.requestSettings = spec.requestSettings;
  if (spec.livenessProbe) p.livenessProbe = spec.livenessProbe;
  if (spec.readinessProbe) p.readinessProbe = spec.readinessProbe;
  if (spec.containerResourceRequirements) p.containerResourceRequirements = spec.containerResourceRequirements;
  const body: JsonObject = { properties: p, tags: r.tags, sku: { name: 'Default', capacity: r.instanceCount } };
  if (r.location) body.location = r.location;
  return body;
}
