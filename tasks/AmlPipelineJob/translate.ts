/**
 * CLI v2 pipeline-job YAML -> SubmissionPlan, the way `az ml job create --file` reads it,
 * without Python. Anything the task cannot carry to Azure faithfully is refused with a UserError
 * naming the file, line and key path; nothing is dropped silently.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { UserError } from '../common/errors';
import { codeRef, environmentRef, makeRoot, parseAssetRef, type RootCheck } from '../common/asset-refs';
import { isoDuration } from '../common/duration';
import { checkCommand, checkIoNames, loadComponentFile, type LoadedComponent } from './component';
import {
  findBindings,
  pipelineInputs,
  pipelineOutputs,
  stepInput,
  stepOutput,
  type Binding,
  type IoContext,
  type PipelineInputInfo,
  type PipelineOutputInfo,
  type PortDef,
} from './io';
import { applyOverrides, type Override } from './overrides';
import type { ComponentRef, Json, JsonObject, PlannedStep, SubmissionPlan } from './plan';
import { describeNonPipeline, dotted, loadYamlFile, type LoadedYaml, type YamlPath } from '../common/yaml';

export interface TranslateOptions {
  /** The folder the task may read from (the repository checkout). */
  root: string;
  overrides: Override[];
  /** Task inputs; they win over the YAML. */
  experimentName?: string;
  displayName?: string;
  tags?: Record<string, string>;
}

const TOP_KEYS = ['$schema', 'type', 'name', 'display_name', 'experiment_name', 'description', 'tags', 'properties', 'settings', 'inputs', 'outputs', 'jobs', 'compute'];
const TOP_HINTS: Record<string, string> = {
  component: 'list the steps under jobs: instead (pipeline jobs built from a registered pipeline component are not supported yet)',
  identity: 'remove it; the steps run under the compute identity, so grant access to that identity',
  services: 'remove it (interactive services are not supported for pipeline jobs submitted by this task)',
  default_compute: 'move it under settings: as settings.default_compute',
  default_datastore: 'move it under settings: as settings.default_datastore',
};
const SETTINGS_KEYS = ['default_compute', 'default_datastore', 'continue_on_step_failure', 'force_rerun'];
const STEP_TYPES_REFUSED: Record<string, string> = {
  sweep: 'sweep (hyperparameter tuning) steps',
  parallel: 'parallel (batch) steps',
  pipeline: 'nested pipeline steps',
  spark: 'Spark steps',
  automl: 'AutoML steps',
  data_transfer: 'data transfer steps',
  import: 'data import steps',
  if_else: 'if_else control-flow steps',
  do_while: 'do_while control-flow steps',
  parallel_for: 'parallel_for control-flow steps',
  flow_parallel: 'prompt flow steps',
};
/** Keys of a step that uses `component:`. */
const COMPONENT_STEP_KEYS = ['type', 'component', 'compute', 'inputs', 'outputs', 'name', 'display_name', 'tags', 'properties', 'comment', 'limits', 'resources', 'distribution', 'environment_variables'];
/** Keys of an inline command step (the step itself defines the command). */
const INLINE_STEP_KEYS = ['type', 'command', 'code', 'environment', 'compute', 'inputs', 'outputs', 'name', 'display_name', 'description', 'tags', 'properties', 'comment', 'limits', 'resources', 'distribution', 'environment_variables'];
const STEP_HINTS: Record<string, string> = {
  services: 'remove it; interactive services (VS Code, Jupyter, TensorBoard, SSH) cannot be attached to steps this task submits',
  identity: 'remove it; the step runs under the compute identity (per-step identities are not supported yet)',
  queue_settings: 'remove it (queue settings are not supported yet)',
  experiment_name: "remove it; steps run in the pipeline's experiment, so set experiment_name at the top level",
  description: "move it into the component's description (the CLI does not send a step description for a component: step)",
  code: 'move it into the component file; a step with component: takes its code from the component',
  command: 'move it into the component file; a step with component: takes its command from the component',
  environment: 'move it into the component file; a step with component: takes its environment from the component',
  is_deterministic: 'move it into the component file',
};

function isObj(v: Json | undefined): v is JsonObject {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function levenshtein(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0]![j] = j;
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      d[i]![j] = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + (a[i - 1] === b[j - 1] ? 0 : 1));
    }
  }
  return d[a.length]![b.length]!;
}

function didYouMean(key: string, known: readonly string[]): string | undefined {
  const low = key.toLowerCase();
  const prefix = known.find((k) => low.length >= 4 && (k.toLowerCase().startsWith(low) || low.startsWith(k.toLowerCase())));
  if (prefix) return prefix;
  let best: string | undefined;
  let score = 3;
  for (const k of known) {
    const s = levenshtein(key.toLowerCase(), k.toLowerCase());
    if (s < score) {
      score = s;
      best = k;
    }
  }
  return best;
}

function refuseUnknown(doc: LoadedYaml, at: YamlPath, key: string, known: readonly string[], where: string, hints: Record<string, string> = {}): never {
  const hint = hints[key];
  if (hint) doc.fail([...at, key], `is not supported by AmlPipelineJob@1 in ${where}`, hint);
  const guess = didYouMean(key, known);
  doc.fail([...at, key], `is not supported by AmlPipelineJob@1 in ${where}`, guess ? `did you mean '${guess}'? (supported: ${known.join(', ')})` : `remove it (supported: ${known.join(', ')})`);
}

function text(doc: LoadedYaml, at: YamlPath, v: Json | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') doc.fail(at, `must be text, not ${JSON.stringify(v)}`, `quote it: ${String(at[at.length - 1])}: "${String(v)}"`);
  return v;
}

function stringMap(doc: LoadedYaml, at: YamlPath, v: Json | undefined): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) doc.fail(at, 'must be a mapping of names to text values', 'write one "name: value" per line');
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') doc.fail([...at, k], `must be text, not ${JSON.stringify(x)}`, `quote it: ${k}: "${typeof x === 'object' ? '...' : String(x)}"`);
    out[k] = x;
  }
  return out;
}

function bool(doc: LoadedYaml, at: YamlPath, v: Json | undefined): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') doc.fail(at, `must be true or false, not ${JSON.stringify(v)}`, 'write true or false without quotes');
  return v;
}

/** A compute name (from `azureml:name`, `name` or an ARM id), or a refusal. */
function computeName(doc: LoadedYaml, at: YamlPath, v: Json | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') doc.fail(at, `must be a compute name, not ${JSON.stringify(v)}`, 'write azureml:<compute name>');
  let t = v.trim();
  if (t.includes('${{')) doc.fail(at, `is the binding '${t}'`, 'AmlPipelineJob@1 needs a fixed compute name; use the overrides input to change it per run');
  if (/^azureml:/i.test(t)) t = t.slice('azureml:'.length);
  if (/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/]+\/computes\/[^/]+$/i.test(t)) return t;
  if (!/^[A-Za-z][A-Za-z0-9_-]{1,31}$/.test(t)) {
    doc.fail(at, `is '${v}', which is not a compute name`, 'compute names have 2 to 32 letters, digits or hyphens and start with a letter; write azureml:<compute name>');
  }
  return t;
}

function datastoreName(doc: LoadedYaml, at: YamlPath, v: Json | undefined): string | undefined {
  const s = text(doc, at, v);
  if (s === undefined) return undefined;
  const t = s.replace(/^azureml:/i, '').trim();
  if (!/^[A-Za-z0-9_]{1,255}$/.test(t) && !/^\/subscriptions\//i.test(t)) doc.fail(at, `is '${s}', which is not a datastore name`, 'write azureml:<datastore name>, e.g. azureml:workspaceblobstore');
  return t;
}

/** `limits:` of a step, as the SDK sends CommandJobLimits to a pipeline node. */
function limits(doc: LoadedYaml, at: YamlPath, v: Json | undefined): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) doc.fail(at, 'must be a mapping', 'write limits: {timeout: 3600}');
  for (const k of Object.keys(v)) if (k !== 'timeout') refuseUnknown(doc, at, k, ['timeout'], 'step limits');
  if (v.timeout === undefined || v.timeout === null) return undefined;
  if (typeof v.timeout !== 'number' || !Number.isInteger(v.timeout) || v.timeout <= 0) {
    doc.fail([...at, 'timeout'], `is ${JSON.stringify(v.timeout)}, not a number of seconds`, 'write a whole number of seconds, e.g. timeout: 3600');
  }
  return { job_limits_type: 'Command', timeout: isoDuration(v.timeout) };
}

const RESOURCE_KEYS = ['instance_count', 'instance_type', 'shm_size', 'docker_args', 'properties', 'locations', 'max_instance_count'];

/** `resources:` of a step (JobResourceConfiguration; REST keys are the same snake_case names). */
function resources(doc: LoadedYaml, at: YamlPath, v: Json | undefined): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) doc.fail(at, 'must be a mapping', 'write resources: {instance_count: 2}');
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) {
    if (!RESOURCE_KEYS.includes(k)) refuseUnknown(doc, at, k, RESOURCE_KEYS, 'resources');
    if (x === null) continue;
    if ((k === 'instance_count' || k === 'max_instance_count') && (typeof x !== 'number' || !Number.isInteger(x) || x < 1)) doc.fail([...at, k], `is ${JSON.stringify(x)}, not a positive whole number`, `write ${k}: 1`);
    if ((k === 'instance_type' || k === 'shm_size' || k === 'docker_args') && typeof x !== 'string') doc.fail([...at, k], 'must be text', 'quote it');
    if (k === 'properties' && !isObj(x)) doc.fail([...at, k], 'must be a mapping', 'write one "key: value" per line');
    if (k === 'locations' && (!Array.isArray(x) || x.some((l) => typeof l !== 'string'))) doc.fail([...at, k], 'must be a list of region names', 'write locations: [westeurope]');
    out[k] = x;
  }
  return out;
}

/** `distribution:` of a step, REST form (the SDK sends the REST model's attributes, snake_case). */
function distribution(doc: LoadedYaml, at: YamlPath, v: Json | undefined, restForm: boolean): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) doc.fail(at, 'must be a mapping with a type', 'write distribution: {type: pytorch, process_count_per_instance: 2}');
  const type = typeof v.type === 'string' ? v.type.toLowerCase() : undefined;
  const kinds: Record<string, { rest: string; keys: string[] }> = {
    mpi: { rest: 'Mpi', keys: ['process_count_per_instance'] },
    pytorch: { rest: 'PyTorch', keys: ['process_count_per_instance'] },
    tensorflow: { rest: 'TensorFlow', keys: ['worker_count', 'parameter_server_count'] },
  };
  const kind = type ? kinds[type] : undefined;
  if (!kind) doc.fail([...at, 'type'], `is ${v.type === undefined ? 'missing' : `'${String(v.type)}'`}`, 'AmlPipelineJob@1 supports distribution types mpi, pytorch and tensorflow');
  const out: JsonObject = restForm ? { distribution_type: kind.rest } : { type: type! };
  for (const [k, x] of Object.entries(v)) {
    if (k === 'type') continue;
    if (!kind.keys.includes(k)) refuseUnknown(doc, at, k, ['type', ...kind.keys], `a ${type} distribution`);
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) doc.fail([...at, k], `is ${JSON.stringify(x)}, not a whole number`, `write ${k}: 1`);
    out[k] = x;
  }
  return out;
}

interface StepBuild {
  name: string;
  at: YamlPath;
  planned: PlannedStep;
  /** Outputs the step's component declares, when known (local or inline). */
  knownOutputs?: Map<string, PortDef>;
  /** Raw `outputs:` of the step, for type inference of downstream inline steps. */
  rawOutputs: JsonObject;
  /** Local component file outputs, when the component is a local file. */
  fileOutputs?: Map<string, PortDef>;
  bindings: Array<{ at: YamlPath; b: Binding }>;
  /** Inline steps: input definitions still to infer from bindings. */
  inlineInputs?: Array<{ name: string; at: YamlPath; def: JsonObject; binding?: Binding }>;
}

/** Translate a pipeline-job YAML into a SubmissionPlan. Throws UserError on anything unsupported. */
export function translatePipelineJob(file: string, opts: TranslateOptions): SubmissionPlan {
  const root: RootCheck = makeRoot(opts.root);
  const abs = path.isAbsolute(file) ? file : path.resolve(root.root, file);
  const rel = path.relative(root.root, abs);
  if (rel.startsWith('..') || path.isAbsolute(rel)) {
    throw new UserError(`Input 'jobFile': '${file}' is outside the repository folder (${root.root}); give a path inside the checked-out repository.`, 'jobFile');
  }
  if (!fs.existsSync(abs)) {
    throw new UserError(`Input 'jobFile': '${rel.split(path.sep).join('/')}' does not exist in the repository (${root.root}); check the path and the branch.`, 'jobFile');
  }
  const real = fs.realpathSync(abs);
  const realRel = path.relative(root.realRoot, real);
  if (realRel.startsWith('..') || path.isAbsolute(realRel)) {
    throw new UserError(`Input 'jobFile': '${rel}' is a symbolic link that leads outside the repository folder (to ${real}); commit the job YAML itself.`, 'jobFile');
  }
  const doc: LoadedYaml = loadYamlFile(abs, { root: root.root, what: 'job YAML' });
  const d = doc.data;

  if (d.type !== 'pipeline') {
    const what = describeNonPipeline(d);
    if (d.type === undefined && isObj(d.jobs)) doc.fail([], `has jobs: but no 'type: pipeline'`, 'add type: pipeline at the top; AmlPipelineJob@1 submits pipeline jobs only');
    throw new UserError(`${doc.name}: this file is ${what}, not a pipeline job (type: pipeline); give AmlPipelineJob@1 the pipeline YAML you would pass to 'az ml job create --file'.`, 'jobFile');
  }

  applyOverrides(doc, opts.overrides);

  for (const k of Object.keys(d)) if (!TOP_KEYS.includes(k)) refuseUnknown(doc, [], k, TOP_KEYS, 'a pipeline job', TOP_HINTS);
  text(doc, ['$schema'], d.$schema);
  const name = text(doc, ['name'], d.name);
  if (name !== undefined && !/^[A-Za-z0-9_-]{1,255}$/.test(name)) doc.fail(['name'], `is '${name}', which is not a valid job name`, 'use letters, digits, - and _ (or remove name: to let Azure ML generate one)');
  const displayName = text(doc, ['display_name'], d.display_name);
  const experimentName = text(doc, ['experiment_name'], d.experiment_name);
  if (experimentName !== undefined && !/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/.test(experimentName)) doc.fail(['experiment_name'], `is '${experimentName}', which is not a valid experiment name`, 'use letters, digits, ., - and _');
  const description = text(doc, ['description'], d.description);
  const tags = stringMap(doc, ['tags'], d.tags) ?? {};
  const properties = stringMap(doc, ['properties'], d.properties);
  const pipelineCompute = computeName(doc, ['compute'], d.compute);

  // settings
  const settings: JsonObject = {};
  if (d.settings !== undefined && d.settings !== null) {
    if (!isObj(d.settings)) doc.fail(['settings'], 'must be a mapping', 'write settings: then default_compute: azureml:<compute> etc.');
    for (const k of Object.keys(d.settings)) if (!SETTINGS_KEYS.includes(k)) refuseUnknown(doc, ['settings'], k, SETTINGS_KEYS, 'settings');
    const dc = computeName(doc, ['settings', 'default_compute'], d.settings.default_compute);
    if (dc !== undefined) settings.default_compute = dc;
    const ds = datastoreName(doc, ['settings', 'default_datastore'], d.settings.default_datastore);
    if (ds !== undefined) settings.default_datastore = ds;
    const cf = bool(doc, ['settings', 'continue_on_step_failure'], d.settings.continue_on_step_failure);
    if (cf !== undefined) settings.continue_on_step_failure = cf;
    const fr = bool(doc, ['settings', 'force_rerun'], d.settings.force_rerun);
    if (fr !== undefined) settings.force_rerun = fr;
  }

  const io: IoContext = { doc, assets: new Map() };
  const pIn = pipelineInputs(io, d.inputs);
  const pOut = pipelineOutputs(io, d.outputs);

  // jobs
  if (d.jobs === undefined || d.jobs === null) doc.fail(['jobs'], 'is missing', 'a pipeline job needs jobs: with at least one step');
  if (!isObj(d.jobs)) doc.fail(['jobs'], 'must be a mapping of step names to steps', 'write jobs: then one "<step name>:" per step');
  const stepNames = Object.keys(d.jobs);
  if (stepNames.length === 0) doc.fail(['jobs'], 'has no steps', 'add at least one step under jobs:');
  const builds: StepBuild[] = [];
  for (const stepName of stepNames) builds.push(translateStep(doc, io, root, stepName, d.jobs[stepName]!, pOut.info));

  validateBindings(doc, builds, pIn.info);
  for (const b of builds) finishInlineInputs(b, builds, pIn.info, pOut.info);
  for (const b of builds) if (!b.planned.compute && !settings.default_compute && !pipelineCompute) {
    doc.fail(['jobs', b.name], 'has no compute and the pipeline sets no default', 'add compute: azureml:<compute> to the step, or settings.default_compute (also possible through the overrides input)');
  }

  const plan: SubmissionPlan = {
    file: abs,
    tags: { ...tags, ...(opts.tags ?? {}) },
    settings,
    inputs: pIn.rest,
    outputs: pOut.rest,
    steps: builds.map((b) => b.planned),
  };
  const dn = opts.displayName || displayName;
  if (dn) plan.displayName = dn;
  const en = opts.experimentName || experimentName;
  if (en) plan.experimentName = en;
  if (description !== undefined) plan.description = description;
  if (name !== undefined) plan.name = name;
  if (pipelineCompute !== undefined) plan.compute = pipelineCompute;
  if (properties !== undefined) plan.properties = properties;
  if (io.assets.size) plan.assets = Object.fromEntries(io.assets);
  return plan;
}

function translateStep(doc: LoadedYaml, io: IoContext, root: RootCheck, stepName: string, raw: Json, pOut: Map<string, PipelineOutputInfo>): StepBuild {
  const at: YamlPath = ['jobs', stepName];
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(stepName)) doc.fail(at, 'is not a valid step name', 'use letters, digits and underscores, starting with a letter or underscore');
  if (!isObj(raw)) doc.fail(at, `is ${raw === null ? 'empty' : JSON.stringify(raw)}, not a step`, 'give the step a mapping with component: (or command:, environment:) and its inputs/outputs');
  const type = raw.type ?? 'command';
  if (type !== 'command') {
    const what = typeof type === 'string' ? STEP_TYPES_REFUSED[type] : undefined;
    doc.fail([...at, 'type'], `is '${String(type)}'`, `AmlPipelineJob@1 runs command steps only; ${what ?? `'${String(type)}' steps`} are not supported yet`);
  }
  const inline = raw.component === undefined || raw.component === null;
  const allowed = inline ? INLINE_STEP_KEYS : COMPONENT_STEP_KEYS;
  for (const k of Object.keys(raw)) if (!allowed.includes(k)) refuseUnknown(doc, at, k, allowed, inline ? 'an inline command step' : 'a step that uses component:', STEP_HINTS);
  if (inline && (raw.command === undefined || raw.command === null)) doc.fail(at, 'has neither component: nor command:', 'give component: ./<component>.yml (or azureml:<name>:<version>), or define the step inline with command: and environment:');
  const stepYamlName = text(doc, [...at, 'name'], raw.name);
  if (stepYamlName !== undefined && stepYamlName !== stepName) doc.fail([...at, 'name'], `is '${stepYamlName}' but the step key is '${stepName}'`, 'Azure ML names a step by its key; remove name: or make it equal to the key');

  const rawInputs = raw.inputs ?? {};
  const rawOutputs = raw.outputs ?? {};
  if (!isObj(rawInputs)) doc.fail([...at, 'inputs'], 'must be a mapping of input names to values', 'write one "<input>: <value or binding>" per line');
  if (!isObj(rawOutputs)) doc.fail([...at, 'outputs'], 'must be a mapping of output names to bindings or settings', 'write one "<output>: ${{parent.outputs.<name>}}" per line');
  checkIoNames(doc, [...at, 'inputs'], rawInputs);
  checkIoNames(doc, [...at, 'outputs'], rawOutputs);

  let component: ComponentRef;
  let file: LoadedComponent | undefined;
  const build: Partial<StepBuild> = { name: stepName, at, rawOutputs, bindings: [] };
  if (!inline) {
    const c = raw.component;
    if (typeof c !== 'string') {
      doc.fail([...at, 'component'], 'is an inline component definition, which AmlPipelineJob@1 does not read', 'put the component in its own file and write component: ./<file>.yml, or define the step inline with command: and environment:');
    }
    const ref = parseAssetRef(doc, [...at, 'component'], c, 'component');
    if (ref) {
      component = ref;
    } else {
      if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(c)) doc.fail([...at, 'component'], `is '${c}', which is not a component reference`, 'write ./<file>.yml, azureml:<name>:<version>, azureml:<name>@latest or azureml://registries/<registry>/components/<name>/versions/<version>');
      file = loadComponentFile(doc, [...at, 'component'], c, root);
      component = file.ref;
      build.knownOutputs = file.outputs;
      build.fileOutputs = file.outputs;
    }
  } else {
    component = { kind: 'anonymous', spec: {}, environment: environmentRef(doc, [...at, 'environment'], raw.environment, root), origin: { file: doc.file, path: dotted(at) } };
    if (raw.code !== undefined && raw.code !== null) component.code = codeRef(doc, [...at, 'code'], raw.code, root);
  }

  // inputs
  const inputs: Record<string, JsonObject> = {};
  const inlineInputs: NonNullable<StepBuild['inlineInputs']> = [];
  if (file) {
    for (const k of Object.keys(rawInputs)) {
      if (!file.inputs.has(k)) doc.fail([...at, 'inputs', k], `is not an input of the component ${file.label}`, file.inputs.size ? `its inputs are ${[...file.inputs.keys()].join(', ')}` : 'the component declares no inputs; remove it or add it to the component');
    }
    for (const [k, def] of file.inputs) {
      const given = rawInputs[k];
      if ((given === undefined || given === null) && !def.optional && !def.hasDefault) {
        doc.fail([...at, 'inputs'], `does not set '${k}', which the component ${file.label} requires (no default, not optional)`, `add ${k}: <value or binding> under inputs:`);
      }
    }
  }
  for (const [k, v] of Object.entries(rawInputs)) {
    const iat = [...at, 'inputs', k];
    const r = stepInput(io, iat, v, file?.inputs.get(k));
    if (!r) continue;
    inputs[k] = r.rest;
    for (const b of r.bindings) build.bindings!.push({ at: iat, b });
    if (inline) {
      const whole = r.bindings.find((b) => b.kind === 'parentInput' || b.kind === 'jobOutput');
      inlineInputs.push({ name: k, at: iat, def: r.def, ...(whole && !('type' in r.def) ? { binding: whole } : {}) });
    }
  }

  // outputs
  const outputs: Record<string, JsonObject> = {};
  const inlineOutputs: JsonObject = {};
  if (file) {
    for (const k of Object.keys(rawOutputs)) {
      if (!file.outputs.has(k)) doc.fail([...at, 'outputs', k], `is not an output of the component ${file.label}`, file.outputs.size ? `its outputs are ${[...file.outputs.keys()].join(', ')}` : 'the component declares no outputs');
    }
  }
  const known = new Map<string, PortDef>();
  for (const [k, v] of Object.entries(rawOutputs)) {
    const oat = [...at, 'outputs', k];
    const r = stepOutput(io, oat, v, file?.outputs.get(k)?.type, pOut);
    const def: JsonObject = r ? r.def : { type: 'uri_folder' };
    inlineOutputs[k] = def;
    known.set(k, { type: typeof def.type === 'string' ? def.type : 'uri_folder' });
    if (r) outputs[k] = r.rest;
  }
  if (inline) build.knownOutputs = known;

  // step settings
  const extra: JsonObject = {};
  const lim = limits(doc, [...at, 'limits'], raw.limits);
  if (lim) extra.limits = lim;
  const env = stringMap(doc, [...at, 'environment_variables'], raw.environment_variables);
  if (env) extra.environment_variables = env;
  const stepTags = stringMap(doc, [...at, 'tags'], raw.tags);
  if (stepTags && Object.keys(stepTags).length) extra.tags = stepTags;
  const stepProps = stringMap(doc, [...at, 'properties'], raw.properties);
  if (stepProps && Object.keys(stepProps).length) extra.properties = stepProps;
  const comment = text(doc, [...at, 'comment'], raw.comment);
  if (comment !== undefined) extra.comment = comment;
  const res = resources(doc, [...at, 'resources'], raw.resources);
  const dist = distribution(doc, [...at, 'distribution'], raw.distribution, !inline);
  if (!inline) {
    if (res && Object.keys(res).length) extra.resources = res;
    if (dist) extra.distribution = dist;
  }

  if (inline && component.kind === 'anonymous') {
    // The anonymous component the CLI builds from an inline step (CommandJob._to_component):
    // command, code, environment, description, tags, resources, distribution, and inputs/outputs
    // whose types are inferred from the step's values and bindings.
    const command = checkCommand(doc, [...at, 'command'], raw.command, new Set(Object.keys(rawInputs).filter((k) => rawInputs[k] !== null)), new Set(Object.keys(rawOutputs)));
    const spec: JsonObject = { type: 'command', command };
    const desc = text(doc, [...at, 'description'], raw.description);
    if (desc !== undefined) spec.description = desc;
    if (stepTags && Object.keys(stepTags).length) spec.tags = stepTags;
    if (res && Object.keys(res).length) spec.resources = res;
    if (dist) spec.distribution = dist;
    if (Object.keys(inlineOutputs).length) spec.outputs = inlineOutputs;
    spec._source = 'YAML.JOB';
    component.spec = spec;
    build.inlineInputs = inlineInputs;
  }

  const planned: PlannedStep = {
    name: stepName,
    type: 'command',
    component,
    inputs,
    outputs,
    extra,
    origin: { file: doc.file, path: dotted(at) },
  };
  const compute = computeName(doc, [...at, 'compute'], raw.compute);
  if (compute !== undefined) planned.compute = compute;
  const dn = text(doc, [...at, 'display_name'], raw.display_name);
  if (dn !== undefined) planned.displayName = dn;
  build.planned = planned;
  return build as StepBuild;
}

function validateBindings(doc: LoadedYaml, builds: StepBuild[], pIn: Map<string, PipelineInputInfo>): void {
  const byName = new Map(builds.map((b) => [b.name, b]));
  const edges = new Map<string, Set<string>>();
  for (const b of builds) {
    const deps = new Set<string>();
    for (const { at, b: bind } of b.bindings) {
      if (bind.kind === 'parentInput') {
        if (!pIn.has(bind.name)) {
          doc.fail(at, `binds to ${bind.text}, but the pipeline has no input '${bind.name}'`, pIn.size ? `declared inputs: ${[...pIn.keys()].join(', ')}` : 'add it under the top-level inputs:');
        }
      } else if (bind.kind === 'jobOutput') {
        if (bind.job === b.name) doc.fail(at, `binds to ${bind.text}, an output of the same step`, 'a step cannot read its own output; bind to another step or a pipeline input');
        const src = byName.get(bind.job);
        if (!src) doc.fail(at, `binds to ${bind.text}, but there is no step '${bind.job}'`, `steps: ${[...byName.keys()].join(', ')}`);
        if (src.knownOutputs && !src.knownOutputs.has(bind.name)) {
          doc.fail(at, `binds to ${bind.text}, but step '${bind.job}' has no output '${bind.name}'`, src.knownOutputs.size ? `its outputs are ${[...src.knownOutputs.keys()].join(', ')}` : `declare the output on step '${bind.job}'`);
        }
        deps.add(bind.job);
      }
    }
    edges.set(b.name, deps);
  }
  // cycles
  const state = new Map<string, 1 | 2>();
  const visit = (n: string, trail: string[]): void => {
    if (state.get(n) === 2) return;
    if (state.get(n) === 1) {
      const cycle = [...trail.slice(trail.indexOf(n)), n];
      doc.fail(['jobs', n], `is part of a cycle of step bindings (${cycle.join(' -> ')})`, 'a step can only read outputs of steps that do not read its own outputs; break the loop');
    }
    state.set(n, 1);
    for (const m of edges.get(n) ?? []) visit(m, [...trail, n]);
    state.set(n, 2);
  };
  for (const b of builds) visit(b.name, []);
}

/** The type (and mode) a binding source has, as the SDK infers it for an inline component input. */
function sourceType(b: Binding, builds: StepBuild[], pIn: Map<string, PipelineInputInfo>, pOut: Map<string, PipelineOutputInfo>, depth = 0): { type: string; mode?: string } {
  if (b.kind === 'parentInput') {
    const i = pIn.get(b.name);
    return i ? { type: i.type === 'literal' ? 'string' : i.type, ...(i.mode ? { mode: i.mode } : {}) } : { type: 'uri_folder' };
  }
  if (b.kind === 'jobOutput') {
    const src = builds.find((s) => s.name === b.job);
    if (!src) return { type: 'uri_folder' };
    const fromFile = src.fileOutputs?.get(b.name);
    if (fromFile) return { type: fromFile.type };
    const v = src.rawOutputs[b.name];
    if (typeof v === 'string' && depth < 8) {
      const inner = findBindings(v)[0];
      if (inner?.kind === 'parentOutput') return { type: pOut.get(inner.name)?.type ?? 'uri_folder' };
    }
    if (isObj(v) && typeof v.type === 'string') return { type: v.type };
    return { type: 'uri_folder' };
  }
  return { type: 'string' };
}

function finishInlineInputs(b: StepBuild, builds: StepBuild[], pIn: Map<string, PipelineInputInfo>, pOut: Map<string, PipelineOutputInfo>): void {
  if (!b.inlineInputs || b.planned.component.kind !== 'anonymous') return;
  const defs: JsonObject = {};
  for (const i of b.inlineInputs) {
    if (i.binding) {
      const t = sourceType(i.binding, builds, pIn, pOut);
      const def: JsonObject = { type: t.type };
      const mode = typeof i.def.mode === 'string' ? i.def.mode : t.mode;
      if (mode) def.mode = mode;
      defs[i.name] = def;
    } else {
      defs[i.name] = 'type' in i.def ? i.def : { ...i.def, type: 'string' };
    }
  }
  const spec = b.planned.component.spec;
  const ordered: JsonObject = { type: spec.type!, command: spec.command! };
  for (const [k, v] of Object.entries(spec)) if (k !== 'type' && k !== 'command' && k !== 'outputs' && k !== '_source') ordered[k] = v;
  if (Object.keys(defs).length) ordered.inputs = defs;
  if (spec.outputs !== undefined) ordered.outputs = spec.outputs;
  ordered._source = spec._source!;
  b.planned.component.spec = ordered;
}
