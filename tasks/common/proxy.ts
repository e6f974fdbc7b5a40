/**
 * The agent's proxy, per target URL. Bypass rules are applied by the caller-supplied resolver
 * (task-lib's getHttpProxyConfiguration(url) already returns null for bypassed hosts).
 */
import type { ProxySettings } from '@azure/core-rest-pipeline';

export interface AgentProxy {
  proxyUrl: string;
  proxyUsername?: string;
  proxyPassword?: string;
}

/** Returns the proxy to use for `url`, or undefined to go direct. */
export type ProxyResolver = (url: string) => AgentProxy | undefined;

/** core-rest-pipeline's shape: host carries the scheme, port separately. */
export function toProxySettings(p: AgentProxy | undefined): ProxySettings | undefined {
  if (!p) return undefined;
  const u = new URL(p.proxyUrl);
  const port = u.port ? Number(u.port) : u.protocol === 'https:' ? 443 : 80;
  const settings: ProxySettings = { host: `${u.protocol}//${u.hostname}`, port };
  if (p.proxyUsername) settings.username = p.proxyUsername;
  if (p.proxyPassword) settings.password = p.proxyPassword;
  return settings;
}
