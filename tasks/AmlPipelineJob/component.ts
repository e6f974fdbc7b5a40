/**
 * Components: `component:` references, local command component files, and the code and
 * environment they name. Local paths are resolved relative to the YAML that names them, must
 * exist, and must stay inside the allowed root (no `../../etc`, no symlink leading out).
 */
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { stringify } from 'yaml';
import type { CodeRef, ComponentRef, EnvironmentRef, IdRef, InlineEnvironment, Json, JsonObject, NamedRef } from './plan';
import { DATA_TYPES, PARAM_TYPES, type PortDef } from './io';
import { dotted, loadYamlFile, MAX_YAML_BYTES, type LoadedYaml, type YamlPath } from './yaml';

export interface RootCheck {
  /** The allowed root, as given (absolute). */
  root: string;
  /** realpath of the root. */
  realRoot: string;
}

export function makeRoot(root: string): RootCheck {
  const abs = path.resolve(root);
  let realRoot: string;
  try {
    realRoot = fs.realpathSync(abs);
  } catch {
    realRoot = abs;
  }
  return { root: abs, realRoot };
}

function inside(parent: string, child: string): boolean {
  const rel = path.relative(parent, child);
  return rel === '' || (!rel.startsWith('..') && !path.isAbsolute(rel));
}

/**
 * Resolve a local path written at `at` in `doc`, relative to the doc's folder. It must exist
 * and stay inside the root, both as written and after following symbolic links.
 */
export function resolveLocal(doc: LoadedYaml, at: YamlPath, written: string, root: RootCheck, what: string): string {
  const abs = path.resolve(path.dirname(doc.file), written);
  if (!inside(root.root, abs) && !inside(root.realRoot, abs)) {
    doc.fail(at, `points at '${written}', which is outside the repository folder the task may read (${root.root})`, `keep ${what} inside the repository and use a path relative to ${path.basename(doc.file)}`);
  }
  let real: string;
  try {
    real = fs.realpathSync(abs);
  } catch {
    doc.fail(at, `points at '${written}', which does not exist (looked for ${abs})`, `fix the path, which is relative to the folder of ${path.basename(doc.file)}`);
  }
  if (!inside(root.realRoot, real)) {
    doc.fail(at, `points at '${written}', a symbolic link that leads outside the repository folder (to ${real})`, `copy ${what} into the repository instead of linking to it`);
  }
  return abs;
}

// ---------------------------------------------------------------------------------------------
// References

/** Parse `azureml:name:version`, `azureml:name@latest`, ARM ids and registry ids. */
export function parseAssetRef(doc: LoadedYaml, at: YamlPath, v: string, kind: 'component' | 'environment' | 'code'): NamedRef | IdRef | undefined {
  const origin = { file: doc.file, path: dotted(at) };
  const t = v.trim();
  if (/^azureml:\/\/registries\//i.test(t)) {
    if (kind === 'code') doc.fail(at, 'is a registry code asset, which jobs cannot use', 'use a local folder or a workspace code asset azureml:<name>:<version>');
    return { kind: 'id', id: t, origin };
  }
  if (/^azureml:\/subscriptions\//i.test(t)) return { kind: 'id', id: t.slice('azureml:'.length), origin };
  if (/^\/subscriptions\//i.test(t)) return { kind: 'id', id: t, origin };
  let m: RegExpExecArray | null;
  if ((m = /^azureml:([A-Za-z0-9][A-Za-z0-9._-]*)@([A-Za-z0-9._-]+)$/.exec(t))) {
    if (m[2] !== 'latest') doc.fail(at, `uses the label '@${m[2]}'`, 'AmlPipelineJob@1 resolves @latest or an explicit :version');
    return { kind: 'named', name: m[1]!, label: 'latest', origin };
  }
  if ((m = /^azureml:([A-Za-z0-9][A-Za-z0-9._-]*):([A-Za-z0-9][A-Za-z0-9._-]*)$/.exec(t))) return { kind: 'named', name: m[1]!, version: m[2]!, origin };
  if (/^azureml:/i.test(t)) {
    doc.fail(at, `is '${t}', which names no version`, `write azureml:<name>:<version> or azureml:<name>@latest`);
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Code and environment

export function codeRef(doc: LoadedYaml, at: YamlPath, v: Json, root: RootCheck): CodeRef {
  let written: Json = v;
  let wAt = at;
  if (typeof v === 'object' && v !== null && !Array.isArray(v)) {
    const keys = Object.keys(v);
    if (keys.length !== 1 || keys[0] !== 'local_path') doc.fail(at, 'must be a path or the old form {local_path: <path>}', 'write code: ./src');
    written = v.local_path!;
    wAt = [...at, 'local_path'];
  }
  if (typeof written !== 'string' || written.trim() === '') doc.fail(wAt, 'must be a path to a folder or file, or azureml:<code name>:<version>', 'write code: ./src');
  if (/^(https?|git\+|git|wasbs?|abfss?):/i.test(written) || /^azureml:\/\/(datastores|subscriptions|locations)/i.test(written)) {
    doc.fail(wAt, `is the remote location '${written}'`, 'AmlPipelineJob@1 uploads local code folders or uses a registered code asset azureml:<name>:<version>');
  }
  const ref = parseAssetRef(doc, wAt, written, 'code');
  if (ref) return ref;
  return { kind: 'local', path: resolveLocal(doc, wAt, written, root, 'the code'), origin: { file: doc.file, path: dotted(wAt) } };
}

export function environmentRef(doc: LoadedYaml, at: YamlPath, v: Json | undefined, root: RootCheck): EnvironmentRef {
  if (v === undefined || v === null) doc.fail(at, 'is missing', 'a command needs an environment: azureml:<name>:<version>, azureml:<name>@latest, or {image: ..., conda_file: ...}');
  if (typeof v === 'string') {
    const ref = parseAssetRef(doc, at, v, 'environment');
    if (!ref) doc.fail(at, `is '${v}', which is not an environment reference`, 'write azureml:<name>:<version>, azureml:<name>@latest, or an inline {image: ..., conda_file: ...}');
    return ref;
  }
  if (Array.isArray(v) || typeof v !== 'object') doc.fail(at, 'must be a reference or a mapping with image and conda_file', 'write environment: azureml:<name>:<version>');
  const o = v as JsonObject;
  if ('build' in o) doc.fail([...at, 'build'], 'asks for a Docker build context, which AmlPipelineJob@1 does not build', 'build and register the environment once (az ml environment create) and reference it as azureml:<name>:<version>, or use image: plus conda_file:');
  for (const k of Object.keys(o)) {
    if (!['image', 'conda_file', 'description'].includes(k)) {
      doc.fail([...at, k], 'is not supported in an inline environment by AmlPipelineJob@1', k === 'name' || k === 'version' ? 'inline environments are registered anonymously by content; register a named one with az ml environment create and write azureml:<name>:<version>' : 'use image, conda_file and description only');
    }
  }
  if (typeof o.image !== 'string' || o.image.trim() === '') doc.fail([...at, 'image'], 'is missing or empty', 'give a Docker image, e.g. mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest');
  let condaFile: string | undefined;
  if (o.conda_file !== undefined && o.conda_file !== null) {
    if (typeof o.conda_file === 'string') {
      const p = resolveLocal(doc, [...at, 'conda_file'], o.conda_file, root, 'the conda file');
      const st = fs.statSync(p);
      if (!st.isFile()) doc.fail([...at, 'conda_file'], `points at '${o.conda_file}', which is a folder`, 'give the path of the conda .yml file');
      if (st.size > MAX_YAML_BYTES) doc.fail([...at, 'conda_file'], `points at a file of ${st.size} bytes, more than 1 MiB`, 'give the conda environment file, not a data file');
      condaFile = fs.readFileSync(p, 'utf8');
    } else if (typeof o.conda_file === 'object' && !Array.isArray(o.conda_file)) {
      condaFile = stringify(o.conda_file);
    } else {
      doc.fail([...at, 'conda_file'], 'must be a path to a conda file or an inline mapping', 'write conda_file: ./conda.yml');
    }
    condaFile = condaFile.replace(/\r\n/g, '\n');
  }
  if (o.description !== undefined && typeof o.description !== 'string') doc.fail([...at, 'description'], 'must be text', 'quote it');
  const hash = createHash('sha256')
    .update(JSON.stringify({ image: o.image.trim(), condaFile: condaFile ?? null }))
    .digest('hex');
  const env: InlineEnvironment = { kind: 'inline', image: o.image.trim(), hash, origin: { file: doc.file, path: dotted(at) } };
  if (condaFile !== undefined) env.condaFile = condaFile;
  if (typeof o.description === 'string') env.description = o.description;
  return env;
}

// ---------------------------------------------------------------------------------------------
// Command component files

export const COMPONENT_KEYS = [
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

function isObj(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

export function checkIoNames(doc: LoadedYaml, at: YamlPath, o: JsonObject): void {
  const seen = new Map<string, string>();
  for (const k of Object.keys(o)) {
    if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(k)) doc.fail([...at, k], 'is not a valid name', 'use letters, digits and underscores, starting with a letter or underscore');
    const low = k.toLowerCase();
    if (seen.has(low)) doc.fail([...at, k], `differs from '${seen.get(low)}' only by case, which Azure ML treats as the same name`, 'rename one of them');
    seen.set(low, k);
  }
}

/** Check `${{inputs.x}}` / `${{outputs.y}}` in a command against the declared names. */
export function checkCommand(doc: LoadedYaml, at: YamlPath, command: Json | undefined, inputs: ReadonlySet<string>, outputs: ReadonlySet<string>): string {
  if (typeof command !== 'string' || command.trim() === '') doc.fail(at, 'is missing or empty', 'give the command line to run, e.g. python train.py --data ${{inputs.data}}');
  const optional = new Set<string>();
  for (const m of command.matchAll(/\$\[\[([^\]]*)\]\]/g)) for (const n of m[1]!.matchAll(/\$\{\{\s*inputs\.([A-Za-z0-9_.]+)\s*\}\}/g)) optional.add(n[1]!);
  for (const m of command.matchAll(/\$\{\{\s*([^{}]*?)\s*\}\}/g)) {
    const expr = m[1]!;
    let r: RegExpExecArray | null;
    if ((r = /^inputs\.([A-Za-z0-9_]+)$/.exec(expr))) {
      if (!inputs.has(r[1]!) && !optional.has(r[1]!)) doc.fail(at, `uses \${{inputs.${r[1]}}}, but there is no input '${r[1]}'`, `declare it under inputs:${inputs.size ? ` (declared: ${[...inputs].join(', ')})` : ''}`);
    } else if ((r = /^outputs\.([A-Za-z0-9_]+)$/.exec(expr))) {
      if (!outputs.has(r[1]!)) doc.fail(at, `uses \${{outputs.${r[1]}}}, but there is no output '${r[1]}'`, `declare it under outputs:${outputs.size ? ` (declared: ${[...outputs].join(', ')})` : ''}`);
    } else if (/^parent\./.test(expr)) {
      doc.fail(at, `uses ${m[0]} inside the command`, 'a command reads only ${{inputs.<name>}} and ${{outputs.<name>}}; bind the step input to the parent value instead');
    }
  }
  return command;
}

/** Check and copy the `inputs:` definitions of a component file. */
function componentInputs(doc: LoadedYaml, raw: Json | undefined): { spec: JsonObject; defs: Map<string, PortDef> } {
  const defs = new Map<string, PortDef>();
  if (raw === undefined || raw === null) return { spec: {}, defs };
  if (!isObj(raw)) doc.fail(['inputs'], 'must be a mapping of input names to definitions', 'write inputs: then "<name>: {type: ...}" per input');
  checkIoNames(doc, ['inputs'], raw);
  const spec: JsonObject = {};
  for (const [name, d] of Object.entries(raw)) {
    const at = ['inputs', name];
    if (!isObj(d)) {
      doc.fail(at, `is ${d === null ? 'empty' : JSON.stringify(d)}, not an input definition`, `write a mapping with a type, e.g. ${name}: {type: ${typeof d === 'number' ? 'number' : typeof d === 'boolean' ? 'boolean' : 'string'}${d === null ? '' : `, default: ${JSON.stringify(d)}`}}`);
    }
    for (const k of Object.keys(d)) if (!INPUT_DEF_KEYS.includes(k)) doc.fail([...at, k], 'is not supported in a component input by AmlPipelineJob@1', `use ${INPUT_DEF_KEYS.join(', ')}`);
    const type = d.type;
    if (typeof type !== 'string' || (!(PARAM_TYPES as readonly string[]).includes(type) && !PORT_TYPES.includes(type))) {
      doc.fail([...at, 'type'], `is ${type === undefined ? 'missing' : `'${String(type)}'`}`, `use one of ${[...PARAM_TYPES, ...PORT_TYPES].join(', ')}`);
    }
    if (d.optional !== undefined && typeof d.optional !== 'boolean') doc.fail([...at, 'optional'], 'must be true or false', 'write optional: true');
    for (const k of ['min', 'max']) if (d[k] !== undefined && typeof d[k] !== 'number') doc.fail([...at, k], 'must be a number', 'write a number without quotes');
    if (d.enum !== undefined && !Array.isArray(d.enum)) doc.fail([...at, 'enum'], 'must be a list of allowed values', 'write enum: [a, b]');
    if (d.description !== undefined && typeof d.description !== 'string') doc.fail([...at, 'description'], 'must be text', 'quote it');
    spec[name] = d;
    defs.set(name, { type, optional: d.optional === true, hasDefault: d.default !== undefined && d.default !== null });
  }
  return { spec, defs };
}

function componentOutputs(doc: LoadedYaml, raw: Json | undefined): { spec: JsonObject; defs: Map<string, PortDef> } {
  const defs = new Map<string, PortDef>();
  if (raw === undefined || raw === null) return { spec: {}, defs };
  if (!isObj(raw)) doc.fail(['outputs'], 'must be a mapping of output names to definitions', 'write outputs: then "<name>: {type: uri_folder}" per output');
  checkIoNames(doc, ['outputs'], raw);
  const spec: JsonObject = {};
  for (const [name, d] of Object.entries(raw)) {
    const at = ['outputs', name];
    if (!isObj(d)) doc.fail(at, 'is not an output definition', `write ${name}: {type: uri_folder}`);
    for (const k of Object.keys(d)) if (!OUTPUT_DEF_KEYS.includes(k)) doc.fail([...at, k], 'is not supported in a component output by AmlPipelineJob@1', `use ${OUTPUT_DEF_KEYS.join(', ')}`);
    if (typeof d.type !== 'string' || !PORT_TYPES.includes(d.type)) {
      doc.fail([...at, 'type'], `is ${d.type === undefined ? 'missing' : `'${String(d.type)}'`}`, `use one of ${PORT_TYPES.join(', ')}`);
    }
    spec[name] = d;
    defs.set(name, { type: d.type });
  }
  return { spec, defs };
}

function mapping(doc: LoadedYaml, at: YamlPath, v: Json | undefined, stringValues: boolean): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) doc.fail(at, 'must be a mapping', stringValues ? 'write one "key: value" per line' : 'see the component YAML schema');
  if (stringValues) {
    for (const [k, x] of Object.entries(v)) if (typeof x !== 'string') doc.fail([...at, k], `must be text, not ${JSON.stringify(x)}`, `quote it: ${k}: "${String(x)}"`);
  }
  return v;
}

/** Load a local command component file (`component: ./train.yml` or `file:./train.yml`). */
export function loadComponentFile(pipeline: LoadedYaml, at: YamlPath, written: string, root: RootCheck): LoadedComponent {
  const rel = written.replace(/^file:/i, '');
  const file = resolveLocal(pipeline, at, rel, root, 'the component file');
  if (fs.statSync(file).isDirectory()) pipeline.fail(at, `points at the folder '${rel}'`, 'give the path of the component .yml file');
  const doc: LoadedYaml = loadYamlFile(file, { root: root.root, what: 'component file' });
  const d = doc.data;
  const type = d.type ?? 'command';
  if (type !== 'command') {
    doc.fail(['type'], `is '${String(type)}'`, `AmlPipelineJob@1 runs command components only; ${String(type)} components are not supported yet`);
  }
  for (const k of Object.keys(d)) {
    if (!(COMPONENT_KEYS as readonly string[]).includes(k)) {
      doc.fail([k], 'is not supported in a command component by AmlPipelineJob@1', k === 'additional_includes' ? 'copy the extra files into the code folder instead' : `use only ${COMPONENT_KEYS.join(', ')}`);
    }
  }
  for (const k of ['name', 'display_name', 'description']) if (d[k] !== undefined && typeof d[k] !== 'string') doc.fail([k], 'must be text', 'quote it');
  if (d.version !== undefined && typeof d.version !== 'string' && typeof d.version !== 'number') doc.fail(['version'], 'must be a version such as 1 or "1.0.2"', 'quote it');
  if (d.is_deterministic !== undefined && typeof d.is_deterministic !== 'boolean') doc.fail(['is_deterministic'], 'must be true or false', 'write is_deterministic: false');
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
  return { ref, inputs: inputs.defs, outputs: outputs.defs, label: `${doc.name}${typeof d.name === 'string' ? ` (${d.name})` : ''}` };
}
