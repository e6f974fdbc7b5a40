/**
 * Hyperparameter sweeps: a `type: sweep` step (its trial a command component) and the parts a
 * standalone sweep job shares with it: search space, sampling algorithm, objective, limits and
 * early termination, in the node's YAML form or the SweepJob's typed REST form.
 */
import { isoDuration } from '../common/duration';
import { isObj, type LoadedYaml, type YamlPath } from '../common/yaml';
import { checkKeys, refuseUnknown, text } from '../common/yaml-fields';
import { msg } from './messages';
import type { JsonObject, Template, TemplateObject } from './plan';
import { BASE_KEYS, STEP_HINTS } from './fields';
import { baseNode, builders, type NodeBuild, type NodeEnv } from './nodes';
import { componentOf } from './component';
import { stepPorts } from './ports';

/** Each distribution's parameters, in the order the REST list form takes them. */
const DISTRIBUTIONS: Record<string, string[]> = {
  choice: ['values'],
  randint: ['upper'],
  uniform: ['min_value', 'max_value'],
  loguniform: ['min_value', 'max_value'],
  quniform: ['min_value', 'max_value', 'q'],
  qloguniform: ['min_value', 'max_value', 'q'],
  normal: ['mu', 'sigma'],
  lognormal: ['mu', 'sigma'],
  qnormal: ['mu', 'sigma', 'q'],
  qlognormal: ['mu', 'sigma', 'q'],
};

/** `search_space:` checked; the YAML form is what a sweep step sends. */
export function searchSpace(doc: LoadedYaml, at: YamlPath, v: unknown): JsonObject {
  if (!isObj(v as never) || Object.keys(v as JsonObject).length === 0) doc.fail(at, msg('ProblemSearchSpace'), msg('FixSearchSpace'));
  const space = v as JsonObject;
  for (const [k, d] of Object.entries(space)) {
    const dat = [...at, k];
    if (!isObj(d) || typeof d.type !== 'string' || !(d.type in DISTRIBUTIONS))
      doc.fail(
        isObj(d) ? [...dat, 'type'] : dat,
        msg('ProblemSearchDistribution'),
        msg('FixUseOneOf', Object.keys(DISTRIBUTIONS).join(', ')),
      );
    const params = DISTRIBUTIONS[d.type]!;
    for (const p of Object.keys(d))
      if (p !== 'type' && !params.includes(p))
        refuseUnknown(doc, dat, p, ['type', ...params], msg('ProblemNotSupportedInDistributionOf', d.type));
    for (const p of params) {
      const x = d[p];
      if (x === undefined || x === null) doc.fail([...dat, p], msg('ProblemIsMissing'), msg('FixSearchParameter', p, d.type));
      if (p === 'values' ? !Array.isArray(x) : typeof x !== 'number')
        doc.fail(
          [...dat, p],
          msg('ProblemIsValue', JSON.stringify(x)),
          p === 'values' ? msg('FixWriteEnumList') : msg('FixNumberWithoutQuotes'),
        );
    }
  }
  return space;
}

/** The SweepJob's typed search space: `[type, [parameters]]` per key (the SDK's SweepDistribution._to_rest_object). */
export function searchSpaceRest(space: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, d] of Object.entries(space)) {
    const o = d as JsonObject;
    const type = String(o.type);
    out[k] = [type, DISTRIBUTIONS[type]!.map((p) => o[p]!)];
  }
  return out;
}

const SAMPLING = ['random', 'grid', 'bayesian'];
const SAMPLING_REST: Record<string, string> = { random: 'Random', grid: 'Grid', bayesian: 'Bayesian' };

export function samplingAlgorithm(doc: LoadedYaml, at: YamlPath, v: unknown): string | JsonObject {
  if (typeof v === 'string' && SAMPLING.includes(v.toLowerCase())) return v;
  if (isObj(v as never)) {
    const o = v as JsonObject;
    checkKeys(doc, at, o, ['type', 'seed', 'rule', 'logbase'], msg('ProblemNotSupportedInSampling'));
    if (typeof o.type === 'string' && SAMPLING.includes(o.type.toLowerCase())) return o;
  }
  return doc.fail(at, msg('ProblemIsValue', JSON.stringify(v)), msg('FixUseOneOf', SAMPLING.join(', ')));
}

export function samplingRest(s: string | JsonObject): JsonObject {
  if (typeof s === 'string') return { samplingAlgorithmType: SAMPLING_REST[s.toLowerCase()]! };
  const out: JsonObject = { samplingAlgorithmType: SAMPLING_REST[String(s.type).toLowerCase()]! };
  for (const [k, v] of Object.entries(s)) if (k !== 'type') out[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = v;
  return out;
}

export function objective(doc: LoadedYaml, at: YamlPath, v: unknown): JsonObject {
  if (!isObj(v as never)) doc.fail(at, msg('ProblemIsMissing'), msg('FixObjective'));
  const o = v as JsonObject;
  checkKeys(doc, at, o, ['goal', 'primary_metric'], msg('ProblemNotSupportedInObjective'));
  if (o.goal !== 'minimize' && o.goal !== 'maximize')
    doc.fail([...at, 'goal'], msg('ProblemIsValue', JSON.stringify(o.goal)), msg('FixUseOneOf', 'minimize, maximize'));
  if (typeof o.primary_metric !== 'string' || !o.primary_metric)
    doc.fail([...at, 'primary_metric'], msg('ProblemIsMissing'), msg('FixObjective'));
  return o;
}

const LIMIT_KEYS = ['max_total_trials', 'max_concurrent_trials', 'timeout', 'trial_timeout'];

export function sweepLimits(doc: LoadedYaml, at: YamlPath, v: unknown): JsonObject {
  if (!isObj(v as never)) doc.fail(at, msg('ProblemIsMissing'), msg('FixSweepLimits'));
  const o = v as JsonObject;
  checkKeys(doc, at, o, LIMIT_KEYS, msg('ProblemNotSupportedInSweepLimits'));
  for (const [k, x] of Object.entries(o))
    if (x !== null && (typeof x !== 'number' || !Number.isInteger(x) || x < 1))
      doc.fail([...at, k], msg('ProblemNotPositiveWholeNumber', JSON.stringify(x)), msg('FixWriteKeyOne', k));
  return o;
}

export function sweepLimitsRest(o: JsonObject): JsonObject {
  const out: JsonObject = { jobLimitsType: 'Sweep' };
  if (typeof o.timeout === 'number') out.timeout = isoDuration(o.timeout);
  if (typeof o.trial_timeout === 'number') out.trialTimeout = isoDuration(o.trial_timeout);
  if (o.max_concurrent_trials !== undefined) out.maxConcurrentTrials = o.max_concurrent_trials!;
  if (o.max_total_trials !== undefined) out.maxTotalTrials = o.max_total_trials!;
  return out;
}

const POLICIES: Record<string, { rest: string; keys: string[] }> = {
  bandit: { rest: 'Bandit', keys: ['evaluation_interval', 'delay_evaluation', 'slack_factor', 'slack_amount'] },
  median_stopping: { rest: 'MedianStopping', keys: ['evaluation_interval', 'delay_evaluation'] },
  truncation_selection: { rest: 'TruncationSelection', keys: ['evaluation_interval', 'delay_evaluation', 'truncation_percentage'] },
};

/** `early_termination:` as the EarlyTerminationPolicy REST model: snake keys for a step, camel for a job. */
export function earlyTermination(doc: LoadedYaml, at: YamlPath, v: unknown, camel: boolean): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v as never)) doc.fail(at, msg('ProblemMustBeMappingWithType'), msg('FixEarlyTermination'));
  const o = v as JsonObject;
  const kind = typeof o.type === 'string' ? POLICIES[o.type] : undefined;
  if (!kind) doc.fail([...at, 'type'], msg('ProblemIsValue', JSON.stringify(o.type)), msg('FixUseOneOf', Object.keys(POLICIES).join(', ')));
  const out: JsonObject = camel ? { policyType: kind.rest } : { policy_type: kind.rest };
  // The REST model's defaults, which as_dict() writes out.
  const values: JsonObject = { evaluation_interval: 0, delay_evaluation: 0 };
  for (const [k, x] of Object.entries(o)) {
    if (k === 'type') continue;
    if (!kind.keys.includes(k))
      refuseUnknown(doc, at, k, ['type', ...kind.keys], msg('ProblemNotSupportedInEarlyTermination', String(o.type)));
    if (typeof x !== 'number') doc.fail([...at, k], msg('ProblemMustBeNumber'), msg('FixNumberWithoutQuotes'));
    values[k] = x;
  }
  for (const [k, x] of Object.entries(values)) out[camel ? k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) : k] = x;
  return out;
}

const SWEEP_STEP_KEYS = [
  ...BASE_KEYS,
  'trial',
  'sampling_algorithm',
  'search_space',
  'objective',
  'limits',
  'early_termination',
  'identity',
];

/** A sweep step: its trial is a command component; the search space sets some of the trial's inputs. */
export function sweepNode(env: NodeEnv, name: string, at: YamlPath, r: JsonObject): NodeBuild {
  const doc: LoadedYaml = env.io.doc;
  checkKeys(doc, at, r, SWEEP_STEP_KEYS, msg('ProblemNotSupportedInSweepStep'), STEP_HINTS);
  if (r.trial === undefined || r.trial === null) doc.fail(at, msg('ProblemSweepWithoutTrial'), msg('FixSweepTrial'));
  const trial = componentOf(env.ctx, doc, [...at, 'trial'], r.trial!, builders(env));
  if (trial.type !== undefined && trial.type !== 'command')
    doc.fail([...at, 'trial'], msg('ProblemTrialNotCommand', trial.type), msg('FixSweepTrial'));
  const space = searchSpace(doc, [...at, 'search_space'], r.search_space);
  // The search space provides those inputs: a step need not (and may not) set them.
  const declared = trial.inputs ? new Map([...trial.inputs].map(([k, d]) => [k, k in space ? { ...d, hasDefault: true } : d])) : undefined;
  for (const k of Object.keys(space))
    if (trial.inputs && !trial.inputs.has(k))
      doc.fail(
        [...at, 'search_space', k],
        msg('ProblemSearchKeyNotInput', trial.label),
        msg('FixItsInputsAre', [...trial.inputs.keys()].join(', ')),
      );
  const ports = stepPorts(env.io, at, r, { ...trial, ...(declared ? { inputs: declared } : {}) }, env.pOut);
  const body: TemplateObject = {};
  body.limits = sweepLimits(doc, [...at, 'limits'], r.limits);
  body.sampling_algorithm = samplingAlgorithm(doc, [...at, 'sampling_algorithm'], r.sampling_algorithm);
  body.objective = objective(doc, [...at, 'objective'], r.objective);
  body.search_space = space;
  const et = earlyTermination(doc, [...at, 'early_termination'], r.early_termination, false);
  if (et) body.early_termination = et;
  const base = baseNode(env, name, at, r, 'sweep', ports, trial.source, undefined);
  const trialRef: Template = { componentId: trial.id };
  return { name, at, type: 'sweep', body: { ...body, ...base.body, trial: trialRef }, ports, hasCompute: base.hasCompute };
}

export { text };
