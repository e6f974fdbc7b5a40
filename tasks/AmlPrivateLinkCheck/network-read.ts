/**
 * The ARM reads behind the network posture and the access audit's exemptions: the workspace at
 * a current api-version (managed network, image build compute), its computes and online
 * endpoints, the compute subnets and their NSGs, and attached AKS clusters. All on the
 * connection's ARM host; what the connection cannot read is marked, not guessed.
 */
import type { ArmClient, WorkspaceRef } from '../common/arm';
import { WorkspaceArm } from '../common/workspace-arm';
import type { ClusterFacts, ComputeJson, EndpointJson, ManagedNetworkJson, SecurityRuleJson, SubnetFacts } from './network-posture';

const NETWORK_API = '2024-05-01';
const AKS_API = '2024-05-01';

const status = (e: unknown): number | undefined => (e as { statusCode?: number }).statusCode;
const unreadable = (e: unknown): boolean => [401, 403, 404].includes(status(e) ?? 0);

export interface WorkspaceChildren {
  computes: ComputeJson[];
  endpoints: EndpointJson[];
  /** Collections the connection could not list ('computes', 'onlineEndpoints'). */
  unreadable: string[];
}

export async function readChildren(arm: ArmClient, ref: WorkspaceRef): Promise<WorkspaceChildren> {
  const ws = new WorkspaceArm(arm, ref);
  const out: WorkspaceChildren = { computes: [], endpoints: [], unreadable: [] };
  const read = async <T>(path: string): Promise<T[]> => {
    try {
      return await ws.list<T>(path);
    } catch (e) {
      if (!unreadable(e)) throw e;
      out.unreadable.push(path);
      return [];
    }
  };
  [out.computes, out.endpoints] = await Promise.all([read<ComputeJson>('computes'), read<EndpointJson>('onlineEndpoints')]);
  return out;
}

export interface NetworkFacts {
  managedNetwork?: ManagedNetworkJson;
  imageBuildCompute?: string;
  subnets: Map<string, SubnetFacts>;
  clusters: Map<string, ClusterFacts>;
}

interface WorkspaceRawJson {
  properties?: { imageBuildCompute?: string | null; managedNetwork?: ManagedNetworkJson | null };
}

async function readSubnet(
  arm: ArmClient,
  subnetId: string,
  nsgs: Map<string, Promise<SecurityRuleJson[] | undefined>>,
): Promise<SubnetFacts> {
  let nsgId: string | undefined;
  try {
    const subnet = await arm.get<{ properties?: { networkSecurityGroup?: { id?: string } | null } }>(subnetId, NETWORK_API);
    nsgId = subnet.properties?.networkSecurityGroup?.id ?? undefined;
  } catch (e) {
    if (!unreadable(e)) throw e;
    return { subnetId, readable: false };
  }
  if (!nsgId) return { subnetId, readable: true };
  const key = nsgId.toLowerCase();
  if (!nsgs.has(key)) {
    nsgs.set(
      key,
      arm.get<{ properties?: { securityRules?: SecurityRuleJson[] } }>(nsgId, NETWORK_API).then(
        (n) => n.properties?.securityRules ?? [],
        (e: unknown) => {
          if (!unreadable(e)) throw e;
          return undefined;
        },
      ),
    );
  }
  const rules = await nsgs.get(key)!;
  return { subnetId, readable: true, nsgId, nsgReadable: rules !== undefined, ...(rules ? { rules } : {}) };
}

async function readCluster(arm: ArmClient, resourceId: string): Promise<ClusterFacts> {
  if (/\/Microsoft\.Kubernetes\/connectedClusters\//i.test(resourceId)) return { resourceId, kind: 'arc' };
  if (!/\/Microsoft\.ContainerService\/managedClusters\//i.test(resourceId)) return { resourceId, kind: 'other' };
  try {
    const c = await arm.get<{
      properties?: { apiServerAccessProfile?: { enablePrivateCluster?: boolean; authorizedIPRanges?: string[] } | null };
    }>(resourceId, AKS_API);
    const a = c.properties?.apiServerAccessProfile ?? {};
    return {
      resourceId,
      kind: 'aks',
      enablePrivateCluster: a.enablePrivateCluster === true,
      ...(a.authorizedIPRanges?.length ? { authorizedIpRanges: a.authorizedIPRanges } : {}),
    };
  } catch (e) {
    if (!unreadable(e)) throw e;
    return { resourceId, kind: 'unreadable' };
  }
}

export async function readNetworkFacts(arm: ArmClient, ref: WorkspaceRef, children: WorkspaceChildren): Promise<NetworkFacts> {
  const ws = new WorkspaceArm(arm, ref);
  // The SDK's api-version predates managed networks: read the workspace itself at ours.
  const raw = await arm.get<WorkspaceRawJson>(ws.base, ws.apiVersion);
  const subnetIds = [...new Set(children.computes.map((c) => c.properties?.properties?.subnet?.id).filter((x): x is string => !!x))];
  const clusterIds = [
    ...new Set(
      children.computes
        .filter((c) => ['Kubernetes', 'AKS'].includes(c.properties?.computeType ?? ''))
        .map((c) => c.properties?.resourceId)
        .filter((x): x is string => !!x),
    ),
  ];
  const nsgs = new Map<string, Promise<SecurityRuleJson[] | undefined>>();
  const [subnets, clusters] = await Promise.all([
    Promise.all(subnetIds.map((id) => readSubnet(arm, id, nsgs))),
    Promise.all(clusterIds.map((id) => readCluster(arm, id))),
  ]);
  const p = raw.properties ?? {};
  return {
    ...(p.managedNetwork ? { managedNetwork: p.managedNetwork } : {}),
    ...(p.imageBuildCompute ? { imageBuildCompute: p.imageBuildCompute } : {}),
    subnets: new Map(subnets.map((s) => [s.subnetId.toLowerCase(), s])),
    clusters: new Map(clusters.map((c) => [c.resourceId.toLowerCase(), c])),
  };
}
