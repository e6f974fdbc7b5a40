/**
 * Pipeline steps, one translator per type, each giving the node dict the SDK puts under `jobs`
 * (BaseNode._to_rest_object and the type's own fields). Types the SDK has but this task does
 * not run are refused by name, saying what to do instead.
 */
import { isObj, type LoadedYaml, type YamlPath } from '../common/yaml';
import {
  checkCommand,
  codeSlot,
  componentOf,
  environmentSlot,
  type ComponentType,
  type LoadedComponent,
  type SpecBuilder,
} from './component';
import { BASE_KEYS, commandLimits, computeValue, distribution, identity, resources, STEP_HINTS } from './fields';
import { bool, checkKeys, mapping, stringMap, text } from '../common/yaml-fields';

import type { Binding, IoContext, PipelinePortInfo, PortDef } from './io';
import { msg } from './messages';
import type { JsonObject, Template, TemplateObject } from './plan';
import { stepPorts, type InlineInput, type StepPorts } from './ports';
import { originOf, type Ctx } from './refs';
import { automlNode } from './node-automl';
import { parallelNode, parallelSpec } from './node-parallel';
import { sparkNode, sparkSpec } from './node-spark';
import { sweepNode } from './node-sweep';

/** What a step needs to know about the pipeline it is in. */
export interface NodeEnv {
  ctx: Ctx;
  io: IoContext;
  pOut: Map<string, PipelinePortInfo>;
  /** Inside a pipeline component: nodes carry no `name`, and a compute may be bound to a component input. */
  inComponent: boolean;
  /** Builds pipeline component specs (graph.ts), so a component file may contain a pipeline. */
  pipelineSpec: SpecBuilder;
}

export interface NodeBuild {
  name: string;
  at: YamlPath;
  type: string;
  body: TemplateObject;
  ports: StepPorts;
  /** Whether the step names a compute (else the pipeline's default must exist). */
  hasCompute: boolean;
  /** An inline step's anonymous component spec, finished once every step is known (input types come from the bound sources). */
  inlineSpec?: { spec: TemplateObject; order: string[] };
}

/** Why a step type is not run, by type, and what to do instead. */
const REFUSED_TYPES = new Map<string, () => string>([
  ['data_transfer', () => msg('FixStepTypeDataTransfer')],
  ['import', () => msg('FixStepTypeImport')],
  ['if_else', () => msg('FixStepTypeIfElse')],
  ['do_while', () => msg('FixStepTypeDoWhile')],
  ['parallel_for', () => msg('FixStepTypeParallelFor')],
  ['flow_parallel', () => msg('FixStepTypeFlowParallel')],
]);

export function builders(env: NodeEnv): Record<ComponentType, SpecBuilder> {
  return {
    command: commandSpec,
    parallel: parallelSpec,
    spark: sparkSpec,
    pipeline: env.pipelineSpec,
  };
}

/** The command component's own keys: command, code, environment, distribution, resources, environment variables. */
export const commandSpec: SpecBuilder = (ctx, doc, base, d, ports) => {
  const spec: TemplateObject = {};
  spec.command = checkCommand(doc, [...base, 'command'], d.command, new Set(ports.inputs.keys()), new Set(ports.outputs.keys()));
  if (d.code !== undefined && d.code !== null) spec.code = codeSlot(ctx, doc, [...base, 'code'], d.code, 'azureml');
  spec.environment = environmentSlot(ctx, doc, [...base, 'environment'], d.environment, 'azureml');
  const dist = distribution(doc, [...base, 'distribution'], d.distribution, 'spec');
  if (dist) spec.distribution = dist;
  const res = mapping(doc, [...base, 'resources'], d.resources, msg('FixWriteResources'));
  if (res) spec.resources = res;
  const ev = stringMap(doc, [...base, 'environment_variables'], d.environment_variables);
  if (ev) spec.environment_variables = ev;
  return spec;
};

/** The fields of BaseNode._to_rest_object every step has; `name` only at the top level. */
export function baseNode(
  env: NodeEnv,
  name: string,
  at: YamlPath,
  raw: JsonObject,
  type: string,
  ports: StepPorts,
  source: string,
  componentId: Template | undefined,
): { body: TemplateObject; hasCompute: boolean } {
  const doc: LoadedYaml = env.io.doc;
  const body: TemplateObject = {};
  if (!env.inComponent) body.name = name;
  body.type = type;
  const dn = text(doc, [...at, 'display_name'], raw.display_name);
  if (dn !== undefined) body.display_name = dn;
  const tags = stringMap(doc, [...at, 'tags'], raw.tags);
  if (tags && Object.keys(tags).length) body.tags = tags;
  const compute = computeValue(env.ctx, doc, [...at, 'compute'], raw.compute, true);
  if (compute !== undefined) body.computeId = compute;
  if (Object.keys(ports.inputs).length) body.inputs = ports.inputs;
  if (Object.keys(ports.outputs).length) body.outputs = ports.outputs;
  const props = stringMap(doc, [...at, 'properties'], raw.properties);
  if (props && Object.keys(props).length) body.properties = props;
  body._source = source;
  const comment = text(doc, [...at, 'comment'], raw.comment);
  if (comment !== undefined) body.comment = comment;
  if (componentId !== undefined) body.componentId = componentId;
  const id = identity(doc, [...at, 'identity'], raw.identity, false);
  if (id) body.identity = id;
  return { body, hasCompute: compute !== undefined };
}

/** Translate one step; `raw` is the mapping under `jobs.<name>`. */
export function translateNode(env: NodeEnv, name: string, raw: unknown): NodeBuild {
  const doc: LoadedYaml = env.io.doc;
  const at: YamlPath = ['jobs', name];
  if (!/^[a-z_][a-z0-9_]*$/.test(name)) {
    doc.fail(
      at,
      /^[A-Za-z_][A-Za-z0-9_]*$/.test(name) ? msg('ProblemStepNameNotLowerCase') : msg('ProblemInvalidStepName'),
      msg('FixStepNameLowerCase', name.toLowerCase().replace(/[^a-z0-9_]/g, '_')),
    );
  }
  if (!isObj(raw as never))
    doc.fail(at, raw === null ? msg('ProblemEmptyNotStep') : msg('ProblemValueNotStep', JSON.stringify(raw)), msg('FixStepMapping'));
  const r = raw as JsonObject;
  const yamlName = text(doc, [...at, 'name'], r.name);
  if (yamlName !== undefined && yamlName !== name)
    doc.fail([...at, 'name'], msg('ProblemStepNameDiffers', yamlName, name), msg('FixStepNameEqualsKey'));
  const type = r.type ?? 'command';
  if (typeof type !== 'string')
    doc.fail([...at, 'type'], msg('ProblemIsValue', JSON.stringify(type)), msg('FixStepTypeOther', String(type)));
  switch (type) {
    case 'command':
      return commandNode(env, name, at, r);
    case 'sweep':
      return sweepNode(env, name, at, r);
    case 'parallel':
      return parallelNode(env, name, at, r);
    case 'pipeline':
      return pipelineNode(env, name, at, r);
    case 'automl':
      return automlNode(env, name, at, r);
    case 'spark':
      return sparkNode(env, name, at, r);
    default: {
      const refused = REFUSED_TYPES.get(type);
      return doc.fail([...at, 'type'], msg('ProblemIsValue', type), refused ? refused() : msg('FixStepTypeOther', type));
    }
  }
}

/** A step that runs a component (`component:`), of the component's type. */
export function componentStep(env: NodeEnv, at: YamlPath, r: JsonObject, type: ComponentType): { comp: LoadedComponent; ports: StepPorts } {
  const doc: LoadedYaml = env.io.doc;
  const comp = componentOf(env.ctx, doc, [...at, 'component'], r.component!, builders(env));
  if (comp.type !== undefined && comp.type !== type)
    doc.fail([...at, 'type'], msg('ProblemStepTypeNotComponentType', type, comp.type), msg('FixStepTypeIs', comp.type));
  return { comp, ports: stepPorts(env.io, at, r, comp, env.pOut) };
}

const COMMAND_STEP_KEYS = [...BASE_KEYS, 'component', 'limits', 'resources', 'distribution', 'environment_variables', 'identity'];
const INLINE_COMMAND_KEYS = [
  ...COMMAND_STEP_KEYS.filter((k) => k !== 'component'),
  'command',
  'code',
  'environment',
  'description',
  'is_deterministic',
];
const COMMAND_HINTS = new Map<string, () => string>([
  ...STEP_HINTS,
  ['description', () => msg('FixStepDescription')],
  ['code', () => msg('FixStepCode')],
  ['command', () => msg('FixStepCommand')],
  ['environment', () => msg('FixStepEnvironment')],
  ['is_deterministic', () => msg('FixStepIsDeterministic')],
]);

/** A command step: with a component, or inline (the step is its own command component). */
function commandNode(env: NodeEnv, name: string, at: YamlPath, r: JsonObject): NodeBuild {
  const doc: LoadedYaml = env.io.doc;
  const inline = r.component === undefined || r.component === null;
  checkKeys(
    doc,
    at,
    r,
    inline ? INLINE_COMMAND_KEYS : COMMAND_STEP_KEYS,
    inline ? msg('ProblemNotSupportedInInlineStep') : msg('ProblemNotSupportedInComponentStep'),
    COMMAND_HINTS,
  );
  if (inline && (r.command === undefined || r.command === null))
    doc.fail(at, msg('ProblemNoComponentOrCommand'), msg('FixGiveComponentOrCommand'));
  let comp: LoadedComponent | undefined;
  let ports: StepPorts;
  let inlineSpec: NodeBuild['inlineSpec'];
  let componentId: Template;
  if (inline) {
    ports = stepPorts(env.io, at, r, undefined, env.pOut);
    const spec = inlineCommandSpec(env, name, at, r, ports);
    componentId = env.ctx.refs.slot({ kind: 'component', spec, origin: originOf(doc, at), label: `${doc.name}: jobs.${name}` });
    inlineSpec = { spec, order: Object.keys(spec) };
  } else {
    ({ comp, ports } = componentStep(env, at, r, 'command'));
    componentId = comp.id;
  }
  const extra: TemplateObject = {};
  // The node carries them even when the step is its own component (the SDK's Command node does).
  const res = resources(doc, [...at, 'resources'], r.resources);
  if (res && Object.keys(res).length) extra.resources = res;
  const dist = distribution(doc, [...at, 'distribution'], r.distribution, 'node');
  if (dist) extra.distribution = dist;
  const lim = commandLimits(doc, [...at, 'limits'], r.limits);
  if (lim) extra.limits = lim;
  const ev = stringMap(doc, [...at, 'environment_variables'], r.environment_variables);
  if (ev && Object.keys(ev).length) extra.environment_variables = ev;
  const base = baseNode(env, name, at, r, 'command', ports, inline ? 'YAML.JOB' : comp!.source, componentId);
  return {
    name,
    at,
    type: 'command',
    body: { ...extra, ...base.body },
    ports,
    hasCompute: base.hasCompute,
    ...(inlineSpec ? { inlineSpec } : {}),
  };
}

/**
 * The anonymous component the SDK builds from an inline command step (CommandJob._to_component):
 * the step's command, code, environment, resources and distribution, display_name = the step's
 * name; inputs are filled in once the bound sources are known (graph.ts).
 */
function inlineCommandSpec(env: NodeEnv, name: string, at: YamlPath, r: JsonObject, ports: StepPorts): TemplateObject {
  const doc: LoadedYaml = env.io.doc;
  const ins = new Set(ports.inlineInputs.map((i) => i.name));
  const outs = new Set(Object.keys(ports.inlineOutputs));
  const spec: TemplateObject = { command: checkCommand(doc, [...at, 'command'], r.command, ins, outs) };
  if (r.code !== undefined && r.code !== null) spec.code = codeSlot(env.ctx, doc, [...at, 'code'], r.code, 'azureml');
  spec.environment = environmentSlot(env.ctx, doc, [...at, 'environment'], r.environment, 'azureml');
  spec.name = 'azureml_anonymous';
  spec.version = '1';
  spec.display_name = name;
  const desc = text(doc, [...at, 'description'], r.description);
  if (desc !== undefined) spec.description = desc;
  const tags = stringMap(doc, [...at, 'tags'], r.tags);
  if (tags && Object.keys(tags).length) spec.tags = tags;
  spec.is_deterministic = bool(doc, [...at, 'is_deterministic'], r.is_deterministic) ?? true;
  if (Object.keys(ports.inlineOutputs).length) spec.outputs = ports.inlineOutputs;
  spec.type = 'command';
  const res = resources(doc, [...at, 'resources'], r.resources);
  if (res && Object.keys(res).length) spec.resources = res;
  const dist = distribution(doc, [...at, 'distribution'], r.distribution, 'spec');
  if (dist) spec.distribution = dist;
  spec._source = 'YAML.JOB';
  return spec;
}

const PIPELINE_STEP_KEYS = [...BASE_KEYS, 'component', 'settings'];

/** A nested pipeline: a pipeline component file (its steps are translated like a pipeline job's) or a registered one. */
function pipelineNode(env: NodeEnv, name: string, at: YamlPath, r: JsonObject): NodeBuild {
  const doc: LoadedYaml = env.io.doc;
  checkKeys(doc, at, r, PIPELINE_STEP_KEYS, msg('ProblemNotSupportedInPipelineStep'), STEP_HINTS);
  if (r.component === undefined || r.component === null)
    doc.fail(at, msg('ProblemPipelineStepWithoutComponent'), msg('FixPipelineStepComponent'));
  const { comp, ports } = componentStep(env, at, r, 'pipeline');
  const base = baseNode(env, name, at, r, 'pipeline', ports, comp.source, comp.id);
  const settings = mapping(doc, [...at, 'settings'], r.settings, msg('FixWriteSettings'));
  if (settings && Object.keys(settings).length) base.body.settings = settings;
  // A nested pipeline's steps have their own computes (or the parent's default).
  return { name, at, type: 'pipeline', body: base.body, ports, hasCompute: true };
}

/** An inline step's input definitions, from its values and the types of the bound sources (the SDK's inference). */
export function inlineInputDefs(inputs: InlineInput[], typeOf: (b: Binding) => { type: string; mode?: string }): JsonObject {
  const defs: JsonObject = {};
  for (const i of inputs) {
    if (i.binding) {
      const t = typeOf(i.binding);
      const def: JsonObject = { type: t.type };
      const mode = typeof i.def.mode === 'string' ? i.def.mode : t.mode;
      if (mode) def.mode = mode;
      defs[i.name] = def;
    } else {
      defs[i.name] = 'type' in i.def ? i.def : { ...i.def, type: 'string' };
    }
  }
  return defs;
}

export type { PortDef };
