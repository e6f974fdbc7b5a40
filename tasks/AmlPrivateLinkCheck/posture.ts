/**
 * Isolation posture of the workspace and its dependencies, from what discovery read.
 */
import type { Workspace, DiagnoseResponseResultValue } from '@azure/arm-machinelearning';
import type { Dependency, Discovery } from './discovery';

export type PostureStatus = 'PASS' | 'FAIL' | 'WARN' | 'UNKNOWN';

export interface PostureCheck {
  check: string;
  status: PostureStatus;
  detail: string;
  fix: string;
}

const LABEL: Record<Dependency['kind'], string> = { storage: 'Storage account', keyVault: 'Key Vault', registry: 'Container registry' };

const DEP_FIX: Record<Dependency['kind'], (name: string, rg: string) => string> = {
  storage: (n, rg) => `az storage account update -n ${n} -g ${rg} --public-network-access Disabled`,
  keyVault: (n, rg) => `az keyvault update -n ${n} -g ${rg} --public-network-access Disabled`,
  registry: (n, rg) => `az acr update -n ${n} -g ${rg} --public-network-enabled false`,
};

const rgOf = (id: string): string => /\/resourceGroups\/([^/]+)/i.exec(id)?.[1] ?? '<resource-group>';

function connectionChecks(what: string, conns: Discovery['workspaceConnections']): PostureCheck[] {
  if (conns.length === 0) {
    return [{ check: `${what}: private endpoint`, status: 'FAIL', detail: 'no private endpoint connection', fix: `Create a private endpoint for ${what} in the AML VNet.` }];
  }
  return conns.map((c) => {
    const pe = c.privateEndpointId.split('/').pop();
    return c.status === 'Approved'
      ? { check: `${what}: endpoint ${pe}`, status: 'PASS', detail: 'Approved', fix: '' }
      : { check: `${what}: endpoint ${pe}`, status: 'FAIL', detail: c.status, fix: `Approve the private endpoint connection ${pe} on ${what} (Networking > Private endpoint connections).` };
  });
}

export function assessPosture(ws: Workspace, rg: string, d: Discovery): PostureCheck[] {
  const checks: PostureCheck[] = [];
  const pna = ws.publicNetworkAccess ?? 'Enabled';
  checks.push(
    pna === 'Disabled'
      ? { check: `Workspace ${ws.name}: public network access`, status: 'PASS', detail: 'Disabled', fix: '' }
      : { check: `Workspace ${ws.name}: public network access`, status: 'FAIL', detail: pna, fix: `az ml workspace update -n ${ws.name} -g ${rg} --public-network-access Disabled` },
  );
  checks.push(...connectionChecks(`workspace ${ws.name}`, d.workspaceConnections));
  for (const dep of d.dependencies) {
    const what = `${LABEL[dep.kind]} ${dep.name}`;
    if (!dep.readable) {
      checks.push({ check: `${what}: public network access`, status: 'UNKNOWN', detail: 'not readable', fix: `Grant the service connection Reader on ${what}.` });
      continue;
    }
    const closed = dep.publicNetworkAccess === 'Disabled' || (dep.publicNetworkAccess !== 'Enabled' && dep.defaultAction === 'Deny') || (dep.publicNetworkAccess === undefined && dep.defaultAction === 'Deny');
    const detail = [dep.publicNetworkAccess && `publicNetworkAccess ${dep.publicNetworkAccess}`, dep.defaultAction && `default action ${dep.defaultAction}`].filter(Boolean).join(', ') || 'public access not restricted';
    checks.push(closed ? { check: `${what}: public network access`, status: 'PASS', detail, fix: '' } : { check: `${what}: public network access`, status: 'FAIL', detail, fix: DEP_FIX[dep.kind](dep.name, rgOf(dep.id)) });
    checks.push(...connectionChecks(what, dep.connections));
  }
  return checks;
}

/** Findings of the workspace diagnose API, Error -> FAIL, Warning -> WARN. */
export function diagnoseChecks(v: DiagnoseResponseResultValue | undefined): PostureCheck[] {
  if (!v) return [];
  const out: PostureCheck[] = [];
  for (const [category, results] of Object.entries(v)) {
    for (const r of (results ?? []) as Array<{ code?: string; level?: string; message?: string }>) {
      if (r.level === 'Information') continue;
      out.push({ check: `diagnose ${category}: ${r.code ?? ''}`, status: r.level === 'Error' ? 'FAIL' : 'WARN', detail: r.message ?? '', fix: 'See the message; Azure ML workspace diagnose explains each finding.' });
    }
  }
  return out;
}
