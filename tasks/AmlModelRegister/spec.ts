/**
 * What AmlModelRegister@1 is asked to do, checked without touching Azure: the model's name,
 * type and tags, where its files come from (a job or step output, or an azureml:// path), and
 * the evaluation gate. Pure: index.ts reads the inputs, this validates them.
 */
import { UserError } from '../common/errors';
import { LINEAGE_KEYS } from '../common/lineage';
import { isModelName } from '../common/names';
import { msg } from './messages';
import { STEP_NAME, type CompareWith, type Condition } from './gate-expr';

export const MODEL_TYPES = ['mlflow_model', 'custom_model', 'triton_model'] as const;
export type ModelType = (typeof MODEL_TYPES)[number];

/** Azure ML job names (also step run ids). */
const JOB_NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,254}$/;
const OUTPUT_NAME = /^[A-Za-z0-9_][A-Za-z0-9_-]*$/;

/** Tag prefixes the task owns: lineage (idempotence depends on it) and recorded metrics. */
export const RESERVED_TAG_PREFIXES = ['ado.', 'metric.'];

export function checkModelName(name: string): string {
  if (!isModelName(name)) {
    throw new UserError(msg('InvalidModelName', name), 'modelName');
  }
  return name;
}

export function checkJobName(name: string): string {
  const input = 'jobName';
  if (!JOB_NAME.test(name)) {
    throw new UserError(msg('InvalidJobName', input, name), input);
  }
  return name;
}

export function checkModelType(type: string | undefined): ModelType {
  const t = (type ?? 'mlflow_model').trim().toLowerCase();
  if (!(MODEL_TYPES as readonly string[]).includes(t))
    throw new UserError(msg('InvalidModelType', type, MODEL_TYPES.join(', ')), 'modelType');
  return t as ModelType;
}

/** Where the model's files are. */
export type ModelSource =
  /** A pipeline-level (or command job) output, or a step's output (`step.output`). */
  | { kind: 'output'; step?: string; output: string }
  /** An explicit azureml:// URI (modelPath). */
  | { kind: 'path'; uri: string }
  /** A version registered in the workspace, shared into a registry (sourceModel). */
  | { kind: 'model'; name: string; version: string };

/** `outputName` or `stepName.outputName`. */
export function parseModelOutput(text: string): ModelSource {
  const t = text.trim();
  const dot = t.indexOf('.');
  const step = dot >= 0 ? t.slice(0, dot) : undefined;
  const output = dot >= 0 ? t.slice(dot + 1) : t;
  if ((step !== undefined && !STEP_NAME.test(step)) || !OUTPUT_NAME.test(output)) {
    throw new UserError(msg('InvalidModelOutput', text), 'modelOutput');
  }
  return step === undefined ? { kind: 'output', output } : { kind: 'output', step, output };
}

const JOB_URI = /^azureml:\/\/jobs\/([^/]+)\/outputs\/([^/]+)(?:\/paths\/(.*))?$/i;
const DATASTORE_URI =
  /^azureml:\/\/(?:subscriptions\/[^/]+\/resource[gG]roups\/[^/]+\/(?:providers\/Microsoft\.MachineLearningServices\/)?workspaces\/[^/]+\/)?datastores\/[^/]+\/paths\/.+$/i;

/** The job an `azureml://jobs/<job>/outputs/...` URI names, if it is one. */
export function jobOfUri(uri: string): string | undefined {
  return JOB_URI.exec(uri)?.[1];
}

/** An azureml:// URI of the model files: a datastore path or a job output. */
export function checkModelPath(uri: string): ModelSource {
  const u = uri.trim();
  // One line: a control character (a newline, say) has no place in a URI and would split log lines.
  if (/[\u0000-\u001f\u007f]/.test(u) || (!JOB_URI.test(u) && !DATASTORE_URI.test(u))) {
    throw new UserError(msg('InvalidModelPath', uri), 'modelPath');
  }
  return { kind: 'path', uri: u };
}

/** User tags may not set what the task owns. */
export function checkUserTags(tags: Record<string, string>): Record<string, string> {
  for (const k of Object.keys(tags)) {
    const p = RESERVED_TAG_PREFIXES.find((x) => k.toLowerCase().startsWith(x));
    if (p) throw new UserError(p === 'ado.' ? msg('ReservedLineageTag', k, p) : msg('ReservedMetricTag', k, p), 'tags');
  }
  return tags;
}

export interface GateSpec {
  conditions: Condition[];
  compare: CompareWith;
  minImprovement: number;
  onGateFail: 'fail' | 'skip';
}

export function checkOnGateFail(v: string | undefined): 'fail' | 'skip' {
  const t = (v ?? 'fail').trim().toLowerCase();
  if (t !== 'fail' && t !== 'skip') throw new UserError(msg('InvalidOnGateFail', v), 'onGateFail');
  return t;
}

/** Lineage keys that identify "this run's registration of this job" (idempotence). */
export const IDENTITY_KEYS = [LINEAGE_KEYS.runId, LINEAGE_KEYS.jobName] as const;
/** Immutable property holding the URI the task registered, so a re-run recognises its own version. */
export const SOURCE_PROPERTY = 'ado.modelSource';

const MODEL_VERSION = /^[A-Za-z0-9][A-Za-z0-9._-]{0,254}$/;

/** `name:version` or `azureml:name:version` of a workspace model version (sourceModel). */
export function parseSourceModel(text: string): ModelSource {
  const t = text.trim().replace(/^azureml:/i, '');
  const i = t.lastIndexOf(':');
  const name = i > 0 ? t.slice(0, i) : '';
  const version = i > 0 ? t.slice(i + 1) : '';
  if (!isModelName(name) || !MODEL_VERSION.test(version)) throw new UserError(msg('InvalidSourceModel', text), 'sourceModel');
  return { kind: 'model', name, version };
}
