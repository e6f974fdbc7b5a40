/**
 * The contract between the YAML translator (translate.ts and the node modules: CLI v2 job YAML ->
 * plan) and the submitter (azure.ts: looks up and creates what the plan references, then
 * body.ts fills the plan's templates with the ARM ids it got).
 *
 * A plan is the job's REST body as a template: plain JSON with slots where an ARM id goes once
 * the referenced thing is resolved (a compute, a registered asset) or created (uploaded code or
 * data, an anonymous environment or component). Each slot names an entry of `refs`; a
 * component's spec is itself a template whose slots name earlier refs, so resolving `refs` in
 * order resolves everything. Plain data and no I/O: a bad file fails before any Azure call.
 */
import type { InlineEnvironment, NamedRef, Origin } from '../common/asset-refs';
import type { Json, JsonObject } from '../common/yaml';

export type { Json, JsonObject } from '../common/yaml';

/** How a resolved id is written where the slot is: a bare ARM id, or `azureml:` + id (component specs). */
export type SlotForm = 'id' | 'azureml';

/** A place in a template that receives the resolution of `refs[ref]`. */
export class Slot {
  constructor(
    readonly ref: number,
    readonly form: SlotForm = 'id',
  ) {}
}

export type Template = string | number | boolean | null | Slot | Template[] | { [key: string]: Template };
export type TemplateObject = { [key: string]: Template };

export type AssetKind = 'components' | 'environments' | 'codes' | 'data' | 'models';

/** Something a job references that becomes an ARM id (or a URI) before submission. */
export type Ref =
  /** A compute by name (`azureml:` stripped); 'serverless' is the service's own. */
  | { kind: 'compute'; name: string; origin: Origin }
  | { kind: 'datastore'; name: string; origin: Origin }
  /** A registered asset: `azureml:name:version` or `azureml:name@label`. */
  | { kind: 'asset'; assetType: AssetKind; ref: NamedRef }
  /** A curated environment in the short form (`azureml:AzureML-x@latest`): sent as written, the service expands it. */
  | { kind: 'verbatim'; value: string }
  /** A local code folder or file: uploaded once per content hash, registered as anonymous code. */
  | { kind: 'code'; path: string; origin: Origin }
  /** An inline environment (image, conda file, or a build context folder): registered anonymously by content. */
  | { kind: 'environment'; env: InlineEnvironment }
  /** Local data given as a job input: uploaded under LocalUpload/<hash>/ on a datastore, as the CLI does. */
  | { kind: 'data'; path: string; dataType: string; datastore: string; origin: Origin }
  /** An anonymous component: its spec is a template over earlier refs. */
  | { kind: 'component'; spec: TemplateObject; origin: Origin; label: string };

export interface SubmissionPlan {
  /** Absolute path of the job YAML. */
  file: string;
  jobType: 'Pipeline' | 'Command' | 'Sweep';
  /** Top-level `name:` (the CLI uses it as the job name); usually absent. */
  name?: string;
  /** The REST `properties` of the job, without the lineage tags and the defaults the submitter sets. */
  body: TemplateObject;
  refs: Ref[];
  /** Top-level step names and types, for messages (empty for a command or sweep job). */
  steps: Array<{ name: string; type: string }>;
}

/** True for the plain-JSON part of a template (no slot anywhere). */
export function isPlain(t: Template): t is Json {
  if (t instanceof Slot) return false;
  if (Array.isArray(t)) return t.every(isPlain);
  if (t !== null && typeof t === 'object') return Object.values(t).every(isPlain);
  return true;
}

export type { JsonObject as PlainObject };
