// Workspace assets of Microsoft.MachineLearningServices: code, component and environment
// containers and versions, computes and datastores, plus code upload through startPendingUpload.
// Shapes follow the 2024-04-01 REST examples and @azure/arm-machinelearning 2.1.1's models.
//
// What the service rejects, this rejects too (400 UserError in Azure ML's error shape):
//   - a code version whose codeUri names no uploaded blob, or that changes an existing version's
//     codeUri ("Asset paths cannot be updated.", the text the Azure ML SDK matches on);
//   - a component whose spec misses type/command/environment, or references a code or environment
//     version that does not exist, or a ${{inputs.x}} / ${{outputs.y}} it does not declare;
//   - an environment version without image (or build), or one that changes an existing version.
import { createHash, randomUUID } from 'node:crypto';
import { armPage, armSkip, type ArmRequest, type ArmService, type StoredResource } from './arm';
import { ArmError, type ArmErrorBody, armErrors } from './armerrors';
import type { EmulatedStorage } from './azurite';
import { ML_NS, requireWorkspace } from './aml';
import { type JsonObject, isJsonObject } from './jwt';
import { ensureComputeSubnet, ensureManagedCluster } from './network';
import type { Clock } from './types';

export type AssetKind = 'codes' | 'components' | 'environments' | 'data' | 'models';

export interface AssetDeps {
  arm: ArmService;
  storage: EmulatedStorage;
  clock: Clock;
}

// ---- errors ------------------------------------------------------------------------------

/** Azure ML's error envelope (the management front end's): code, message, innerError chain, correlation. */
export class AmlError extends ArmError {
  constructor(
    status: number,
    code: string,
    message: string,
    readonly innerCodes: string[] = [],
    readonly messageParameters?: Record<string, string>,
  ) {
    super(status, code, message);
  }

  override toBody(): ArmErrorBody {
    let inner: JsonObject | null = null;
    for (const c of [...this.innerCodes].reverse()) inner = { code: c, innerError: inner };
    const body = {
      error: {
        code: this.code,
        severity: null,
        message: this.message,
        messageFormat: null,
        messageParameters: this.messageParameters ?? null,
        referenceCode: null,
        detailsUri: null,
        target: null,
        details: [],
        innerError: inner,
        debugInfo: null,
        additionalInfo: null,
      },
      correlation: { operation: randomUUID().replace(/-/g, ''), request: randomUUID().replace(/-/g, '').slice(0, 16) },
      time: new Date().toISOString(),
      componentName: 'managementfrontend',
      statusCode: this.status,
    };
    return body as unknown as ArmErrorBody;
  }
}

export const amlErrors = {
  userError(message: string, inner: string[] = ['BadArgument'], params?: Record<string, string>): AmlError {
    return new AmlError(400, 'UserError', message, inner, params);
  },
  notFound(message: string): AmlError {
    return new AmlError(404, 'UserError', message, ['NotFoundError']);
  },
};

// ---- ids and shared helpers -------------------------------------------------------------

export const NAME_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9\-_]{0,254}$/;
const VERSION_PATTERN = /^[a-zA-Z0-9][a-zA-Z0-9\-_.]{0,254}$/;

export function validateName(what: string, name: string): void {
  if (!NAME_PATTERN.test(name)) {
    throw amlErrors.userError(
      `${what} name '${name}' is invalid. It can include letters, digits, dashes and underscores, must start with a letter or digit, and be at most 255 characters long.`,
      ['ValidationError'],
    );
  }
}

export function validateVersion(what: string, version: string): void {
  if (!VERSION_PATTERN.test(version)) {
    throw amlErrors.userError(
      `${what} version '${version}' is invalid. It can include letters, digits, '.', '-' and '_', and must start with a letter or digit.`,
      ['ValidationError'],
    );
  }
}

const ARM_ASSET_ID =
  /^(?:azureml:)?(\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/workspaces\/[^/]+)\/(codes|components|environments|models|data)\/([^/]+)\/versions\/([^/]+)$/i;
const REGISTRY_ASSET_ID =
  /^azureml:\/\/registries\/([^/]+)\/(codes|components|environments|models|data)\/([^/]+)\/(?:versions\/([^/]+)|labels\/latest)$/i;

export interface AssetRef {
  kind: string;
  name: string;
  version?: string;
  /** Workspace ARM id for workspace assets. */
  workspaceId?: string;
  registry?: string;
  /** Normalised ARM id (workspace assets). */
  id?: string;
}

/** Parses `azureml:/subscriptions/.../versions/v`, `/subscriptions/...` or `azureml://registries/...` references. */
export function parseAssetRef(ref: string): AssetRef | undefined {
  const arm = ARM_ASSET_ID.exec(ref.trim());
  if (arm)
    return {
      workspaceId: arm[1],
      kind: arm[2].toLowerCase(),
      name: arm[3],
      version: arm[4],
      id: `${arm[1]}/${arm[2].toLowerCase()}/${arm[3]}/versions/${arm[4]}`,
    };
  const reg = REGISTRY_ASSET_ID.exec(ref.trim());
  if (reg) return { registry: reg[1], kind: reg[2].toLowerCase(), name: reg[3], ...(reg[4] ? { version: reg[4] } : {}) };
  // A curated environment in the short form the SDK sends as written (azureml:AzureML-x@latest or :version);
  // Azure expands it to the azureml registry's environment (OperationOrchestrator.get_asset_arm_id, CURATED_ENV_PREFIX).
  const curated = /^azureml:(AzureML-[A-Za-z0-9._-]+)(?:@[A-Za-z0-9._-]+|:([A-Za-z0-9._-]+))$/.exec(ref.trim());
  if (curated) return { registry: 'azureml', kind: 'environments', name: curated[1], ...(curated[2] ? { version: curated[2] } : {}) };
  return undefined;
}

export function computeArmId(workspaceId: string, name: string): string {
  return `${workspaceId}/computes/${name}`;
}

/** A compute reference as pipeline jobs carry it: ARM id, `azureml:name`, or a bare name. */
export function computeNameOf(ref: string): string {
  const r = ref.trim().replace(/^azureml:/i, '');
  const m = /\/computes\/([^/]+)$/i.exec(r);
  return m ? m[1] : r;
}

export function storageAccountNameOf(ws: StoredResource): string {
  const id = String((ws.body.properties as JsonObject | undefined)?.storageAccount ?? '');
  return id.split('/').pop() ?? '';
}

export function workspaceGuidOf(ws: StoredResource): string {
  return String((ws.body.properties as JsonObject | undefined)?.workspaceId ?? '');
}

export function defaultBlobContainer(ws: StoredResource): string {
  return `azureml-blobstore-${workspaceGuidOf(ws)}`;
}

/** Deterministic JSON (sorted keys) for immutability comparisons. */
export function stableJson(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(stableJson).join(',')}]`;
  if (isJsonObject(v)) {
    return `{${Object.keys(v)
      .filter((k) => v[k] !== undefined)
      .sort()
      .map((k) => `${JSON.stringify(k)}:${stableJson(v[k])}`)
      .join(',')}}`;
  }
  return JSON.stringify(v ?? null);
}

/** Creation timestamps that strictly increase, so `$orderBy=createdtime desc` is well defined. */
export class Timestamps {
  private last = 0;
  constructor(private readonly clock: Clock) {}
  next(): string {
    this.last = Math.max(this.clock.now(), this.last + 1);
    return new Date(this.last).toISOString();
  }
}

export function systemData(req: ArmRequest | undefined, at: string, created?: JsonObject): JsonObject {
  const by = req ? req.caller.appId || req.caller.objectId : 'emulator';
  const byType = req ? (req.caller.claims.xms_mirid ? 'ManagedIdentity' : 'Application') : 'Application';
  return {
    createdAt: created?.createdAt ?? at,
    createdBy: created?.createdBy ?? by,
    createdByType: created?.createdByType ?? byType,
    lastModifiedAt: at,
    lastModifiedBy: by,
    lastModifiedByType: byType,
  };
}

// ---- asset versions -------------------------------------------------------------------

const TYPE_OF: Record<AssetKind, string> = {
  codes: `${ML_NS}/workspaces/codes`,
  components: `${ML_NS}/workspaces/components`,
  environments: `${ML_NS}/workspaces/environments`,
  data: `${ML_NS}/workspaces/data`,
  models: `${ML_NS}/workspaces/models`,
};

const WHAT: Record<AssetKind, string> = {
  codes: 'Code',
  components: 'Component',
  environments: 'Environment',
  data: 'Data',
  models: 'Model',
};

export class AssetStore {
  readonly stamps: Timestamps;
  constructor(private readonly deps: AssetDeps) {
    this.stamps = new Timestamps(deps.clock);
  }

  private get arm(): ArmService {
    return this.deps.arm;
  }

  containerId(wsId: string, kind: AssetKind, name: string): string {
    return `${wsId}/${kind}/${name}`;
  }

  versionId(wsId: string, kind: AssetKind, name: string, version: string): string {
    return `${wsId}/${kind}/${name}/versions/${version}`;
  }

  getVersion(wsId: string, kind: AssetKind, name: string, version: string): StoredResource | undefined {
    return this.arm.resources.get(this.versionId(wsId, kind, name, version));
  }

  versions(wsId: string, kind: AssetKind, name: string): StoredResource[] {
    return this.arm.resources
      .list(`${this.containerId(wsId, kind, name)}/versions`)
      .sort((a, b) =>
        String((a.body.systemData as JsonObject).createdAt).localeCompare(String((b.body.systemData as JsonObject).createdAt)),
      );
  }

  containerView(c: StoredResource, wsId: string, kind: AssetKind): JsonObject {
    const name = String(c.body.name);
    const versions = this.versions(wsId, kind, name);
    // Latest: the most recently created active version (versions() sorts by creation time).
    const latest = versions.filter((v) => !(v.body.properties as JsonObject).isArchived).at(-1);
    const ints = versions
      .map((v) => String(v.body.name))
      .filter((v) => /^\d+$/.test(v))
      .map(Number);
    const props = c.body.properties as JsonObject;
    return {
      ...c.body,
      properties: {
        ...props,
        latestVersion: latest ? String(latest.body.name) : null,
        nextVersion: String((ints.length ? Math.max(...ints) : 0) + 1),
      },
    };
  }

  /** Stores a version (creating its container); returns the stored body. */
  putVersion(
    wsId: string,
    kind: AssetKind,
    name: string,
    version: string,
    properties: JsonObject,
    req?: ArmRequest,
  ): { body: JsonObject; created: boolean } {
    const id = this.versionId(wsId, kind, name, version);
    const existing = this.arm.resources.get(id);
    const at = this.stamps.next();
    const cid = this.containerId(wsId, kind, name);
    if (!this.arm.resources.get(cid)) {
      this.arm.resources.put(cid, {
        id: cid,
        name,
        type: TYPE_OF[kind],
        properties: { description: null, tags: {}, properties: {}, isArchived: false, provisioningState: 'Succeeded' },
        systemData: systemData(req, at),
      });
    }
    const body: JsonObject = {
      id,
      name: version,
      type: `${TYPE_OF[kind]}/versions`,
      properties: {
        description: null,
        tags: {},
        properties: {},
        isArchived: false,
        isAnonymous: false,
        ...properties,
        provisioningState: 'Succeeded',
      },
      systemData: systemData(req, at, existing?.body.systemData as JsonObject | undefined),
    };
    return { body: this.arm.resources.put(id, body).body, created: !existing };
  }
}

/**
 * List with Azure ML's asset-list query: $orderBy=createdtime desc|asc, $top, listViewType, and
 * the continuation `$skip` (containers) or `$skipToken` (versions).
 */
export function pageOf(req: ArmRequest, items: JsonObject[], pageSize: number, tokenParam: '$skip' | '$skipToken'): JsonObject {
  let list = items;
  const view = (req.query.get('listViewType') ?? 'ActiveOnly').toLowerCase();
  if (view === 'activeonly') list = list.filter((b) => !(b.properties as JsonObject | undefined)?.isArchived);
  else if (view === 'archivedonly') list = list.filter((b) => (b.properties as JsonObject | undefined)?.isArchived);
  const orderBy = (req.query.get('$orderBy') ?? req.query.get('$orderby') ?? '').trim().toLowerCase();
  if (orderBy) {
    const m = /^(createdtime|createdat)\s*(asc|desc)?$/.exec(orderBy);
    if (!m) throw amlErrors.userError(`The $orderBy value '${orderBy}' is not supported. Supported: createdtime asc, createdtime desc.`);
    const created = (b: JsonObject): string => String((b.systemData as JsonObject | undefined)?.createdAt ?? '');
    list = [...list].sort((a, b) => created(a).localeCompare(created(b)));
    if (m[2] === 'desc') list.reverse();
  }
  const topRaw = req.query.get('$top');
  if (topRaw !== null) {
    const top = Number(topRaw);
    if (!Number.isInteger(top) || top < 0) throw amlErrors.userError(`The $top value '${topRaw}' is invalid.`);
    const skip = armSkip(req, tokenParam);
    return { value: list.slice(skip, skip + top) };
  }
  return armPage(req, list, pageSize, tokenParam);
}

// ---- validation -------------------------------------------------------------------------

function requireProperties(req: ArmRequest): JsonObject {
  const body = req.body;
  if (!isJsonObject(body) || !isJsonObject(body.properties))
    throw amlErrors.userError("The request body must have a 'properties' object.", ['BadArgument', 'InvalidRequestBody']);
  return body.properties;
}

/** Existing asset referenced by ARM id; registry references are accepted as they are. */
function requireReferencedAsset(arm: ArmService, ref: unknown, kind: 'codes' | 'environments', field: string): void {
  const what = kind === 'codes' ? 'code' : 'environment';
  if (typeof ref !== 'string' || ref.trim() === '')
    throw amlErrors.userError(`componentSpec.${field} must be a string: the ARM id of a ${what} version.`);
  const parsed = parseAssetRef(ref);
  if (!parsed || parsed.kind !== kind) {
    throw amlErrors.userError(
      `componentSpec.${field} '${ref}' is not a ${what} reference. Use the ARM id of a ${what} version (azureml:/subscriptions/.../workspaces/<ws>/${kind}/<name>/versions/<version>) or a registry id (azureml://registries/<registry>/${kind}/<name>/versions/<version>).`,
    );
  }
  if (parsed.registry) return;
  if (!arm.resources.get(parsed.id as string)) {
    throw amlErrors.userError(
      `The ${what} asset '${parsed.name}:${parsed.version}' referenced by componentSpec.${field} ('${ref.replace(/^azureml:/, '')}') was not found in workspace '${String(parsed.workspaceId).split('/').pop()}'.`,
      ['BadArgument', 'AssetNotFound'],
    );
  }
}

const PLACEHOLDER = /\$\{\{\s*(inputs|outputs)\.([A-Za-z0-9_]+)\s*\}\}/g;

export function validateComponentSpec(arm: ArmService, spec: unknown): void {
  if (!isJsonObject(spec))
    throw amlErrors.userError(
      "properties.componentSpec is required: the component's definition (type, command, environment, inputs, outputs).",
    );
  const type = spec.type;
  if (typeof type !== 'string' || type === '') throw amlErrors.userError("componentSpec.type is required (for example 'command').");
  for (const k of ['inputs', 'outputs'] as const) {
    if (spec[k] !== undefined && spec[k] !== null && !isJsonObject(spec[k]))
      throw amlErrors.userError(`componentSpec.${k} must be an object of port definitions.`);
  }
  if (type.toLowerCase() !== 'command') return;
  if (typeof spec.command !== 'string' || spec.command.trim() === '')
    throw amlErrors.userError('componentSpec.command is required for a command component.');
  if (spec.environment === undefined || spec.environment === null)
    throw amlErrors.userError('componentSpec.environment is required for a command component.');
  requireReferencedAsset(arm, spec.environment, 'environments', 'environment');
  if (spec.code !== undefined && spec.code !== null) requireReferencedAsset(arm, spec.code, 'codes', 'code');
  const inputs = isJsonObject(spec.inputs) ? spec.inputs : {};
  const outputs = isJsonObject(spec.outputs) ? spec.outputs : {};
  for (const m of spec.command.matchAll(PLACEHOLDER)) {
    const declared = m[1] === 'inputs' ? inputs : outputs;
    if (!(m[2] in declared)) {
      throw amlErrors.userError(
        `componentSpec.command uses \${{${m[1]}.${m[2]}}} but the component declares no ${m[1] === 'inputs' ? 'input' : 'output'} '${m[2]}'.`,
      );
    }
  }
}

function validateEnvironment(props: JsonObject): void {
  const build = props.build;
  const hasBuild = isJsonObject(build) && typeof build.contextUri === 'string' && build.contextUri !== '';
  if ((typeof props.image !== 'string' || props.image.trim() === '') && !hasBuild) {
    throw amlErrors.userError(
      'An environment version needs properties.image (a Docker image) or properties.build (a Docker build context).',
    );
  }
  if (props.image !== undefined && props.build !== undefined && hasBuild)
    throw amlErrors.userError('Specify either properties.image or properties.build, not both.');
  // "Supports blob URIs on environment creation" (BuildContext.contextUri): a local folder name is
  // not one (azure-ai-ml 1.4.0 sends the YAML's relative path when it skips the upload).
  if (hasBuild && !/^[a-z][a-z0-9+.-]*:\/\//i.test(String(build.contextUri))) {
    throw amlErrors.userError(
      `properties.build.contextUri '${String(build.contextUri)}' is not a URI. Upload the Docker build context to the workspace storage first and give its blob URI (https://<account>.blob.core.windows.net/<container>/<path>/).`,
      ['BadArgument', 'InvalidUri'],
    );
  }
  if (props.condaFile !== undefined && props.condaFile !== null && typeof props.condaFile !== 'string')
    throw amlErrors.userError('properties.condaFile must be the conda YAML as a string.');
}

const MUTABLE = new Set(['description', 'tags', 'properties', 'isArchived', 'provisioningState', 'stage']);

function immutableDiff(existing: JsonObject, incoming: JsonObject, defaults: JsonObject): string[] {
  const keys = new Set([...Object.keys(existing), ...Object.keys(incoming)]);
  return [...keys].filter((k) => !MUTABLE.has(k) && stableJson(incoming[k] ?? defaults[k]) !== stableJson(existing[k] ?? defaults[k]));
}

// ---- code upload ------------------------------------------------------------------------

/** Blob location a codeUri names, if it is on the emulated storage (https URL or azureml://datastores/.../paths/...). */
async function codeUriExists(deps: AssetDeps, ws: StoredResource, codeUri: string): Promise<boolean> {
  await deps.storage.start();
  const ds = /^azureml:\/\/datastores\/([^/]+)\/paths\/(.*)$/i.exec(codeUri);
  if (ds) {
    const store = deps.arm.resources.get(`${ws.id}/datastores/${ds[1]}`);
    const p = store?.body.properties as JsonObject | undefined;
    if (!p || typeof p.containerName !== 'string') return false;
    const account = deps.storage.azuriteAccount(String(p.accountName ?? ''));
    return deps.storage.exists(deps.storage.blobUrl({ account, container: p.containerName, path: ds[2].replace(/\/+$/, '') }));
  }
  return deps.storage.exists(codeUri.replace(/\/+$/, ''));
}

/** UUID (v5 layout) from a name, so the same pending upload gets the same container. */
function uuidFrom(seed: string): string {
  const h = createHash('sha1').update(seed).digest();
  h[6] = (h[6] & 0x0f) | 0x50;
  h[8] = (h[8] & 0x3f) | 0x80;
  const x = h.subarray(0, 16).toString('hex');
  return `${x.slice(0, 8)}-${x.slice(8, 12)}-${x.slice(12, 16)}-${x.slice(16, 20)}-${x.slice(20, 32)}`;
}

const API_2023_04 = '2023-04-01';

// ---- routes -----------------------------------------------------------------------------

export function installAssetRoutes(deps: AssetDeps, store: AssetStore): void {
  const { arm } = deps;
  const wsBase = `/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/${ML_NS}/workspaces/{workspaceName}`;
  const ws = (req: ArmRequest): StoredResource =>
    requireWorkspace(arm, req.params.subscriptionId, req.params.resourceGroupName, req.params.workspaceName);

  for (const kind of ['codes', 'components', 'environments', 'data'] as AssetKind[]) {
    const action = (op: string, versions = true): string => `${ML_NS}/workspaces/${kind}${versions ? '/versions' : ''}/${op}`;
    const notFound = (req: ArmRequest, version?: string): ArmError =>
      amlErrors.notFound(
        version === undefined
          ? `${WHAT[kind]} container '${req.params.name}' was not found in workspace '${req.params.workspaceName}'.`
          : `${WHAT[kind]} '${req.params.name}:${version}' was not found in workspace '${req.params.workspaceName}'.`,
      );

    arm.route('GET', `${wsBase}/${kind}`, {
      action: action('read', false),
      handler: (req) => {
        const w = ws(req);
        return {
          status: 200,
          body: pageOf(
            req,
            arm.resources.list(`${w.id}/${kind}`).map((c) => store.containerView(c, w.id, kind)),
            arm.listPageSize,
            '$skip',
          ),
        };
      },
    });
    arm.route('GET', `${wsBase}/${kind}/{name}`, {
      action: action('read', false),
      handler: (req) => {
        const w = ws(req);
        const c = arm.resources.get(store.containerId(w.id, kind, req.params.name));
        if (!c) throw notFound(req);
        return { status: 200, body: store.containerView(c, w.id, kind) };
      },
    });
    arm.route('GET', `${wsBase}/${kind}/{name}/versions`, {
      action: action('read'),
      handler: (req) => {
        const w = ws(req);
        let list = store.versions(w.id, kind, req.params.name).map((v) => v.body);
        if (kind === 'codes') {
          const hash = req.query.get('hash');
          const hashVersion = req.query.get('hashVersion');
          if (hash) list = list.filter((b) => ((b.properties as JsonObject).properties as JsonObject | undefined)?.hash_sha256 === hash);
          if (hash && hashVersion)
            list = list.filter((b) => ((b.properties as JsonObject).properties as JsonObject | undefined)?.hash_version === hashVersion);
        }
        return { status: 200, body: pageOf(req, list, arm.listPageSize, '$skipToken') };
      },
    });
    arm.route('GET', `${wsBase}/${kind}/{name}/versions/{version}`, {
      action: action('read'),
      handler: (req) => {
        const w = ws(req);
        const v = store.getVersion(w.id, kind, req.params.name, req.params.version);
        if (!v) throw notFound(req, req.params.version);
        return { status: 200, body: v.body };
      },
    });
    arm.route('PUT', `${wsBase}/${kind}/{name}/versions/{version}`, {
      action: action('write'),
      handler: async (req) => {
        const w = ws(req);
        const { name, version } = req.params;
        validateName(WHAT[kind], name);
        validateVersion(WHAT[kind], version);
        const props = requireProperties(req);
        const existing = store.getVersion(w.id, kind, name, version);
        const existingProps = existing?.body.properties as JsonObject | undefined;
        if (kind === 'codes') {
          const codeUri = props.codeUri;
          if (typeof codeUri !== 'string' || codeUri.trim() === '')
            throw amlErrors.userError('properties.codeUri is required: the storage URI of the uploaded code folder.');
          if (existingProps && existingProps.codeUri !== codeUri)
            throw amlErrors.userError('Asset paths cannot be updated.', ['Immutable']);
          if (!existing && !(await codeUriExists(deps, w, codeUri))) {
            throw amlErrors.userError(
              `The codeUri '${codeUri.split('?')[0]}' does not point to any uploaded file in the workspace storage. Upload the code first (POST .../codes/${name}/versions/${version}/startPendingUpload gives a SAS for it), then register it.`,
              ['BadArgument', 'AssetPathNotFound'],
            );
          }
        } else if (kind === 'components') {
          validateComponentSpec(arm, props.componentSpec);
        } else if (kind === 'data') {
          if (typeof props.dataUri !== 'string' || props.dataUri.trim() === '')
            throw amlErrors.userError('properties.dataUri is required: the URI of the data.');
          if (!['uri_file', 'uri_folder', 'mltable'].includes(String(props.dataType)))
            throw amlErrors.userError(
              `properties.dataType '${String(props.dataType)}' is invalid. Valid values: uri_file, uri_folder, mltable.`,
            );
          if (existingProps && existingProps.dataUri !== props.dataUri)
            throw amlErrors.userError('Asset paths cannot be updated.', ['Immutable']);
        } else {
          validateEnvironment(props);
        }
        if (existingProps) {
          const defaults: JsonObject = { isAnonymous: false };
          if (kind === 'environments')
            Object.assign(defaults, { osType: 'Linux', environmentType: 'UserCreated', autoRebuild: 'OnBaseImageUpdate' });
          const changed = immutableDiff(existingProps, props, defaults).filter((k) => k !== 'codeUri' && k !== 'dataUri');
          if (changed.length > 0) {
            throw amlErrors.userError(
              `${WHAT[kind]} ${name}:${version} already exists and its ${changed.join(', ')} cannot be changed: asset versions are immutable. Use a new version.`,
              ['Immutable'],
            );
          }
        }
        const next: JsonObject = { ...(existingProps ?? {}), ...props };
        if (kind === 'environments') {
          next.environmentType ??= 'UserCreated';
          next.osType ??= 'Linux';
          next.autoRebuild ??= 'OnBaseImageUpdate';
        }
        const { body, created } = store.putVersion(w.id, kind, name, version, next, req);
        return { status: created ? 201 : 200, body };
      },
    });
  }

  // POST codes/{name}/versions/{version}/startPendingUpload (api-version 2023-04-01 and later):
  // a temporary container in the workspace storage and a container SAS to fill it.
  arm.route('POST', `${wsBase}/codes/{name}/versions/{version}/startPendingUpload`, {
    action: `${ML_NS}/workspaces/codes/versions/write`,
    handler: async (req) => {
      if (req.apiVersion.slice(0, 10) < API_2023_04) {
        throw new ArmError(
          404,
          'NotFound',
          `The operation 'startPendingUpload' is not available in api-version '${req.apiVersion}'; it exists from api-version ${API_2023_04}.`,
        );
      }
      const w = ws(req);
      validateName('Code', req.params.name);
      validateVersion('Code', req.params.version);
      const body = isJsonObject(req.body) ? req.body : {};
      const type = body.pendingUploadType ?? 'TemporaryBlobReference';
      if (type !== 'TemporaryBlobReference' && type !== 'None')
        throw amlErrors.userError(`pendingUploadType '${String(type)}' is invalid. Valid values: None, TemporaryBlobReference.`);
      const pendingUploadId =
        typeof body.pendingUploadId === 'string' && body.pendingUploadId !== ''
          ? body.pendingUploadId
          : uuidFrom(`${w.id}|${req.params.name}|${req.params.version}`);
      await deps.storage.start();
      const storageArmId = String((w.body.properties as JsonObject).storageAccount);
      const account = deps.storage.azuriteAccount(storageAccountNameOf(w));
      const container =
        `${workspaceGuidOf(w).slice(0, 10)}-${uuidFrom(`${w.id}|${req.params.name}|${req.params.version}|${pendingUploadId}`)}`.toLowerCase();
      await deps.storage.ensureContainer(account, container);
      const blobUri = deps.storage.blobUrl({ account, container, path: '' });
      const sas = deps.storage.containerSas(account, container);
      return {
        status: 200,
        body: {
          blobReferenceForConsumption: {
            blobUri,
            storageAccountArmId: storageArmId,
            credential: { credentialType: 'SAS', sasUri: `${blobUri}?${sas}` },
          },
          pendingUploadId,
          pendingUploadType: 'TemporaryBlobReference',
        },
      };
    },
  });

  // Computes: GET and list (creation is not emulated; tests add them with addCompute).
  arm.route('GET', `${wsBase}/computes`, {
    action: `${ML_NS}/workspaces/computes/read`,
    handler: (req) => ({
      status: 200,
      body: armPage(
        req,
        arm.resources.list(`${ws(req).id}/computes`).map((r) => r.body),
        arm.listPageSize,
      ),
    }),
  });
  arm.route('GET', `${wsBase}/computes/{computeName}`, {
    action: `${ML_NS}/workspaces/computes/read`,
    handler: (req) => {
      const c = arm.resources.get(computeArmId(ws(req).id, req.params.computeName));
      if (!c)
        throw armErrors.resourceNotFound(
          `${ML_NS}/workspaces/${req.params.workspaceName}/computes`,
          req.params.computeName,
          req.params.resourceGroupName,
        );
      return { status: 200, body: c.body };
    },
  });

  // Datastores: GET and list.
  arm.route('GET', `${wsBase}/datastores`, {
    action: `${ML_NS}/workspaces/datastores/read`,
    handler: (req) => {
      let list = arm.resources.list(`${ws(req).id}/datastores`).map((r) => r.body);
      if (req.query.get('isDefault') === 'true') list = list.filter((b) => (b.properties as JsonObject).isDefault === true);
      return { status: 200, body: { value: list } };
    },
  });
  // A datastore's credentials (what the SDK's upload asks for): the account key of an AccountKey
  // datastore, a SAS of a SAS one; a datastore without credentials (identity-based) has none.
  arm.route('POST', `${wsBase}/datastores/{name}/listSecrets`, {
    action: `${ML_NS}/workspaces/datastores/listsecrets/action`,
    handler: async (req) => {
      const d = arm.resources.get(`${ws(req).id}/datastores/${req.params.name}`);
      if (!d) throw amlErrors.notFound(`Datastore '${req.params.name}' was not found in workspace '${req.params.workspaceName}'.`);
      const props = d.body.properties as JsonObject;
      const kind = String((props.credentials as JsonObject | undefined)?.credentialsType ?? 'None');
      if (kind !== 'AccountKey')
        throw amlErrors.userError(`Datastore '${req.params.name}' has credentials of type ${kind}, which hold no secrets to list.`, [
          'BadArgument',
        ]);
      await deps.storage.start();
      const account = deps.storage.azuriteAccount(String(props.accountName));
      // In Azure the datastore's container exists from the workspace's creation on.
      await deps.storage.ensureContainer(account, String(props.containerName));
      return { status: 200, body: { secretsType: 'AccountKey', key: deps.storage.accountKey(account) } };
    },
  });
  arm.route('GET', `${wsBase}/datastores/{name}`, {
    action: `${ML_NS}/workspaces/datastores/read`,
    handler: (req) => {
      const d = arm.resources.get(`${ws(req).id}/datastores/${req.params.name}`);
      if (!d) throw amlErrors.notFound(`Datastore '${req.params.name}' was not found in workspace '${req.params.workspaceName}'.`);
      return { status: 200, body: d.body };
    },
  });
}

// ---- state helpers (tests and seeding) ---------------------------------------------------

export interface AddComputeOptions {
  /** Default AmlCompute. */
  computeType?: 'AmlCompute' | 'Kubernetes';
  vmSize?: string;
  maxNodeCount?: number;
  /** Kubernetes: the attached AKS cluster's ARM id (default: a managed cluster in the workspace's group). */
  resourceId?: string;
  namespace?: string;
  provisioningState?: 'Succeeded' | 'Failed' | 'Creating';
  description?: string;
  /**
   * AmlCompute: the subnet its nodes join (default: the group's vnet-aml/snet-training with its
   * NSG, created on first use); null for none. Nodes get no public IP unless `enableNodePublicIp`.
   */
  subnetId?: string | null;
  enableNodePublicIp?: boolean;
}

export function addCompute(arm: ArmService, workspaceId: string, name: string, opts: AddComputeOptions = {}): JsonObject {
  const ws = arm.resources.get(workspaceId);
  if (!ws) throw new Error(`Unknown workspace ${workspaceId}`);
  const id = computeArmId(ws.id, name);
  const location = String(ws.body.location ?? 'eastus');
  const now = new Date().toISOString();
  const type = opts.computeType ?? 'AmlCompute';
  const rgId = ws.id.split('/providers/')[0]!;
  const aksId = opts.resourceId ?? `${rgId}/providers/Microsoft.ContainerService/managedClusters/${name}`;
  if (type === 'Kubernetes' && !opts.resourceId) ensureManagedCluster(arm, aksId, location);
  const subnetId = type === 'AmlCompute' ? (opts.subnetId === undefined ? ensureComputeSubnet(arm, rgId, location) : opts.subnetId) : null;
  const properties: JsonObject =
    type === 'Kubernetes'
      ? {
          createdOn: now,
          modifiedOn: now,
          description: opts.description ?? 'Attached AKS cluster',
          resourceId: aksId,
          computeType: 'Kubernetes',
          computeLocation: location,
          provisioningState: opts.provisioningState ?? 'Succeeded',
          isAttachedCompute: true,
          disableLocalAuth: true,
          properties: {
            relayConnectionString: null,
            serviceBusConnectionString: null,
            extensionPrincipalId: null,
            extensionInstanceReleaseTrain: 'stable',
            vcName: null,
            namespace: opts.namespace ?? 'default',
            defaultInstanceType: 'defaultInstanceType',
            instanceTypes: {
              defaultInstanceType: {
                nodeSelector: null,
                resources: {
                  requests: { cpu: '1', memory: '4Gi', 'nvidia.com/gpu': null },
                  limits: { cpu: '1', memory: '4Gi', 'nvidia.com/gpu': null },
                },
              },
            },
          },
        }
      : {
          createdOn: now,
          modifiedOn: now,
          description: opts.description ?? null,
          computeType: 'AmlCompute',
          computeLocation: location,
          provisioningState: opts.provisioningState ?? 'Succeeded',
          isAttachedCompute: false,
          disableLocalAuth: true,
          properties: {
            vmSize: opts.vmSize ?? 'STANDARD_DS3_V2',
            vmPriority: 'Dedicated',
            osType: 'Linux',
            scaleSettings: { maxNodeCount: opts.maxNodeCount ?? 4, minNodeCount: 0, nodeIdleTimeBeforeScaleDown: 'PT120S' },
            allocationState: 'Steady',
            allocationStateTransitionTime: now,
            currentNodeCount: 0,
            targetNodeCount: 0,
            enableNodePublicIp: opts.enableNodePublicIp ?? false,
            remoteLoginPortPublicAccess: 'Disabled',
            isolatedNetwork: false,
            subnet: subnetId ? { id: subnetId } : null,
          },
        };
  const body: JsonObject = { id, name, type: `${ML_NS}/workspaces/computes`, location, properties };
  arm.resources.put(id, body);
  return body;
}

export function addDatastore(
  arm: ArmService,
  workspaceId: string,
  name: string,
  opts: { container: string; accountName: string; isDefault?: boolean },
): JsonObject {
  const id = `${workspaceId}/datastores/${name}`;
  const at = new Date().toISOString();
  const body: JsonObject = {
    id,
    name,
    type: `${ML_NS}/workspaces/datastores`,
    properties: {
      description: null,
      tags: {},
      properties: {},
      isDefault: opts.isDefault ?? false,
      credentials: { credentialsType: 'AccountKey', secrets: { secretsType: 'AccountKey' } },
      datastoreType: 'AzureBlob',
      accountName: opts.accountName,
      containerName: opts.container,
      endpoint: 'core.windows.net',
      protocol: 'https',
      serviceDataAccessAuthIdentity: 'WorkspaceSystemAssignedIdentity',
    },
    systemData: systemData(undefined, at),
  };
  arm.resources.put(id, body);
  return body;
}

/** Curated environments the reference pipelines use (`azureml:AzureML-sklearn-0.24-ubuntu18.04-py37-cpu:5`, `@latest`). */
const SKLEARN_CONDA =
  'name: project_environment\ndependencies:\n  - python=3.7.9\n  - pip:\n    - scikit-learn==0.24.1\n    - azureml-defaults\n    - mlflow\n';
const TAXI_CONDA =
  'channels:\n  - defaults\n  - anaconda\n  - conda-forge\ndependencies:\n  - python=3.11\n  - pip\n  - pip:\n      - azureml-mlflow==1.57.0\n      - scikit-learn==1.5.2\n      - pandas==2.2.3\n';

/** Computes (cpu-cluster, gpu-cluster, Kubernetes aks-prod) and registered environments (the default datastores come with every workspace, from ArmService.addWorkspace). */
export function seedWorkspaceAssets(arm: ArmService, store: AssetStore, workspaceId: string): void {
  const ws = arm.resources.get(workspaceId);
  if (!ws) throw new Error(`Unknown workspace ${workspaceId}`);
  addCompute(arm, ws.id, 'cpu-cluster', { vmSize: 'STANDARD_DS3_V2', maxNodeCount: 4 });
  addCompute(arm, ws.id, 'gpu-cluster', { vmSize: 'STANDARD_NC6S_V3', maxNodeCount: 2 });
  addCompute(arm, ws.id, 'aks-prod', { computeType: 'Kubernetes', namespace: 'azureml' });
  for (let v = 1; v <= 5; v++) {
    store.putVersion(ws.id, 'environments', 'AzureML-sklearn-0.24-ubuntu18.04-py37-cpu', String(v), {
      description:
        'An environment for tasks such as regression, clustering, and classification with Scikit-learn. Contains the Azure ML SDK and additional python packages.',
      environmentType: 'Curated',
      image: `mcr.microsoft.com/azureml/openmpi3.1.2-ubuntu18.04:2021090${v}.v1`,
      condaFile: SKLEARN_CONDA,
      osType: 'Linux',
      autoRebuild: 'OnBaseImageUpdate',
    });
  }
  store.putVersion(ws.id, 'environments', 'taxi-train-env', '1', {
    description: 'Environment created from a Docker image plus Conda environment to train taxi model.',
    environmentType: 'UserCreated',
    image: 'mcr.microsoft.com/azureml/openmpi3.1.2-ubuntu18.04',
    condaFile: TAXI_CONDA,
    osType: 'Linux',
    autoRebuild: 'OnBaseImageUpdate',
  });
}
