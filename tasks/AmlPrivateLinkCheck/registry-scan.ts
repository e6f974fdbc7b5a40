/**
 * An Azure ML registry the workspace deploys from, checked like the workspace: the names its
 * private endpoints serve (the registry's api.azureml.ms names, read from the endpoints'
 * customDnsConfigs, never guessed) and the blob names of its storage account in the
 * workspace's region, with the endpoints' IPs; and its posture: public network access, endpoint
 * connections approved, the storage closed, the workspace's region among the registry's.
 */
import type { ArmClient } from '../common/arm';
import { openRegistry, storageIn, type OpenedRegistry } from '../common/registry';
import { API, suffixesFor, type Dependency, type EndpointConnection } from './discovery';
import { msg } from './messages';
import { connectionChecks, isClosed, type PostureCheck } from './posture';
import type { NameTarget } from './targets';

export interface RegistryScanInput {
  name: string;
  resourceGroup?: string;
}

const nameOf = (id: string): string => id.split('/').filter(Boolean).pop() ?? id;
const rgOf = (id: string): string => /\/resourceGroups\/([^/]+)/i.exec(id)?.[1] ?? '<resource-group>';
const status = (e: unknown): number | undefined => (e as { statusCode?: number }).statusCode;
const unreadable = (e: unknown): boolean => [401, 403, 404].includes(status(e) ?? 0);

interface StorageJson {
  properties?: {
    publicNetworkAccess?: string;
    networkAcls?: { defaultAction?: string };
    privateEndpointConnections?: Array<{
      properties?: { privateEndpoint?: { id?: string }; privateLinkServiceConnectionState?: { status?: string } };
    }>;
  };
}
interface PrivateEndpointJson {
  properties?: { customDnsConfigs?: Array<{ fqdn?: string; ipAddresses?: string[] }> };
}

/** The names a private endpoint serves, with its IPs; undefined when it cannot be read. */
async function endpointNames(arm: ArmClient, peId: string, what: string): Promise<NameTarget[] | undefined> {
  try {
    const pe = await arm.get<PrivateEndpointJson>(peId, API.network);
    return (pe.properties?.customDnsConfigs ?? [])
      .filter((c) => c.fqdn && !c.fqdn.includes('*'))
      .map((c) => ({
        fqdn: c.fqdn!.toLowerCase().replace(/\.$/, ''),
        expectedIps: c.ipAddresses ?? [],
        source: msg('SourceRegistryEndpoint', what, nameOf(peId)),
      }));
  } catch (e) {
    if (!unreadable(e)) throw e;
    return undefined;
  }
}

async function readStorage(arm: ArmClient, id: string): Promise<Dependency> {
  try {
    const p = (await arm.get<StorageJson>(id, API.storage)).properties ?? {};
    const connections: EndpointConnection[] = (p.privateEndpointConnections ?? [])
      .filter((c) => c.properties?.privateEndpoint?.id)
      .map((c) => ({
        privateEndpointId: c.properties!.privateEndpoint!.id!,
        status: c.properties?.privateLinkServiceConnectionState?.status ?? 'Unknown',
      }));
    return {
      kind: 'storage',
      id,
      name: nameOf(id),
      readable: true,
      ...(p.publicNetworkAccess ? { publicNetworkAccess: p.publicNetworkAccess } : {}),
      ...(p.networkAcls?.defaultAction ? { defaultAction: p.networkAcls.defaultAction } : {}),
      connections,
    };
  } catch (e) {
    if (!unreadable(e)) throw e;
    return { kind: 'storage', id, name: nameOf(id), readable: false, connections: [] };
  }
}

export interface RegistryScan {
  targets: NameTarget[];
  posture: PostureCheck[];
  notes: string[];
}

/** Discovery and posture of the registry, for a workspace in `region`. */
export async function scanRegistry(
  arm: ArmClient,
  input: RegistryScanInput,
  where: { subscriptionId: string; workspace: string; region: string; environment: string; connection: string },
  posture: boolean,
): Promise<RegistryScan> {
  const reg: OpenedRegistry = await openRegistry(arm, input.name, {
    subscriptionId: where.subscriptionId,
    ...(input.resourceGroup ? { resourceGroup: input.resourceGroup } : {}),
    input: 'registryName',
    groupInput: 'registryResourceGroup',
    connection: where.connection,
  });
  const what = msg('RegistryNamed', reg.ref.name);
  const notes: string[] = [];
  const checks: PostureCheck[] = [];
  const targets: NameTarget[] = [];
  const connections: EndpointConnection[] = (reg.resource.properties?.registryPrivateEndpointConnections ?? [])
    .filter((c) => c.properties?.privateEndpoint?.id)
    .map((c) => ({
      privateEndpointId: c.properties!.privateEndpoint!.id!,
      status: c.properties?.registryPrivateLinkServiceConnectionState?.status ?? 'Unknown',
    }));

  // The registry's own names come from its endpoints: there is no documented pattern to fall back on.
  let read = 0;
  for (const c of connections) {
    const names = await endpointNames(arm, c.privateEndpointId, what);
    if (names) {
      read++;
      targets.push(...names);
    }
  }
  if (read < connections.length || connections.length === 0)
    notes.push(msg('RegistryNamesUnknown', reg.ref.name, connections.length - read, connections.length));

  // The storage of the workspace's region: its blob endpoint's names, from its endpoints or its name.
  const region = where.region.toLowerCase().replace(/\s+/g, '');
  const inRegion = reg.regions.includes(region);
  const storage = await Promise.all(storageIn(reg.resource, region).map((id) => readStorage(arm, id)));
  const suffix = suffixesFor(where.environment).storage;
  for (const st of storage) {
    const peNames = (
      await Promise.all(st.connections.map((c) => endpointNames(arm, c.privateEndpointId, msg('StorageAccountNamed', st.name))))
    ).flatMap((n) => n ?? []);
    const blob = peNames.filter((n) => n.fqdn.startsWith(`${st.name.toLowerCase()}.blob.`));
    targets.push(
      ...(blob.length
        ? blob
        : [
            { fqdn: `${st.name.toLowerCase()}.blob.${suffix}`, expectedIps: [], source: msg('SourceRegistryStoragePattern', reg.ref.name) },
          ]),
    );
  }

  if (posture) {
    const pna = reg.resource.properties?.publicNetworkAccess ?? 'Enabled';
    const check = msg('CheckPublicAccess', what);
    checks.push(
      pna === 'Disabled'
        ? { check, status: 'PASS', detail: 'Disabled', fix: '' }
        : {
            check,
            status: 'FAIL',
            detail: pna,
            fix: `az ml registry update -n ${reg.ref.name} -g ${reg.ref.resourceGroup} --set publicNetworkAccess=Disabled`,
          },
    );
    checks.push(...connectionChecks(what, connections));
    const regionCheck = msg('CheckRegistryRegion', reg.ref.name, where.workspace);
    checks.push(
      inRegion
        ? { check: regionCheck, status: 'PASS', detail: region, fix: '' }
        : {
            check: regionCheck,
            status: 'FAIL',
            detail: msg('RegistryRegionsAre', reg.regions.join(', '), region),
            fix: msg('FixRegistryRegion', region, reg.ref.name),
          },
    );
    for (const st of storage) {
      const sWhat = msg('RegistryStorageNamed', st.name, reg.ref.name);
      const sCheck = msg('CheckPublicAccess', sWhat);
      if (!st.readable) checks.push({ check: sCheck, status: 'UNKNOWN', detail: msg('NotReadable'), fix: msg('FixGrantReader', sWhat) });
      else {
        const detail =
          [
            st.publicNetworkAccess && msg('PublicNetworkAccessIs', st.publicNetworkAccess),
            st.defaultAction && msg('DefaultActionIs', st.defaultAction),
          ]
            .filter(Boolean)
            .join(', ') || msg('PublicAccessNotRestricted');
        checks.push(
          isClosed(st)
            ? { check: sCheck, status: 'PASS', detail, fix: '' }
            : {
                check: sCheck,
                status: 'FAIL',
                detail,
                fix: `az storage account update -n ${st.name} -g ${rgOf(st.id)} --public-network-access Disabled`,
              },
        );
        checks.push(...connectionChecks(sWhat, st.connections));
      }
    }
  }
  return { targets, posture: checks, notes };
}
