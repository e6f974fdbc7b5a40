/**
 * Concurrent name resolution with a hard per-name timeout.
 *
 * dns.lookup (getaddrinfo) runs on libuv's 4-thread pool and cannot be cancelled, so four
 * dead names would stall every other lookup. We query with c-ares instead (dns.Resolver:
 * non-blocking, every query in flight at once on one channel), give each name its own
 * deadline, and consult the hosts file first, as getaddrinfo would ("files dns" in nsswitch).
 * One channel for all names: a channel per name exhausts sockets and drops answers at scale.
 */
import { promises as dns } from 'node:dns';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { forEachLimit } from '../common/pool';
import { msg } from './messages';

export type ResolveError = 'NOT_FOUND' | 'TIMEOUT' | 'SERVFAIL' | 'REFUSED' | 'UNREACHABLE';

export interface Resolution {
  fqdn: string;
  addresses: string[];
  /** CNAME chain from the name, e.g. [x.privatelink.blob.core.windows.net] */
  cnames: string[];
  via: 'hosts' | 'dns';
  error?: ResolveError;
  detail?: string;
  ms: number;
}

export function hostsFilePath(): string {
  return process.platform === 'win32'
    ? path.join(process.env.SystemRoot ?? 'C:\\Windows', 'System32', 'drivers', 'etc', 'hosts')
    : '/etc/hosts';
}

/** name -> addresses from a hosts file; unreadable files count as empty. */
export function readHosts(file = hostsFilePath()): Map<string, string[]> {
  const map = new Map<string, string[]>();
  let text: string;
  try {
    text = fs.readFileSync(file, 'utf8');
  } catch {
    return map;
  }
  for (const raw of text.split(/\r?\n/)) {
    const [ip, ...names] = raw.replace(/#.*/, '').trim().split(/\s+/);
    if (!ip || names.length === 0) continue;
    for (const n of names) {
      const key = n.toLowerCase().replace(/\.$/, '');
      map.set(key, [...(map.get(key) ?? []), ip]);
    }
  }
  return map;
}

export interface ResolveOptions {
  /** Servers as IP or IP:port; empty = the agent's own resolver configuration. */
  servers: string[];
  timeoutMs: number;
  hosts: Map<string, string[]>;
}

function errorKind(e: unknown): { error: ResolveError; detail: string } {
  const code = (e as { code?: string } | undefined)?.code ?? '';
  if (code === 'ENOTFOUND' || code === 'ENODATA' || code === 'NOTFOUND')
    return { error: 'NOT_FOUND', detail: code === 'ENODATA' ? msg('ResolveNoAddressRecord') : 'NXDOMAIN' };
  if (code === 'ETIMEOUT' || code === 'ECANCELLED') return { error: 'TIMEOUT', detail: msg('ResolveNoAnswer') };
  if (code === 'EREFUSED') return { error: 'REFUSED', detail: msg('ResolveRefused') };
  // No DNS server took the query at all (nothing listens there, or the network says no): not a missing record.
  if (code === 'ECONNREFUSED' || code === 'ECONNRESET' || code === 'ENETUNREACH' || code === 'EHOSTUNREACH')
    return { error: 'UNREACHABLE', detail: code };
  return { error: 'SERVFAIL', detail: code || String(e) };
}

async function cnameChain(r: dns.Resolver, fqdn: string): Promise<string[]> {
  const chain: string[] = [];
  let current = fqdn;
  for (let i = 0; i < 10; i++) {
    let next: string[];
    try {
      next = await r.resolveCname(current);
    } catch {
      break;
    }
    if (!next[0]) break;
    current = next[0].toLowerCase().replace(/\.$/, '');
    chain.push(current);
  }
  return chain;
}

async function addresses(r: dns.Resolver, fqdn: string): Promise<string[]> {
  const [v4, v6] = await Promise.allSettled([r.resolve4(fqdn), r.resolve6(fqdn)]);
  if (v4.status === 'fulfilled' && v4.value.length) return v4.value;
  if (v6.status === 'fulfilled' && v6.value.length) return v6.value;
  // Prefer the IPv4 error: private endpoints are IPv4. Two empty answers mean no data.
  if (v4.status === 'rejected') throw v4.reason;
  if (v6.status === 'rejected') throw v6.reason;
  throw Object.assign(new Error('no address records'), { code: 'ENODATA' });
}

function resolver(o: ResolveOptions): dns.Resolver {
  // c-ares timeout is per try; two tries within the budget survive one lost UDP packet.
  const r = new dns.Resolver({ timeout: Math.max(100, Math.floor(o.timeoutMs / 2)), tries: 2 });
  if (o.servers.length) r.setServers(o.servers);
  return r;
}

async function resolveOne(fqdn: string, o: ResolveOptions, r: dns.Resolver): Promise<Resolution> {
  const start = Date.now();
  const fromHosts = o.hosts.get(fqdn);
  if (fromHosts) return { fqdn, addresses: fromHosts, cnames: [], via: 'hosts', ms: 0 };

  // Our own deadline per name: the queries of a dead name are simply abandoned (c-ares ends
  // them itself after its tries), and never hold up the other names.
  let timer: NodeJS.Timeout | undefined;
  const deadline = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' })), o.timeoutMs);
  });
  // The chain is kept even when the addresses fail: it shows where the lookup went wrong.
  const chain = cnameChain(r, fqdn);
  try {
    const [addrs, cnames] = await Promise.race([Promise.all([addresses(r, fqdn), chain]), deadline]);
    return { fqdn, addresses: addrs, cnames, via: 'dns', ms: Date.now() - start };
  } catch (e) {
    // Within what is left of this name's budget, finish reading the chain: it names the zone at fault.
    let wait: NodeJS.Timeout | undefined;
    const left = Math.max(0, o.timeoutMs - (Date.now() - start));
    const cnames = await Promise.race([chain, new Promise<string[]>((res) => (wait = setTimeout(() => res([]), left)))]);
    clearTimeout(wait);
    return { fqdn, addresses: [], cnames, via: 'dns', ...errorKind(e), ms: Date.now() - start };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * At most this many names in flight: a burst of hundreds of UDP queries overflows a DNS
 * server's receive buffer (and Azure DNS limits queries per VM), which would show up as false
 * TIMEOUTs. Far more than the dead names a real setup has, so the total stays about one timeout.
 */
const MAX_IN_FLIGHT = 48;

/** Resolve every name at once; each has its own deadline, so the total is about one timeout. */
export async function resolveAll(names: string[], o: ResolveOptions): Promise<Resolution[]> {
  const r = resolver(o);
  const out: Resolution[] = new Array(names.length);
  try {
    await forEachLimit(names, MAX_IN_FLIGHT, async (name, i) => {
      out[i] = await resolveOne(name, o, r);
    });
    return out;
  } finally {
    // Drop the abandoned queries of dead names so the process can exit at once.
    r.cancel();
  }
}
