/**
 * Checks and REST forms of the values many job and step keys share: text, booleans, string
 * maps, computes, resources, distribution, limits, identity. Each refusal names the file, line
 * and key, and says what to write instead.
 */
import { isoDuration } from '../common/duration';
import { dotted, isObj, type LoadedYaml, type YamlPath } from '../common/yaml';
import { refuseUnknown, text } from '../common/yaml-fields';
import { findBindings } from './io';
import { msg } from './messages';
import type { Json, JsonObject, Template } from './plan';
import type { Ctx } from './refs';

/**
 * A compute: `azureml:name`, a name, an ARM id, or (inside a pipeline) a binding to a pipeline
 * input. Returns the REST value: a slot for a name, the binding text, or the ARM id.
 */
export function computeValue(ctx: Ctx, doc: LoadedYaml, at: YamlPath, v: Json | undefined, allowBinding: boolean): Template | undefined {
  if (v === undefined || v === null) return undefined;
  if (typeof v !== 'string') doc.fail(at, msg('ProblemMustBeComputeNameNot', JSON.stringify(v)), msg('FixWriteAzuremlCompute'));
  let t = v.trim();
  if (t.includes('${{')) {
    const b = findBindings(t);
    if (!allowBinding || b.length !== 1 || b[0]!.kind !== 'parentInput' || b[0]!.text !== t)
      doc.fail(at, msg('ProblemComputeIsBinding', t), msg('FixFixedComputeName'));
    return t;
  }
  if (/^azureml:/i.test(t)) t = t.slice('azureml:'.length);
  if (
    /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/]+\/computes\/[^/]+$/i.test(
      t,
    )
  )
    return t;
  if (!/^[A-Za-z][A-Za-z0-9_-]{1,31}$/.test(t)) doc.fail(at, msg('ProblemNotComputeName', v), msg('FixComputeNameRules'));
  return ctx.refs.compute(t, { file: doc.file, path: dotted(at) });
}

export function datastoreValue(ctx: Ctx, doc: LoadedYaml, at: YamlPath, v: Json | undefined): Template | undefined {
  const s = text(doc, at, v);
  if (s === undefined) return undefined;
  const t = s.replace(/^azureml:/i, '').trim();
  if (/^\/subscriptions\//i.test(t)) return t;
  if (!/^[A-Za-z0-9_]{1,255}$/.test(t)) doc.fail(at, msg('ProblemNotDatastoreName', s), msg('FixWriteAzuremlDatastore'));
  return ctx.refs.slot({ kind: 'datastore', name: t, origin: { file: doc.file, path: dotted(at) } });
}

const RESOURCE_KEYS = ['instance_count', 'instance_type', 'shm_size', 'docker_args', 'properties', 'locations', 'max_instance_count'];

/** `resources:` (JobResourceConfiguration); `camel` for the typed REST model of a command job. */
export function resources(doc: LoadedYaml, at: YamlPath, v: Json | undefined, camel = false): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) doc.fail(at, msg('ProblemMustBeMapping'), msg('FixWriteResources'));
  const out: JsonObject = {};
  for (const [k, x] of Object.entries(v)) {
    if (!RESOURCE_KEYS.includes(k)) refuseUnknown(doc, at, k, RESOURCE_KEYS, msg('ProblemNotSupportedInResources'));
    if (x === null) continue;
    if ((k === 'instance_count' || k === 'max_instance_count') && (typeof x !== 'number' || !Number.isInteger(x) || x < 1))
      doc.fail([...at, k], msg('ProblemNotPositiveWholeNumber', JSON.stringify(x)), msg('FixWriteKeyOne', k));
    if ((k === 'instance_type' || k === 'shm_size' || k === 'docker_args') && typeof x !== 'string')
      doc.fail([...at, k], msg('ProblemMustBeText'), msg('FixQuoteIt'));
    if (k === 'properties' && !isObj(x)) doc.fail([...at, k], msg('ProblemMustBeMapping'), msg('FixOneKeyValuePerLine'));
    if (k === 'locations' && (!Array.isArray(x) || x.some((l) => typeof l !== 'string')))
      doc.fail([...at, k], msg('ProblemMustBeRegionList'), msg('FixWriteLocations'));
    out[camel ? k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) : k] = x;
  }
  if (camel) out.properties ??= {};
  return out;
}

const DISTRIBUTIONS: Record<string, { rest: string; keys: string[] }> = {
  mpi: { rest: 'Mpi', keys: ['process_count_per_instance'] },
  pytorch: { rest: 'PyTorch', keys: ['process_count_per_instance'] },
  tensorflow: { rest: 'TensorFlow', keys: ['worker_count', 'parameter_server_count'] },
};

/**
 * `distribution:` in three forms: 'spec' as a component file keeps it ({type: tensorflow, ...}),
 * 'node' as a pipeline step sends it ({distribution_type: TensorFlow, ...}), 'camel' as a command
 * job's typed model. A TensorFlow distribution gets parameter_server_count: 0 when not given,
 * as the SDK's TensorFlowDistribution does.
 */
export function distribution(doc: LoadedYaml, at: YamlPath, v: Json | undefined, form: 'spec' | 'node' | 'camel'): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) doc.fail(at, msg('ProblemMustBeMappingWithType'), msg('FixWriteDistribution'));
  const type = typeof v.type === 'string' ? v.type.toLowerCase() : undefined;
  const kind = type ? DISTRIBUTIONS[type] : undefined;
  if (!kind)
    doc.fail(
      [...at, 'type'],
      v.type === undefined ? msg('ProblemIsMissing') : msg('ProblemIsValue', String(v.type)),
      msg('FixDistributionTypes'),
    );
  const values: JsonObject = {};
  if (type === 'tensorflow') values.parameter_server_count = 0;
  for (const [k, x] of Object.entries(v)) {
    if (k === 'type') continue;
    if (!kind.keys.includes(k)) refuseUnknown(doc, at, k, ['type', ...kind.keys], msg('ProblemNotSupportedInDistribution', type));
    if (typeof x !== 'number' || !Number.isInteger(x) || x < 0)
      doc.fail([...at, k], msg('ProblemNotWholeNumber', JSON.stringify(x)), msg('FixWriteKeyOne', k));
    values[k] = x;
  }
  if (form === 'spec') return { type: type!, ...values };
  if (form === 'node') return { distribution_type: kind.rest, ...values };
  const camel: JsonObject = { distributionType: kind.rest };
  for (const [k, x] of Object.entries(values)) camel[k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase())] = x;
  return camel;
}

/** `limits:` of a command step or job (CommandJobLimits): the timeout in seconds as an ISO duration. */
export function commandLimits(doc: LoadedYaml, at: YamlPath, v: Json | undefined, camel = false): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) doc.fail(at, msg('ProblemMustBeMapping'), msg('FixWriteLimits'));
  for (const k of Object.keys(v)) if (k !== 'timeout') refuseUnknown(doc, at, k, ['timeout'], msg('ProblemNotSupportedInStepLimits'));
  if (v.timeout === undefined || v.timeout === null) return undefined;
  if (typeof v.timeout !== 'number' || !Number.isInteger(v.timeout) || v.timeout <= 0)
    doc.fail([...at, 'timeout'], msg('ProblemNotNumberOfSeconds', JSON.stringify(v.timeout)), msg('FixWholeSeconds'));
  return camel
    ? { jobLimitsType: 'Command', timeout: isoDuration(v.timeout) }
    : { job_limits_type: 'Command', timeout: isoDuration(v.timeout) };
}

const IDENTITIES: Record<string, { rest: string; keys: string[] }> = {
  user_identity: { rest: 'UserIdentity', keys: [] },
  managed: { rest: 'Managed', keys: ['client_id', 'object_id', 'resource_id'] },
  managed_identity: { rest: 'Managed', keys: ['client_id', 'object_id', 'resource_id'] },
  aml_token: { rest: 'AMLToken', keys: [] },
};

/** `identity:` of a job or step: the identity its code runs as ({identity_type: ...}, or camel for a job's typed model). */
export function identity(doc: LoadedYaml, at: YamlPath, v: Json | undefined, camel: boolean): JsonObject | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObj(v)) doc.fail(at, msg('ProblemMustBeMappingWithType'), msg('FixIdentityTypes'));
  const type = typeof v.type === 'string' ? v.type.toLowerCase() : undefined;
  const kind = type ? IDENTITIES[type] : undefined;
  if (!kind)
    doc.fail(
      [...at, 'type'],
      v.type === undefined ? msg('ProblemIsMissing') : msg('ProblemIsValue', String(v.type)),
      msg('FixIdentityTypes'),
    );
  const out: JsonObject = camel ? { identityType: kind.rest } : { identity_type: kind.rest };
  for (const [k, x] of Object.entries(v)) {
    if (k === 'type') continue;
    if (!kind.keys.includes(k)) refuseUnknown(doc, at, k, ['type', ...kind.keys], msg('ProblemNotSupportedInIdentity', type));
    if (typeof x !== 'string') doc.fail([...at, k], msg('ProblemMustBeText'), msg('FixQuoteIt'));
    out[camel ? k.replace(/_([a-z])/g, (_, c: string) => c.toUpperCase()) : k] = x;
  }
  return out;
}

/** Keys every step may have, whatever its type. */
export const BASE_KEYS = ['type', 'name', 'display_name', 'tags', 'properties', 'comment', 'compute', 'inputs', 'outputs'];

export const STEP_HINTS = new Map<string, () => string>([
  ['services', () => msg('FixStepServices')],
  ['queue_settings', () => msg('FixStepQueueSettings')],
  ['experiment_name', () => msg('FixStepExperimentName')],
]);
