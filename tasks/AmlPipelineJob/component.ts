/**
 * Local command component files (`component: ./train.yml`). The code and environment they name
 * are parsed by the shared asset references (tasks/common/asset-refs.ts).
 */
import * as fs from 'node:fs';
import { codeRef, environmentRef, resolveLocal } from '../common/asset-refs';
import type { SourcesRoot } from '../common/files';
import { isObj, loadYamlFile, type LoadedYaml, type YamlPath } from '../common/yaml';
import type { ComponentRef, Json, JsonObject } from './plan';
import { DATA_TYPES, PARAM_TYPES, type PortDef } from './io';
import { msg } from './messages';

// ---------------------------------------------------------------------------------------------
// Command component files

const COMPONENT_KEYS = [
  '$schema', 'type', 'name', 'version', 'display_name', 'description', 'tags', 'is_deterministic',
  'inputs', 'outputs', 'code', 'environment', 'command', 'resources', 'distribution', 'environment_variables',
] as const;

const INPUT_DEF_KEYS = ['type', 'default', 'optional', 'description', 'min', 'max', 'enum', 'mode'];
const OUTPUT_DEF_KEYS = ['type', 'description', 'mode'];
const PORT_TYPES = ['path', ...DATA_TYPES];

export interface LoadedComponent {
  ref: ComponentRef;
  inputs: Map<string, PortDef>;
  outputs: Map<string, PortDef>;
  label: string;
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

/** Check `${{inputs.x}}` / `${{outputs.y}}` in a command against the declared names. */
export function checkCommand(doc: LoadedYaml, at: YamlPath, command: Json | undefined, inputs: ReadonlySet<string>, outputs: ReadonlySet<string>): string {
  if (typeof command !== 'string' || command.trim() === '') doc.fail(at, msg('ProblemMissingOrEmpty'), msg('FixGiveCommandLine'));
  const optional = new Set<string>();
  for (const m of command.matchAll(/\$\[\[([^\]]*)\]\]/g)) for (const n of m[1]!.matchAll(/\$\{\{\s*inputs\.([A-Za-z0-9_.]+)\s*\}\}/g)) optional.add(n[1]!);
  for (const m of command.matchAll(/\$\{\{\s*([^{}]*?)\s*\}\}/g)) {
    const expr = m[1]!;
    let r: RegExpExecArray | null;
    if ((r = /^inputs\.([A-Za-z0-9_]+)$/.exec(expr))) {
      if (!inputs.has(r[1]!) && !optional.has(r[1]!)) {
        doc.fail(at, msg('ProblemCommandUnknownInput', r[1], r[1]), inputs.size ? msg('FixDeclareInputDeclared', [...inputs].join(', ')) : msg('FixDeclareInput'));
      }
    } else if ((r = /^outputs\.([A-Za-z0-9_]+)$/.exec(expr))) {
      if (!outputs.has(r[1]!)) {
        doc.fail(at, msg('ProblemCommandUnknownOutput', r[1], r[1]), outputs.size ? msg('FixDeclareOutputDeclared', [...outputs].join(', ')) : msg('FixDeclareOutput'));
      }
    } else if (/^parent\./.test(expr)) {
      doc.fail(at, msg('ProblemParentInCommand', m[0]), msg('FixCommandReadsOwnPorts'));
    }
  }
  return command;
}

/** Check and copy the `inputs:` definitions of a component file. */
function componentInputs(doc: LoadedYaml, raw: Json | undefined): { spec: JsonObject; defs: Map<string, PortDef> } {
  const defs = new Map<string, PortDef>();
  if (raw === undefined || raw === null) return { spec: {}, defs };
  if (!isObj(raw)) doc.fail(['inputs'], msg('ProblemComponentInputsNotMapping'), msg('FixComponentInputsMapping'));
  checkIoNames(doc, ['inputs'], raw);
  const spec: JsonObject = {};
  for (const [name, d] of Object.entries(raw)) {
    const at = ['inputs', name];
    if (!isObj(d)) {
      const guess = typeof d === 'number' ? 'number' : typeof d === 'boolean' ? 'boolean' : 'string';
      if (d === null) doc.fail(at, msg('ProblemEmptyNotInputDefinition'), msg('FixInputDefinition', name, guess));
      doc.fail(at, msg('ProblemValueNotInputDefinition', JSON.stringify(d)), msg('FixInputDefinitionWithDefault', name, guess, JSON.stringify(d)));
    }
    for (const k of Object.keys(d)) if (!INPUT_DEF_KEYS.includes(k)) doc.fail([...at, k], msg('ProblemNotSupportedInComponentInput'), msg('FixUseKeys', INPUT_DEF_KEYS.join(', ')));
    const type = d.type;
    if (typeof type !== 'string' || (!(PARAM_TYPES as readonly string[]).includes(type) && !PORT_TYPES.includes(type))) {
      doc.fail([...at, 'type'], type === undefined ? msg('ProblemIsMissing') : msg('ProblemIsValue', String(type)), msg('FixUseOneOf', [...PARAM_TYPES, ...PORT_TYPES].join(', ')));
    }
    if (d.optional !== undefined && typeof d.optional !== 'boolean') doc.fail([...at, 'optional'], msg('ProblemMustBeTrueOrFalse'), msg('FixWriteOptionalTrue'));
    for (const k of ['min', 'max']) if (d[k] !== undefined && typeof d[k] !== 'number') doc.fail([...at, k], msg('ProblemMustBeNumber'), msg('FixNumberWithoutQuotes'));
    if (d.enum !== undefined && !Array.isArray(d.enum)) doc.fail([...at, 'enum'], msg('ProblemMustBeListOfAllowedValues'), msg('FixWriteEnumList'));
    if (d.description !== undefined && typeof d.description !== 'string') doc.fail([...at, 'description'], msg('ProblemMustBeText'), msg('FixQuoteIt'));
    spec[name] = d;
    defs.set(name, { type, optional: d.optional === true, hasDefault: d.default !== undefined && d.default !== null });
  }
  return { spec, defs };
}

function componentOutputs(doc: LoadedYaml, raw: Json | undefined): { spec: JsonObject; defs: Map<string, PortDef> } {
  const defs = new Map<string, PortDef>();
  if (raw === undefined || raw === null) return { spec: {}, defs };
  if (!isObj(raw)) doc.fail(['outputs'], msg('ProblemComponentOutputsNotMapping'), msg('FixComponentOutputsMapping'));
  checkIoNames(doc, ['outputs'], raw);
  const spec: JsonObject = {};
  for (const [name, d] of Object.entries(raw)) {
    const at = ['outputs', name];
    if (!isObj(d)) doc.fail(at, msg('ProblemNotOutputDefinition'), msg('FixOutputDefinition', name));
    for (const k of Object.keys(d)) if (!OUTPUT_DEF_KEYS.includes(k)) doc.fail([...at, k], msg('ProblemNotSupportedInComponentOutput'), msg('FixUseKeys', OUTPUT_DEF_KEYS.join(', ')));
    if (typeof d.type !== 'string' || !PORT_TYPES.includes(d.type)) {
      doc.fail([...at, 'type'], d.type === undefined ? msg('ProblemIsMissing') : msg('ProblemIsValue', String(d.type)), msg('FixUseOneOf', PORT_TYPES.join(', ')));
    }
    spec[name] = d;
    defs.set(name, { type: d.type });
  }
  return { spec, defs };
}

function mapping(doc: LoadedYaml, at: YamlPath, v: Json | undefined, stringValues: boolean): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) doc.fail(at, msg('ProblemMustBeMapping'), stringValues ? msg('FixOneKeyValuePerLine') : msg('FixSeeComponentSchema'));
  if (stringValues) {
    for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') doc.fail([...at, k], msg('ProblemMustBeTextNot', JSON.stringify(x)), msg('FixQuoteItAs', k, String(x)));
  }
  return v;
}

/**
 * Load a local command component file (`component: ./train.yml` or `file:./train.yml`).
 * `loaded` holds the files already loaded, by resolved path: a file several steps use is read
 * and checked once. The result is shared between those steps and must not be changed.
 */
export function loadComponentFile(pipeline: LoadedYaml, at: YamlPath, written: string, root: SourcesRoot, loaded?: Map<string, LoadedComponent>): LoadedComponent {
  const rel = written.replace(/^file:/i, '');
  const file = resolveLocal(pipeline, at, rel, root, msg('TheComponentFile'));
  if (fs.statSync(file).isDirectory()) pipeline.fail(at, msg('ProblemPointsAtFolder', rel), msg('FixGiveComponentFilePath'));
  const seen = loaded?.get(file);
  if (seen) return seen;
  const doc: LoadedYaml = loadYamlFile(file, { root: root.root, what: msg('ComponentFile') });
  const d = doc.data;
  const type = d.type ?? 'command';
  if (type !== 'command') {
    doc.fail(['type'], msg('ProblemIsValue', String(type)), msg('FixOnlyCommandComponents', String(type)));
  }
  for (const k of Object.keys(d)) {
    if (!(COMPONENT_KEYS as readonly string[]).includes(k)) {
      doc.fail([k], msg('ProblemNotSupportedInCommandComponent'), k === 'additional_includes' ? msg('FixCopyExtraFilesIntoCode') : msg('FixUseOnlyKeys', COMPONENT_KEYS.join(', ')));
    }
  }
  for (const k of ['name', 'display_name', 'description']) if (d[k] !== undefined && typeof d[k] !== 'string') doc.fail([k], msg('ProblemMustBeText'), msg('FixQuoteIt'));
  if (d.version !== undefined && typeof d.version !== 'string' && typeof d.version !== 'number') doc.fail(['version'], msg('ProblemMustBeVersion'), msg('FixQuoteIt'));
  if (d.is_deterministic !== undefined && typeof d.is_deterministic !== 'boolean') doc.fail(['is_deterministic'], msg('ProblemMustBeTrueOrFalse'), msg('FixWriteIsDeterministicFalse'));
  mapping(doc, ['tags'], d.tags, true);
  mapping(doc, ['environment_variables'], d.environment_variables, true);
  mapping(doc, ['resources'], d.resources, false);
  mapping(doc, ['distribution'], d.distribution, false);
  const inputs = componentInputs(doc, d.inputs);
  const outputs = componentOutputs(doc, d.outputs);
  const command = checkCommand(doc, ['command'], d.command, new Set(inputs.defs.keys()), new Set(outputs.defs.keys()));
  const environment = environmentRef(doc, ['environment'], d.environment, root);
  const code = d.code === undefined || d.code === null ? undefined : codeRef(doc, ['code'], d.code, root);

  const spec: JsonObject = {};
  for (const k of COMPONENT_KEYS) {
    if (k === 'code' || k === 'environment' || d[k] === undefined || d[k] === null) continue;
    spec[k] = k === 'version' ? String(d[k]) : d[k]!;
  }
  spec.type = 'command';
  spec.command = command;
  spec.inputs = inputs.spec;
  spec.outputs = outputs.spec;
  if (Object.keys(inputs.spec).length === 0) delete spec.inputs;
  if (Object.keys(outputs.spec).length === 0) delete spec.outputs;
  spec._source = 'YAML.COMPONENT';
  const ref: ComponentRef = { kind: 'anonymous', spec, environment, origin: { file: doc.file, path: '' } };
  if (code) ref.code = code;
  const component: LoadedComponent = { ref, inputs: inputs.defs, outputs: outputs.defs, label: `${doc.name}${typeof d.name === 'string' ? ` (${d.name})` : ''}` };
  loaded?.set(file, component);
  return component;
}
