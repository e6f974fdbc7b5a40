/**
 * Plan + resolved ids -> the ARM bodies, as the CLI (azure-ai-ml) sends them.
 *
 * Facts this follows (azure-ai-ml sources):
 * - PipelineJob._to_rest_object: jobType Pipeline, displayName, experimentName, description, tags,
 *   properties, computeId (top-level `compute:`), settings (snake_case dict plus `_source`, here
 *   'YAML.JOB'), inputs/outputs as typed REST models, jobs as free-form dicts.
 * - BaseNode/Command._to_rest_object: {resources, distribution, limits, environment_variables,
 *   name, type, display_name, tags, computeId, inputs, outputs, properties, _source, comment,
 *   componentId}, with None values and empty mappings removed.
 * - Node `_source`: the component's source (YAML.COMPONENT for `component: ./file.yml`, YAML.JOB for an
 *   inline step), else REMOTE.REGISTRY for azureml://registries ids, else REMOTE.WORKSPACE.COMPONENT.
 * - Component._to_rest_object: ComponentVersion {properties: {componentSpec, description, tags,
 *   isAnonymous, properties}}; anonymous components are PUT as azureml_anonymous/<hash>; code and
 *   environment in the spec are `azureml:` + ARM id (ArmStr serialisation).
 */
import { createHash } from 'node:crypto';
import type { AnonymousComponent, Json, JsonObject, PlannedStep, ResolvedIds, SubmissionPlan } from './plan';

/** The resource name the Azure ML CLI gives anonymous components. */
export const ANONYMOUS_COMPONENT_NAME = 'azureml_anonymous';

/** JSON with object keys sorted at every level: identical content, identical text. */
export function canonicalJson(v: Json): string {
  if (v === null || typeof v !== 'object') return JSON.stringify(v);
  if (Array.isArray(v)) return `[${v.map(canonicalJson).join(',')}]`;
  const keys = Object.keys(v).sort();
  return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson(v[k]!)}`).join(',')}}`;
}

function withAzuremlPrefix(id: string): string {
  return /^azureml:/i.test(id) ? id : `azureml:${id}`;
}

/**
 * The componentSpec of an anonymous component, with code and environment set to their ARM ids,
 * and its version: sha256 of the canonical spec without the version. The same component with the
 * same code and environment versions hashes the same on every run, so it is registered once.
 */
export function anonymousComponentSpec(c: AnonymousComponent, ids: { codeId?: string; environmentId: string }): { spec: JsonObject; hash: string } {
  if (c.code && !ids.codeId) throw new Error(`anonymousComponentSpec: the component from ${c.origin.file} has code but no code id was given`);
  const spec: JsonObject = {};
  if (typeof c.spec.$schema === 'string') spec.$schema = c.spec.$schema;
  spec.name = typeof c.spec.name === 'string' && c.spec.name ? c.spec.name : ANONYMOUS_COMPONENT_NAME;
  for (const [k, v] of Object.entries(c.spec)) {
    if (k === '$schema' || k === 'name' || k === 'version' || k === 'code' || k === 'environment') continue;
    spec[k] = v;
  }
  if (c.code && ids.codeId) spec.code = withAzuremlPrefix(ids.codeId);
  spec.environment = withAzuremlPrefix(ids.environmentId);
  const hash = createHash('sha256').update(canonicalJson(spec)).digest('hex');
  return { spec: { ...spec, version: hash }, hash };
}

/** The PUT body for components/azureml_anonymous/versions/<hash>. */
export function anonymousComponentVersionBody(spec: JsonObject): JsonObject {
  const properties: JsonObject = { componentSpec: spec, isAnonymous: true, properties: {} };
  if (typeof spec.description === 'string') properties.description = spec.description;
  if (spec.tags && typeof spec.tags === 'object' && !Array.isArray(spec.tags)) properties.tags = spec.tags;
  return { properties };
}

function computeId(name: string, ids: ResolvedIds, what: string): string {
  const id = ids.computes[name];
  if (id) return id;
  if (/^\/subscriptions\//i.test(name)) return name;
  if (name === 'serverless') return name;
  throw new Error(`toPipelineJobBody: no compute ARM id for '${name}' (${what})`);
}

function substituteAssets(io: Record<string, JsonObject>, plan: SubmissionPlan, ids: ResolvedIds, what: string): Record<string, JsonObject> {
  const out: Record<string, JsonObject> = {};
  for (const [k, v] of Object.entries(io)) {
    const uri = v.uri;
    if (typeof uri === 'string' && plan.assets && uri in plan.assets) {
      const id = ids.assets?.[uri];
      if (!id) throw new Error(`toPipelineJobBody: no ARM id for the asset '${uri}' (${what}.${k})`);
      out[k] = { ...v, uri: id };
    } else {
      out[k] = { ...v };
    }
  }
  return out;
}

function nodeSource(step: PlannedStep): string {
  const c = step.component;
  if (c.kind === 'anonymous') return typeof c.spec._source === 'string' ? c.spec._source : 'YAML.COMPONENT';
  if (c.kind === 'id' && /^azureml:\/\/registries\//i.test(c.id)) return 'REMOTE.REGISTRY';
  return 'REMOTE.WORKSPACE.COMPONENT';
}

function nonEmpty(o: JsonObject | undefined): o is JsonObject {
  return o !== undefined && Object.keys(o).length > 0;
}

/** The step as the free-form dict the CLI puts under `jobs`. */
function stepBody(step: PlannedStep, plan: SubmissionPlan, ids: ResolvedIds): JsonObject {
  const componentId = ids.components[step.name] ?? (step.component.kind === 'id' ? step.component.id : undefined);
  if (!componentId) throw new Error(`toPipelineJobBody: no component id for step '${step.name}'`);
  const x = step.extra;
  const node: JsonObject = {};
  for (const k of ['resources', 'distribution', 'limits', 'environment_variables']) {
    const v = x[k];
    if (v !== undefined && v !== null && !(typeof v === 'object' && !Array.isArray(v) && Object.keys(v).length === 0)) node[k] = v;
  }
  node.name = step.name;
  node.type = step.type;
  if (step.displayName !== undefined) node.display_name = step.displayName;
  if (x.tags && typeof x.tags === 'object' && !Array.isArray(x.tags) && nonEmpty(x.tags)) node.tags = x.tags;
  if (step.compute !== undefined) node.computeId = computeId(step.compute, ids, `jobs.${step.name}.compute`);
  const inputs = substituteAssets(step.inputs, plan, ids, `jobs.${step.name}.inputs`);
  if (nonEmpty(inputs)) node.inputs = inputs;
  if (nonEmpty(step.outputs)) node.outputs = { ...step.outputs };
  if (x.properties && typeof x.properties === 'object' && !Array.isArray(x.properties) && nonEmpty(x.properties)) node.properties = x.properties;
  node._source = nodeSource(step);
  if (typeof x.comment === 'string') node.comment = x.comment;
  node.componentId = componentId;
  return node;
}

/** The ARM `properties` for PUT .../jobs/{name}. Lineage tags win over the plan's tags. */
export function toPipelineJobBody(plan: SubmissionPlan, ids: ResolvedIds, lineageTags: Record<string, string>): JsonObject {
  const body: JsonObject = { jobType: 'Pipeline' };
  if (plan.displayName !== undefined) body.displayName = plan.displayName;
  if (plan.experimentName !== undefined) body.experimentName = plan.experimentName;
  if (plan.description !== undefined) body.description = plan.description;
  body.tags = { ...plan.tags, ...lineageTags };
  if (plan.properties && Object.keys(plan.properties).length) body.properties = { ...plan.properties };
  if (plan.compute !== undefined) body.computeId = computeId(plan.compute, ids, 'compute');

  const settings: JsonObject = {};
  for (const [k, v] of Object.entries(plan.settings)) {
    if (v === null || v === undefined) continue;
    if (k === 'default_compute' && typeof v === 'string') settings[k] = computeId(v, ids, 'settings.default_compute');
    else if (k === 'default_datastore' && typeof v === 'string') {
      const id = ids.datastores?.[v] ?? (/^\/subscriptions\//i.test(v) ? v : undefined);
      if (!id) throw new Error(`toPipelineJobBody: no datastore ARM id for '${v}' (settings.default_datastore)`);
      settings[k] = id;
    } else settings[k] = v;
  }
  settings._source = 'YAML.JOB';
  body.settings = settings;

  const inputs = substituteAssets(plan.inputs, plan, ids, 'inputs');
  if (nonEmpty(inputs)) body.inputs = inputs;
  if (nonEmpty(plan.outputs)) body.outputs = { ...plan.outputs };
  const jobs: JsonObject = {};
  for (const step of plan.steps) jobs[step.name] = stepBody(step, plan, ids);
  body.jobs = jobs;
  return body;
}
