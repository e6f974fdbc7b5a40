/**
 * Which names must resolve privately, and to which IPs: read from the workspace, its
 * dependencies and their private endpoints' customDnsConfigs through ARM. Without read access
 * to the endpoints, fall back to the documented name patterns and say so.
 */
import type { Workspace } from '@azure/arm-machinelearning';
import type { ArmClient } from '../common/arm';
import { msg } from './messages';
import type { NameTarget } from './targets';

export const API = {
  network: '2024-05-01',
  storage: '2023-05-01',
  keyVault: '2023-07-01',
  registry: '2023-07-01',
} as const;

export type DependencyKind = 'storage' | 'keyVault' | 'registry';

export interface EndpointConnection {
  privateEndpointId: string;
  status: string;
}

export interface Dependency {
  kind: DependencyKind;
  id: string;
  name: string;
  readable: boolean;
  publicNetworkAccess?: string;
  defaultAction?: string;
  /** Storage only: how many public IP ranges the firewall lets in. */
  ipRules?: number;
  /** Storage only: the Azure resources its firewall lets in by identity (resource instance rules). */
  resourceInstances?: string[];
  /** The resource's SKU name (the registry's must be Premium for private endpoints). */
  sku?: string;
  connections: EndpointConnection[];
}

export interface Discovery {
  targets: NameTarget[];
  dependencies: Dependency[];
  workspaceConnections: EndpointConnection[];
  notes: string[];
}

interface Suffixes {
  api: string;
  notebooks: string;
  storage: string;
  vault: string;
  acr: string;
}

const SUFFIXES: Record<string, Suffixes> = {
  azurecloud: {
    api: 'api.azureml.ms',
    notebooks: 'notebooks.azure.net',
    storage: 'core.windows.net',
    vault: 'vault.azure.net',
    acr: 'azurecr.io',
  },
  azureusgovernment: {
    api: 'api.ml.azure.us',
    notebooks: 'notebooks.usgovcloudapi.net',
    storage: 'core.usgovcloudapi.net',
    vault: 'vault.usgovcloudapi.net',
    acr: 'azurecr.us',
  },
  azurechinacloud: {
    api: 'api.ml.azure.cn',
    notebooks: 'notebooks.chinacloudapi.cn',
    storage: 'core.chinacloudapi.cn',
    vault: 'vault.azure.cn',
    acr: 'azurecr.cn',
  },
};

export function suffixesFor(environment: string): Suffixes {
  return SUFFIXES[environment.toLowerCase()] ?? SUFFIXES.azurecloud!;
}

const nameOf = (id: string): string => id.split('/').filter(Boolean).pop() ?? id;

interface PeConnectionJson {
  properties?: { privateEndpoint?: { id?: string }; privateLinkServiceConnectionState?: { status?: string } };
}
interface ResourceJson {
  sku?: { name?: string };
  properties?: {
    publicNetworkAccess?: string;
    networkAcls?: { defaultAction?: string; ipRules?: unknown[] | null; resourceAccessRules?: Array<{ resourceId?: string }> | null };
    networkRuleSet?: { defaultAction?: string };
    privateEndpointConnections?: PeConnectionJson[];
  };
}
interface PrivateEndpointJson {
  properties?: { customDnsConfigs?: Array<{ fqdn?: string; ipAddresses?: string[] }> };
}

function connectionsOf(list: PeConnectionJson[] | undefined): EndpointConnection[] {
  return (list ?? [])
    .filter((c) => c.properties?.privateEndpoint?.id)
    .map((c) => ({
      privateEndpointId: c.properties!.privateEndpoint!.id!,
      status: c.properties?.privateLinkServiceConnectionState?.status ?? 'Unknown',
    }));
}

/** The documented names for a workspace and its dependencies, without expected IPs. */
export function patternTargets(ws: Workspace, environment: string): NameTarget[] {
  const s = suffixesFor(environment);
  const region = (ws.location ?? '').toLowerCase().replace(/\s+/g, '');
  const guid = ws.workspaceId ?? '';
  const out: NameTarget[] = [];
  const add = (fqdn: string, what: string) => out.push({ fqdn: fqdn.toLowerCase(), expectedIps: [], source: `pattern (${what})` });
  if (guid && region) {
    add(`${guid}.workspace.${region}.${s.api}`, 'workspace');
    add(`${guid}.workspace.${region}.cert.${s.api}`, 'workspace');
    add(`ml-${ws.name}-${region}-${guid}.${region}.${s.notebooks}`, 'notebooks');
  }
  if (ws.storageAccount) {
    add(`${nameOf(ws.storageAccount)}.blob.${s.storage}`, 'storage');
    add(`${nameOf(ws.storageAccount)}.file.${s.storage}`, 'storage');
  }
  if (ws.keyVault) add(`${nameOf(ws.keyVault)}.${s.vault}`, 'key vault');
  if (ws.containerRegistry) {
    add(`${nameOf(ws.containerRegistry)}.${s.acr}`, 'registry');
    if (region) add(`${nameOf(ws.containerRegistry)}.${region}.data.${s.acr}`, 'registry');
  }
  return out;
}

function isForbidden(e: unknown): boolean {
  const status = (e as { statusCode?: number }).statusCode;
  return status === 403 || status === 401;
}

export async function discover(arm: ArmClient, ws: Workspace, environment: string, log: (line: string) => void): Promise<Discovery> {
  const notes: string[] = [];
  const workspaceConnections: EndpointConnection[] = (ws.privateEndpointConnections ?? [])
    .filter((c) => c.privateEndpoint?.id)
    .map((c) => ({ privateEndpointId: c.privateEndpoint!.id!, status: c.privateLinkServiceConnectionState?.status ?? 'Unknown' }));

  const deps: Array<[DependencyKind, string | undefined, string]> = [
    ['storage', ws.storageAccount, API.storage],
    ['keyVault', ws.keyVault, API.keyVault],
    ['registry', ws.containerRegistry, API.registry],
  ];
  const dependencies = await Promise.all(
    deps
      .filter((d): d is [DependencyKind, string, string] => !!d[1])
      .map(async ([kind, id, version]): Promise<Dependency> => {
        try {
          const r = await arm.get<ResourceJson>(id, version);
          const p = r.properties ?? {};
          const defaultAction = p.networkAcls?.defaultAction ?? p.networkRuleSet?.defaultAction;
          return {
            kind,
            id,
            name: nameOf(id),
            readable: true,
            ...(p.publicNetworkAccess ? { publicNetworkAccess: p.publicNetworkAccess } : {}),
            ...(defaultAction ? { defaultAction } : {}),
            ...(kind === 'storage' && p.networkAcls
              ? {
                  ipRules: (p.networkAcls.ipRules ?? []).length,
                  resourceInstances: (p.networkAcls.resourceAccessRules ?? []).map((x) => x.resourceId ?? ''),
                }
              : {}),
            ...(r.sku?.name ? { sku: r.sku.name } : {}),
            connections: connectionsOf(p.privateEndpointConnections),
          };
        } catch (e) {
          if (!isForbidden(e) && (e as { statusCode?: number }).statusCode !== 404) throw e;
          notes.push(msg('DependencyNotReadable', kind, nameOf(id), (e as { statusCode?: number }).statusCode));
          return { kind, id, name: nameOf(id), readable: false, connections: [] };
        }
      }),
  );

  // Every private endpoint, of the workspace and its dependencies, gives exact names and IPs.
  const peIds = [...new Set([...workspaceConnections, ...dependencies.flatMap((d) => d.connections)].map((c) => c.privateEndpointId))];
  const targets = new Map<string, NameTarget>();
  let unreadable = 0;
  await Promise.all(
    peIds.map(async (peId) => {
      try {
        const pe = await arm.get<PrivateEndpointJson>(peId, API.network);
        for (const c of pe.properties?.customDnsConfigs ?? []) {
          if (!c.fqdn || c.fqdn.includes('*')) continue;
          const fqdn = c.fqdn.toLowerCase().replace(/\.$/, '');
          const prev = targets.get(fqdn);
          const ips = [...new Set([...(prev?.expectedIps ?? []), ...(c.ipAddresses ?? [])])];
          targets.set(fqdn, { fqdn, expectedIps: ips, source: `private endpoint ${nameOf(peId)}` });
        }
      } catch (e) {
        if (!isForbidden(e) && (e as { statusCode?: number }).statusCode !== 404) throw e;
        unreadable++;
      }
    }),
  );
  if (unreadable || peIds.length === 0) {
    notes.push(peIds.length === 0 ? msg('ExpectedIpsNoEndpoints') : msg('ExpectedIpsEndpointsUnreadable', unreadable, peIds.length));
    for (const t of patternTargets(ws, environment)) if (!targets.has(t.fqdn)) targets.set(t.fqdn, t);
  }
  for (const n of notes) log(n);
  return { targets: [...targets.values()], dependencies, workspaceConnections, notes };
}
