/**
 * Parsing of the check's own inputs: names to check, allowed ranges, DNS servers.
 * Every error names where the text came from (`Input 'fqdns'` in the task, `--fqdns` in the
 * command) and the offending line.
 */
import { BlockList, isIP } from 'node:net';
import type { AgentIo } from '../common/agent';
import { UserError } from '../common/errors';
import { isRegistryName } from '../common/names';
import { msg } from './messages';

export interface NameTarget {
  fqdn: string;
  /** IPs the private endpoint says this name must resolve to; empty when unknown. */
  expectedIps: string[];
  /** Where the name came from, e.g. "input", "private endpoint pe-ws", "pattern (workspace)". */
  source: string;
}

const LABEL = /^(?!-)[a-z0-9_-]{1,63}(?<!-)$/;

export function isFqdn(name: string): boolean {
  if (name.length > 253 || !name.includes('.')) return false;
  return name.split('.').every((l) => LABEL.test(l));
}

/** How errors name the source of the text; the task's input by default. */
const inputLabel = (input: string): string => msg('InputLabel', input);

/** `host` or `host=expectedIp[,expectedIp]` per line. */
/**
 * `lines`: the task's input, one name per line; the command's `--fqdns` gives a comma-separated
 * list (`asList`), and messages then speak of entries and commas, not lines.
 */
export function parseFqdns(lines: string[], label = inputLabel('fqdns'), asList = false): NameTarget[] {
  const out: NameTarget[] = [];
  const where = (i: number, line: string): string => (asList ? msg('FqdnWhereEntry', i + 1, line) : msg('FqdnWhereLine', i + 1, line));
  lines.forEach((line, i) => {
    const [hostRaw, ipsRaw] = line.split('=', 2).map((s) => s.trim()) as [string, string | undefined];
    const fqdn = hostRaw.toLowerCase().replace(/\.$/, '');
    if (!isFqdn(fqdn)) {
      throw new UserError(msg('FqdnNotHostName', label, where(i, line), asList ? msg('FqdnFormList') : msg('FqdnFormLines')), 'fqdns');
    }
    const expectedIps =
      ipsRaw === undefined
        ? []
        : ipsRaw
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean);
    if (ipsRaw !== undefined && expectedIps.length === 0) {
      throw new UserError(msg('FqdnWithoutIp', label, where(i, line)), 'fqdns');
    }
    for (const ip of expectedIps) {
      if (!isIP(ip)) throw new UserError(msg('FqdnBadIp', label, where(i, line), ip), 'fqdns');
    }
    out.push({ fqdn, expectedIps, source: 'input' });
  });
  return out;
}

export interface Ranges {
  list: BlockList;
  text: string[];
}

export function parseRanges(text: string, label = inputLabel('allowedRanges')): Ranges {
  const list = new BlockList();
  const parts = text.split(/[,\s]+/).filter(Boolean);
  if (parts.length === 0) throw new UserError(msg('AllowedRangesEmpty', label), 'allowedRanges');
  for (const p of parts) {
    const m = /^([0-9a-fA-F:.]+)\/(\d{1,3})$/.exec(p);
    const family = m ? isIP(m[1]!) : 0;
    const bits = m ? Number(m[2]) : -1;
    if (!m || family === 0 || bits > (family === 4 ? 32 : 128)) {
      throw new UserError(msg('AllowedRangeNotCidr', label, p), 'allowedRanges');
    }
    list.addSubnet(m[1]!, bits, family === 4 ? 'ipv4' : 'ipv6');
  }
  return { list, text: parts };
}

/** DNS servers as IP or IP:port (IPv6 as [addr]:port). */
export function parseDnsServers(text: string | undefined, label = inputLabel('dnsServers')): string[] {
  if (!text) return [];
  return text
    .split(/[,\s]+/)
    .filter(Boolean)
    .map((s) => {
      const m = /^\[([0-9a-fA-F:]+)\](?::(\d+))?$/.exec(s) ?? /^([0-9.]+)(?::(\d+))?$/.exec(s) ?? /^([0-9a-fA-F:]+)()$/.exec(s);
      const port = m?.[2] ? Number(m[2]) : 53;
      if (!m || !isIP(m[1]!) || port < 1 || port > 65535) {
        throw new UserError(msg('DnsServerInvalid', label, s), 'dnsServers');
      }
      return s;
    });
}

/** Addresses that are not globally routable: private, CGNAT, loopback, link-local, ULA. */
const NON_PUBLIC = (() => {
  const b = new BlockList();
  for (const [a, n] of [
    ['10.0.0.0', 8],
    ['172.16.0.0', 12],
    ['192.168.0.0', 16],
    ['100.64.0.0', 10],
    ['127.0.0.0', 8],
    ['169.254.0.0', 16],
    ['0.0.0.0', 8],
    ['198.18.0.0', 15],
  ] as const)
    b.addSubnet(a, n, 'ipv4');
  for (const [a, n] of [
    ['fc00::', 7],
    ['fe80::', 10],
    ['::1', 128],
  ] as const)
    b.addSubnet(a, n, 'ipv6');
  return b;
})();

export function isPublicIp(ip: string): boolean {
  return !NON_PUBLIC.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
}

export function inRanges(ip: string, r: Ranges): boolean {
  return r.list.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
}

const LOOPBACK = (() => {
  const b = new BlockList();
  b.addSubnet('127.0.0.0', 8, 'ipv4');
  b.addAddress('::1', 'ipv6');
  return b;
})();

export function isLoopback(ip: string): boolean {
  return LOOPBACK.check(ip, isIP(ip) === 6 ? 'ipv6' : 'ipv4');
}

/** registryName and registryResourceGroup, checked; a registry needs the workspace (its region, its connection). */
export function registryInput(io: AgentIo, hasWorkspace: boolean): { name: string; resourceGroup?: string } | undefined {
  const name = io.input('registryName');
  const group = io.input('registryResourceGroup');
  if (!name) {
    if (group) throw new UserError(msg('RegistryGroupWithoutName'), 'registryResourceGroup');
    return undefined;
  }
  if (!isRegistryName(name)) throw new UserError(msg('RegistryNameInvalid', name), 'registryName');
  if (group && (!/^[-\w._()]{1,90}$/.test(group) || group.endsWith('.')))
    throw new UserError(msg('RegistryGroupInvalid', group), 'registryResourceGroup');
  if (!hasWorkspace) throw new UserError(msg('RegistryNeedsWorkspace'), 'registryName');
  return { name, ...(group ? { resourceGroup: group } : {}) };
}
