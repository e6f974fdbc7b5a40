/**
 * Which inbound Allow rules of a compute subnet's NSG go beyond what Azure ML documents. The
 * documented rules (network-security seed, "Use Compute Cluster/Instance in VNet"; Azure ML's
 * network-isolation docs) are TCP 29876-29877 from the BatchNodeManagement service tag and TCP
 * 44224 from the AzureMachineLearning service tag. Traffic from the virtual network and the Azure
 * load balancer is internal. Anything from anywhere is broad (FAIL); any other public source (a
 * public range, another service tag, a documented tag on other ports) goes beyond (WARN). Pure.
 */
import { isIP } from 'node:net';
import type { SecurityRuleJson } from './network-posture';
import { isPublicIp } from './targets';

/** Sources meaning "anywhere". */
const ANYWHERE = new Set(['*', 'internet', 'any', '0.0.0.0/0', '::/0']);
/** Service tags for traffic that never leaves Azure's side of the subnet. */
const INTERNAL_TAGS = new Set(['virtualnetwork', 'azureloadbalancer']);
/** The documented service-tag rules: tag -> the destination ports it may reach. */
const DOCUMENTED: Record<string, Array<[number, number]>> = {
  batchnodemanagement: [[29876, 29877]],
  azuremachinelearning: [[44224, 44224]],
};

export interface InboundReview {
  /** Rules that admit traffic from anywhere. */
  broad: SecurityRuleJson[];
  /** Rules that admit other public sources than the documented service-tag rules. */
  beyond: SecurityRuleJson[];
}

type SourceKind = 'anywhere' | 'internal' | 'tag' | 'public';

function sourceKind(source: string): SourceKind {
  const s = source.trim().toLowerCase();
  if (ANYWHERE.has(s)) return 'anywhere';
  if (INTERNAL_TAGS.has(s)) return 'internal';
  const [addr, bits] = s.split('/') as [string, string | undefined];
  if (!isIP(addr)) return 'tag';
  // A prefix this short spans most of the address space, whatever its first address.
  if (bits !== undefined && Number(bits) < (isIP(addr) === 4 ? 8 : 16)) return 'anywhere';
  return isPublicIp(addr) ? 'public' : 'internal';
}

/** Destination port ranges of a rule; '*' is every port. */
function portRanges(r: SecurityRuleJson): Array<[number, number]> {
  const p = r.properties ?? {};
  const raw = [p.destinationPortRange, ...(p.destinationPortRanges ?? [])].filter((x): x is string => !!x);
  if (raw.length === 0) return [[0, 65535]];
  return raw.map((x) => {
    if (x.trim() === '*') return [0, 65535];
    const [a, b] = x.split('-').map((n) => Number(n.trim()));
    return [a ?? 0, b ?? a ?? 65535];
  });
}

/** A documented tag reaching only its documented ports, over TCP (or any protocol the tag rule names). */
function documented(tag: string, r: SecurityRuleJson): boolean {
  const allowed = DOCUMENTED[tag.toLowerCase()];
  const protocol = (r.properties?.protocol ?? '*').toLowerCase();
  if (!allowed || (protocol !== 'tcp' && protocol !== '*')) return false;
  return portRanges(r).every(([lo, hi]) => allowed.some(([a, b]) => lo >= a && hi <= b));
}

export function reviewInbound(rules: SecurityRuleJson[]): InboundReview {
  const out: InboundReview = { broad: [], beyond: [] };
  for (const r of rules) {
    const p = r.properties ?? {};
    if (p.direction?.toLowerCase() !== 'inbound' || p.access?.toLowerCase() !== 'allow') continue;
    const sources = [p.sourceAddressPrefix, ...(p.sourceAddressPrefixes ?? [])].filter((x): x is string => !!x);
    const kinds = sources.map((s) => ({ s, kind: sourceKind(s) }));
    // No address prefix: the source is an application security group, i.e. VMs in the network.
    if (kinds.some((k) => k.kind === 'anywhere')) out.broad.push(r);
    else if (kinds.some((k) => k.kind === 'public' || (k.kind === 'tag' && !documented(k.s, r)))) out.beyond.push(r);
  }
  return out;
}

/** "AllowSsh (22)" for a rule in a detail line. */
export const ruleLabel = (r: SecurityRuleJson): string => {
  const p = r.properties ?? {};
  const ports = [p.destinationPortRange, ...(p.destinationPortRanges ?? [])].filter(Boolean).join(',') || '*';
  const sources = [p.sourceAddressPrefix, ...(p.sourceAddressPrefixes ?? [])].filter(Boolean).join(',') || '*';
  return `${r.name ?? '?'} (${sources} -> ${ports})`;
};
