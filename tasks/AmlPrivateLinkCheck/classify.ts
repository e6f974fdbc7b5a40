/**
 * One verdict per name, with the likely cause and the fix in words.
 */
import { msg } from './messages';
import type { Resolution } from './resolve';
import { inRanges, isPublicIp, type NameTarget, type Ranges } from './targets';

export type Verdict = 'OK' | 'PUBLIC' | 'STALE' | 'OUT_OF_RANGE' | 'NOT_FOUND' | 'TIMEOUT' | 'DNS_UNREACHABLE' | 'TCP_BLOCKED';

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
  const hosts = r.via === 'hosts';
  if (r.error === 'TIMEOUT') {
    return { ...base, verdict: 'TIMEOUT', advice: msg('AdviceTimeout') };
  }
  if (r.error === 'UNREACHABLE') {
    return { ...base, verdict: 'DNS_UNREACHABLE', advice: msg('AdviceDnsUnreachable', r.detail ?? '') };
  }
  if (r.error || r.addresses.length === 0) {
    return { ...base, verdict: 'NOT_FOUND', advice: msg('AdviceNotFound', r.detail ?? msg('NoAddress'), zoneHint(t.fqdn, r.cnames)) };
  }
  const publicIps = r.addresses.filter(isPublicIp);
  if (publicIps.length) {
    const ips = publicIps.join(', ');
    const chain = r.cnames.length ? msg('ViaCnames', r.cnames.join(' -> ')) : '';
    const zone = zoneHint(t.fqdn, r.cnames);
    return {
      ...base,
      verdict: 'PUBLIC',
      advice: hosts ? msg('AdvicePublicFromHostsFile', ips, chain, zone) : msg('AdvicePublicFromDns', ips, chain, zone),
    };
  }
  const outside = r.addresses.filter((ip) => !inRanges(ip, ranges));
  if (outside.length) {
    const ips = outside.join(', ');
    const allowed = ranges.text.join(', ');
    return {
      ...base,
      verdict: 'OUT_OF_RANGE',
      advice: hosts ? msg('AdviceOutOfRangeFromHostsFile', ips, allowed) : msg('AdviceOutOfRangeFromDns', ips, allowed),
    };
  }
  if (t.expectedIps.length && !r.addresses.some((ip) => t.expectedIps.includes(ip))) {
    const answered = r.addresses.join(', ');
    const expected = t.expectedIps.join(', ');
    const zone = zoneHint(t.fqdn, r.cnames);
    return {
      ...base,
      verdict: 'STALE',
      advice: hosts ? msg('AdviceStaleFromHostsFile', answered, expected, zone) : msg('AdviceStaleFromDns', answered, expected, zone),
    };
  }
  return { ...base, verdict: 'OK', advice: '' };
}

export function tcpBlocked(n: NameResult, ip: string, reason: string): NameResult {
  return { ...n, verdict: 'TCP_BLOCKED', advice: msg('AdviceTcpBlocked', ip, reason) };
}
