/**
 * Where a credential may be sent. A token goes only to hosts derived from the service connection
 * (its ARM URL), the workspace (its region) and the cloud (Azure ML's data-plane domains of that
 * cloud), never to a host that a response names (a discovery document, a nextLink, a Location
 * header): those are checked against these rules before the token is attached.
 */

/** A rule for the URLs a credentialed client may call, with how to name it in a message. */
export interface HostRule {
  allows(url: URL): boolean;
  /** The allowed hosts in words, e.g. "management.azure.com". */
  describe: string;
}

/** Exactly one origin (scheme, host and port). */
export function originRule(origin: string): HostRule {
  const o = new URL(origin).origin;
  return { allows: (u) => u.origin === o, describe: new URL(origin).host };
}

/**
 * Azure ML's data-plane domains by the cloud's ARM host (from the Azure ML SDK's cloud table and
 * the private-link FQDN documentation): the regional API and run-history hosts, and their
 * per-workspace private-link names `<workspace guid>.workspace.<region>.<domain>`.
 */
const DATA_PLANE_DOMAINS: Record<string, string[]> = {
  'management.azure.com': ['api.azureml.ms', 'experiments.azureml.net'],
  'management.usgovcloudapi.net': ['api.ml.azure.us', 'experiments.ml.azure.us'],
  'management.chinacloudapi.cn': ['api.ml.azure.cn', 'experiments.ml.azure.cn'],
};

/** "East US" and "eastus" are the same region. */
export const regionLabel = (location: string): string => location.toLowerCase().replace(/[^a-z0-9]/g, '');

/**
 * The workspace's data plane: in a public or sovereign cloud, https on the default port at
 * `<region>.<domain>` or `<label>.workspace.<region>.<domain>` of that cloud's domains; with any
 * other ARM URL (Azure Stack, an emulator) only the ARM origin itself, since no domain is known.
 */
export function dataPlaneRule(armUrl: string, location: string | undefined): HostRule {
  const arm = new URL(armUrl);
  const domains = DATA_PLANE_DOMAINS[arm.hostname.toLowerCase()];
  if (!domains) return originRule(armUrl);
  const region = regionLabel(location ?? '');
  const esc = (s: string): string => s.replace(/[.]/g, '\\.');
  const host = new RegExp(`^(?:[a-z0-9-]+\\.workspace\\.)?${esc(region)}\\.(?:${domains.map(esc).join('|')})$`, 'i');
  return {
    allows: (u) => u.protocol === 'https:' && u.port === '' && region !== '' && host.test(u.hostname),
    describe: domains.map((d) => `${region || '<region>'}.${d}`).join(', '),
  };
}
