// Microsoft.MachineLearningServices model containers and versions (workspace scope), shaped like
// the 2024-04-01 ModelVersion examples and the ModelContainer GET example:
//
//   GET  .../workspaces/{ws}/models                                   containers (latestVersion, nextVersion)
//   GET  .../workspaces/{ws}/models/{name}                            one container
//   GET  .../workspaces/{ws}/models/{name}/versions                   $orderBy=createdtime desc|asc, $top, $skipToken,
//                                                                     listViewType, version, tags, properties
//   GET  .../workspaces/{ws}/models/{name}/versions/{version}
//   PUT  .../workspaces/{ws}/models/{name}/versions/{version}         201 created, 200 updated
//
// `tags` and `properties` filter as the real list API documents them: a comma-separated list of
// names, each optionally `=value` (`tags=stage=production,owner`); every item must match.
// What Azure ML rejects, this rejects (400 UserError in Azure ML's error shape):
//   - a name other than letters, digits, '-', '_' and '.' (starting with a letter or digit);
//   - a modelUri that is missing, not a supported URI, names a datastore that does not exist, or
//     names a job output (`azureml://jobs/<job>/outputs/<output>[/paths/...]`) of a job or step run
//     that does not exist, has not completed, or has no such output;
//   - a second PUT of a version with another modelUri ("Asset paths cannot be updated.", Azure
//     ML's text) or another modelType/jobName/flavors (versions are immutable).
//
//   emu.models.versions(wsId, 'taxi')              // stored bodies, oldest first
//   emu.models.add(wsId, 'taxi', '3', { modelUri, tags: { stage: 'production', 'metric.auc': '0.9' } })
//   emu.models.loseResponses(1)                    // the next PUT is stored, then answered 503
import type { ArmRequest, ArmService, StoredResource } from './arm';
import { ArmError } from './armerrors';
import { ML_NS, requireWorkspace } from './aml';
import { amlErrors, type AssetStore, pageOf, stableJson, validateVersion } from './assets';
import type { JobEngine } from './jobs';
import { type JsonObject, isJsonObject } from './jwt';

export interface ModelDeps {
  arm: ArmService;
  assets: AssetStore;
  engine: JobEngine;
}

export const MODEL_NAME = /^[a-zA-Z0-9][a-zA-Z0-9\-_.]{0,254}$/;
/** REST values and the enum names the service also accepts, case-insensitively. */
export const MODEL_TYPES = ['custom_model', 'mlflow_model', 'triton_model', 'custommodel', 'mlflowmodel', 'tritonmodel'];
const JOB_URI = /^azureml:\/\/jobs\/([^/]+)\/outputs\/([^/]+)(?:\/paths\/(.*))?$/i;
const SHORT_DATASTORE_URI = /^azureml:\/\/datastores\/([^/]+)\/paths\/(.+)$/i;
const LONG_DATASTORE_URI =
  /^azureml:\/\/subscriptions\/([^/]+)\/resource[gG]roups\/([^/]+)\/(?:providers\/Microsoft\.MachineLearningServices\/)?workspaces\/([^/]+)\/datastores\/([^/]+)\/paths\/(.+)$/i;
/** Fields a later PUT may change. */
const MUTABLE = new Set(['description', 'tags', 'properties', 'isArchived', 'provisioningState', 'stage']);

/** `a,b=1` -> [['a', undefined], ['b', '1']]. */
export function filterItems(raw: string | null): Array<[string, string | undefined]> {
  if (!raw) return [];
  return raw
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((x) => {
      const eq = x.indexOf('=');
      return eq < 0 ? [x, undefined] : [x.slice(0, eq).trim(), x.slice(eq + 1).trim()];
    });
}

export function matchesFilter(map: unknown, items: Array<[string, string | undefined]>): boolean {
  const m = isJsonObject(map) ? map : {};
  return items.every(([k, v]) => (v === undefined ? k in m : m[k] === v));
}

export class ModelRegistry {
  private lose = 0;
  constructor(private readonly deps: ModelDeps) {}

  /** Stored version bodies of a model, oldest first. */
  versions(workspaceId: string, name: string): JsonObject[] {
    return this.deps.assets.versions(workspaceId, 'models', name).map((v) => v.body);
  }

  /** Registers a version directly (as if by hand: no URI checks), e.g. a champion. */
  add(workspaceId: string, name: string, version: string, properties: JsonObject = {}): JsonObject {
    return this.deps.assets.putVersion(workspaceId, 'models', name, version, {
      modelType: 'custom_model',
      modelUri: `azureml://datastores/workspaceblobstore/paths/models/${name}/${version}/`,
      ...properties,
    }).body;
  }

  /** The next `n` model version PUTs are stored, then answered 503 (a response lost after the write). */
  loseResponses(n: number): void {
    this.lose = n;
  }

  install(): void {
    const { arm, assets } = this.deps;
    const wsBase = `/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/${ML_NS}/workspaces/{workspaceName}`;
    const ws = (req: ArmRequest): StoredResource =>
      requireWorkspace(arm, req.params.subscriptionId, req.params.resourceGroupName, req.params.workspaceName);
    const notFound = (req: ArmRequest, version?: string): ArmError =>
      amlErrors.notFound(
        version === undefined
          ? `Model container '${req.params.name}' was not found in workspace '${req.params.workspaceName}'.`
          : `Model '${req.params.name}:${version}' was not found in workspace '${req.params.workspaceName}'.`,
      );

    arm.route('GET', `${wsBase}/models`, {
      action: `${ML_NS}/workspaces/models/read`,
      handler: (req) => {
        const w = ws(req);
        return {
          status: 200,
          body: pageOf(
            req,
            arm.resources.list(`${w.id}/models`).map((c) => assets.containerView(c, w.id, 'models')),
            arm.listPageSize,
            '$skip',
          ),
        };
      },
    });
    arm.route('GET', `${wsBase}/models/{name}`, {
      action: `${ML_NS}/workspaces/models/read`,
      handler: (req) => {
        const w = ws(req);
        const c = arm.resources.get(assets.containerId(w.id, 'models', req.params.name));
        if (!c) throw notFound(req);
        return { status: 200, body: assets.containerView(c, w.id, 'models') };
      },
    });
    arm.route('GET', `${wsBase}/models/{name}/versions`, {
      action: `${ML_NS}/workspaces/models/versions/read`,
      handler: (req) => {
        const w = ws(req);
        const tags = filterItems(req.query.get('tags'));
        const props = filterItems(req.query.get('properties'));
        const version = req.query.get('version');
        const list = assets
          .versions(w.id, 'models', req.params.name)
          .map((v) => v.body)
          .filter((b) => !version || b.name === version)
          .filter(
            (b) => matchesFilter((b.properties as JsonObject).tags, tags) && matchesFilter((b.properties as JsonObject).properties, props),
          );
        return { status: 200, body: pageOf(req, list, arm.listPageSize, '$skipToken') };
      },
    });
    arm.route('GET', `${wsBase}/models/{name}/versions/{version}`, {
      action: `${ML_NS}/workspaces/models/versions/read`,
      handler: (req) => {
        const w = ws(req);
        const v = assets.getVersion(w.id, 'models', req.params.name, req.params.version);
        if (!v) throw notFound(req, req.params.version);
        return { status: 200, body: v.body };
      },
    });
    arm.route('PUT', `${wsBase}/models/{name}/versions/{version}`, {
      action: `${ML_NS}/workspaces/models/versions/write`,
      handler: (req) => {
        const w = ws(req);
        const { name, version } = req.params;
        const props = checkModelVersionBody(name, version, req.body);
        const modelUri = props.modelUri as string;
        const existing = assets.getVersion(w.id, 'models', name, version);
        const old = existing?.body.properties as JsonObject | undefined;
        if (old) {
          if (old.modelUri !== modelUri) throw amlErrors.userError('Asset paths cannot be updated.', ['Immutable']);
          const defaults: JsonObject = { isAnonymous: false, modelType: 'custom_model', jobName: null, flavors: {} };
          const keys = new Set([...Object.keys(old), ...Object.keys(props)]);
          const changed = [...keys].filter(
            (k) =>
              k !== 'modelUri' &&
              !MUTABLE.has(k) &&
              stableJson(props[k] ?? defaults[k] ?? null) !== stableJson(old[k] ?? defaults[k] ?? null),
          );
          if (changed.length > 0) {
            throw amlErrors.userError(
              `Model ${name}:${version} already exists and its ${changed.join(', ')} cannot be changed: asset versions are immutable. Use a new version.`,
              ['Immutable'],
            );
          }
        } else {
          this.checkUri(w, modelUri);
          if (typeof props.jobName === 'string' && props.jobName !== '' && !this.deps.engine.run(props.jobName)) {
            throw amlErrors.userError(`properties.jobName: job '${props.jobName}' was not found in workspace '${String(w.body.name)}'.`, [
              'BadArgument',
              'JobNotFound',
            ]);
          }
        }
        const next: JsonObject = old ? { ...old, ...props } : { flavors: {}, jobName: null, modelType: 'custom_model', ...props };
        // Azure answers flavors as an object, {} when there are none (the SDK iterates it unchecked).
        next.flavors ??= {};
        const { body, created } = assets.putVersion(w.id, 'models', name, version, next, req);
        if (this.lose > 0) {
          this.lose--;
          throw new ArmError(503, 'ServiceUnavailable', 'The service is temporarily unavailable. Please retry the request.', {
            'Retry-After': '0',
          });
        }
        return { status: created ? 201 : 200, body };
      },
    });
  }

  /** A modelUri must name something that exists: a completed job's output or a datastore path. */
  private checkUri(w: StoredResource, uri: string): void {
    const job = JOB_URI.exec(uri);
    if (job) {
      const [, jobName, output] = job;
      const run = this.deps.engine.run(jobName);
      const record = run ? this.deps.engine.jobs.get(run.jobName) : undefined;
      if (!run || !record || record.workspaceId.toLowerCase() !== w.id.toLowerCase()) {
        throw amlErrors.userError(
          `The job '${jobName}' referenced by modelUri '${uri}' was not found in workspace '${String(w.body.name)}'.`,
          ['BadArgument', 'JobNotFound'],
        );
      }
      if (run.status !== 'Completed') {
        throw amlErrors.userError(
          `Job '${jobName}' is in status ${run.status}: a model can only be registered from the outputs of a completed job.`,
          ['BadArgument', 'JobNotCompleted'],
        );
      }
      const declared = run.step
        ? []
        : Object.keys(
            ((this.deps.arm.resources.get(`${record.workspaceId}/jobs/${record.name}`)?.body.properties as JsonObject | undefined)
              ?.outputs as JsonObject | undefined) ?? {},
          );
      const outputs = new Set([...Object.keys(run.outputs), ...declared]);
      if (!outputs.has(output)) {
        throw amlErrors.userError(`Job '${jobName}' has no output '${output}'. Its outputs: ${[...outputs].join(', ') || '(none)'}.`, [
          'BadArgument',
          'OutputNotFound',
        ]);
      }
      return;
    }
    const short = SHORT_DATASTORE_URI.exec(uri);
    const long = LONG_DATASTORE_URI.exec(uri);
    if (short || long) {
      const ds = short ? short[1] : long![4];
      const wsId = long ? `/subscriptions/${long[1]}/resourceGroups/${long[2]}/providers/${ML_NS}/workspaces/${long[3]}` : w.id;
      if (!this.deps.arm.resources.get(`${wsId}/datastores/${ds}`)) {
        throw amlErrors.userError(`The datastore '${ds}' referenced by modelUri '${uri}' was not found.`, [
          'BadArgument',
          'DatastoreNotFound',
        ]);
      }
      return;
    }
    if (/^(https:\/\/|runs:\/)/i.test(uri)) return;
    throw amlErrors.userError(
      `modelUri '${uri}' is not a supported URI. Use azureml://datastores/<name>/paths/<path>, azureml://jobs/<job>/outputs/<output>[/paths/<path>], runs:/<run>/<path> or an https URL.`,
      ['BadArgument', 'InvalidUri'],
    );
  }
}

/** What the service refuses in a model version PUT, for workspaces and registries alike; returns its properties. */
export function checkModelVersionBody(name: string, version: string, body: unknown): JsonObject {
  checkModelNames(name, version);
  if (!isJsonObject(body) || !isJsonObject(body.properties))
    throw amlErrors.userError("The request body must have a 'properties' object.", ['BadArgument', 'InvalidRequestBody']);
  const props = body.properties;
  const modelUri = props.modelUri;
  if (typeof modelUri !== 'string' || modelUri.trim() === '')
    throw amlErrors.userError('properties.modelUri is required: the URI of the model files.');
  if (props.modelType !== undefined && props.modelType !== null && !MODEL_TYPES.includes(String(props.modelType).toLowerCase())) {
    throw amlErrors.userError(
      `properties.modelType '${String(props.modelType)}' is invalid. Valid values: custom_model, mlflow_model, triton_model.`,
    );
  }
  for (const k of ['tags', 'properties'] as const) {
    if (
      props[k] !== undefined &&
      props[k] !== null &&
      (!isJsonObject(props[k]) || Object.values(props[k] as JsonObject).some((x) => typeof x !== 'string' && x !== null))
    ) {
      throw amlErrors.userError(`properties.${k} must be an object of string values.`);
    }
  }
  return props;
}

/** A model name and version as the service accepts them (workspace and registry routes). */
export function checkModelNames(name: string, version: string): void {
  if (!MODEL_NAME.test(name)) {
    throw amlErrors.userError(
      `Model name '${name}' is invalid. It can include letters, digits, dashes, underscores and periods, must start with a letter or digit, and be at most 255 characters long.`,
      ['ValidationError'],
    );
  }
  validateVersion('Model', version);
}
