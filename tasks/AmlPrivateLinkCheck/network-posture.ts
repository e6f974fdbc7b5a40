/**
 * The network posture the seeds and the Azure ML network-isolation docs prescribe, from what
 * network-read.ts read: image builds with a private registry, compute nodes without public IPs
 * in a subnet whose NSG admits nothing broad, the managed network's isolation and outbound
 * rules, a private AKS API server, closed managed endpoints. Pure.
 */
import { msg } from './messages';
import { reviewInbound, ruleLabel, type InboundReview } from './nsg';
import type { PostureCheck } from './posture';

export interface IdentityJson {
  principalId?: string;
  userAssignedIdentities?: Record<string, { principalId?: string } | null>;
}

export interface ComputeJson {
  name: string;
  identity?: IdentityJson | null;
  properties?: {
    computeType?: string;
    resourceId?: string | null;
    properties?: { enableNodePublicIp?: boolean | null; subnet?: { id?: string } | null } | null;
  };
}

export interface EndpointJson {
  name: string;
  identity?: IdentityJson | null;
  properties?: { compute?: string | null; scoringUri?: string | null; publicNetworkAccess?: string | null };
}

export interface OutboundRuleJson {
  type?: string;
  category?: string;
  status?: string;
  destination?: unknown;
  errorInformation?: string | null;
}

export interface ManagedNetworkJson {
  isolationMode?: string;
  outboundRules?: Record<string, OutboundRuleJson> | null;
  status?: { status?: string } | null;
}

export interface SecurityRuleJson {
  name?: string;
  properties?: {
    direction?: string;
    access?: string;
    protocol?: string;
    sourceAddressPrefix?: string;
    sourceAddressPrefixes?: string[];
    destinationPortRange?: string;
    destinationPortRanges?: string[];
  };
}

/** A subnet and its NSG as read; `undefined` members were not readable. */
export interface SubnetFacts {
  subnetId: string;
  readable: boolean;
  nsgId?: string;
  nsgReadable?: boolean;
  rules?: SecurityRuleJson[];
}

export interface ClusterFacts {
  resourceId: string;
  /** managedClusters read, Arc (connectedClusters) cannot be judged, or unreadable. */
  kind: 'aks' | 'arc' | 'unreadable' | 'other';
  enablePrivateCluster?: boolean;
  authorizedIpRanges?: string[];
}

const isCompute = (t: string | undefined): boolean => t === 'AmlCompute' || t === 'ComputeInstance';
const nameOf = (id: string): string => id.split('/').filter(Boolean).pop() ?? id;
const rgOf = (id: string): string => /\/resourceGroups\/([^/]+)/i.exec(id)?.[1] ?? '<resource-group>';

/** Isolation mode and outbound rules of the managed network (Disabled: the customer's own VNet). */
export function managedNetworkChecks(ws: string, rg: string, mn: ManagedNetworkJson | undefined): PostureCheck[] {
  const mode = mn?.isolationMode ?? 'Disabled';
  const check = msg('CheckManagedNetwork', ws);
  const out: PostureCheck[] = [];
  if (mode === 'AllowOnlyApprovedOutbound') out.push({ check, status: 'PASS', detail: mode, fix: '' });
  else if (mode === 'AllowInternetOutbound')
    out.push({
      check,
      status: 'WARN',
      detail: msg('ManagedNetworkInternet', mode),
      fix: `az ml workspace update -n ${ws} -g ${rg} --managed-network allow_only_approved_outbound`,
    });
  else out.push({ check, status: 'PASS', detail: msg('ManagedNetworkOwnVnet', mode), fix: '' });
  if (mode === 'Disabled') return out;
  if (mn?.status?.status === 'Inactive')
    out.push({
      check: msg('CheckManagedNetworkProvisioned', ws),
      status: 'WARN',
      detail: 'Inactive',
      fix: `az ml workspace provision-network -n ${ws} -g ${rg}`,
    });
  for (const [name, rule] of Object.entries(mn?.outboundRules ?? {})) {
    if (rule.status !== 'Failed') continue;
    // errorInformation is the service's own reason (newer api-versions return it with Failed).
    const detail = msg('OutboundRuleFailed', rule.type ?? '?', JSON.stringify(rule.destination ?? ''));
    out.push({
      check: msg('CheckOutboundRule', name),
      status: 'FAIL',
      detail: rule.errorInformation ? `${detail}: ${rule.errorInformation}` : detail,
      fix: msg('FixOutboundRule', ws, name),
    });
  }
  return out;
}

/**
 * With a private registry Azure ML cannot build environment images itself: a compute cluster
 * (imageBuildCompute) must. It has to name an AmlCompute of the workspace.
 */
export function imageBuildCheck(
  ws: string,
  rg: string,
  registryPrivate: boolean,
  imageBuildCompute: string | undefined,
  computes: ComputeJson[],
): PostureCheck[] {
  if (!registryPrivate) return [];
  const check = msg('CheckImageBuildCompute', ws);
  const cluster = computes.find((c) => c.properties?.computeType === 'AmlCompute')?.name ?? '<cluster>';
  if (!imageBuildCompute)
    return [
      {
        check,
        status: 'FAIL',
        detail: msg('ImageBuildComputeUnset'),
        fix: `az ml workspace update -n ${ws} -g ${rg} --image-build-compute ${cluster}`,
      },
    ];
  const named = computes.find((c) => c.name.toLowerCase() === imageBuildCompute.toLowerCase());
  if (!named || named.properties?.computeType !== 'AmlCompute') {
    return [
      {
        check,
        status: 'FAIL',
        detail: msg('ImageBuildComputeMissing', imageBuildCompute),
        fix: `az ml workspace update -n ${ws} -g ${rg} --image-build-compute ${cluster}`,
      },
    ];
  }
  return [{ check, status: 'PASS', detail: imageBuildCompute, fix: '' }];
}

/** Compute clusters and instances: no node public IP; in the own-VNet setup, a subnet whose NSG admits nothing broad. */
export function computeChecks(
  ws: string,
  rg: string,
  computes: ComputeJson[],
  managedIsolation: boolean,
  subnets: Map<string, SubnetFacts>,
): PostureCheck[] {
  const out: PostureCheck[] = [];
  for (const c of computes.filter((x) => isCompute(x.properties?.computeType))) {
    const p = c.properties?.properties ?? {};
    // The service's default is a public IP: only an explicit false removes it.
    const ipCheck = msg('CheckNodePublicIp', c.name);
    out.push(
      p.enableNodePublicIp === false
        ? { check: ipCheck, status: 'PASS', detail: msg('NoPublicIp'), fix: '' }
        : { check: ipCheck, status: 'FAIL', detail: msg('NodesHavePublicIp'), fix: msg('FixNodePublicIp', c.name, c.name, ws, rg) },
    );
    if (managedIsolation) continue;
    const subnetId = p.subnet?.id;
    const netCheck = msg('CheckComputeSubnet', c.name);
    if (!subnetId) {
      out.push({ check: netCheck, status: 'FAIL', detail: msg('NoSubnet'), fix: msg('FixNoSubnet', c.name) });
      continue;
    }
    const s = subnets.get(subnetId.toLowerCase());
    if (!s?.readable) {
      out.push({
        check: netCheck,
        status: 'UNKNOWN',
        detail: msg('SubnetUnreadable', nameOf(subnetId)),
        fix: msg('FixGrantReaderVnet', nameOf(subnetId.replace(/\/subnets\/[^/]+$/i, ''))),
      });
      continue;
    }
    if (!s.nsgId) {
      out.push({
        check: netCheck,
        status: 'WARN',
        detail: msg('SubnetWithoutNsg', nameOf(subnetId)),
        fix: msg('FixSubnetNsg', nameOf(subnetId)),
      });
      continue;
    }
    if (!s.nsgReadable) {
      out.push({
        check: netCheck,
        status: 'UNKNOWN',
        detail: msg('NsgUnreadable', nameOf(s.nsgId)),
        fix: msg('FixGrantReaderNsg', nameOf(s.nsgId)),
      });
      continue;
    }
    out.push(nsgCheck(netCheck, nameOf(subnetId), s.nsgId, reviewInbound(s.rules ?? [])));
  }
  return out;
}

/** One compute subnet's NSG: FAIL for inbound from anywhere, WARN for other sources beyond the documented rules. */
function nsgCheck(check: string, subnet: string, nsgId: string, review: InboundReview): PostureCheck {
  const nsg = nameOf(nsgId);
  const list = (rules: SecurityRuleJson[]): string => rules.map(ruleLabel).join(', ');
  if (review.broad.length === 0 && review.beyond.length === 0)
    return { check, status: 'PASS', detail: msg('NsgNoBroadInbound', subnet, nsg), fix: '' };
  const details = [
    review.broad.length ? msg('NsgBroadInbound', nsg, list(review.broad)) : '',
    review.beyond.length ? msg('NsgBeyondDocumented', nsg, list(review.beyond)) : '',
  ].filter(Boolean);
  const deletes = review.broad.map((r) => `az network nsg rule delete -g ${rgOf(nsgId)} --nsg-name ${nsg} -n ${r.name ?? '?'}`);
  const fix = [
    ...deletes,
    ...(review.beyond.length ? [msg('FixNsgBeyondDocumented', review.beyond.map((r) => r.name ?? '?').join(', '), nsg)] : []),
  ].join('; ');
  return { check, status: review.broad.length ? 'FAIL' : 'WARN', detail: details.join('; '), fix };
}

/** Attached AKS clusters: a private API server; an Arc cluster cannot be judged from ARM. */
export function clusterChecks(computes: ComputeJson[], clusters: Map<string, ClusterFacts>): PostureCheck[] {
  const out: PostureCheck[] = [];
  for (const c of computes) {
    const t = c.properties?.computeType;
    const id = c.properties?.resourceId;
    if ((t !== 'Kubernetes' && t !== 'AKS') || !id) continue;
    const f = clusters.get(id.toLowerCase());
    const check = msg('CheckAksApiServer', c.name, nameOf(id));
    if (!f || f.kind === 'unreadable')
      out.push({ check, status: 'UNKNOWN', detail: msg('NotReadable'), fix: msg('FixGrantReaderCluster', nameOf(id)) });
    else if (f.kind === 'arc' || f.kind === 'other')
      out.push({ check, status: 'UNKNOWN', detail: msg('ArcCluster'), fix: msg('FixArcCluster') });
    else if (f.enablePrivateCluster) out.push({ check, status: 'PASS', detail: msg('PrivateApiServer'), fix: '' });
    else if (f.authorizedIpRanges?.length)
      out.push({
        check,
        status: 'WARN',
        detail: msg('ApiServerAuthorizedRanges', f.authorizedIpRanges.join(', ')),
        fix: msg('FixPrivateApiServer', nameOf(id), rgOf(id)),
      });
    else out.push({ check, status: 'FAIL', detail: msg('PublicApiServer'), fix: msg('FixPrivateApiServer', nameOf(id), rgOf(id)) });
  }
  return out;
}

/** Managed online endpoints take traffic through the workspace's private endpoint only when closed. */
export function managedEndpointChecks(ws: string, rg: string, endpoints: EndpointJson[]): PostureCheck[] {
  return endpoints
    .filter((e) => !e.properties?.compute)
    .map((e) => {
      const pna = e.properties?.publicNetworkAccess ?? 'Enabled';
      const check = msg('CheckEndpointPublicAccess', e.name);
      return pna.toLowerCase() === 'disabled'
        ? { check, status: 'PASS' as const, detail: pna, fix: '' }
        : {
            check,
            status: 'FAIL' as const,
            detail: pna,
            fix: `az ml online-endpoint update -n ${e.name} -g ${rg} -w ${ws} --set public_network_access=disabled`,
          };
    });
}

/** Kubernetes online endpoints whose scoring host the agent must resolve to a private address. */
export function scoringHosts(endpoints: EndpointJson[]): Array<{ endpoint: string; host: string }> {
  const out: Array<{ endpoint: string; host: string }> = [];
  for (const e of endpoints) {
    if (!e.properties?.compute || !e.properties.scoringUri) continue;
    try {
      out.push({ endpoint: e.name, host: new URL(e.properties.scoringUri).hostname.replace(/^\[|\]$/g, '') });
    } catch {
      // A scoring URI that is not a URL names no host to check.
    }
  }
  return out;
}

/**
 * A Kubernetes endpoint's scoring host as this agent resolves it: private addresses in the allowed
 * ranges pass (an internal load balancer in front of the inference router); a public address fails.
 */
export function scoringCheck(
  endpoint: string,
  host: string,
  addresses: string[],
  classify: { isPublic(ip: string): boolean; inRanges(ip: string): boolean; isLoopback(ip: string): boolean },
  ranges: string,
): PostureCheck {
  const check = msg('CheckScoringHost', endpoint, host);
  if (addresses.length === 0) return { check, status: 'FAIL', detail: msg('ScoringHostNotFound'), fix: msg('FixScoringHostDns', host) };
  const list = addresses.join(', ');
  if (addresses.some((ip) => classify.isPublic(ip)))
    return { check, status: 'FAIL', detail: msg('ScoringHostPublic', list), fix: msg('FixInternalLoadBalancer') };
  if (addresses.every((ip) => classify.isLoopback(ip)))
    return { check, status: 'WARN', detail: msg('ScoringHostLoopback', list), fix: msg('FixInternalLoadBalancer') };
  if (!addresses.every((ip) => classify.inRanges(ip)))
    return { check, status: 'FAIL', detail: msg('ScoringHostOutOfRange', list, ranges), fix: msg('FixScoringHostRange') };
  return { check, status: 'PASS', detail: list, fix: '' };
}
