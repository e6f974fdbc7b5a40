// Microsoft.Network private endpoints and the workspace's dependency resources (Storage,
// Key Vault, Container Registry) as ARM serves them, for the private-link check.
// Shapes: reference/network/.../PrivateEndpointGet.json and the providers' GET responses.
import { randomUUID } from 'node:crypto';
import { addPrivateEndpointConnection } from './aml';
import type { ArmService } from './arm';
import { armErrors } from './armerrors';
import type { JsonObject } from './jwt';

export interface PrivateEndpointSpec {
  /** ARM id of the private endpoint to create. */
  id: string;
  /** The resource it connects to (workspace, storage account, vault, registry). */
  targetId: string;
  groupId: string;
  location?: string;
  /** customDnsConfigs: the names and IPs this endpoint serves. */
  dns: Array<{ fqdn: string; ip: string }>;
  status?: 'Approved' | 'Pending' | 'Rejected' | 'Disconnected';
}

const nameOf = (id: string): string => id.split('/').pop() ?? id;
const rgOf = (id: string): string => /\/resourceGroups\/([^/]+)/i.exec(id)?.[1] ?? '';

/** Create the endpoint resource and, unless present, the connection on the target resource. */
export function addPrivateEndpoint(arm: ArmService, spec: PrivateEndpointSpec): JsonObject {
  const status = spec.status ?? 'Approved';
  const subnet = spec.id.replace(
    /\/providers\/Microsoft\.Network\/privateEndpoints\/.*/i,
    '/providers/Microsoft.Network/virtualNetworks/vnet-aml/subnets/snet-pe',
  );
  const body: JsonObject = {
    name: nameOf(spec.id),
    id: spec.id,
    type: 'Microsoft.Network/privateEndpoints',
    location: spec.location ?? 'eastus',
    etag: `W/"${randomUUID()}"`,
    properties: {
      provisioningState: 'Succeeded',
      resourceGuid: randomUUID(),
      privateLinkServiceConnections: [
        {
          id: `${spec.id}/privateLinkServiceConnections/${nameOf(spec.id)}`,
          name: nameOf(spec.id),
          properties: {
            privateLinkServiceId: spec.targetId,
            groupIds: [spec.groupId],
            privateLinkServiceConnectionState: {
              status,
              description: status === 'Approved' ? 'Auto-Approved' : '',
              actionsRequired: 'None',
            },
          },
        },
      ],
      manualPrivateLinkServiceConnections: [],
      subnet: { id: subnet },
      networkInterfaces: [{ id: spec.id.replace(/privateEndpoints\/(.*)$/i, `networkInterfaces/$1.nic.${randomUUID().slice(0, 8)}`) }],
      customDnsConfigs: spec.dns.map((d) => ({ fqdn: d.fqdn, ipAddresses: [d.ip] })),
      ipConfigurations: [],
      applicationSecurityGroups: [],
    },
  };
  arm.resources.put(spec.id, body);

  const target = arm.resources.get(spec.targetId);
  if (!target) throw new Error(`addPrivateEndpoint: unknown target ${spec.targetId}`);
  if (/\/Microsoft\.MachineLearningServices\/workspaces\//i.test(spec.targetId)) {
    const exists = arm.resources
      .list(`${target.id}/privateEndpointConnections`)
      .some((c) => JSON.stringify(c.body).toLowerCase().includes(spec.id.toLowerCase()));
    if (!exists)
      addPrivateEndpointConnection(arm, target.id, { name: `${nameOf(spec.id)}.${randomUUID()}`, privateEndpointId: spec.id, status });
  } else if (/\/Microsoft\.MachineLearningServices\/registries\//i.test(spec.targetId)) {
    // Registries list their connections inline, in their own shape (Registries/get.json).
    const props = (target.body.properties ?? {}) as JsonObject;
    const list = (props.registryPrivateEndpointConnections ?? []) as JsonObject[];
    list.push({
      id: `${target.id}/privateEndpointConnections/${nameOf(spec.id)}.${randomUUID()}`,
      location: target.body.location,
      properties: {
        provisioningState: 'Succeeded',
        privateEndpoint: { id: spec.id, subnetArmId: subnet },
        registryPrivateLinkServiceConnectionState: {
          status,
          description: status === 'Approved' ? 'Auto-Approved' : '',
          actionsRequired: 'None',
        },
        groupIds: [spec.groupId],
      },
    });
    props.registryPrivateEndpointConnections = list;
  } else {
    const props = (target.body.properties ?? {}) as JsonObject;
    const list = (props.privateEndpointConnections ?? []) as JsonObject[];
    const connName = `${nameOf(spec.id)}.${randomUUID()}`;
    list.push({
      id: `${target.id}/privateEndpointConnections/${connName}`,
      name: connName,
      type: `${String(target.body.type)}/privateEndpointConnections`,
      properties: {
        privateEndpoint: { id: spec.id },
        privateLinkServiceConnectionState: { status, description: '', actionsRequired: 'None' },
        provisioningState: 'Succeeded',
      },
    });
    arm.resources.put(target.id, { ...target.body, properties: { ...props, privateEndpointConnections: list } });
  }
  return body;
}

/** GET routes for private endpoints and the three dependency types. */
export function installNetworkRoutes(arm: ArmService): void {
  const rg = '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers';
  const getter = (type: string, param: string) => (req: { params: Record<string, string> }) => {
    arm.requireResourceGroup(req.params.subscriptionId!, req.params.resourceGroupName!);
    const id = `/subscriptions/${req.params.subscriptionId}/resourceGroups/${req.params.resourceGroupName}/providers/${type}/${req.params[param]}`;
    const r = arm.resources.get(id);
    if (!r) throw armErrors.resourceNotFound(type, req.params[param]!, req.params.resourceGroupName!);
    return { status: 200, body: r.body };
  };
  arm.route('GET', `${rg}/Microsoft.Network/privateEndpoints/{name}`, {
    action: 'Microsoft.Network/privateEndpoints/read',
    handler: getter('Microsoft.Network/privateEndpoints', 'name'),
  });
  arm.route('GET', `${rg}/Microsoft.Storage/storageAccounts/{name}`, {
    action: 'Microsoft.Storage/storageAccounts/read',
    handler: getter('Microsoft.Storage/storageAccounts', 'name'),
  });
  arm.route('GET', `${rg}/Microsoft.KeyVault/vaults/{name}`, {
    action: 'Microsoft.KeyVault/vaults/read',
    handler: getter('Microsoft.KeyVault/vaults', 'name'),
  });
  arm.route('GET', `${rg}/Microsoft.ContainerRegistry/registries/{name}`, {
    action: 'Microsoft.ContainerRegistry/registries/read',
    handler: getter('Microsoft.ContainerRegistry/registries', 'name'),
  });
  arm.route('GET', `${rg}/Microsoft.Network/networkSecurityGroups/{name}`, {
    action: 'Microsoft.Network/networkSecurityGroups/read',
    handler: getter('Microsoft.Network/networkSecurityGroups', 'name'),
  });
  arm.route('GET', `${rg}/Microsoft.ContainerService/managedClusters/{name}`, {
    action: 'Microsoft.ContainerService/managedClusters/read',
    handler: getter('Microsoft.ContainerService/managedClusters', 'name'),
  });
  arm.route('GET', `${rg}/Microsoft.Network/virtualNetworks/{vnet}/subnets/{name}`, {
    action: 'Microsoft.Network/virtualNetworks/subnets/read',
    handler: (req) => {
      const r = arm.resources.get(req.path);
      if (!r)
        throw armErrors.resourceNotFound(
          'Microsoft.Network/virtualNetworks/subnets',
          `${req.params.vnet}/${req.params.name}`,
          req.params.resourceGroupName!,
        );
      return { status: 200, body: r.body };
    },
  });
}

/**
 * The documented inbound rules of a compute subnet's NSG (network-security seed: BatchNodeManagement
 * on 29876-29877, AzureMachineLearning on 44224), as ARM returns security rules.
 */
export function documentedComputeRules(nsgId: string): JsonObject[] {
  const rule = (name: string, priority: number, source: string, ports: string): JsonObject => ({
    name,
    id: `${nsgId}/securityRules/${name}`,
    type: 'Microsoft.Network/networkSecurityGroups/securityRules',
    properties: {
      provisioningState: 'Succeeded',
      protocol: 'Tcp',
      sourcePortRange: '*',
      destinationPortRange: ports,
      sourceAddressPrefix: source,
      destinationAddressPrefix: 'VirtualNetwork',
      access: 'Allow',
      priority,
      direction: 'Inbound',
      sourcePortRanges: [],
      destinationPortRanges: [],
      sourceAddressPrefixes: [],
      destinationAddressPrefixes: [],
    },
  });
  return [
    rule('AllowBatchNodeManagement', 100, 'BatchNodeManagement', '29876-29877'),
    rule('AllowAzureMachineLearning', 110, 'AzureMachineLearning', '44224'),
  ];
}

/**
 * The compute subnet of a workspace's group (vnet-aml/snet-training) and its NSG with only the
 * documented rules; created once. Returns the subnet id.
 */
export function ensureComputeSubnet(arm: ArmService, rgId: string, location: string): string {
  const vnetId = `${rgId}/providers/Microsoft.Network/virtualNetworks/vnet-aml`;
  const subnetId = `${vnetId}/subnets/snet-training`;
  const nsgId = `${rgId}/providers/Microsoft.Network/networkSecurityGroups/nsg-training`;
  if (arm.resources.get(subnetId)) return arm.resources.get(subnetId)!.id;
  arm.resources.put(nsgId, {
    id: nsgId,
    name: 'nsg-training',
    type: 'Microsoft.Network/networkSecurityGroups',
    location,
    etag: `W/"${randomUUID()}"`,
    properties: {
      provisioningState: 'Succeeded',
      resourceGuid: randomUUID(),
      securityRules: documentedComputeRules(nsgId),
      defaultSecurityRules: [],
      subnets: [{ id: subnetId }],
    },
  });
  arm.resources.put(subnetId, {
    id: subnetId,
    name: 'snet-training',
    type: 'Microsoft.Network/virtualNetworks/subnets',
    etag: `W/"${randomUUID()}"`,
    properties: {
      provisioningState: 'Succeeded',
      addressPrefix: '10.10.2.0/24',
      networkSecurityGroup: { id: nsgId },
      privateEndpointNetworkPolicies: 'Disabled',
      privateLinkServiceNetworkPolicies: 'Enabled',
    },
  });
  return subnetId;
}

/** An AKS cluster as ARM returns it; private API server unless said otherwise. */
export function ensureManagedCluster(arm: ArmService, id: string, location: string, opts: { private?: boolean } = {}): void {
  if (arm.resources.get(id)) return;
  const name = id.split('/').pop()!;
  const isPrivate = opts.private ?? true;
  arm.resources.put(id, {
    id,
    name,
    type: 'Microsoft.ContainerService/ManagedClusters',
    location,
    sku: { name: 'Base', tier: 'Standard' },
    properties: {
      provisioningState: 'Succeeded',
      powerState: { code: 'Running' },
      kubernetesVersion: '1.30.5',
      dnsPrefix: `${name}-dns`,
      ...(isPrivate
        ? { privateFQDN: `${name}-dns-${randomUUID().slice(0, 8)}.privatelink.${location}.azmk8s.io` }
        : { fqdn: `${name}-dns-${randomUUID().slice(0, 8)}.hcp.${location}.azmk8s.io` }),
      apiServerAccessProfile: isPrivate
        ? { enablePrivateCluster: true, privateDNSZone: 'system', enablePrivateClusterPublicFQDN: false }
        : { enablePrivateCluster: false },
      networkProfile: { networkPlugin: 'azure', loadBalancerSku: 'standard', outboundType: 'userDefinedRouting' },
    },
  });
}

export interface PrivateName {
  fqdn: string;
  ip: string;
  /** The privatelink zone name the public name CNAMEs into. */
  privatelink: string;
}

/**
 * Private endpoints for a workspace and its storage (blob, file), vault and registry, with
 * the names Azure would put in customDnsConfigs. Returns every name with its IP so a test
 * can build DNS answers that are right, or deliberately wrong.
 */
export function addPrivateNetwork(arm: ArmService, workspaceId: string, opts: { subnetPrefix?: string } = {}): PrivateName[] {
  const ws = arm.resources.get(workspaceId);
  if (!ws) throw new Error(`addPrivateNetwork: unknown workspace ${workspaceId}`);
  const p = (ws.body.properties ?? {}) as Record<string, string>;
  const location = String(ws.body.location);
  const guid = p.workspaceId!;
  const prefix = opts.subnetPrefix ?? '10.10.1.';
  let host = 4;
  const names: PrivateName[] = [];
  const pe = (name: string, targetId: string, groupId: string, fqdns: Array<[string, string]>) => {
    const dns = fqdns.map(([fqdn, privatelink]) => {
      const n = { fqdn, ip: `${prefix}${host++}`, privatelink };
      names.push(n);
      return { fqdn, ip: n.ip };
    });
    addPrivateEndpoint(arm, {
      id: `/subscriptions/${workspaceId.split('/')[2]}/resourceGroups/${rgOf(workspaceId)}/providers/Microsoft.Network/privateEndpoints/${name}`,
      targetId,
      groupId,
      location,
      dns,
    });
  };
  const wsName = String(ws.body.name);
  const apiFqdn = `${guid}.workspace.${location}.api.azureml.ms`;
  const certFqdn = `${guid}.workspace.${location}.cert.api.azureml.ms`;
  const nbFqdn = `ml-${wsName.toLowerCase()}-${location}-${guid}.${location}.notebooks.azure.net`;
  const existing = arm.resources.list(`${ws.id}/privateEndpointConnections`)[0]?.body as
    { properties?: { privateEndpoint?: { id?: string } } } | undefined;
  const wsPeName = existing?.properties?.privateEndpoint?.id ? nameOf(existing.properties.privateEndpoint.id) : `pe-${wsName}`;
  pe(wsPeName, ws.id, 'amlworkspace', [
    [apiFqdn, apiFqdn.replace('.api.azureml.ms', '.privatelink.api.azureml.ms')],
    [certFqdn, certFqdn.replace('.cert.api.azureml.ms', '.cert.privatelink.api.azureml.ms')],
    [nbFqdn, nbFqdn.replace('.notebooks.azure.net', '.privatelink.notebooks.azure.net')],
  ]);
  const st = nameOf(p.storageAccount!);
  pe(`pe-${st}-blob`, p.storageAccount!, 'blob', [[`${st}.blob.core.windows.net`, `${st}.privatelink.blob.core.windows.net`]]);
  pe(`pe-${st}-file`, p.storageAccount!, 'file', [[`${st}.file.core.windows.net`, `${st}.privatelink.file.core.windows.net`]]);
  const kv = nameOf(p.keyVault!);
  pe(`pe-${kv}`, p.keyVault!, 'vault', [[`${kv}.vault.azure.net`, `${kv}.privatelink.vaultcore.azure.net`]]);
  const cr = nameOf(p.containerRegistry!);
  pe(`pe-${cr}`, p.containerRegistry!, 'registry', [
    [`${cr}.azurecr.io`, `${cr}.privatelink.azurecr.io`],
    [`${cr}.${location}.data.azurecr.io`, `${cr}.${location}.data.privatelink.azurecr.io`],
  ]);
  return names;
}
