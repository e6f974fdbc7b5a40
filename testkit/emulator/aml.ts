// Microsoft.MachineLearningServices workspaces (GET, list, private endpoint connections) and
// the dependency resources a workspace points at. Shapes follow the 2024-04-01 REST examples.
import { randomUUID } from 'node:crypto';
import { armPage, type ArmRequest, type ArmService, type StoredResource } from './arm';
import { armErrors } from './armerrors';
import type { JsonObject } from './jwt';

export const ML_NS = 'Microsoft.MachineLearningServices';

export type PrivateLinkStatus = 'Approved' | 'Pending' | 'Rejected' | 'Disconnected';

export interface AddWorkspaceOptions {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
  location?: string;
  publicNetworkAccess?: 'Enabled' | 'Disabled';
  /** The workspace's immutable GUID (used in its private-link FQDNs). */
  workspaceId?: string;
  friendlyName?: string;
  tags?: Record<string, string>;
  tenantId?: string;
  /** Dependency ARM ids; defaults are created in the same resource group. */
  storageAccount?: string;
  keyVault?: string;
  containerRegistry?: string;
  applicationInsights?: string;
  /** Public network access of the default dependencies (defaults to the workspace's). */
  dependenciesPublicNetworkAccess?: 'Enabled' | 'Disabled';
  privateEndpointConnections?: Array<{
    name?: string;
    privateEndpointId?: string;
    privateEndpointName?: string;
    status?: PrivateLinkStatus;
    description?: string;
  }>;
  /**
   * Origin serving the workspace's data plane (discovery, run history, MLflow): discoveryUrl
   * becomes <origin>/discovery and mlFlowTrackingUri azureml://<host:port>/mlflow/v1.0/<workspace id>.
   * Default: the public regional host <location>.api.azureml.ms.
   */
  dataPlaneUrl?: string;
  /** The compute that builds environment images (default: cpu-cluster when the registry is private). */
  imageBuildCompute?: string | null;
  /** Managed network settings (default: isolation Disabled, i.e. the customer's own VNet). */
  managedNetwork?: JsonObject;
}

export function workspaceArmId(subscriptionId: string, resourceGroup: string, name: string): string {
  return `/subscriptions/${subscriptionId}/resourceGroups/${resourceGroup}/providers/${ML_NS}/workspaces/${name}`;
}

/** Resource group then workspace existence, with ARM's 404s. Call after authorization. */
export function requireWorkspace(arm: ArmService, subscriptionId: string, resourceGroup: string, name: string): StoredResource {
  arm.requireResourceGroup(subscriptionId, resourceGroup);
  const ws = arm.resources.get(workspaceArmId(subscriptionId, resourceGroup, name));
  if (!ws) throw armErrors.resourceNotFound(`${ML_NS}/workspaces`, name, resourceGroup);
  return ws;
}

function compact(name: string): string {
  return name.toLowerCase().replace(/[^a-z0-9]/g, '');
}

function ensureResource(arm: ArmService, id: string, body: () => JsonObject): void {
  if (!arm.resources.get(id)) arm.resources.put(id, body());
}

/** Creates the resource group (if needed), the default dependencies and the workspace; returns the workspace body. */
export function addWorkspace(arm: ArmService, opts: AddWorkspaceOptions): JsonObject {
  const sub = arm.subscription(opts.subscriptionId);
  if (!sub) throw new Error(`Unknown subscription ${opts.subscriptionId}; call arm.addSubscription first`);
  const location = opts.location ?? arm.locations[0];
  arm.addResourceGroup({ subscriptionId: opts.subscriptionId, name: opts.resourceGroup, location });
  const rgId = arm.resourceGroupId(opts.subscriptionId, opts.resourceGroup);
  const id = workspaceArmId(opts.subscriptionId, opts.resourceGroup, opts.name);
  const workspaceId = opts.workspaceId ?? randomUUID();
  const pna = opts.publicNetworkAccess ?? 'Enabled';
  const depPna = opts.dependenciesPublicNetworkAccess ?? pna;
  const base = compact(opts.name).slice(0, 14);

  const storageAccount = opts.storageAccount ?? `${rgId}/providers/Microsoft.Storage/storageAccounts/st${base}${workspaceId.slice(0, 6)}`;
  const keyVault = opts.keyVault ?? `${rgId}/providers/Microsoft.KeyVault/vaults/${`kv-${opts.name}`.slice(0, 24)}`;
  const containerRegistry = opts.containerRegistry ?? `${rgId}/providers/Microsoft.ContainerRegistry/registries/cr${base}`;
  const applicationInsights = opts.applicationInsights ?? `${rgId}/providers/microsoft.insights/components/appi-${opts.name}`;
  const nameOf = (armId: string): string => armId.split('/').pop() ?? armId;
  const dataPlane = opts.dataPlaneUrl ? new URL(opts.dataPlaneUrl) : undefined;

  // A default dependency: created in the workspace's group unless it exists; `extra(name)` gives
  // what follows id, name, type and location.
  const dependency = (armId: string, type: string, extra: (name: string) => JsonObject): void =>
    ensureResource(arm, armId, () => ({ id: armId, name: nameOf(armId), type, location, ...extra(nameOf(armId)) }));
  const defaultAction = depPna === 'Disabled' ? 'Deny' : 'Allow';
  const networkAcls = (): JsonObject => ({ bypass: 'AzureServices', defaultAction, ipRules: [], virtualNetworkRules: [] });

  dependency(storageAccount, 'Microsoft.Storage/storageAccounts', (n) => ({
    kind: 'StorageV2',
    sku: { name: 'Standard_LRS', tier: 'Standard' },
    properties: {
      provisioningState: 'Succeeded',
      publicNetworkAccess: depPna,
      allowBlobPublicAccess: false,
      networkAcls: networkAcls(),
      primaryEndpoints: {
        blob: `https://${n}.blob.core.windows.net/`,
        file: `https://${n}.file.core.windows.net/`,
        dfs: `https://${n}.dfs.core.windows.net/`,
        queue: `https://${n}.queue.core.windows.net/`,
        table: `https://${n}.table.core.windows.net/`,
      },
      privateEndpointConnections: [],
    },
  }));
  dependency(keyVault, 'Microsoft.KeyVault/vaults', (n) => ({
    properties: {
      tenantId: sub.tenantId,
      sku: { family: 'A', name: 'standard' },
      vaultUri: `https://${n}.vault.azure.net/`,
      enableRbacAuthorization: true,
      publicNetworkAccess: depPna,
      networkAcls: networkAcls(),
      provisioningState: 'Succeeded',
      privateEndpointConnections: [],
    },
  }));
  dependency(containerRegistry, 'Microsoft.ContainerRegistry/registries', (n) => ({
    sku: { name: 'Premium', tier: 'Premium' },
    properties: {
      loginServer: `${n}.azurecr.io`,
      provisioningState: 'Succeeded',
      adminUserEnabled: false,
      publicNetworkAccess: depPna,
      networkRuleSet: { defaultAction, ipRules: [] },
      dataEndpointEnabled: false,
      privateEndpointConnections: [],
    },
  }));
  dependency(applicationInsights, 'microsoft.insights/components', (n) => ({
    kind: 'web',
    properties: {
      ApplicationId: n,
      AppId: randomUUID(),
      Application_Type: 'web',
      provisioningState: 'Succeeded',
      publicNetworkAccessForIngestion: 'Enabled',
      publicNetworkAccessForQuery: 'Enabled',
    },
  }));

  const body: JsonObject = {
    id,
    name: opts.name,
    type: `${ML_NS}/workspaces`,
    location,
    tags: opts.tags ?? {},
    sku: { name: 'Basic', tier: 'Basic' },
    kind: 'Default',
    identity: { principalId: randomUUID(), tenantId: sub.tenantId, type: 'SystemAssigned' },
    properties: {
      friendlyName: opts.friendlyName ?? opts.name,
      description: '',
      storageAccount,
      keyVault,
      applicationInsights,
      containerRegistry,
      discoveryUrl: dataPlane ? `${dataPlane.origin}/discovery` : `https://${location}.api.azureml.ms/discovery`,
      workspaceId,
      hbiWorkspace: false,
      provisioningState: 'Succeeded',
      publicNetworkAccess: pna,
      allowPublicAccessWhenBehindVnet: false,
      sharedPrivateLinkResources: [],
      notebookInfo: {
        fqdn: `ml-${opts.name.toLowerCase()}-${location}-${workspaceId}.${location}.notebooks.azure.net`,
        isPrivateLinkEnabled: pna === 'Disabled',
        resourceId: randomUUID().replace(/-/g, ''),
      },
      mlFlowTrackingUri: `azureml://${dataPlane ? dataPlane.host : `${location}.api.azureml.ms`}/mlflow/v1.0${id}`,
      serviceProvisionedResourceGroup: `${opts.name}_${workspaceId.replace(/-/g, '').slice(0, 16)}`,
      storageHnsEnabled: false,
      tenantId: sub.tenantId,
      v1LegacyMode: false,
      enableDataIsolation: false,
      ...((opts.imageBuildCompute === undefined ? (depPna === 'Disabled' ? 'cpu-cluster' : null) : opts.imageBuildCompute)
        ? { imageBuildCompute: opts.imageBuildCompute ?? 'cpu-cluster' }
        : {}),
      managedNetwork: opts.managedNetwork ?? { isolationMode: 'Disabled', outboundRules: {} },
    },
  };
  arm.resources.put(id, body);

  for (const pec of opts.privateEndpointConnections ?? []) {
    const peName = pec.privateEndpointName ?? `pe-${opts.name}`;
    const peId = pec.privateEndpointId ?? `${rgId}/providers/Microsoft.Network/privateEndpoints/${peName}`;
    addPrivateEndpointConnection(arm, id, {
      name: pec.name ?? `${opts.name}.${randomUUID()}`,
      privateEndpointId: peId,
      status: pec.status ?? 'Approved',
      description: pec.description,
    });
  }
  return workspaceView(arm, arm.resources.get(id) as StoredResource);
}

export function addPrivateEndpointConnection(
  arm: ArmService,
  workspaceId: string,
  pec: { name: string; privateEndpointId: string; status?: PrivateLinkStatus; description?: string },
): JsonObject {
  const id = `${workspaceId}/privateEndpointConnections/${pec.name}`;
  const status = pec.status ?? 'Approved';
  const body: JsonObject = {
    id,
    name: pec.name,
    type: `${ML_NS}/workspaces/privateEndpointConnections`,
    properties: {
      provisioningState: 'Succeeded',
      privateEndpoint: { id: pec.privateEndpointId },
      privateLinkServiceConnectionState: {
        status,
        description: pec.description ?? (status === 'Approved' ? 'Auto-Approved' : ''),
        actionsRequired: 'None',
      },
    },
  };
  arm.resources.put(id, body);
  return body;
}

/** The workspace as GET returns it: private endpoint connections come from the child resources. */
export function workspaceView(arm: ArmService, ws: StoredResource): JsonObject {
  const pecs = arm.resources.list(`${ws.id}/privateEndpointConnections`).map((r) => r.body);
  const props = (ws.body.properties ?? {}) as JsonObject;
  return { ...ws.body, properties: { ...props, privateEndpointConnections: pecs, privateLinkCount: pecs.length } };
}

export function installMachineLearningRoutes(arm: ArmService): void {
  const wsBase = `/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/${ML_NS}/workspaces`;
  const ws = (req: ArmRequest): StoredResource =>
    requireWorkspace(arm, req.params.subscriptionId, req.params.resourceGroupName, req.params.workspaceName);

  arm.route('GET', `${wsBase}/{workspaceName}`, {
    action: `${ML_NS}/workspaces/read`,
    handler: (req) => ({ status: 200, body: workspaceView(arm, ws(req)) }),
  });
  arm.route('GET', wsBase, {
    action: `${ML_NS}/workspaces/read`,
    handler: (req) => {
      const rg = arm.requireResourceGroup(req.params.subscriptionId, req.params.resourceGroupName);
      return {
        status: 200,
        body: armPage(
          req,
          arm.resources.list(`${rg.id}/providers/${ML_NS}/workspaces`).map((r) => workspaceView(arm, r)),
          arm.listPageSize,
        ),
      };
    },
  });
  arm.route('GET', `/subscriptions/{subscriptionId}/providers/${ML_NS}/workspaces`, {
    action: `${ML_NS}/workspaces/read`,
    filterListByAccess: true,
    handler: (req) => {
      const prefix = `/subscriptions/${req.params.subscriptionId}/`.toLowerCase();
      const value = arm.resources
        .all()
        .filter(
          (r) =>
            r.id.toLowerCase().startsWith(prefix) &&
            String(r.body.type).toLowerCase() === `${ML_NS}/workspaces`.toLowerCase() &&
            req.canRead(r.id),
        )
        .map((r) => workspaceView(arm, r));
      return { status: 200, body: armPage(req, value, arm.listPageSize) };
    },
  });
  // POST diagnose: 202 with a Location-only operation whose result is the findings
  // (reference Workspace/diagnose.json). Tests store findings at `<workspace id>/diagnoseFindings`.
  arm.route('POST', `${wsBase}/{workspaceName}/diagnose`, {
    action: `${ML_NS}/workspaces/diagnose/action`,
    handler: (req) => {
      const w = ws(req);
      const findings = (arm.resources.get(`${w.id}/diagnoseFindings`)?.body ?? {}) as JsonObject;
      const empty = [
        'userDefinedRouteResults',
        'networkSecurityRuleResults',
        'resourceLockResults',
        'dnsResolutionResults',
        'storageAccountResults',
        'keyVaultResults',
        'containerRegistryResults',
        'applicationInsightsResults',
        'otherResults',
      ];
      const value: JsonObject = Object.fromEntries(empty.map((k) => [k, findings[k] ?? []]));
      const op = arm.startOperation({
        req,
        subscriptionId: req.params.subscriptionId,
        durationMs: 50,
        result: { status: 200, body: { value } },
      });
      return { status: 202, headers: { Location: op.headers.Location!, 'Retry-After': '0' } };
    },
  });
  arm.route('GET', `${wsBase}/{workspaceName}/privateEndpointConnections`, {
    action: `${ML_NS}/workspaces/privateEndpointConnections/read`,
    handler: (req) => ({ status: 200, body: { value: arm.resources.list(`${ws(req).id}/privateEndpointConnections`).map((r) => r.body) } }),
  });
  arm.route('GET', `${wsBase}/{workspaceName}/privateEndpointConnections/{connectionName}`, {
    action: `${ML_NS}/workspaces/privateEndpointConnections/read`,
    handler: (req) => {
      const w = ws(req);
      const pec = arm.resources.get(`${w.id}/privateEndpointConnections/${req.params.connectionName}`);
      if (!pec)
        throw armErrors.resourceNotFound(
          `${ML_NS}/workspaces/${req.params.workspaceName}/privateEndpointConnections`,
          req.params.connectionName,
          req.params.resourceGroupName,
        );
      return { status: 200, body: pec.body };
    },
  });
}
