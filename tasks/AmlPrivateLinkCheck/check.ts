/**
 * The check itself: resolve every name, classify it, test TCP 443 on the good ones, and resolve
 * the scoring hosts of Kubernetes endpoints.
 */
import { isIP } from 'node:net';
import type { AccessAudit } from './access';
import { classify, tcpBlocked, type NameResult } from './classify';
import type { PostureCheck } from './posture';
import type { Report } from './report';
import { scoringCheck } from './network-posture';
import { readHosts, resolveAll } from './resolve';
import { inRanges, isLoopback, isPublicIp, type NameTarget, type Ranges } from './targets';
import { tcpCheck } from './tcp';

/** What the workspace (through ARM) says must resolve privately, and its isolation posture. */
export interface Scan {
  targets: NameTarget[];
  posture: PostureCheck[];
  notes: string[];
  /** Who besides the pipeline can write to the workspace (when audited). */
  access?: AccessAudit;
  /** Kubernetes online endpoints whose scoring host must resolve privately from this agent. */
  scoring?: Array<{ endpoint: string; host: string }>;
}

export const NO_SCAN: Scan = { targets: [], posture: [], notes: [] };

/** RFC 1918 plus the shared address space (CGNAT) some VNets use. */
export const DEFAULT_RANGES = '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10';

export interface CheckOptions {
  servers: string[];
  timeoutMs: number;
  ranges: Ranges;
  tcp: boolean;
  /** The hosts file's entries (default: read from the system's hosts file). */
  hosts?: Map<string, string[]>;
}

/** Later entries win: explicit input lines override discovered expectations for the same name. */
export function mergeTargets(...lists: NameTarget[][]): NameTarget[] {
  const m = new Map<string, NameTarget>();
  for (const list of lists)
    for (const t of list) {
      const prev = m.get(t.fqdn);
      m.set(t.fqdn, prev && t.expectedIps.length === 0 ? { ...t, expectedIps: prev.expectedIps, source: prev.source } : t);
    }
  return [...m.values()].sort((a, b) => a.fqdn.localeCompare(b.fqdn));
}

export async function checkNames(targets: NameTarget[], o: CheckOptions): Promise<NameResult[]> {
  const resolutions = await resolveAll(
    targets.map((t) => t.fqdn),
    { servers: o.servers, timeoutMs: o.timeoutMs, hosts: o.hosts ?? readHosts() },
  );
  const results = targets.map((t, i) => classify(t, resolutions[i]!, o.ranges));
  if (!o.tcp) return results;
  // Only names that resolved correctly are dialled: never connect to a public answer.
  return Promise.all(
    results.map(async (r) => {
      if (r.verdict !== 'OK') return r;
      const ip = r.answer[0]!;
      const t = await tcpCheck(ip, 443, o.timeoutMs);
      return t.ok ? r : tcpBlocked(r, ip, t.reason);
    }),
  );
}

/** Each scoring host resolved the way the names are (an IP literal is its own answer). */
async function checkScoringHosts(hosts: Array<{ endpoint: string; host: string }>, o: CheckOptions): Promise<PostureCheck[]> {
  if (hosts.length === 0) return [];
  const names = hosts.filter((h) => !isIP(h.host)).map((h) => h.host);
  const resolved = await resolveAll(names, { servers: o.servers, timeoutMs: o.timeoutMs, hosts: o.hosts ?? readHosts() });
  const answers = new Map(resolved.map((r) => [r.fqdn, r.addresses]));
  const classify = { isPublic: isPublicIp, isLoopback, inRanges: (ip: string) => inRanges(ip, o.ranges) };
  return hosts.map((h) =>
    scoringCheck(h.endpoint, h.host, isIP(h.host) ? [h.host] : (answers.get(h.host) ?? []), classify, o.ranges.text.join(', ')),
  );
}

/**
 * The whole check, shared by AmlPrivateLinkCheck@1 and the jump-host command: the targets
 * (mergeTargets of the scan's and the explicit ones) resolved, classified and dialled, with the
 * scan's posture findings.
 */
export async function runPrivateLinkCheck(scan: Scan, targets: NameTarget[], o: CheckOptions & { workspace?: string }): Promise<Report> {
  const [names, scoring] = await Promise.all([checkNames(targets, o), checkScoringHosts(scan.scoring ?? [], o)]);
  const posture = [...scan.posture, ...scoring];
  const failed = names.some((n) => n.verdict !== 'OK') || posture.some((p) => p.status === 'FAIL');
  return {
    ok: !failed,
    ...(o.workspace ? { workspace: o.workspace } : {}),
    dnsServers: o.servers,
    allowedRanges: o.ranges.text,
    names,
    posture,
    ...(scan.access ? { access: scan.access } : {}),
    notes: scan.notes,
  };
}
