/**
 * Spark steps, on an attached Synapse pool (`compute:`) or serverless Spark (`resources:`):
 * code, entry, extra files, conf and arguments, as the SDK's Spark node and SparkComponent send
 * them. An inline Spark step is its own anonymous component (display name = the step's name).
 */
import type { LoadedYaml, YamlPath } from '../common/yaml';
import { checkCommand, codeSlot, environmentSlot, type SpecBuilder } from './component';
import { checkKeys, mapping, refuseUnknown, text } from '../common/yaml-fields';
import { msg } from './messages';
import type { Json, JsonObject, Template, TemplateObject } from './plan';
import { BASE_KEYS, STEP_HINTS } from './fields';
import { baseNode, componentStep, type NodeBuild, type NodeEnv } from './nodes';
import { stepPorts } from './ports';
import { originOf, type Ctx } from './refs';

const FILE_LISTS = ['py_files', 'jars', 'files', 'archives'];
/** The SparkComponent's named executor settings and the conf keys they stand for. */
const CONF_FIELDS: Record<string, string> = {
  driver_cores: 'spark.driver.cores',
  driver_memory: 'spark.driver.memory',
  executor_cores: 'spark.executor.cores',
  executor_memory: 'spark.executor.memory',
  executor_instances: 'spark.executor.instances',
  dynamic_allocation_enabled: 'spark.dynamicAllocation.enabled',
  dynamic_allocation_min_executors: 'spark.dynamicAllocation.minExecutors',
  dynamic_allocation_max_executors: 'spark.dynamicAllocation.maxExecutors',
};
const OWN_KEYS = ['code', 'entry', 'environment', 'conf', 'args', ...FILE_LISTS, ...Object.keys(CONF_FIELDS)];

function entryOf(doc: LoadedYaml, at: YamlPath, v: Json | undefined): JsonObject {
  const e = mapping(doc, at, v, msg('FixSparkEntry'));
  if (!e) return doc.fail(at, msg('ProblemIsMissing'), msg('FixSparkEntry'));
  const keys = Object.keys(e);
  if (keys.length !== 1 || (keys[0] !== 'file' && keys[0] !== 'class_name') || typeof e[keys[0]!] !== 'string')
    doc.fail(at, msg('ProblemSparkEntry'), msg('FixSparkEntry'));
  return e;
}

/** The node's entry: the REST SparkJobEntry with its type. */
const entryRest = (e: JsonObject): JsonObject =>
  e.file !== undefined
    ? { spark_job_entry_type: 'SparkJobPythonEntry', file: e.file! }
    : { spark_job_entry_type: 'SparkJobScalaEntry', class_name: e.class_name! };

function fileList(doc: LoadedYaml, at: YamlPath, v: Json | undefined): string[] | undefined {
  if (v === undefined || v === null) return undefined;
  if (!Array.isArray(v) || v.some((x) => typeof x !== 'string')) doc.fail(at, msg('ProblemMustBeListOfText'), msg('FixSparkFileList'));
  return v as string[];
}

/** conf with the named settings folded in (the SDK sends them as spark.* conf keys). */
function sparkConf(doc: LoadedYaml, at: YamlPath, d: JsonObject): JsonObject | undefined {
  const conf: JsonObject = { ...(mapping(doc, [...at, 'conf'], d.conf, msg('FixSparkConf')) ?? {}) };
  for (const [k, key] of Object.entries(CONF_FIELDS)) if (d[k] !== undefined && d[k] !== null) conf[key] = d[k]!;
  return Object.keys(conf).length ? conf : undefined;
}

/** The Spark parts a component (file or inline step) has. */
function sparkParts(
  ctx: Ctx,
  doc: LoadedYaml,
  at: YamlPath,
  d: JsonObject,
  inputs: ReadonlySet<string>,
  outputs: ReadonlySet<string>,
): TemplateObject {
  const out: TemplateObject = {};
  if (d.code === undefined || d.code === null) doc.fail([...at, 'code'], msg('ProblemIsMissing'), msg('FixSparkCode'));
  out.code = codeSlot(ctx, doc, [...at, 'code'], d.code, 'azureml');
  out.entry = entryOf(doc, [...at, 'entry'], d.entry);
  for (const k of FILE_LISTS) {
    const l = fileList(doc, [...at, k], d[k]);
    if (l) out[k] = l;
  }
  const conf = sparkConf(doc, at, d);
  if (conf) out.conf = conf;
  if (d.args !== undefined && d.args !== null) out.args = checkCommand(doc, [...at, 'args'], d.args, inputs, outputs);
  if (d.environment !== undefined && d.environment !== null)
    out.environment = environmentSlot(ctx, doc, [...at, 'environment'], d.environment, 'azureml');
  return out;
}

export const sparkSpec: SpecBuilder = (ctx, doc, base, d, ports) =>
  sparkParts(ctx, doc, base, d, new Set(ports.inputs.keys()), new Set(ports.outputs.keys()));

function sparkResources(doc: LoadedYaml, at: YamlPath, v: Json | undefined): JsonObject | undefined {
  const r = mapping(doc, at, v, msg('FixSparkResources'));
  if (!r) return undefined;
  for (const k of Object.keys(r))
    if (k !== 'instance_type' && k !== 'runtime_version')
      refuseUnknown(doc, at, k, ['instance_type', 'runtime_version'], msg('ProblemNotSupportedInSparkResources'));
  if (typeof r.instance_type !== 'string') doc.fail([...at, 'instance_type'], msg('ProblemIsMissing'), msg('FixSparkResources'));
  if (r.runtime_version !== undefined && !/^\d+\.\d+(\.\d+)?$/.test(String(r.runtime_version)))
    doc.fail([...at, 'runtime_version'], msg('ProblemIsValue', JSON.stringify(r.runtime_version)), msg('FixSparkResources'));
  return { instance_type: r.instance_type, ...(r.runtime_version !== undefined ? { runtime_version: String(r.runtime_version) } : {}) };
}

/**
 * With dynamic allocation, the SDK starts with the minimum executors unless
 * spark.executor.instances is given (spark_helpers._validate_spark_configurations).
 */
function withExecutorInstances(conf: JsonObject | undefined): JsonObject | undefined {
  if (!conf) return conf;
  const dyn = conf['spark.dynamicAllocation.enabled'];
  if (
    (dyn === true || dyn === 'true' || dyn === 'True') &&
    conf['spark.executor.instances'] === undefined &&
    conf['spark.dynamicAllocation.minExecutors'] !== undefined
  ) {
    return { ...conf, 'spark.executor.instances': conf['spark.dynamicAllocation.minExecutors']! };
  }
  return conf;
}

const SPARK_STEP_KEYS = [...BASE_KEYS, 'component', 'identity', 'resources', 'conf', 'args', ...Object.keys(CONF_FIELDS)];
const INLINE_SPARK_KEYS = [...SPARK_STEP_KEYS.filter((k) => k !== 'component'), ...OWN_KEYS, 'description', 'is_deterministic'];

export function sparkNode(env: NodeEnv, name: string, at: YamlPath, r: JsonObject): NodeBuild {
  const doc: LoadedYaml = env.io.doc;
  const inline = r.component === undefined || r.component === null;
  checkKeys(doc, at, r, inline ? INLINE_SPARK_KEYS : SPARK_STEP_KEYS, msg('ProblemNotSupportedInSparkStep'), STEP_HINTS);
  const step = inline ? undefined : componentStep(env, at, r, 'spark');
  const ports = step ? step.ports : stepPorts(env.io, at, r, undefined, env.pOut);
  let componentId: Template;
  let source: string;
  let parts: TemplateObject;
  let inlineSpec: NodeBuild['inlineSpec'];
  if (inline) {
    parts = sparkParts(env.ctx, doc, at, r, new Set(ports.inlineInputs.map((i) => i.name)), new Set(Object.keys(ports.inlineOutputs)));
    const spec: TemplateObject = {
      ...parts,
      name: 'azureml_anonymous',
      version: '1',
      display_name: name,
      is_deterministic: r.is_deterministic ?? true,
    };
    const desc = text(doc, [...at, 'description'], r.description);
    if (desc !== undefined) spec.description = desc;
    if (Object.keys(ports.inlineOutputs).length) spec.outputs = ports.inlineOutputs;
    spec.type = 'spark';
    spec._source = 'YAML.JOB';
    componentId = env.ctx.refs.slot({ kind: 'component', spec, origin: originOf(doc, at), label: `${doc.name}: jobs.${name}` });
    inlineSpec = { spec, order: Object.keys(spec) };
    source = 'YAML.JOB';
  } else {
    const comp = step!.comp;
    componentId = comp.id;
    source = comp.source;
    // A registered component's Spark parts are the service's; a local one's are known here.
    const spec = env.ctx.refs.refs[(comp.id as { ref?: number }).ref ?? -1];
    parts = spec?.kind === 'component' ? (spec.spec as TemplateObject) : {};
  }
  const body: TemplateObject = { type: 'spark' };
  const res = sparkResources(doc, [...at, 'resources'], r.resources);
  if (res) body.resources = res;
  for (const k of FILE_LISTS) if (parts[k] !== undefined) body[k] = parts[k]!;
  const conf = withExecutorInstances(
    inline ? (parts.conf as JsonObject | undefined) : (sparkConf(doc, at, r) ?? (parts.conf as JsonObject | undefined)),
  );
  if (conf) body.conf = conf;
  const args = r.args !== undefined && !inline ? text(doc, [...at, 'args'], r.args) : (parts.args as string | undefined);
  if (args !== undefined) body.args = args;
  if (parts.entry !== undefined) body.entry = entryRest(parts.entry as JsonObject);
  const base = baseNode(env, name, at, r, 'spark', ports, source, componentId);
  // The SDK's default identity (Spark.identity): managed on an attached pool, the user's on serverless Spark.
  if (base.body.identity === undefined && base.hasCompute) base.body.identity = { identity_type: 'Managed' };
  else if (base.body.identity === undefined && res !== undefined) base.body.identity = { identity_type: 'UserIdentity' };
  return {
    name,
    at,
    type: 'spark',
    body: { ...body, ...base.body },
    ports,
    hasCompute: base.hasCompute || res !== undefined,
    ...(inlineSpec ? { inlineSpec } : {}),
  };
}
