// Azure Machine Learning registries (Microsoft.MachineLearningServices/registries), shaped like
// the 2024-04-01 examples (Registries/get.json, Registry/ModelVersion/*.json, vendored under
// testkit/reference/reference):
//
//   GET  .../resourceGroups/{rg}/providers/Microsoft.MachineLearningServices/registries[/{r}]    registries/read
//   GET  /subscriptions/{s}/providers/Microsoft.MachineLearningServices/registries                 registries/read (filtered by access)
//   GET  .../registries/{r}/models[/{name}]                                                        registries/assets/read
//   GET  .../registries/{r}/models/{name}/versions[/{version}]                                     registries/assets/read
//   POST .../registries/{r}/models/{name}/versions/{version}/startPendingUpload                    registries/assets/write
//   PUT  .../registries/{r}/models/{name}/versions/{version}                                       registries/assets/write, LRO
//
// Registries exist from api-version 2023-04-01 (the first stable version with registries.json).
// A model version PUT of a new version is a long-running operation (201 with
// Azure-AsyncOperation; final state via the version itself), in which the registry copies the
// model files from the workspace it names. What the service refuses, this refuses:
//   - a registry name outside ^[a-zA-Z0-9][a-zA-Z0-9\-_]{2,32}$ (RegistryNameParameter);
//   - a modelUri a registry cannot resolve: the workspace-relative short forms (azureml://jobs/...,
//     azureml://datastores/...) have no workspace in a registry; use the long form
//     azureml://subscriptions/<s>/resourceGroups/<rg>/workspaces/<ws>/(jobs/.../outputs/...|datastores/.../paths/...),
//     or the blobUri of this version's pending upload;
//   - a source workspace the caller may not read, or in a region the registry does not replicate to;
//   - a job that does not exist, has not completed or has no such output;
//   - a version that exists with another modelUri ("Asset paths cannot be updated.") or other immutable fields;
//   - the copy (the operation fails) when the workspace's storage account keeps the registry out:
//     public network access Disabled, or default action Deny without a resource instance rule for
//     the registry (Microsoft's "data exfiltration protection"; the fix is that rule).
// Deployments in a workspace read registry models through `resolveModel` (online.ts).
//
//   const reg = emu.registries.add({ subscriptionId, resourceGroup: 'rg-shared', name: 'mlr-shared', location: 'eastus' });
//   emu.registries.allowSharingFrom(devWorkspaceId, reg.id);     // the storage resource instance rule
//   emu.registries.versions(reg.id, 'taxi');                    // stored bodies, oldest first
import { randomUUID } from 'node:crypto';
import { armPage, type ArmRequest, type ArmService, type StoredResource } from './arm';
import { ArmError, armErrors } from './armerrors';
import { ML_NS } from './aml';
import { amlErrors, type AssetStore, pageOf, stableJson } from './assets';
import type { EmulatedStorage } from './azurite';
import type { JobEngine } from './jobs';
import { addPrivateEndpoint, type PrivateName } from './network';
import { type JsonObject, isJsonObject } from './jwt';
import { checkModelNames, checkModelVersionBody, filterItems, matchesFilter } from './models';

export const REGISTRY_NAME = /^[a-zA-Z0-9][a-zA-Z0-9\-_]{2,32}$/;
const FIRST_API = '2023-04-01';
const TYPE = `${ML_NS}/registries`;
const LONG_JOB_URI =
  /^azureml:\/\/subscriptions\/([^/]+)\/resource[gG]roups\/([^/]+)\/(?:providers\/Microsoft\.MachineLearningServices\/)?workspaces\/([^/]+)\/jobs\/([^/]+)\/outputs\/([^/]+)(?:\/paths\/(.*))?$/i;
const LONG_DATASTORE_URI =
  /^azureml:\/\/subscriptions\/([^/]+)\/resource[gG]roups\/([^/]+)\/(?:providers\/Microsoft\.MachineLearningServices\/)?workspaces\/([^/]+)\/datastores\/([^/]+)\/paths\/(.+)$/i;
const MUTABLE = new Set(['description', 'tags', 'properties', 'isArchived', 'provisioningState', 'stage']);

export interface AddRegistryOptions {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  /** The primary region (default the ARM default location). */
  location?: string;
  /** Every region the registry replicates to (default just the primary). */
  regions?: string[];
  publicNetworkAccess?: 'Enabled' | 'Disabled';
}

export interface RegistryDeps {
  arm: ArmService;
  assets: AssetStore;
  engine: JobEngine;
  storage: EmulatedStorage;
  /** Blob URL of an azureml://datastores/<d>/paths/<p> URI of a workspace (emu.aml.datastoreUrl). */
  datastoreUrl: (workspaceId: string, uri: string) => Promise<string | undefined>;
}

const nameOf = (id: string): string => id.split('/').filter(Boolean).pop() ?? id;
const norm = (s: string): string => s.toLowerCase().replace(/\s+/g, '');

export class Registries {
  /** Copy time of a model version PUT (the operation's length). */
  copyMs = 60;
  private lose = 0;
  constructor(private readonly deps: RegistryDeps) {}

  /** Creates the registry with a system-created storage account and container registry per region; returns its body. */
  add(o: AddRegistryOptions): JsonObject {
    const { arm } = this.deps;
    if (!REGISTRY_NAME.test(o.name)) throw new Error(`registry name '${o.name}' is not valid`);
    const sub = arm.subscription(o.subscriptionId);
    if (!sub) throw new Error(`Unknown subscription ${o.subscriptionId}`);
    const location = norm(o.location ?? arm.locations[0]!);
    arm.addResourceGroup({ subscriptionId: o.subscriptionId, name: o.resourceGroup, location });
    const guid = randomUUID();
    const managedRg = `azureml-rg-${o.name}_${guid}`;
    arm.addResourceGroup({ subscriptionId: o.subscriptionId, name: managedRg, location });
    const mrgId = arm.resourceGroupId(o.subscriptionId, managedRg);
    const pna = o.publicNetworkAccess ?? 'Enabled';
    const regions = [...new Set([location, ...(o.regions ?? []).map(norm)])];
    const compact = o.name
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')
      .slice(0, 10);
    const regionDetails = regions.map((region, i) => {
      const st = `${compact}${guid.replace(/-/g, '').slice(0, 8)}${i}`.slice(0, 24);
      const stId = `${mrgId}/providers/Microsoft.Storage/storageAccounts/${st}`;
      const acr = `${compact}${guid.replace(/-/g, '').slice(8, 16)}${i}`;
      const acrId = `${mrgId}/providers/Microsoft.ContainerRegistry/registries/${acr}`;
      arm.resources.put(stId, {
        id: stId,
        name: st,
        type: 'Microsoft.Storage/storageAccounts',
        location: region,
        kind: 'StorageV2',
        sku: { name: 'Standard_LRS', tier: 'Standard' },
        properties: {
          provisioningState: 'Succeeded',
          publicNetworkAccess: pna,
          allowBlobPublicAccess: false,
          networkAcls: {
            bypass: 'AzureServices',
            defaultAction: pna === 'Disabled' ? 'Deny' : 'Allow',
            ipRules: [],
            virtualNetworkRules: [],
            resourceAccessRules: [],
          },
          primaryEndpoints: { blob: `https://${st}.blob.core.windows.net/` },
          privateEndpointConnections: [],
        },
      });
      arm.resources.put(acrId, {
        id: acrId,
        name: acr,
        type: 'Microsoft.ContainerRegistry/registries',
        location: region,
        sku: { name: 'Premium', tier: 'Premium' },
        properties: {
          loginServer: `${acr}.azurecr.io`,
          provisioningState: 'Succeeded',
          publicNetworkAccess: pna,
          privateEndpointConnections: [],
        },
      });
      return {
        location: region,
        storageAccountDetails: [
          {
            systemCreatedStorageAccount: {
              storageAccountName: st,
              storageAccountType: 'Standard_LRS',
              storageAccountHnsEnabled: false,
              armResourceId: { resourceId: stId },
              allowBlobPublicAccess: false,
            },
          },
        ],
        acrDetails: [{ systemCreatedAcrAccount: { acrAccountName: acr, acrAccountSku: 'Premium', armResourceId: { resourceId: acrId } } }],
      };
    });
    const id = `${arm.resourceGroupId(o.subscriptionId, o.resourceGroup)}/providers/${TYPE}/${o.name}`;
    const at = new Date().toISOString();
    const body: JsonObject = {
      id,
      name: o.name,
      type: TYPE,
      location,
      tags: {},
      kind: 'Registry',
      identity: { type: 'SystemAssigned', principalId: randomUUID(), tenantId: sub.tenantId },
      sku: { name: 'P3', tier: 'Basic' },
      properties: {
        regionDetails,
        intellectualPropertyPublisher: null,
        publicNetworkAccess: pna,
        discoveryUrl: `https://${location}.api.azureml.ms/registrymanagement/v1.0/registries/${o.name}/discovery`,
        managedResourceGroup: { resourceId: mrgId },
        mlFlowRegistryUri: `azureml://${location}.api.azureml.ms/mlflow/v1.0${id}`,
        registryPrivateEndpointConnections: [],
      },
      systemData: {
        createdAt: at,
        createdBy: 'emulator',
        createdByType: 'Application',
        lastModifiedAt: at,
        lastModifiedBy: 'emulator',
        lastModifiedByType: 'Application',
      },
    };
    arm.resources.put(id, body);
    return body;
  }

  /** The registry with this name (names are unique in a tenant; the emulator looks in every subscription). */
  byName(name: string): StoredResource | undefined {
    return this.deps.arm.resources
      .all()
      .find((r) => String(r.body.type).toLowerCase() === TYPE.toLowerCase() && String(r.body.name).toLowerCase() === name.toLowerCase());
  }

  /** Regions the registry replicates to. */
  regions(registry: StoredResource): string[] {
    const details = ((registry.body.properties as JsonObject).regionDetails ?? []) as Array<{ location?: string }>;
    return [...new Set([norm(String(registry.body.location)), ...details.map((d) => norm(String(d.location ?? '')))].filter(Boolean))];
  }

  /** Stored version bodies of a registry model, oldest first. */
  versions(registryId: string, name: string): JsonObject[] {
    return this.deps.assets.versions(registryId, 'models', name).map((v) => v.body);
  }

  /** Registers a version directly (as if by hand), e.g. a production champion. */
  addVersion(registryId: string, name: string, version: string, properties: JsonObject = {}): JsonObject {
    return this.store(registryId, name, version, {
      modelType: 'custom_model',
      modelUri: `azureml://registries/${nameOf(registryId)}/models/${name}/versions/${version}`,
      ...properties,
    }).body;
  }

  /** The next `n` model version PUTs are accepted, then answered 503 (a response lost after the write). */
  loseResponses(n: number): void {
    this.lose = n;
  }

  /**
   * Lets a workspace share into the registry: its storage account takes selected networks with a
   * resource instance rule for the registry (the fix Microsoft documents).
   */
  allowSharingFrom(workspaceId: string, registryId: string): void {
    const st = this.storageOf(workspaceId);
    const p = st.body.properties as JsonObject;
    const acls = (isJsonObject(p.networkAcls) ? p.networkAcls : {}) as JsonObject;
    const rules = (Array.isArray(acls.resourceAccessRules) ? acls.resourceAccessRules : []) as JsonObject[];
    const tenantId = String((this.deps.arm.resources.get(registryId)?.body.identity as JsonObject | undefined)?.tenantId ?? '');
    p.publicNetworkAccess = 'Enabled';
    p.networkAcls = { ...acls, defaultAction: 'Deny', resourceAccessRules: [...rules, { tenantId, resourceId: registryId }] };
  }

  /**
   * Private endpoints for the registry (group amlregistry) and the blob endpoint of its storage
   * account in each region, with the names the emulator gives them (the registry's API names
   * here are the emulator's own; the tasks read names from the endpoints, never from a pattern).
   */
  addPrivateNetwork(
    registryId: string,
    o: { subnetPrefix?: string; status?: 'Approved' | 'Pending' | 'Rejected' | 'Disconnected' } = {},
  ): PrivateName[] {
    const { arm } = this.deps;
    const r = arm.resources.get(registryId);
    if (!r) throw new Error(`unknown registry ${registryId}`);
    const prefix = o.subnetPrefix ?? '10.10.2.';
    let host = 4;
    const names: PrivateName[] = [];
    const rgId = registryId.slice(0, registryId.indexOf('/providers/'));
    const pe = (
      name: string,
      targetId: string,
      groupId: string,
      fqdns: Array<[string, string]>,
      status?: 'Approved' | 'Pending' | 'Rejected' | 'Disconnected',
    ) => {
      const dns = fqdns.map(([fqdn, privatelink]) => {
        const n = { fqdn, ip: `${prefix}${host++}`, privatelink };
        names.push(n);
        return { fqdn, ip: n.ip };
      });
      addPrivateEndpoint(arm, {
        id: `${rgId}/providers/Microsoft.Network/privateEndpoints/${name}`,
        targetId,
        groupId,
        location: String(r.body.location),
        dns,
        ...(status ? { status } : {}),
      });
    };
    const api = (region: string): Array<[string, string]> => [
      [
        `${String(r.body.name).toLowerCase()}.registry.${region}.api.azureml.ms`,
        `${String(r.body.name).toLowerCase()}.registry.${region}.privatelink.api.azureml.ms`,
      ],
    ];
    pe(`pe-${String(r.body.name)}`, r.id, 'amlregistry', this.regions(r).flatMap(api), o.status);
    for (const d of (r.body.properties as JsonObject).regionDetails as JsonObject[]) {
      const st = (d.storageAccountDetails as JsonObject[])[0]!.systemCreatedStorageAccount as JsonObject;
      const n = String(st.storageAccountName);
      pe(`pe-${n}-blob`, String((st.armResourceId as JsonObject).resourceId), 'blob', [
        [`${n}.blob.core.windows.net`, `${n}.privatelink.blob.core.windows.net`],
      ]);
    }
    return names;
  }

  /**
   * A registry model a workspace deploys (`azureml://registries/<r>/models/<m>/versions/<v>`):
   * the registry must exist, replicate to the workspace's region, hold the version, and let the
   * caller read its assets. Returns the version; throws the service's error otherwise.
   */
  resolveModel(ref: string, workspace: StoredResource, callerObjectId: string, field: string): StoredResource {
    const m = /^azureml:\/\/registries\/([^/]+)\/models\/([^/]+)\/versions\/([^/]+)$/i.exec(ref.trim());
    if (!m)
      throw amlErrors.userError(
        `properties.${field} '${ref}' is not a registry model version (azureml://registries/<registry>/models/<name>/versions/<version>).`,
        ['ValidationError'],
      );
    const [, regName, model, version] = m as unknown as [string, string, string, string];
    const reg = this.byName(regName);
    if (!reg)
      throw amlErrors.userError(`Registry '${regName}' referenced by properties.${field} was not found.`, [
        'BadArgument',
        'RegistryNotFound',
      ]);
    if (!this.deps.arm.rbac.isAllowed(callerObjectId, `${ML_NS}/registries/assets/read`, reg.id)) {
      throw new ArmError(
        403,
        'AuthorizationFailed',
        `The client with object id '${callerObjectId}' does not have authorization to perform action '${ML_NS}/registries/assets/read' over scope '${reg.id}' or the scope is invalid.`,
      );
    }
    const region = norm(String(workspace.body.location));
    if (!this.regions(reg).includes(region)) {
      throw amlErrors.userError(
        `Registry '${regName}' is not available in region '${region}' of workspace '${String(workspace.body.name)}' (registry regions: ${this.regions(reg).join(', ')}).`,
        ['BadArgument', 'RegionNotSupported'],
      );
    }
    const v = this.deps.assets.getVersion(reg.id, 'models', model, version);
    if (!v || (v.body.properties as JsonObject).provisioningState !== 'Succeeded')
      throw amlErrors.userError(`Model ${model}:${version} was not found in registry '${regName}'.`, ['BadArgument', 'NotFound']);
    return v;
  }

  install(): void {
    const { arm, assets } = this.deps;
    const rgBase = `/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/${ML_NS}/registries`;
    const base = `${rgBase}/{registryName}`;
    const requireApi = (req: ArmRequest): void => {
      if (req.apiVersion.slice(0, 10) < FIRST_API) throw armErrors.invalidResourceType('registries', ML_NS, req.apiVersion);
    };
    const registry = (req: ArmRequest): StoredResource => {
      requireApi(req);
      const { subscriptionId, resourceGroupName, registryName } = req.params as Record<string, string>;
      if (!REGISTRY_NAME.test(registryName!)) {
        throw new ArmError(
          400,
          'InvalidParameter',
          `The registry name '${registryName}' is invalid. It must match ^[a-zA-Z0-9][a-zA-Z0-9\\-_]{2,32}$: 3 to 33 letters, digits, '-' and '_', starting with a letter or digit.`,
        );
      }
      arm.requireResourceGroup(subscriptionId!, resourceGroupName!);
      const r = arm.resources.get(`${arm.resourceGroupId(subscriptionId!, resourceGroupName!)}/providers/${TYPE}/${registryName}`);
      if (!r) throw armErrors.resourceNotFound(TYPE, registryName!, resourceGroupName!);
      return r;
    };
    const notFound = (req: ArmRequest, version?: string): ArmError =>
      amlErrors.notFound(
        version === undefined
          ? `Model container '${req.params.name}' was not found in registry '${req.params.registryName}'.`
          : `Model '${req.params.name}:${version}' was not found in registry '${req.params.registryName}'.`,
      );
    const read = `${ML_NS}/registries/assets/read`;
    const write = `${ML_NS}/registries/assets/write`;

    arm.route('GET', base, { action: `${ML_NS}/registries/read`, handler: (req) => ({ status: 200, body: registry(req).body }) });
    arm.route('GET', rgBase, {
      action: `${ML_NS}/registries/read`,
      handler: (req) => {
        requireApi(req);
        const rg = arm.requireResourceGroup(req.params.subscriptionId!, req.params.resourceGroupName!);
        return {
          status: 200,
          body: armPage(
            req,
            arm.resources.list(`${rg.id}/providers/${TYPE}`).map((r) => r.body),
            arm.listPageSize,
          ),
        };
      },
    });
    arm.route('GET', `/subscriptions/{subscriptionId}/providers/${TYPE}`, {
      action: `${ML_NS}/registries/read`,
      filterListByAccess: true,
      handler: (req) => {
        requireApi(req);
        const prefix = `/subscriptions/${req.params.subscriptionId}/`.toLowerCase();
        const value = arm.resources
          .all()
          .filter(
            (r) => r.id.toLowerCase().startsWith(prefix) && String(r.body.type).toLowerCase() === TYPE.toLowerCase() && req.canRead(r.id),
          )
          .map((r) => r.body);
        return { status: 200, body: armPage(req, value, arm.listPageSize) };
      },
    });
    arm.route('GET', `${base}/models`, {
      action: read,
      scope: (req) => registry(req).id,
      handler: (req) => {
        const r = registry(req);
        return {
          status: 200,
          body: pageOf(
            req,
            arm.resources.list(`${r.id}/models`).map((c) => this.view(assets.containerView(c, r.id, 'models'))),
            arm.listPageSize,
            '$skip',
          ),
        };
      },
    });
    arm.route('GET', `${base}/models/{name}`, {
      action: read,
      scope: (req) => registry(req).id,
      handler: (req) => {
        const r = registry(req);
        const c = arm.resources.get(assets.containerId(r.id, 'models', req.params.name!));
        if (!c) throw notFound(req);
        return { status: 200, body: this.view(assets.containerView(c, r.id, 'models')) };
      },
    });
    arm.route('GET', `${base}/models/{name}/versions`, {
      action: read,
      scope: (req) => registry(req).id,
      handler: (req) => {
        const r = registry(req);
        const tags = filterItems(req.query.get('tags'));
        const props = filterItems(req.query.get('properties'));
        const version = req.query.get('version');
        const list = this.versions(r.id, req.params.name!)
          .filter((b) => (b.properties as JsonObject).provisioningState === 'Succeeded')
          .filter((b) => !version || b.name === version)
          .filter(
            (b) => matchesFilter((b.properties as JsonObject).tags, tags) && matchesFilter((b.properties as JsonObject).properties, props),
          );
        return { status: 200, body: pageOf(req, list, arm.listPageSize, '$skipToken') };
      },
    });
    arm.route('GET', `${base}/models/{name}/versions/{version}`, {
      action: read,
      scope: (req) => registry(req).id,
      handler: (req) => {
        const r = registry(req);
        const v = assets.getVersion(r.id, 'models', req.params.name!, req.params.version!);
        // A version whose copy still runs is not there yet (the PUT's final state is read here).
        if (!v || (v.body.properties as JsonObject).provisioningState !== 'Succeeded') throw notFound(req, req.params.version);
        return { status: 200, body: v.body };
      },
    });
    arm.route('POST', `${base}/models/{name}/versions/{version}/startPendingUpload`, {
      action: write,
      scope: (req) => registry(req).id,
      handler: (req) => this.startPendingUpload(req, registry(req)),
    });
    arm.route('PUT', `${base}/models/{name}/versions/{version}`, {
      action: write,
      scope: (req) => registry(req).id,
      handler: (req) => this.putVersion(req, registry(req)),
    });
  }

  /** Registry containers and versions carry registry types. */
  private view(b: JsonObject): JsonObject {
    return { ...b, type: String(b.type).replace('/workspaces/', '/registries/') };
  }

  private store(
    registryId: string,
    name: string,
    version: string,
    props: JsonObject,
    req?: ArmRequest,
  ): { body: JsonObject; created: boolean } {
    const out = this.deps.assets.putVersion(registryId, 'models', name, version, props, req);
    // AssetStore writes workspace types; a registry's are registries/models[/versions].
    const c = this.deps.arm.resources.get(this.deps.assets.containerId(registryId, 'models', name));
    if (c) c.body.type = `${TYPE}/models`;
    out.body.type = `${TYPE}/models/versions`;
    return out;
  }

  private storageOf(workspaceId: string): StoredResource {
    const ws = this.deps.arm.resources.get(workspaceId);
    const id = String((ws?.body.properties as JsonObject | undefined)?.storageAccount ?? '');
    const st = this.deps.arm.resources.get(id);
    if (!st) throw new Error(`workspace ${workspaceId} has no storage account`);
    return st;
  }

  private async startPendingUpload(req: ArmRequest, r: StoredResource) {
    const { name, version } = req.params as Record<string, string>;
    checkModelNames(name!, version!);
    const body = isJsonObject(req.body) ? req.body : {};
    const type = body.pendingUploadType ?? 'TemporaryBlobReference';
    if (type !== 'TemporaryBlobReference' && type !== 'None')
      throw amlErrors.userError(`pendingUploadType '${String(type)}' is invalid. Valid values: None, TemporaryBlobReference.`);
    if (this.deps.assets.getVersion(r.id, 'models', name!, version!)) {
      throw amlErrors.userError(`Model ${name}:${version} already exists in registry '${String(r.body.name)}'.`, [
        'BadArgument',
        'AssetAlreadyExists',
      ]);
    }
    const pendingUploadId = typeof body.pendingUploadId === 'string' && body.pendingUploadId ? body.pendingUploadId : randomUUID();
    const details = ((r.body.properties as JsonObject).regionDetails as JsonObject[])[0]!;
    const st = (details.storageAccountDetails as JsonObject[])[0]!.systemCreatedStorageAccount as JsonObject;
    await this.deps.storage.start();
    const account = this.deps.storage.azuriteAccount(String(st.storageAccountName));
    const container = `${name}-${version}-${pendingUploadId}`
      .toLowerCase()
      .replace(/[^a-z0-9-]/g, '-')
      .slice(0, 63)
      .replace(/-+$/, '');
    await this.deps.storage.ensureContainer(account, container);
    const blobUri = this.deps.storage.blobUrl({ account, container, path: '' });
    const sas = this.deps.storage.containerSas(account, container);
    return {
      status: 200,
      body: {
        blobReferenceForConsumption: {
          blobUri,
          storageAccountArmId: (st.armResourceId as JsonObject).resourceId,
          credential: { credentialType: 'SAS', sasUri: `${blobUri}?${sas}` },
        },
        pendingUploadId,
        pendingUploadType: 'TemporaryBlobReference',
      },
    };
  }

  private async putVersion(req: ArmRequest, r: StoredResource) {
    const { name, version } = req.params as Record<string, string>;
    const props = checkModelVersionBody(name!, version!, req.body);
    const modelUri = props.modelUri as string;
    const existing = this.deps.assets.getVersion(r.id, 'models', name!, version!);
    const old = existing?.body.properties as JsonObject | undefined;
    if (old) {
      if (old.provisioningState !== 'Succeeded')
        throw new ArmError(409, 'Conflict', `Model ${name}:${version} is still being created in registry '${String(r.body.name)}'.`);
      if (old.modelUri !== modelUri) throw amlErrors.userError('Asset paths cannot be updated.', ['Immutable']);
      const defaults: JsonObject = { isAnonymous: false, modelType: 'custom_model', jobName: null, flavors: {} };
      const keys = new Set([...Object.keys(old), ...Object.keys(props)]);
      const changed = [...keys].filter(
        (k) =>
          k !== 'modelUri' && !MUTABLE.has(k) && stableJson(props[k] ?? defaults[k] ?? null) !== stableJson(old[k] ?? defaults[k] ?? null),
      );
      if (changed.length)
        throw amlErrors.userError(
          `Model ${name}:${version} already exists and its ${changed.join(', ')} cannot be changed: asset versions are immutable. Use a new version.`,
          ['Immutable'],
        );
      const { body } = this.store(r.id, name!, version!, { ...old, ...props, provisioningState: 'Succeeded' }, req);
      return { status: 200, body };
    }
    const copy = await this.sourceOf(req, r, modelUri);
    const { body } = this.store(r.id, name!, version!, { flavors: {}, jobName: null, modelType: 'custom_model', ...props }, req);
    (body.properties as JsonObject).provisioningState = 'Creating';
    // The operation ends when the copy has run (and copyMs has passed): only then is the version there.
    const op = this.deps.arm.startOperation({
      req,
      manual: true,
      onComplete: (o) => {
        const cur = this.deps.assets.getVersion(r.id, 'models', name!, version!);
        if (!cur) return;
        if (o.status === 'Succeeded') (cur.body.properties as JsonObject).provisioningState = 'Succeeded';
        else this.deps.arm.resources.delete(cur.id);
      },
    });
    const started = Date.now();
    void (async () => {
      const failure = copy.blocked
        ? { code: 'UserError', message: copy.blocked }
        : await (copy.copy?.(r.id, name!, version!) ?? Promise.resolve()).then(
            () => undefined,
            (e: unknown) => ({
              code: 'InternalServerError',
              message: `Copying the model files failed: ${e instanceof Error ? e.message : String(e)}`,
            }),
          );
      await new Promise((res) => setTimeout(res, Math.max(0, this.copyMs - (Date.now() - started))).unref());
      op.complete(failure ? 'Failed' : 'Succeeded', failure);
    })();
    if (this.lose > 0) {
      this.lose--;
      throw new ArmError(503, 'ServiceUnavailable', 'The service is temporarily unavailable. Please retry the request.', {
        'Retry-After': '0',
      });
    }
    return {
      status: 201,
      body,
      headers: { 'Azure-AsyncOperation': op.headers['Azure-AsyncOperation']!, 'x-ms-async-operation-timeout': 'PT1H', 'Retry-After': '0' },
    };
  }

  /**
   * What a new version's modelUri names, checked as the registry does before it accepts the
   * PUT; `blocked` when the copy will fail (storage keeps the registry out), `copy` the copy.
   */
  private async sourceOf(
    req: ArmRequest,
    r: StoredResource,
    uri: string,
  ): Promise<{ blocked?: string; copy?: (registryId: string, name: string, version: string) => Promise<void> }> {
    const { arm, engine, storage } = this.deps;
    if (/^azureml:\/\/(jobs|datastores)\//i.test(uri)) {
      throw amlErrors.userError(
        `modelUri '${uri}' is relative to a workspace, and a registry has none. Use the long form azureml://subscriptions/<subscription>/resourceGroups/<group>/workspaces/<workspace>/${uri.slice('azureml://'.length)}.`,
        ['BadArgument', 'InvalidUri'],
      );
    }
    const pending = storage.started ? storage.parseUrl(uri) : undefined;
    if (pending) {
      if (!(await storage.exists(uri)))
        throw amlErrors.userError(
          `modelUri '${uri.split('?')[0]}' does not point to any uploaded file. Upload the files through startPendingUpload first.`,
          ['BadArgument', 'AssetPathNotFound'],
        );
      return {};
    }
    const job = LONG_JOB_URI.exec(uri);
    const ds = LONG_DATASTORE_URI.exec(uri);
    if (!job && !ds) {
      throw amlErrors.userError(
        `modelUri '${uri}' is not a supported URI for a registry. Use azureml://subscriptions/<s>/resourceGroups/<rg>/workspaces/<ws>/jobs/<job>/outputs/<output>, .../datastores/<name>/paths/<path>, or the blobUri of a pending upload.`,
        ['BadArgument', 'InvalidUri'],
      );
    }
    const [, sub, rg, wsName] = (job ?? ds)! as unknown as [string, string, string, string];
    const wsId = `/subscriptions/${sub}/resourceGroups/${rg}/providers/${ML_NS}/workspaces/${wsName}`;
    const ws = arm.resources.get(wsId);
    if (!ws) throw amlErrors.userError(`The workspace '${wsName}' named by modelUri was not found.`, ['BadArgument', 'WorkspaceNotFound']);
    const action = job ? `${ML_NS}/workspaces/jobs/read` : `${ML_NS}/workspaces/datastores/read`;
    if (!arm.rbac.isAllowed(req.caller.objectId, action, wsId)) {
      throw new ArmError(
        403,
        'AuthorizationFailed',
        `The client '${req.caller.appId}' with object id '${req.caller.objectId}' does not have authorization to perform action '${action}' over scope '${wsId}' or the scope is invalid. Sharing into a registry reads the source workspace with the caller's identity.`,
      );
    }
    const region = norm(String(ws.body.location));
    if (!this.regions(r).includes(region)) {
      throw amlErrors.userError(
        `Workspace '${wsName}' is in region '${region}', which registry '${String(r.body.name)}' does not replicate to (regions: ${this.regions(r).join(', ')}).`,
        ['BadArgument', 'RegionNotSupported'],
      );
    }
    let folder: string | undefined;
    if (job) {
      const [, , , , jobName, output, sub2] = job as unknown as string[];
      const run = engine.run(jobName!);
      const record = run ? engine.jobs.get(run.jobName) : undefined;
      if (!run || !record || record.workspaceId.toLowerCase() !== wsId.toLowerCase())
        throw amlErrors.userError(`The job '${jobName}' referenced by modelUri was not found in workspace '${wsName}'.`, [
          'BadArgument',
          'JobNotFound',
        ]);
      if (run.status !== 'Completed')
        throw amlErrors.userError(
          `Job '${jobName}' is in status ${run.status}: a model can only be shared from the outputs of a completed job.`,
          ['BadArgument', 'JobNotCompleted'],
        );
      const out = run.outputs[output!];
      if (!out)
        throw amlErrors.userError(
          `Job '${jobName}' has no output '${output}'. Its outputs: ${Object.keys(run.outputs).join(', ') || '(none)'}.`,
          ['BadArgument', 'OutputNotFound'],
        );
      folder = await this.deps.datastoreUrl(wsId, `${out.replace(/\/+$/, '')}${sub2 ? `/${sub2}` : ''}`);
    } else {
      if (!arm.resources.get(`${wsId}/datastores/${ds![4]}`))
        throw amlErrors.userError(`The datastore '${ds![4]}' referenced by modelUri was not found.`, ['BadArgument', 'DatastoreNotFound']);
      folder = await this.deps.datastoreUrl(wsId, `azureml://datastores/${ds![4]}/paths/${ds![5]}`);
    }
    const blocked = this.exfiltrationBlock(ws, r);
    if (blocked) return { blocked };
    return {
      copy: async (registryId, name, version) => {
        if (!folder) return;
        const details = ((this.deps.arm.resources.get(registryId)!.body.properties as JsonObject).regionDetails as JsonObject[])[0]!;
        const st = String(
          ((details.storageAccountDetails as JsonObject[])[0]!.systemCreatedStorageAccount as JsonObject).storageAccountName,
        );
        const src = storage.parseUrl(folder)!;
        for (const b of await storage.listBlobs(folder)) {
          const rel = b.name.slice(src.path.replace(/\/+$/, '').length).replace(/^\/+/, '') || b.name.split('/').pop()!;
          const data = await storage.getBlob(storage.blobUrl({ account: src.account, container: src.container, path: b.name }));
          await storage.putBlob(
            storage.blobUrl({ account: storage.azuriteAccount(st), container: 'models', path: `${name}/${version}/${rel}` }),
            data,
          );
        }
      },
    };
  }

  /** Why the workspace's storage keeps the registry out, or undefined when it lets it in. */
  private exfiltrationBlock(ws: StoredResource, r: StoredResource): string | undefined {
    const st = this.storageOf(ws.id);
    const p = st.body.properties as JsonObject;
    const acls = (isJsonObject(p.networkAcls) ? p.networkAcls : {}) as JsonObject;
    const rules = (Array.isArray(acls.resourceAccessRules) ? acls.resourceAccessRules : []) as JsonObject[];
    const allowed = rules.some((x) => {
      const id = String(x.resourceId ?? '').toLowerCase();
      return id === r.id.toLowerCase() || id === `${r.id.slice(0, r.id.lastIndexOf('/'))}/*`.toLowerCase();
    });
    const why = `Could not copy the model from storage account '${String(st.body.name)}' of workspace '${String(ws.body.name)}' into registry '${String(r.body.name)}'`;
    if (p.publicNetworkAccess === 'Disabled')
      return `${why}: the storage account has public network access disabled (data exfiltration protection).`;
    if (acls.defaultAction === 'Deny' && !allowed)
      return `${why}: the storage account's network rules do not allow the registry (add a resource instance rule for ${TYPE}/${String(r.body.name)}).`;
    return undefined;
  }
}
