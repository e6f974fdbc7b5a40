/**
 * Azure ML registries through ARM (api-version 2024-04-01): find one by name, its regions, its
 * storage per region and its endpoint connections, and a scoped client for its assets (models,
 * versions, startPendingUpload) with the same read/list/write helpers as a workspace.
 * Every failure says which input, what is wrong and what to do.
 */
import type { ArmClient } from './arm';
import { translateAzureError, UserError } from './errors';
import { msg } from './messages';
import { isNotFound, ML_API_VERSION, WorkspaceArm } from './workspace-arm';

export const REGISTRY_TYPE = 'Microsoft.MachineLearningServices/registries';

export interface RegistryRef {
  subscriptionId: string;
  resourceGroup: string;
  name: string;
}

interface StorageDetails {
  systemCreatedStorageAccount?: { armResourceId?: { resourceId?: string | null } | null } | null;
  userCreatedStorageAccount?: { armResourceId?: { resourceId?: string | null } | null } | null;
}

export interface RegistryEndpointConnection {
  properties?: {
    privateEndpoint?: { id?: string | null } | null;
    registryPrivateLinkServiceConnectionState?: { status?: string | null } | null;
  } | null;
}

/** The registry as ARM returns it (Registries/get.json). */
export interface RegistryResource {
  id: string;
  name: string;
  location?: string;
  properties?: {
    regionDetails?: Array<{ location?: string | null; storageAccountDetails?: StorageDetails[] | null }> | null;
    publicNetworkAccess?: string | null;
    registryPrivateEndpointConnections?: RegistryEndpointConnection[] | null;
  };
}

export function registryId(r: RegistryRef): string {
  return `/subscriptions/${r.subscriptionId}/resourceGroups/${r.resourceGroup}/providers/${REGISTRY_TYPE}/${r.name}`;
}

/** Raw ARM calls under one registry (`.../registries/<r>/<path>`): the workspace helpers, another base. */
export class RegistryArm extends WorkspaceArm {
  override get base(): string {
    return registryId(this.ref);
  }
}

export interface OpenedRegistry {
  ref: RegistryRef;
  resource: RegistryResource;
  /** Regions the registry replicates to (its location first), lower case without spaces. */
  regions: string[];
  assets: RegistryArm;
}

const region = (s: string | null | undefined): string => (s ?? '').toLowerCase().replace(/\s+/g, '');
const rgOf = (id: string): string => /\/resourceGroups\/([^/]+)/i.exec(id)?.[1] ?? '';

export function regionsOf(r: RegistryResource): string[] {
  return [...new Set([region(r.location), ...(r.properties?.regionDetails ?? []).map((d) => region(d.location))].filter(Boolean))];
}

/** ARM ids of the registry's storage accounts in a region. */
export function storageIn(r: RegistryResource, where: string): string[] {
  return (r.properties?.regionDetails ?? [])
    .filter((d) => region(d.location) === region(where))
    .flatMap((d) => d.storageAccountDetails ?? [])
    .map((s) => s.systemCreatedStorageAccount?.armResourceId?.resourceId ?? s.userCreatedStorageAccount?.armResourceId?.resourceId)
    .filter((id): id is string => !!id);
}

/** Where to look and what to call the inputs in messages. */
export interface OpenRegistryOptions {
  subscriptionId: string;
  /** The registry's resource group; when empty, the subscription's registries are searched by name. */
  resourceGroup?: string;
  /** Input names, e.g. registryName / registryResourceGroup. */
  input: string;
  groupInput: string;
  connection: string;
}

/** Read the registry by name: an unknown name lists the ones the connection can see. */
export async function openRegistry(arm: ArmClient, name: string, o: OpenRegistryOptions): Promise<OpenedRegistry> {
  const action = msg('ActionReadRegistry', name);
  const fail = (e: unknown): never => {
    throw translateAzureError(e, {
      action,
      scope: o.resourceGroup
        ? registryId({ subscriptionId: o.subscriptionId, resourceGroup: o.resourceGroup, name })
        : `/subscriptions/${o.subscriptionId}`,
      connection: o.connection,
    });
  };
  let resource: RegistryResource | undefined;
  if (o.resourceGroup) {
    const id = registryId({ subscriptionId: o.subscriptionId, resourceGroup: o.resourceGroup, name });
    resource = await arm.get<RegistryResource>(id, ML_API_VERSION).catch((e: unknown) => {
      if (isNotFound(e) && (e as { code?: string }).code !== 'ResourceGroupNotFound') return undefined;
      return fail(e);
    });
    if (!resource) throw new UserError(msg('RegistryNotInGroup', o.input, name, o.resourceGroup, o.groupInput), o.input);
  } else {
    const all: RegistryResource[] = [];
    let page: { value?: RegistryResource[]; nextLink?: string | null } | undefined = await arm
      .get<{ value?: RegistryResource[]; nextLink?: string | null }>(
        `/subscriptions/${o.subscriptionId}/providers/${REGISTRY_TYPE}`,
        ML_API_VERSION,
      )
      .catch(fail);
    for (let i = 0; page && i < 20; i++) {
      all.push(...(page.value ?? []));
      if (!page.nextLink) break;
      const next: URL = new URL(page.nextLink);
      page = await arm
        .get<{ value?: RegistryResource[]; nextLink?: string | null }>(next.pathname + next.search, ML_API_VERSION)
        .catch(fail);
    }
    resource = all.find((r) => r.name.toLowerCase() === name.toLowerCase());
    if (!resource) {
      const seen = all.map((r) => `${r.name} (${rgOf(r.id)})`).join(', ') || msg('RegistryNoneVisible');
      throw new UserError(msg('RegistryNotFound', o.input, name, o.subscriptionId, seen, o.groupInput), o.input);
    }
  }
  const ref = { subscriptionId: o.subscriptionId, resourceGroup: rgOf(resource.id) || o.resourceGroup || '', name: resource.name };
  return {
    ref,
    resource,
    regions: regionsOf(resource),
    assets: new RegistryArm(arm, ref as { subscriptionId: string; resourceGroup: string; name: string }),
  };
}

/** A workspace can share into, and deploy from, a registry only in one of the registry's regions. */
export function requireRegion(reg: OpenedRegistry, workspace: { name: string; location?: string | undefined }, input: string): void {
  const at = region(workspace.location);
  if (at && !reg.regions.includes(at)) {
    throw new UserError(
      msg('RegistryOtherRegion', input, reg.ref.name, reg.regions.join(', '), workspace.name, at, reg.ref.name, at, reg.ref.resourceGroup),
      input,
    );
  }
}
