/**
 * Components a step runs: a local component file (`component: ./train.yml`), an inline
 * component mapping, a registered component (`azureml:name:version`, `azureml:name@latest`) or
 * a registry component (`azureml://registries/...`). A local one becomes an anonymous component
 * spec as the SDK sends it (Component._to_rest_object): the file's keys, name azureml_anonymous
 * and version "1", is_deterministic, input defaults as text, code and environment as
 * `azureml:` ids, and any other key the SDK tolerates passed on as written.
 */
import * as fs from 'node:fs';
import { codeRef, environmentRef, parseAssetRef, resolveLocal } from '../common/asset-refs';
import { pyFloatRepr, pyStr } from '../common/pyrepr';
import { isObj, loadYamlFile, type LoadedYaml, type YamlPath } from '../common/yaml';
import { DATA_TYPES, PARAM_TYPES, type PortDef } from './io';
import { msg } from './messages';
import type { Json, JsonObject, Template, TemplateObject } from './plan';
import { originOf, type Ctx } from './refs';

export const ANONYMOUS_COMPONENT_NAME = 'azureml_anonymous';
const INPUT_DEF_KEYS = ['type', 'default', 'optional', 'description', 'min', 'max', 'enum', 'mode'];
const OUTPUT_DEF_KEYS = ['type', 'description', 'mode', 'path', 'is_control'];
const PORT_TYPES = ['path', ...DATA_TYPES];
export const COMPONENT_TYPES = ['command', 'parallel', 'spark', 'pipeline'] as const;
export type ComponentType = (typeof COMPONENT_TYPES)[number];

export interface LoadedComponent {
  /** The componentId of a node that runs it. */
  id: Template;
  /** The node's `_source`: YAML.COMPONENT (local or inline), REMOTE.WORKSPACE.COMPONENT or REMOTE.REGISTRY. */
  source: string;
  /** Known for local components; a registered one is whatever the workspace has. */
  type?: ComponentType;
  inputs?: Map<string, PortDef>;
  outputs?: Map<string, PortDef>;
  label: string;
}

/** The parts of a spec every component type shares, and how a step meets it. */
export interface SpecParts {
  spec: TemplateObject;
  inputs: Map<string, PortDef>;
  outputs: Map<string, PortDef>;
}

export function checkIoNames(doc: LoadedYaml, at: YamlPath, o: JsonObject): void {
  const seen = new Map<string, string>();
  for (const k of Object.keys(o)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) doc.fail([...at, k], msg('ProblemInvalidName'), msg('FixNameCharacters'));
    const low = k.toLowerCase();
    if (seen.has(low)) doc.fail([...at, k], msg('ProblemDiffersOnlyByCase', seen.get(low)), msg('FixRenameOne'));
    seen.set(low, k);
  }
}

/** Check `${{inputs.x}}` / `${{outputs.y}}` in a command (or arguments) against the declared names. */
export function checkCommand(
  doc: LoadedYaml,
  at: YamlPath,
  command: Json | undefined,
  inputs: ReadonlySet<string>,
  outputs: ReadonlySet<string>,
  required = true,
): string {
  if (!required && (command === undefined || command === null)) return '';
  if (typeof command !== 'string' || command.trim() === '') doc.fail(at, msg('ProblemMissingOrEmpty'), msg('FixGiveCommandLine'));
  const optional = new Set<string>();
  for (const m of command.matchAll(/\$\[\[([^\]]*)\]\]/g))
    for (const n of m[1]!.matchAll(/\$\{\{\s*inputs\.([A-Za-z0-9_.]+)\s*\}\}/g)) optional.add(n[1]!);
  for (const m of command.matchAll(/\$\{\{\s*([^{}]*?)\s*\}\}/g)) {
    const expr = m[1]!;
    let r: RegExpExecArray | null;
    if ((r = /^inputs\.([A-Za-z0-9_]+)$/.exec(expr))) {
      if (!inputs.has(r[1]!) && !optional.has(r[1]!)) {
        doc.fail(
          at,
          msg('ProblemCommandUnknownInput', r[1], r[1]),
          inputs.size ? msg('FixDeclareInputDeclared', [...inputs].join(', ')) : msg('FixDeclareInput'),
        );
      }
    } else if ((r = /^outputs\.([A-Za-z0-9_]+)$/.exec(expr))) {
      if (!outputs.has(r[1]!)) {
        doc.fail(
          at,
          msg('ProblemCommandUnknownOutput', r[1], r[1]),
          outputs.size ? msg('FixDeclareOutputDeclared', [...outputs].join(', ')) : msg('FixDeclareOutput'),
        );
      }
    } else if (/^parent\./.test(expr)) {
      doc.fail(at, msg('ProblemParentInCommand', m[0]), msg('FixCommandReadsOwnPorts'));
    }
  }
  return command;
}

/** One input definition in the SDK's REST form: the default as Python text. */
function inputDef(doc: LoadedYaml, at: YamlPath, name: string, d: Json): { rest: JsonObject; def: PortDef } {
  if (!isObj(d)) {
    const guess = typeof d === 'number' ? 'number' : typeof d === 'boolean' ? 'boolean' : 'string';
    if (d === null) doc.fail(at, msg('ProblemEmptyNotInputDefinition'), msg('FixInputDefinition', name, guess));
    doc.fail(
      at,
      msg('ProblemValueNotInputDefinition', JSON.stringify(d)),
      msg('FixInputDefinitionWithDefault', name, guess, JSON.stringify(d)),
    );
  }
  for (const k of Object.keys(d))
    if (!INPUT_DEF_KEYS.includes(k))
      doc.fail([...at, k], msg('ProblemNotSupportedInComponentInput'), msg('FixUseKeys', INPUT_DEF_KEYS.join(', ')));
  const type = d.type;
  if (typeof type !== 'string' || (!(PARAM_TYPES as readonly string[]).includes(type) && !PORT_TYPES.includes(type))) {
    doc.fail(
      [...at, 'type'],
      type === undefined ? msg('ProblemIsMissing') : msg('ProblemIsValue', String(type)),
      msg('FixUseOneOf', [...PARAM_TYPES, ...PORT_TYPES].join(', ')),
    );
  }
  if (d.optional !== undefined && typeof d.optional !== 'boolean')
    doc.fail([...at, 'optional'], msg('ProblemMustBeTrueOrFalse'), msg('FixWriteOptionalTrue'));
  for (const k of ['min', 'max'])
    if (d[k] !== undefined && typeof d[k] !== 'number') doc.fail([...at, k], msg('ProblemMustBeNumber'), msg('FixNumberWithoutQuotes'));
  if (d.enum !== undefined && !Array.isArray(d.enum))
    doc.fail([...at, 'enum'], msg('ProblemMustBeListOfAllowedValues'), msg('FixWriteEnumList'));
  if (d.description !== undefined && typeof d.description !== 'string')
    doc.fail([...at, 'description'], msg('ProblemMustBeText'), msg('FixQuoteIt'));
  // 'path' (the older name of uri_folder) is sent as written, as the SDK sends it.
  const rest: JsonObject = { type };
  for (const [k, v] of Object.entries(d)) {
    if (k === 'type' || v === null) continue;
    // The SDK sends defaults, minimums and maximums as text (Python str()).
    // A number input's are floats to the SDK (1024 -> '1024.0').
    if ((k === 'default' || k === 'min' || k === 'max') && type === 'number' && typeof v === 'number') rest[k] = pyFloatRepr(v);
    else if ((k === 'default' || k === 'min' || k === 'max') && (typeof v === 'number' || typeof v === 'boolean' || typeof v === 'string'))
      rest[k] = pyStr(v, doc.sourceOf([...at, k]));
    else rest[k] = v;
  }
  return {
    rest,
    def: {
      type: type === 'path' ? 'uri_folder' : type,
      optional: d.optional === true,
      hasDefault: d.default !== undefined && d.default !== null,
    },
  };
}

/** `inputs:` and `outputs:` of a component, checked, in REST form, with what a step may bind. */
export function componentPorts(
  doc: LoadedYaml,
  base: YamlPath,
  d: JsonObject,
): { spec: TemplateObject; inputs: Map<string, PortDef>; outputs: Map<string, PortDef> } {
  const spec: TemplateObject = {};
  const inputs = new Map<string, PortDef>();
  const outputs = new Map<string, PortDef>();
  if (d.inputs !== undefined && d.inputs !== null) {
    if (!isObj(d.inputs)) doc.fail([...base, 'inputs'], msg('ProblemComponentInputsNotMapping'), msg('FixComponentInputsMapping'));
    checkIoNames(doc, [...base, 'inputs'], d.inputs);
    const rest: JsonObject = {};
    for (const [name, def] of Object.entries(d.inputs)) {
      const r = inputDef(doc, [...base, 'inputs', name], name, def);
      rest[name] = r.rest;
      inputs.set(name, r.def);
    }
    if (Object.keys(rest).length) spec.inputs = rest;
  }
  if (d.outputs !== undefined && d.outputs !== null) {
    if (!isObj(d.outputs)) doc.fail([...base, 'outputs'], msg('ProblemComponentOutputsNotMapping'), msg('FixComponentOutputsMapping'));
    checkIoNames(doc, [...base, 'outputs'], d.outputs);
    const rest: JsonObject = {};
    for (const [name, def] of Object.entries(d.outputs)) {
      const at = [...base, 'outputs', name];
      if (!isObj(def)) doc.fail(at, msg('ProblemNotOutputDefinition'), msg('FixOutputDefinition', name));
      for (const k of Object.keys(def))
        if (!OUTPUT_DEF_KEYS.includes(k))
          doc.fail([...at, k], msg('ProblemNotSupportedInComponentOutput'), msg('FixUseKeys', OUTPUT_DEF_KEYS.join(', ')));
      const type = def.type ?? 'uri_folder';
      if (typeof type !== 'string' || !PORT_TYPES.includes(type))
        doc.fail([...at, 'type'], msg('ProblemIsValue', String(type)), msg('FixUseOneOf', PORT_TYPES.join(', ')));
      const o: JsonObject = { ...def, type };
      rest[name] = o;
      outputs.set(name, { type: type === 'path' ? 'uri_folder' : type });
    }
    if (Object.keys(rest).length) spec.outputs = rest;
  }
  return { spec, inputs, outputs };
}

/** `code:` of a component or step: local (uploaded), registered, or an ARM id, in the spec's `azureml:` form. */
export function codeSlot(ctx: Ctx, doc: LoadedYaml, at: YamlPath, v: Json, form: 'id' | 'azureml'): Template {
  const c = codeRef(doc, at, v, ctx.root);
  if (c.kind === 'local') return ctx.refs.slot({ kind: 'code', path: c.path, origin: c.origin }, form);
  if (c.kind === 'named') return ctx.refs.asset('codes', c, form);
  return form === 'azureml' && !c.id.startsWith('azureml:') ? `azureml:${c.id}` : c.id;
}

/** `environment:` of a component or step, in the form the place needs (the spec's `azureml:` ids, or bare ids). */
export function environmentSlot(ctx: Ctx, doc: LoadedYaml, at: YamlPath, v: Json | undefined, form: 'id' | 'azureml'): Template {
  const e = environmentRef(doc, at, v, ctx.root, { allowBuild: true });
  if (e.kind === 'named') return ctx.refs.asset('environments', e, form);
  if (e.kind === 'inline') return ctx.refs.slot({ kind: 'environment', env: e }, form);
  // Registry ids are sent as written; ARM ids get the prefix in a spec.
  if (/^azureml:\/\//i.test(e.id)) return e.id;
  return form === 'azureml' ? `azureml:${e.id}` : e.id;
}

/** Everything but inputs, outputs and the per-type keys: copied as the SDK copies them. */
function commonSpec(doc: LoadedYaml, base: YamlPath, d: JsonObject, type: ComponentType): TemplateObject {
  for (const k of ['display_name', 'description'])
    if (d[k] !== undefined && d[k] !== null && typeof d[k] !== 'string')
      doc.fail([...base, k], msg('ProblemMustBeText'), msg('FixQuoteIt'));
  if (d.is_deterministic !== undefined && typeof d.is_deterministic !== 'boolean')
    doc.fail([...base, 'is_deterministic'], msg('ProblemMustBeTrueOrFalse'), msg('FixWriteIsDeterministicFalse'));
  if (d.tags !== undefined && d.tags !== null && !isObj(d.tags))
    doc.fail([...base, 'tags'], msg('ProblemMustBeMapping'), msg('FixOneKeyValuePerLine'));
  if (typeof d.name === 'string' && !/^[a-zA-Z_][a-zA-Z0-9_.-]*$/.test(d.name))
    doc.fail([...base, 'name'], msg('ProblemInvalidComponentName', d.name), msg('FixComponentName'));
  const spec: TemplateObject = { name: ANONYMOUS_COMPONENT_NAME, version: '1', type };
  // A pipeline component has no is_deterministic (the SDK's PipelineComponent leaves it out).
  if (type !== 'pipeline') spec.is_deterministic = d.is_deterministic ?? true;
  return spec;
}

/** A parallel component's and step's run settings (ParallelComponent, the parallel node). */
export const PARALLEL_SETTING_KEYS = [
  'resources',
  'mini_batch_size',
  'partition_keys',
  'retry_settings',
  'input_data',
  'logging_level',
  'max_concurrency_per_instance',
  'error_threshold',
  'mini_batch_error_threshold',
  'environment_variables',
];

/** Keys each type translates itself; anything else in the file is passed on as written, as the SDK does. */
const OWN_KEYS: Record<ComponentType, string[]> = {
  command: ['command', 'code', 'environment', 'distribution', 'resources', 'environment_variables', 'additional_includes'],
  parallel: ['task', ...PARALLEL_SETTING_KEYS],
  spark: [
    'code',
    'entry',
    'environment',
    'conf',
    'args',
    'py_files',
    'jars',
    'files',
    'archives',
    'driver_cores',
    'driver_memory',
    'executor_cores',
    'executor_memory',
    'executor_instances',
    'dynamic_allocation_enabled',
    'dynamic_allocation_min_executors',
    'dynamic_allocation_max_executors',
  ],
  pipeline: ['jobs', 'settings'],
};
const SHARED_KEYS = ['$schema', 'name', 'version', 'type', 'display_name', 'description', 'tags', 'is_deterministic', 'inputs', 'outputs'];

/** Builds the spec of one component type; `base` is where the definition sits in `doc`. */
export type SpecBuilder = (
  ctx: Ctx,
  doc: LoadedYaml,
  base: YamlPath,
  d: JsonObject,
  ports: ReturnType<typeof componentPorts>,
) => TemplateObject;

/**
 * The spec of a component definition (a file's content, or an inline mapping at `base`).
 * `builders` are the per-type parts (nodes.ts supplies them: a pipeline component's jobs are
 * translated like a pipeline job's).
 */
export function componentSpec(
  ctx: Ctx,
  doc: LoadedYaml,
  base: YamlPath,
  d: JsonObject,
  builders: Record<ComponentType, SpecBuilder>,
): SpecParts & { type: ComponentType } {
  const rawType = d.type ?? 'command';
  if (typeof rawType !== 'string' || !(COMPONENT_TYPES as readonly string[]).includes(rawType)) {
    doc.fail([...base, 'type'], msg('ProblemIsValue', String(rawType)), msg('FixComponentTypes', String(rawType)));
  }
  const type = rawType as ComponentType;
  if (d.additional_includes !== undefined)
    doc.fail([...base, 'additional_includes'], msg('ProblemNotSupportedInCommandComponent'), msg('FixCopyExtraFilesIntoCode'));
  const ports = componentPorts(doc, base, d);
  const spec: TemplateObject = { ...commonSpec(doc, base, d, type), ...ports.spec, ...builders[type](ctx, doc, base, d, ports) };
  for (const [k, v] of Object.entries(d)) {
    if (v === null || v === undefined) continue;
    if (SHARED_KEYS.includes(k)) {
      // Empty tags are not sent (the SDK's None).
      if (k === 'tags' && isObj(v) && Object.keys(v).length === 0) continue;
      if (k !== 'name' && k !== 'version' && k !== 'type' && k !== 'inputs' && k !== 'outputs' && k !== 'is_deterministic') spec[k] = v;
    } else if (!OWN_KEYS[type].includes(k)) {
      spec[k] = v;
    }
  }
  spec._source = 'YAML.COMPONENT';
  return { spec, inputs: ports.inputs, outputs: ports.outputs, type };
}

/**
 * `component:` of a step: a local file or `file:` path, an inline mapping, a registered
 * component, or a registry or ARM id. `builders` translate the per-type parts of a local one.
 */
export function componentOf(
  ctx: Ctx,
  doc: LoadedYaml,
  at: YamlPath,
  written: Json,
  builders: Record<ComponentType, SpecBuilder>,
): LoadedComponent {
  if (isObj(written)) {
    const parts = componentSpec(ctx, doc, at, written, builders);
    const label = `${doc.name}: ${at.join('.')}`;
    return {
      id: ctx.refs.slot({ kind: 'component', spec: parts.spec, origin: originOf(doc, at), label }),
      source: 'YAML.JOB',
      type: parts.type,
      inputs: parts.inputs,
      outputs: parts.outputs,
      label,
    };
  }
  if (typeof written !== 'string' || written.trim() === '')
    doc.fail(at, msg('ProblemNotComponentReference', String(written)), msg('FixComponentReferenceForms'));
  const ref = parseAssetRef(doc, at, written, 'component');
  if (ref?.kind === 'id') {
    const registry = /^azureml:\/\/registries\//i.test(ref.id);
    return { id: ref.id, source: registry ? 'REMOTE.REGISTRY' : 'REMOTE.WORKSPACE.COMPONENT', label: ref.id };
  }
  if (ref) return { id: ctx.refs.asset('components', ref), source: 'REMOTE.WORKSPACE.COMPONENT', label: written.trim() };
  if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(written))
    doc.fail(at, msg('ProblemNotComponentReference', written), msg('FixComponentReferenceForms'));
  return loadComponentFile(ctx, doc, at, written, builders);
}

function loadComponentFile(
  ctx: Ctx,
  pipeline: LoadedYaml,
  at: YamlPath,
  written: string,
  builders: Record<ComponentType, SpecBuilder>,
): LoadedComponent {
  const rel = written.replace(/^file:/i, '');
  const file = resolveLocal(pipeline, at, rel, ctx.root, msg('TheComponentFile'));
  if (fs.statSync(file).isDirectory()) pipeline.fail(at, msg('ProblemPointsAtFolder', rel), msg('FixGiveComponentFilePath'));
  // The SDK loads the `file:` form as part of the job (YAML.JOB), a bare path as a component file.
  const source = /^file:/i.test(written) ? 'YAML.JOB' : 'YAML.COMPONENT';
  const key = `${source}:${file}`;
  const seen = ctx.components.get(key) as LoadedComponent | undefined;
  if (seen) return seen;
  if (ctx.trail.includes(file)) pipeline.fail(at, msg('ProblemComponentCycle', rel), msg('FixComponentCycle'));
  const doc = loadYamlFile(file, { root: ctx.root.root, what: msg('ComponentFile') });
  const inner: Ctx = { ...ctx, trail: [...ctx.trail, file] };
  const parts = componentSpec(inner, doc, [], doc.data, builders);
  parts.spec._source = source;
  const label = `${doc.name}${typeof doc.data.name === 'string' ? ` (${doc.data.name})` : ''}`;
  const id = ctx.refs.slot({ kind: 'component', spec: parts.spec, origin: originOf(doc, []), label });
  const loaded: LoadedComponent = { id, source, type: parts.type, inputs: parts.inputs, outputs: parts.outputs, label };
  ctx.components.set(key, loaded);
  return loaded;
}
