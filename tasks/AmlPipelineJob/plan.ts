/**
 * The contract between the YAML translator (translate.ts: CLI v2 pipeline-job YAML -> plan) and
 * the submitter (azure.ts: uploads code, registers anonymous assets, resolves names to ARM ids,
 * then body.ts turns plan + resolved ids into the ARM PipelineJob body).
 * Everything here is plain data: no I/O, no Azure calls.
 */

import type { CodeRef, EnvironmentRef, IdRef, NamedRef, Origin } from '../common/asset-refs';
import type { JsonObject } from '../common/yaml';

export type { Json, JsonObject } from '../common/yaml';
export type { CodeRef, EnvironmentRef, NamedRef } from '../common/asset-refs';

/**
 * A component defined inline in a step, or in a local `component: ./file.yml`. The spec is the
 * component YAML as the REST `componentSpec` (the CLI sends the YAML's fields, snake_case kept),
 * minus `code` and `environment`, which are set to ARM ids once resolved.
 */
export interface AnonymousComponent {
  kind: 'anonymous';
  spec: JsonObject;
  code?: CodeRef;
  environment: EnvironmentRef;
  origin: Origin;
}

export type ComponentRef = NamedRef | IdRef | AnonymousComponent;

/** A step input/output exactly as the REST body wants it (already translated by translate.ts). */
type RestBinding = JsonObject;

export interface PlannedStep {
  /** The key under `jobs:`. */
  name: string;
  type: 'command';
  component: ComponentRef;
  /** Compute name (without `azureml:`) or an ARM id; undefined = the pipeline default. */
  compute?: string;
  displayName?: string;
  inputs: Record<string, RestBinding>;
  outputs: Record<string, RestBinding>;
  /** Other supported step keys already in REST form (environment_variables, resources, limits, distribution...). */
  extra: JsonObject;
  origin: Origin;
}

/** A registered data or model asset used as a job input (`path: azureml:<name>:<version>` or `@latest`). */
interface AssetRef extends NamedRef {
  assetType: 'data' | 'model';
}

export interface SubmissionPlan {
  /** Absolute path of the job YAML. */
  file: string;
  /** Top-level `name:` of the YAML (the CLI uses it as the job name); usually absent. */
  name?: string;
  /** Top-level `compute:` (name without `azureml:`, or an ARM id): REST `computeId` of the pipeline job. */
  compute?: string;
  /** Top-level `properties:` (string map). */
  properties?: Record<string, string>;
  /**
   * Registered assets used as input paths, keyed by the exact `uri` written in `inputs` / step
   * `inputs` (e.g. `azureml:taxi-data:3`); the submitter resolves each to its ARM id
   * (`ResolvedIds.assets`) and body.ts substitutes it.
   */
  assets?: Record<string, AssetRef>;
  displayName?: string;
  experimentName?: string;
  description?: string;
  tags: Record<string, string>;
  /** REST `settings`: default_compute etc. default_compute is a compute name or ARM id (no `azureml:`). */
  settings: JsonObject;
  inputs: Record<string, RestBinding>;
  outputs: Record<string, RestBinding>;
  steps: PlannedStep[];
}

/** What the submitter found or created in Azure, by plan element. */
export interface ResolvedIds {
  /** Step name -> component version ARM id. */
  components: Record<string, string>;
  /** Compute name (as in the plan) -> compute ARM id. `serverless` may be left out (sent as is). */
  computes: Record<string, string>;
  /** Datastore name (settings.default_datastore as in the plan) -> datastore ARM id. */
  datastores?: Record<string, string>;
  /** Key of `SubmissionPlan.assets` -> asset version ARM id (`/subscriptions/.../data/<name>/versions/<v>`). */
  assets?: Record<string, string>;
}
