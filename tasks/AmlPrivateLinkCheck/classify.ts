/**
 * One verdict per name, with the likely cause and the fix in words.
 */
import type { Resolution } from './resolve';
import { inRanges, isPublicIp, type NameTarget, type Ranges } from './targets';

export type Verdict = 'OK' | 'PUBLIC' | 'STALE' | 'OUT_OF_RANGE' | 'NOT_FOUND' | 'TIMEOUT' | 'TCP_BLOCKED';

export interface NameResult {
  fqdn: string;
  source: string;
  expected: string[];
  answer: string[];
  cnames: string[];
  via: 'hosts' | 'dns';
  verdict: Verdict;
  /** Likely cause and fix; empty for OK. */
  advice: string;
  ms: number;
}

/** Public suffix -> the private DNS zone Azure documents for it (public and sovereign clouds). */
const ZONES: Array<[RegExp, string]> = [
  [/\.vault\.azure\.net$/, 'privatelink.vaultcore.azure.net'],
  [/\.vault\.usgovcloudapi\.net$/, 'privatelink.vaultcore.usgovcloudapi.net'],
  [/\.vault\.azure\.cn$/, 'privatelink.vaultcore.azure.cn'],
  [/\.(api\.azureml\.ms|api\.ml\.azure\.us|api\.ml\.azure\.cn)$/, 'privatelink.$1'],
  [/\.(notebooks\.azure\.net|notebooks\.usgovcloudapi\.net|notebooks\.chinacloudapi\.cn)$/, 'privatelink.$1'],
  [/\.(blob|file|dfs|queue|table)\.(core\.windows\.net|core\.usgovcloudapi\.net|core\.chinacloudapi\.cn)$/, 'privatelink.$1.$2'],
  [/\.(azurecr\.io|azurecr\.us|azurecr\.cn)$/, 'privatelink.$1'],
];

function zoneHint(fqdn: string, cnames: string[]): string {
  const pl = cnames.find((c) => c.includes('.privatelink.') || c.startsWith('privatelink.'));
  // The zone is what follows the host label: x.privatelink.blob.core.windows.net -> privatelink.blob...
  if (pl) return pl.slice(pl.indexOf('privatelink.'));
  for (const [re, zone] of ZONES) {
    const m = re.exec(fqdn);
    if (m) return zone.replace(/\$(\d)/g, (_, i: string) => m[Number(i)] ?? '');
  }
  return `privatelink.${fqdn.split('.').slice(1).join('.')}`;
}

export function classify(t: NameTarget, r: Resolution, ranges: Ranges): NameResult {
  const base = { fqdn: t.fqdn, source: t.source, expected: t.expectedIps, answer: r.addresses, cnames: r.cnames, via: r.via, ms: r.ms };
  const from = r.via === 'hosts' ? 'the hosts file' : 'DNS';
  if (r.error === 'TIMEOUT') {
    return { ...base, verdict: 'TIMEOUT', advice: `No DNS answer within the timeout. The agent's DNS server is unreachable or does not forward this zone: check the custom DNS server's conditional forwarder to 168.63.129.16 and that UDP/TCP 53 is open.` };
  }
  if (r.error || r.addresses.length === 0) {
    return {
      ...base,
      verdict: 'NOT_FOUND',
      advice: `The name does not resolve (${r.detail ?? 'no address'}). Link the private DNS zone ${zoneHint(t.fqdn, r.cnames)} to the agent's VNet and check that it has an A record for this name (the private endpoint's DNS zone group creates it).`,
    };
  }
  const publicIps = r.addresses.filter(isPublicIp);
  if (publicIps.length) {
    return {
      ...base,
      verdict: 'PUBLIC',
      advice: `${from} answered the public IP ${publicIps.join(', ')}${r.cnames.length ? ` via ${r.cnames.join(' -> ')}` : ''}. The private DNS zone ${zoneHint(t.fqdn, r.cnames)} is not linked to the agent's VNet, or the agent's custom DNS server lacks a conditional forwarder to 168.63.129.16.`,
    };
  }
  const outside = r.addresses.filter((ip) => !inRanges(ip, ranges));
  if (outside.length) {
    return { ...base, verdict: 'OUT_OF_RANGE', advice: `${from} answered ${outside.join(', ')}, which is private but outside allowedRanges (${ranges.text.join(', ')}). Add the VNet's range to allowedRanges, or fix the record.` };
  }
  if (t.expectedIps.length && !r.addresses.some((ip) => t.expectedIps.includes(ip))) {
    return {
      ...base,
      verdict: 'STALE',
      advice: `${from} answered ${r.addresses.join(', ')} but the private endpoint has ${t.expectedIps.join(', ')}. The A record is stale (the endpoint was re-created): update the record in ${zoneHint(t.fqdn, r.cnames)}${r.via === 'hosts' ? ' and remove the hosts file entry' : ''}, or attach a DNS zone group to the endpoint so Azure keeps it current.`,
    };
  }
  return { ...base, verdict: 'OK', advice: '' };
}

export function tcpBlocked(n: NameResult, ip: string, reason: string): NameResult {
  return {
    ...n,
    verdict: 'TCP_BLOCKED',
    advice: `The name resolves correctly, but TCP 443 to ${ip} failed (${reason}). An NSG, firewall or route table between the agent and the private endpoint blocks it: allow outbound 443 from the agent subnet to the endpoint subnet.`,
  };
}
