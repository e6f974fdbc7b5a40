/**
 * Plan + resolved ids -> the ARM bodies, as the Azure ML SDK sends them.
 *
 * - fill(): a template with every slot replaced by its ref's resolution (`azureml:` + id where
 *   a component spec wants that form).
 * - An anonymous component is PUT as components/azureml_anonymous/versions/<hash> with the spec
 *   carrying name azureml_anonymous and version "1" (Component._get_rest_name_version and
 *   _to_rest_object); <hash> is the SDK's: UUID(md5(json.dumps(spec without name, version, id and
 *   _source, sort_keys=True))), so `az ml job create` and this task share one component per spec.
 * - The job body gets the lineage tags, and displayName defaults to the job's name
 *   (to_rest_functions.generate_defaults).
 */
import { createHash } from 'node:crypto';
import { pyJsonDumps } from '../common/pyrepr';
import { Slot, type Json, type JsonObject, type Template, type TemplateObject } from './plan';

export { ANONYMOUS_COMPONENT_NAME } from './component';

/** The template with each slot replaced; `values[i]` is the resolution of refs[i]. */
export function fill(t: Template, values: ReadonlyArray<string | undefined>): Json {
  if (t instanceof Slot) {
    const v = values[t.ref];
    if (v === undefined) throw new Error(`fill: reference ${t.ref} is not resolved`);
    return t.form === 'azureml' && !/^azureml:/i.test(v) ? `azureml:${v}` : v;
  }
  if (Array.isArray(t)) return t.map((x) => fill(x, values));
  if (t !== null && typeof t === 'object') {
    const o: JsonObject = {};
    for (const [k, v] of Object.entries(t)) o[k] = fill(v, values);
    return o;
  }
  return t;
}

/** The SDK's anonymous component version of a filled spec (hash_dict in azure/ai/ml/_utils/utils.py). */
export function anonymousComponentHash(spec: JsonObject): string {
  const { name: _n, version: _v, id: _i, _source: _s, ...rest } = spec;
  const hex = createHash('md5').update(pyJsonDumps(rest), 'utf8').digest('hex');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** The PUT body for components/azureml_anonymous/versions/<hash> (ComponentVersion, isAnonymous). */
export function anonymousComponentVersionBody(spec: JsonObject): JsonObject {
  const properties: JsonObject = { properties: {}, tags: {}, isAnonymous: true, isArchived: false, componentSpec: spec };
  if (typeof spec.description === 'string') properties.description = spec.description;
  if (spec.tags && typeof spec.tags === 'object' && !Array.isArray(spec.tags)) properties.tags = spec.tags;
  return { properties };
}

/** The job's REST `properties`, filled, with the lineage tags (they win) and the default display name. */
export function jobBody(
  body: TemplateObject,
  values: ReadonlyArray<string | undefined>,
  jobName: string,
  lineageTags: Record<string, string>,
): JsonObject {
  const out = fill(body, values) as JsonObject;
  out.tags = { ...((out.tags as JsonObject | undefined) ?? {}), ...lineageTags };
  if (out.displayName === undefined) out.displayName = jobName;
  return out;
}
