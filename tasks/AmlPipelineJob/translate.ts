/**
 * CLI v2 pipeline-job YAML -> SubmissionPlan, the way `az ml job create --file` reads it,
 * without Python. Anything the task cannot carry to Azure faithfully is refused with a UserError
 * naming the file, line and key path; nothing is dropped silently.
 */
import * as path from 'node:path';
import { UserError } from '../common/errors';
import { codeRef, environmentRef, parseAssetRef } from '../common/asset-refs';
import { confine, PathRefused, sourcesRootOf, type SourcesRoot } from '../common/files';
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
  type PipelinePortInfo,
  type PortDef,
} from './io';
import { msg } from './messages';
import { applyOverrides, type Override } from './overrides';
import type { ComponentRef, Json, JsonObject, PlannedStep, SubmissionPlan } from './plan';
import { describeNonPipeline, dotted, isObj, loadYamlFile, type LoadedYaml, type YamlPath } from '../common/yaml';

interface TranslateOptions {
  /** The folder the task may read from (the repository checkout). */
  root: string;
  overrides: Override[];
  /** Task inputs; they win over the YAML. */
  experimentName?: string;
  displayName?: string;
  tags?: Record<string, string>;
}

const TOP_KEYS = ['$schema', 'type', 'name', 'display_name', 'experiment_name', 'description', 'tags', 'properties', 'settings', 'inputs', 'outputs', 'jobs', 'compute'];
const TOP_HINTS = new Map<string, () => string>([
  ['component', () => msg('FixTopComponent')],
  ['identity', () => msg('FixTopIdentity')],
  ['services', () => msg('FixTopServices')],
  ['default_compute', () => msg('FixTopDefaultCompute')],
  ['default_datastore', () => msg('FixTopDefaultDatastore')],
]);
const SETTINGS_KEYS = ['default_compute', 'default_datastore', 'continue_on_step_failure', 'force_rerun'];
/** Why AmlPipelineJob@1 refuses a step type other than command, by type. */
const STEP_TYPES_REFUSED = new Map<string, () => string>([
  ['sweep', () => msg('FixStepTypeSweep')],
  ['parallel', () => msg('FixStepTypeParallel')],
  ['pipeline', () => msg('FixStepTypePipeline')],
  ['spark', () => msg('FixStepTypeSpark')],
  ['automl', () => msg('FixStepTypeAutoml')],
  ['data_transfer', () => msg('FixStepTypeDataTransfer')],
  ['import', () => msg('FixStepTypeImport')],
  ['if_else', () => msg('FixStepTypeIfElse')],
  ['do_while', () => msg('FixStepTypeDoWhile')],
  ['parallel_for', () => msg('FixStepTypeParallelFor')],
  ['flow_parallel', () => msg('FixStepTypeFlowParallel')],
]);
/** Keys of a step that uses `component:`. */
const COMPONENT_STEP_KEYS = ['type', 'component', 'compute', 'inputs', 'outputs', 'name', 'display_name', 'tags', 'properties', 'comment', 'limits', 'resources', 'distribution', 'environment_variables'];
/** Keys of an inline command step (the step itself defines the command). */
const INLINE_STEP_KEYS = ['type', 'command', 'code', 'environment', 'compute', 'inputs', 'outputs', 'name', 'display_name', 'description', 'tags', 'properties', 'comment', 'limits', 'resources', 'distribution', 'environment_variables'];
const STEP_HINTS = new Map<string, () => string>([
  ['services', () => msg('FixStepServices')],
  ['identity', () => msg('FixStepIdentity')],
  ['queue_settings', () => msg('FixStepQueueSettings')],
  ['experiment_name', () => msg('FixStepExperimentName')],
  ['description', () => msg('FixStepDescription')],
  ['code', () => msg('FixStepCode')],
  ['command', () => msg('FixStepCommand')],
  ['environment', () => msg('FixStepEnvironment')],
  ['is_deterministic', () => msg('FixStepIsDeterministic')],
]);


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

/** `problem` says where the key is not supported, e.g. "is not supported by AmlPipelineJob@1 in settings". */
function refuseUnknown(doc: LoadedYaml, at: YamlPath, key: string, known: readonly string[], problem: string, hints: ReadonlyMap<string, () => string> = new Map()): never {
  const hint = hints.get(key);
  if (hint) doc.fail([...at, key], problem, hint());
  const guess = didYouMean(key, known);
  doc.fail([...at, key], problem, guess ? msg('FixDidYouMean', guess, known.join(', ')) : msg('FixRemoveItSupported', known.join(', ')));
}

function text(doc: LoadedYaml, at: YamlPath, v: Json | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') doc.fail(at, msg('ProblemMustBeTextNot', JSON.stringify(v)), msg('FixQuoteItAs', String(at[at.length - 1]), String(v)));
  return v;
}

function stringMap(doc: LoadedYaml, at: YamlPath, v: Json | undefined): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) doc.fail(at, msg('ProblemMustBeMappingOfText'), msg('FixOneNameValuePerLine'));
  const out: Record<string, string> = {};
  for (const [k, x] of Object.entries(v)) {
    if (typeof x !== 'string') doc.fail([...at, k], msg('ProblemMustBeTextNot', JSON.stringify(x)), msg('FixQuoteItAs', k, typeof x === 'object' ? '...' : String(x)));
    out[k] = x;
  }
  return out;
}

function bool(doc: LoadedYaml, at: YamlPath, v: Json | undefined): boolean | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'boolean') doc.fail(at, msg('ProblemMustBeTrueOrFalseNot', JSON.stringify(v)), msg('FixTrueOrFalseWithoutQuotes'));
  return v;
}

/** A compute name (from `azureml:name`, `name` or an ARM id), or a refusal. */
function computeName(doc: LoadedYaml, at: YamlPath, v: Json | undefined): string | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') doc.fail(at, msg('ProblemMustBeComputeNameNot', JSON.stringify(v)), msg('FixWriteAzuremlCompute'));
  let t = v.trim();
  if (t.includes('${{')) doc.fail(at, msg('ProblemComputeIsBinding', t), msg('FixFixedComputeName'));
  if (/^azureml:/i.test(t)) t = t.slice('azureml:'.length);
  if (/^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/]+\/computes\/[^/]+$/i.test(t)) return t;
  if (!/^[A-Za-z][A-Za-z0-9_-]{1,31}$/.test(t)) {
    doc.fail(at, msg('ProblemNotComputeName', v), msg('FixComputeNameRules'));
  }
  return t;
}

function datastoreName(doc: LoadedYaml, at: YamlPath, v: Json | undefined): string | undefined {
  const s = text(doc, at, v);
  if (s === undefined) return undefined;
  const t = s.replace(/^azureml:/i, '').trim();
  if (!/^[A-Za-z0-9_]{1,255}$/.test(t) && !/^\/subscriptions\//i.test(t)) doc.fail(at, msg('ProblemNotDatastoreName', s), msg('FixWriteAzuremlDatastore'));
  return t;
}

/** `limits:` of a step, as the SDK sends CommandJobLimits to a pipeline node. */
function limits(doc: LoadedYaml, at: YamlPath, v: Json | undefined): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) doc.fail(at, msg('ProblemMustBeMapping'), msg('FixWriteLimits'));
  for (const k of Object.keys(v)) if (k !== 'timeout') refuseUnknown(doc, at, k, ['timeout'], msg('ProblemNotSupportedInStepLimits'));
  if (v.timeout === undefined || v.timeout === null) return undefined;
  if (typeof v.timeout !== 'number' || !Number.isInteger(v.timeout) || v.timeout <= 0) {
    doc.fail([...at, 'timeout'], msg('ProblemNotNumberOfSeconds', JSON.stringify(v.timeout)), msg('FixWholeSeconds'));
  }
  return { job_limits_type: 'Command', timeout: isoDuration(v.timeout) };
}

const RESOURCE_KEYS = ['instance_count', 'instance_type', 'shm_size', 'docker_args', 'properties', 'locations', 'max_instance_count'];

/** `resources:` of a step (JobResourceConfiguration; REST keys are the same snake_case names). */
function resources(doc: LoadedYaml, at: YamlPath, v: Json | undefined): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) doc.fail(at, msg('ProblemMustBeMapping'), msg('FixWriteResources'));
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) {
    if (!RESOURCE_KEYS.includes(k)) refuseUnknown(doc, at, k, RESOURCE_KEYS, msg('ProblemNotSupportedInResources'));
    if (x === null) continue;
    if ((k === 'instance_count' || k === 'max_instance_count') && (typeof x !== 'number' || !Number.isInteger(x) || x < 1)) doc.fail([...at, k], msg('ProblemNotPositiveWholeNumber', JSON.stringify(x)), msg('FixWriteKeyOne', k));
    if ((k === 'instance_type' || k === 'shm_size' || k === 'docker_args') && typeof x !== 'string') doc.fail([...at, k], msg('ProblemMustBeText'), msg('FixQuoteIt'));
    if (k === 'properties' && !isObj(x)) doc.fail([...at, k], msg('ProblemMustBeMapping'), msg('FixOneKeyValuePerLine'));
    if (k === 'locations' && (!Array.isArray(x) || x.some((l) => typeof l !== 'string'))) doc.fail([...at, k], msg('ProblemMustBeRegionList'), msg('FixWriteLocations'));
    out[k] = x;
  }
  return out;
}

/** `distribution:` of a step, REST form (the SDK sends the REST model's attributes, snake_case). */
function distribution(doc: LoadedYaml, at: YamlPath, v: Json | undefined, restForm: boolean): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) doc.fail(at, msg('ProblemMustBeMappingWithType'), msg('FixWriteDistribution'));
  const type = typeof v.type === 'string' ? v.type.toLowerCase() : undefined;
  const kinds: Record<string, { rest: string; keys: string[] }> = {
    mpi: { rest: 'Mpi', keys: ['process_count_per_instance'] },
    pytorch: { rest: 'PyTorch', keys: ['process_count_per_instance'] },
    tensorflow: { rest: 'TensorFlow', keys: ['worker_count', 'parameter_server_count'] },
  };
  const kind = type ? kinds[type] : undefined;
  if (!kind) doc.fail([...at, 'type'], v.type === undefined ? msg('ProblemIsMissing') : msg('ProblemIsValue', String(v.type)), msg('FixDistributionTypes'));
  const out: JsonObject = restForm ? { distribution_type: kind.rest } : { type: type! };
  for (const [k, x] of Object.entries(v)) {
    if (k === 'type') continue;
    if (!kind.keys.includes(k)) refuseUnknown(doc, at, k, ['type', ...kind.keys], msg('ProblemNotSupportedInDistribution', type));
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0) doc.fail([...at, k], msg('ProblemNotWholeNumber', JSON.stringify(x)), msg('FixWriteKeyOne', k));
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
  /** The type a downstream inline step infers from each output, by output name (see outputType). */
  outputTypes: Map<string, string>;
  bindings: Array<{ at: YamlPath; b: Binding }>;
  /** Inline steps: input definitions still to infer from bindings. */
  inlineInputs?: Array<{ name: string; at: YamlPath; def: JsonObject; binding?: Binding }>;
}

/** Translate a pipeline-job YAML into a SubmissionPlan. Throws UserError on anything unsupported. */
export function translatePipelineJob(file: string, opts: TranslateOptions): SubmissionPlan {
  const root: SourcesRoot = sourcesRootOf(opts.root);
  let abs: string;
  try {
    abs = confine(root, root.root, file).abs;
  } catch (e) {
    if (!(e instanceof PathRefused)) throw e;
    const rel = path.relative(root.root, e.abs).split(path.sep).join('/');
    if (e.kind === 'outside') throw new UserError(msg('JobFileOutsideRepository', file, root.root), 'jobFile');
    if (e.kind === 'linksOutside') throw new UserError(msg('JobFileLinksOutside', rel, e.real), 'jobFile');
    throw new UserError(msg('JobFileNotFound', rel, root.root), 'jobFile');
  }
  const doc: LoadedYaml = loadYamlFile(abs, { root: root.root, what: msg('JobYaml') });
  const d = doc.data;

  if (d.type !== 'pipeline') {
    const what = describeNonPipeline(d);
    if (d.type === undefined && isObj(d.jobs)) doc.fail([], msg('ProblemJobsWithoutPipelineType'), msg('FixAddTypePipeline'));
    throw new UserError(msg('NotAPipelineJob', doc.name, what), 'jobFile');
  }

  applyOverrides(doc, opts.overrides);

  for (const k of Object.keys(d)) if (!TOP_KEYS.includes(k)) refuseUnknown(doc, [], k, TOP_KEYS, msg('ProblemNotSupportedInPipelineJob'), TOP_HINTS);
  text(doc, ['$schema'], d.$schema);
  const name = text(doc, ['name'], d.name);
  if (name !== undefined && !/^[A-Za-z0-9_-]{1,255}$/.test(name)) doc.fail(['name'], msg('ProblemInvalidJobName', name), msg('FixJobNameRules'));
  const displayName = text(doc, ['display_name'], d.display_name);
  const experimentName = text(doc, ['experiment_name'], d.experiment_name);
  if (experimentName !== undefined && !/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/.test(experimentName)) doc.fail(['experiment_name'], msg('ProblemInvalidExperimentName', experimentName), msg('FixExperimentNameRules'));
  const description = text(doc, ['description'], d.description);
  const tags = stringMap(doc, ['tags'], d.tags) ?? {};
  const properties = stringMap(doc, ['properties'], d.properties);
  const pipelineCompute = computeName(doc, ['compute'], d.compute);

  // settings
  const settings: JsonObject = {};
  if (d.settings !== undefined && d.settings !== null) {
    if (!isObj(d.settings)) doc.fail(['settings'], msg('ProblemMustBeMapping'), msg('FixWriteSettings'));
    for (const k of Object.keys(d.settings)) if (!SETTINGS_KEYS.includes(k)) refuseUnknown(doc, ['settings'], k, SETTINGS_KEYS, msg('ProblemNotSupportedInSettings'));
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
  if (d.jobs === undefined || d.jobs === null) doc.fail(['jobs'], msg('ProblemIsMissing'), msg('FixJobsNeedsStep'));
  if (!isObj(d.jobs)) doc.fail(['jobs'], msg('ProblemJobsNotMapping'), msg('FixJobsMapping'));
  const stepNames = Object.keys(d.jobs);
  if (stepNames.length === 0) doc.fail(['jobs'], msg('ProblemNoSteps'), msg('FixAddStep'));
  const builds: StepBuild[] = [];
  const components = new Map<string, LoadedComponent>();
  for (const stepName of stepNames) builds.push(translateStep(doc, io, root, components, stepName, d.jobs[stepName]!, pOut.info));

  validateBindings(doc, builds, pIn.info);
  for (const b of builds) finishInlineInputs(b, builds, pIn.info);
  for (const b of builds) if (!b.planned.compute && !settings.default_compute && !pipelineCompute) {
    doc.fail(['jobs', b.name], msg('ProblemStepNoCompute'), msg('FixAddStepCompute'));
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

/** `components`: the local component files loaded so far, by resolved path (see loadComponentFile). */
function translateStep(doc: LoadedYaml, io: IoContext, root: SourcesRoot, components: Map<string, LoadedComponent>, stepName: string, raw: Json, pOut: Map<string, PipelinePortInfo>): StepBuild {
  const at: YamlPath = ['jobs', stepName];
  if (!/^[A-Za-z_][A-Za-z0-9_]*$/.test(stepName)) doc.fail(at, msg('ProblemInvalidStepName'), msg('FixNameCharacters'));
  if (!isObj(raw)) doc.fail(at, raw === null ? msg('ProblemEmptyNotStep') : msg('ProblemValueNotStep', JSON.stringify(raw)), msg('FixStepMapping'));
  const type = raw.type ?? 'command';
  if (type !== 'command') {
    const refused = typeof type === 'string' ? STEP_TYPES_REFUSED.get(type) : undefined;
    doc.fail([...at, 'type'], msg('ProblemIsValue', String(type)), refused ? refused() : msg('FixStepTypeOther', String(type)));
  }
  const inline = raw.component === undefined || raw.component === null;
  const allowed = inline ? INLINE_STEP_KEYS : COMPONENT_STEP_KEYS;
  const unsupported = inline ? msg('ProblemNotSupportedInInlineStep') : msg('ProblemNotSupportedInComponentStep');
  for (const k of Object.keys(raw)) if (!allowed.includes(k)) refuseUnknown(doc, at, k, allowed, unsupported, STEP_HINTS);
  if (inline && (raw.command === undefined || raw.command === null)) doc.fail(at, msg('ProblemNoComponentOrCommand'), msg('FixGiveComponentOrCommand'));
  const stepYamlName = text(doc, [...at, 'name'], raw.name);
  if (stepYamlName !== undefined && stepYamlName !== stepName) doc.fail([...at, 'name'], msg('ProblemStepNameDiffers', stepYamlName, stepName), msg('FixStepNameEqualsKey'));

  const rawInputs = raw.inputs ?? {};
  const rawOutputs = raw.outputs ?? {};
  if (!isObj(rawInputs)) doc.fail([...at, 'inputs'], msg('ProblemInputsNotMapping'), msg('FixStepInputsMapping'));
  if (!isObj(rawOutputs)) doc.fail([...at, 'outputs'], msg('ProblemStepOutputsNotMapping'), msg('FixStepOutputsMapping'));
  checkIoNames(doc, [...at, 'inputs'], rawInputs);
  checkIoNames(doc, [...at, 'outputs'], rawOutputs);

  let component: ComponentRef;
  let file: LoadedComponent | undefined;
  const build: Partial<StepBuild> = { name: stepName, at, bindings: [] };
  if (!inline) {
    const c = raw.component;
    if (typeof c !== 'string') {
      doc.fail([...at, 'component'], msg('ProblemInlineComponent'), msg('FixComponentInOwnFile'));
    }
    const ref = parseAssetRef(doc, [...at, 'component'], c, 'component');
    if (ref) {
      component = ref;
    } else {
      if (/^[A-Za-z][A-Za-z0-9+.-]*:\/\//.test(c)) doc.fail([...at, 'component'], msg('ProblemNotComponentReference', c), msg('FixComponentReferenceForms'));
      file = loadComponentFile(doc, [...at, 'component'], c, root, components);
      component = file.ref;
      build.knownOutputs = file.outputs;
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
      if (!file.inputs.has(k)) {
        doc.fail([...at, 'inputs', k], msg('ProblemNotComponentInput', file.label), file.inputs.size ? msg('FixItsInputsAre', [...file.inputs.keys()].join(', ')) : msg('FixComponentDeclaresNoInputs'));
      }
    }
    for (const [k, def] of file.inputs) {
      const given = rawInputs[k];
      if ((given === undefined || given === null) && !def.optional && !def.hasDefault) {
        doc.fail([...at, 'inputs'], msg('ProblemRequiredInputNotSet', k, file.label), msg('FixAddRequiredInput', k));
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
      if (!file.outputs.has(k)) {
        doc.fail([...at, 'outputs', k], msg('ProblemNotComponentOutput', file.label), file.outputs.size ? msg('FixItsOutputsAre', [...file.outputs.keys()].join(', ')) : msg('FixComponentDeclaresNoOutputs'));
      }
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
  // A local file's declarations, else what the step writes (a file step writes only declared outputs).
  const outputTypes = new Map<string, string>();
  if (file) for (const [k, d] of file.outputs) outputTypes.set(k, d.type);
  else for (const [k, v] of Object.entries(rawOutputs)) outputTypes.set(k, outputType(v, pOut));
  build.outputTypes = outputTypes;

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

function validateBindings(doc: LoadedYaml, builds: StepBuild[], pIn: Map<string, PipelinePortInfo>): void {
  const byName = new Map(builds.map((b) => [b.name, b]));
  const edges = new Map<string, Set<string>>();
  for (const b of builds) {
    const deps = new Set<string>();
    for (const { at, b: bind } of b.bindings) {
      if (bind.kind === 'parentInput') {
        if (!pIn.has(bind.name)) {
          doc.fail(at, msg('ProblemNoSuchPipelineInput', bind.text, bind.name), pIn.size ? msg('FixDeclaredInputs', [...pIn.keys()].join(', ')) : msg('FixAddTopLevelInput'));
        }
      } else if (bind.kind === 'jobOutput') {
        if (bind.job === b.name) doc.fail(at, msg('ProblemBindsToOwnOutput', bind.text), msg('FixCannotReadOwnOutput'));
        const src = byName.get(bind.job);
        if (!src) doc.fail(at, msg('ProblemNoSuchStep', bind.text, bind.job), msg('FixStepsAre', [...byName.keys()].join(', ')));
        if (src.knownOutputs && !src.knownOutputs.has(bind.name)) {
          const fix = src.knownOutputs.size ? msg('FixItsOutputsAre', [...src.knownOutputs.keys()].join(', ')) : msg('FixDeclareOutputOnStep', bind.job);
          doc.fail(at, msg('ProblemNoSuchStepOutput', bind.text, bind.job, bind.name), fix);
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
      doc.fail(['jobs', n], msg('ProblemBindingCycle', cycle.join(' -> ')), msg('FixBreakCycle'));
    }
    state.set(n, 1);
    for (const m of edges.get(n) ?? []) visit(m, [...trail, n]);
    state.set(n, 2);
  };
  for (const b of builds) visit(b.name, []);
}

/** The type of a step output as written in the step (not declared by a component file), for a downstream inline step. */
function outputType(v: Json, pOut: Map<string, PipelinePortInfo>): string {
  if (typeof v === 'string') {
    const inner = findBindings(v)[0];
    if (inner?.kind === 'parentOutput') return pOut.get(inner.name)?.type ?? 'uri_folder';
  }
  if (isObj(v) && typeof v.type === 'string') return v.type;
  return 'uri_folder';
}

/** The type (and mode) a binding source has, as the SDK infers it for an inline component input. */
function sourceType(b: Binding, builds: StepBuild[], pIn: Map<string, PipelinePortInfo>): { type: string; mode?: string } {
  if (b.kind === 'parentInput') {
    const i = pIn.get(b.name);
    return i ? { type: i.type, ...(i.mode ? { mode: i.mode } : {}) } : { type: 'uri_folder' };
  }
  if (b.kind === 'jobOutput') {
    const src = builds.find((s) => s.name === b.job);
    return { type: src?.outputTypes.get(b.name) ?? 'uri_folder' };
  }
  return { type: 'string' };
}

function finishInlineInputs(b: StepBuild, builds: StepBuild[], pIn: Map<string, PipelinePortInfo>): void {
  if (!b.inlineInputs || b.planned.component.kind !== 'anonymous') return;
  const defs: JsonObject = {};
  for (const i of b.inlineInputs) {
    if (i.binding) {
      const t = sourceType(i.binding, builds, pIn);
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
