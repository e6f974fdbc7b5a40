/**
 * CLI v2 job YAML -> SubmissionPlan, the way `az ml job create --file` reads it, without Python:
 * a pipeline job (its steps in graph.ts and the node modules), a command job or a sweep job.
 * Anything the task cannot carry to Azure faithfully is refused with a UserError naming the
 * file, line and key path and saying what to write instead; nothing is dropped silently, and
 * nothing is uploaded before the whole file has been read.
 */
import * as path from 'node:path';
import { UserError } from '../common/errors';
import { confine, PathRefused, sourcesRootOf, type SourcesRoot } from '../common/files';
import { describeNonPipeline, isObj, loadYamlFile, type LoadedYaml } from '../common/yaml';
import { checkCommand, codeSlot, environmentSlot } from './component';
import { commandLimits, computeValue, datastoreValue, distribution, identity, resources } from './fields';
import { bool, checkKeys, stringMap, text } from '../common/yaml-fields';
import { pipelineSpecBuilder, translateGraph } from './graph';
import { pipelineInputs, pipelineOutputs, type IoContext } from './io';
import { msg } from './messages';
import {
  earlyTermination,
  objective,
  samplingAlgorithm,
  samplingRest,
  searchSpace,
  searchSpaceRest,
  sweepLimits,
  sweepLimitsRest,
} from './node-sweep';
import type { NodeEnv } from './nodes';
import { applyOverrides, type Override } from './overrides';
import type { SubmissionPlan, TemplateObject } from './plan';
import { RefTable, type Ctx } from './refs';

interface TranslateOptions {
  /** The folder the task may read from (the repository checkout). */
  root: string;
  overrides: Override[];
  /** Task inputs; they win over the YAML. */
  experimentName?: string;
  displayName?: string;
  tags?: Record<string, string>;
}

/** What a job file of another type should become. */
const JOB_TYPES_REFUSED = new Map<string, () => string>([
  ['automl', () => msg('FixJobTypeAutoml')],
  ['spark', () => msg('FixJobTypeSpark')],
  ['parallel', () => msg('FixJobTypeParallel')],
  ['import', () => msg('FixJobTypeImport')],
  ['data_transfer', () => msg('FixJobTypeDataTransfer')],
  ['finetuning', () => msg('FixJobTypeFinetuning')],
]);

/** Keys every job type has. */
const JOB_KEYS = [
  '$schema',
  'type',
  'name',
  'display_name',
  'experiment_name',
  'description',
  'tags',
  'properties',
  'inputs',
  'outputs',
  'compute',
  'identity',
];
const TOP_HINTS = new Map<string, () => string>([
  ['component', () => msg('FixTopComponent')],
  ['services', () => msg('FixTopServices')],
  ['default_compute', () => msg('FixTopDefaultCompute')],
  ['default_datastore', () => msg('FixTopDefaultDatastore')],
  ['queue_settings', () => msg('FixStepQueueSettings')],
]);
const SETTINGS_KEYS = ['default_compute', 'default_datastore', 'continue_on_step_failure', 'force_rerun'];

function openJobFile(file: string, root: SourcesRoot): LoadedYaml {
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
  return loadYamlFile(abs, { root: root.root, what: msg('JobYaml') });
}

/** The fields every job body has (Job._to_rest_object plus generate_defaults' display name, set by the submitter). */
function jobHeader(
  doc: LoadedYaml,
  ctx: Ctx,
  opts: TranslateOptions,
  jobType: SubmissionPlan['jobType'],
): { body: TemplateObject; name?: string } {
  const d = doc.data;
  text(doc, ['$schema'], d.$schema);
  const name = text(doc, ['name'], d.name);
  if (name !== undefined && !/^[A-Za-z0-9_-]{1,255}$/.test(name))
    doc.fail(['name'], msg('ProblemInvalidJobName', name), msg('FixJobNameRules'));
  const experimentName = opts.experimentName || text(doc, ['experiment_name'], d.experiment_name);
  if (experimentName !== undefined && !/^[A-Za-z0-9_-][A-Za-z0-9._-]{0,254}$/.test(experimentName))
    doc.fail(['experiment_name'], msg('ProblemInvalidExperimentName', experimentName), msg('FixExperimentNameRules'));
  const body: TemplateObject = { jobType };
  const description = text(doc, ['description'], d.description);
  if (description !== undefined) body.description = description;
  body.properties = stringMap(doc, ['properties'], d.properties) ?? {};
  body.tags = { ...(stringMap(doc, ['tags'], d.tags) ?? {}), ...(opts.tags ?? {}) };
  const compute = computeValue(ctx, doc, ['compute'], d.compute, false);
  if (compute !== undefined) body.computeId = compute;
  const displayName = opts.displayName || text(doc, ['display_name'], d.display_name);
  if (displayName) body.displayName = displayName;
  if (experimentName) body.experimentName = experimentName;
  body.isArchived = false;
  const id = identity(doc, ['identity'], d.identity, true);
  if (id) body.identity = id;
  return { body, ...(name !== undefined ? { name } : {}) };
}

function pipelineJob(doc: LoadedYaml, ctx: Ctx, opts: TranslateOptions): SubmissionPlan {
  const d = doc.data;
  checkKeys(doc, [], d, [...JOB_KEYS, 'settings', 'jobs'], msg('ProblemNotSupportedInPipelineJob'), TOP_HINTS);
  const header = jobHeader(doc, ctx, opts, 'Pipeline');
  const settings: TemplateObject = {};
  if (d.settings !== undefined && d.settings !== null) {
    if (!isObj(d.settings)) doc.fail(['settings'], msg('ProblemMustBeMapping'), msg('FixWriteSettings'));
    checkKeys(doc, ['settings'], d.settings, SETTINGS_KEYS, msg('ProblemNotSupportedInSettings'));
    const dc = computeValue(ctx, doc, ['settings', 'default_compute'], d.settings.default_compute, false);
    if (dc !== undefined) settings.default_compute = dc;
    const ds = datastoreValue(ctx, doc, ['settings', 'default_datastore'], d.settings.default_datastore);
    if (ds !== undefined) settings.default_datastore = ds;
    for (const k of ['continue_on_step_failure', 'force_rerun']) {
      const b = bool(doc, ['settings', k], d.settings[k]);
      if (b !== undefined) settings[k] = b;
    }
  }
  settings._source = 'YAML.JOB';
  const io: IoContext = { doc, ctx };
  const pIn = pipelineInputs(io, d.inputs);
  const pOut = pipelineOutputs(io, d.outputs);
  const env: NodeEnv = { ctx, io, pOut: pOut.info, inComponent: false, pipelineSpec: pipelineSpecBuilder({}) };
  const hasDefault = settings.default_compute !== undefined || header.body.computeId !== undefined;
  const graph = translateGraph(env, d.jobs, pIn.info, !hasDefault);
  const body: TemplateObject = { ...header.body, inputs: pIn.rest, jobs: graph.jobs, outputs: pOut.rest, settings };
  return {
    file: doc.file,
    jobType: 'Pipeline',
    ...(header.name !== undefined ? { name: header.name } : {}),
    body,
    refs: ctx.refs.refs,
    steps: graph.builds.map((b) => ({ name: b.name, type: b.type })),
  };
}

const TRIAL_KEYS = ['command', 'code', 'environment', 'environment_variables', 'distribution', 'resources'];

/**
 * The command part of a command job, or of a sweep job's trial, in the typed REST form:
 * codeId, command, environmentId, environmentVariables, distribution, resources.
 */
function commandPart(
  doc: LoadedYaml,
  ctx: Ctx,
  at: string[],
  d: Record<string, unknown>,
  inputs: Set<string>,
  outputs: Set<string>,
  search?: Set<string>,
): TemplateObject {
  const out: TemplateObject = {};
  if (d.code !== undefined && d.code !== null) out.codeId = codeSlot(ctx, doc, [...at, 'code'], d.code as never, 'id');
  const command = checkCommand(doc, [...at, 'command'], d.command as never, inputs, outputs);
  for (const m of command.matchAll(/\$\{\{\s*search_space\.([A-Za-z0-9_]+)\s*\}\}/g)) {
    if (!search?.has(m[1]!))
      doc.fail(
        [...at, 'command'],
        msg('ProblemCommandUnknownSearchKey', m[1]),
        search?.size ? msg('FixSearchKeys', [...search].join(', ')) : msg('FixSearchSpace'),
      );
  }
  out.command = command;
  out.environmentId = environmentSlot(ctx, doc, [...at, 'environment'], d.environment as never, 'id');
  out.environmentVariables = stringMap(doc, [...at, 'environment_variables'], d.environment_variables as never) ?? {};
  const dist = distribution(doc, [...at, 'distribution'], d.distribution as never, 'camel');
  if (dist) out.distribution = dist;
  const res = resources(doc, [...at, 'resources'], d.resources as never, true);
  if (res) out.resources = res;
  return out;
}

function commandJob(doc: LoadedYaml, ctx: Ctx, opts: TranslateOptions): SubmissionPlan {
  const d = doc.data;
  checkKeys(doc, [], d, [...JOB_KEYS, ...TRIAL_KEYS, 'limits'], msg('ProblemNotSupportedInCommandJob'), TOP_HINTS);
  const header = jobHeader(doc, ctx, opts, 'Command');
  const io: IoContext = { doc, ctx };
  const ins = pipelineInputs(io, d.inputs);
  const outs = pipelineOutputs(io, d.outputs);
  const body: TemplateObject = {
    ...header.body,
    ...commandPart(doc, ctx, [], d, new Set(ins.info.keys()), new Set(outs.info.keys())),
    inputs: ins.rest,
    outputs: outs.rest,
  };
  const lim = commandLimits(doc, ['limits'], d.limits, true);
  if (lim) body.limits = lim;
  return {
    file: doc.file,
    jobType: 'Command',
    ...(header.name !== undefined ? { name: header.name } : {}),
    body,
    refs: ctx.refs.refs,
    steps: [],
  };
}

function sweepJob(doc: LoadedYaml, ctx: Ctx, opts: TranslateOptions): SubmissionPlan {
  const d = doc.data;
  checkKeys(
    doc,
    [],
    d,
    [...JOB_KEYS, 'trial', 'sampling_algorithm', 'search_space', 'objective', 'limits', 'early_termination'],
    msg('ProblemNotSupportedInSweepJob'),
    TOP_HINTS,
  );
  const header = jobHeader(doc, ctx, opts, 'Sweep');
  const io: IoContext = { doc, ctx };
  const ins = pipelineInputs(io, d.inputs);
  const outs = pipelineOutputs(io, d.outputs);
  const space = searchSpace(doc, ['search_space'], d.search_space);
  if (!isObj(d.trial)) doc.fail(['trial'], msg('ProblemSweepJobTrial'), msg('FixSweepJobTrial'));
  checkKeys(doc, ['trial'], d.trial, TRIAL_KEYS, msg('ProblemNotSupportedInTrial'));
  const trial = commandPart(doc, ctx, ['trial'], d.trial, new Set(ins.info.keys()), new Set(outs.info.keys()), new Set(Object.keys(space)));
  const body: TemplateObject = { ...header.body, inputs: ins.rest, outputs: outs.rest, trial, searchSpace: searchSpaceRest(space) };
  body.samplingAlgorithm = samplingRest(samplingAlgorithm(doc, ['sampling_algorithm'], d.sampling_algorithm));
  const o = objective(doc, ['objective'], d.objective);
  body.objective = { goal: o.goal!, primaryMetric: o.primary_metric! };
  body.limits = sweepLimitsRest(sweepLimits(doc, ['limits'], d.limits));
  const et = earlyTermination(doc, ['early_termination'], d.early_termination, true);
  if (et) body.earlyTermination = et;
  return {
    file: doc.file,
    jobType: 'Sweep',
    ...(header.name !== undefined ? { name: header.name } : {}),
    body,
    refs: ctx.refs.refs,
    steps: [],
  };
}

/** Translate a job YAML into a SubmissionPlan. Throws UserError on anything unsupported. */
export function translateJob(file: string, opts: TranslateOptions): SubmissionPlan {
  const root = sourcesRootOf(opts.root);
  const doc = openJobFile(file, root);
  const d = doc.data;
  const type = d.type ?? (isObj(d.jobs) ? undefined : 'command');
  if (type === undefined) doc.fail([], msg('ProblemJobsWithoutPipelineType'), msg('FixAddTypePipeline'));
  // A component file (its $schema says so) is not a job, though it may look like a command job.
  if (/component\.schema\.json$/i.test(typeof d.$schema === 'string' ? d.$schema : ''))
    throw new UserError(msg('NotAJobFile', doc.name, describeNonPipeline(d)), 'jobFile');
  applyOverrides(doc, opts.overrides);
  const ctx: Ctx = { root, refs: new RefTable(), components: new Map(), trail: [doc.file] };
  if (type === 'pipeline') return pipelineJob(doc, ctx, opts);
  if (type === 'command' && d.command !== undefined) return commandJob(doc, ctx, opts);
  if (type === 'sweep') return sweepJob(doc, ctx, opts);
  const refused = typeof type === 'string' ? JOB_TYPES_REFUSED.get(type) : undefined;
  if (refused) doc.fail(['type'], msg('ProblemJobTypeNotRun', String(type)), refused());
  throw new UserError(msg('NotAJobFile', doc.name, describeNonPipeline(d)), 'jobFile');
}

/** The former name: pipeline YAML is one of the job files translateJob reads. */
export const translatePipelineJob = translateJob;
