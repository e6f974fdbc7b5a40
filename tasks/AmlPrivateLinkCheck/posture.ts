/**
 * Isolation posture of the workspace and its dependencies, from what discovery read.
 */
import type { Workspace, DiagnoseResponseResultValue } from '@azure/arm-machinelearning';
import type { Dependency, Discovery } from './discovery';
import { msg } from './messages';

export type PostureStatus = 'PASS' | 'FAIL' | 'WARN' | 'UNKNOWN';

export interface PostureCheck {
  check: string;
  status: PostureStatus;
  detail: string;
  fix: string;
}

/** A dependency as named in checks and fixes, e.g. "Key Vault kv-prod". */
const NAMED: Record<Dependency['kind'], (name: string) => string> = {
  storage: (n) => msg('StorageAccountNamed', n),
  keyVault: (n) => msg('KeyVaultNamed', n),
  registry: (n) => msg('ContainerRegistryNamed', n),
};

const DEP_FIX: Record<Dependency['kind'], (name: string, rg: string) => string> = {
  storage: (n, rg) => `az storage account update -n ${n} -g ${rg} --public-network-access Disabled`,
  keyVault: (n, rg) => `az keyvault update -n ${n} -g ${rg} --public-network-access Disabled`,
  registry: (n, rg) => `az acr update -n ${n} -g ${rg} --public-network-enabled false`,
};

const rgOf = (id: string): string => /\/resourceGroups\/([^/]+)/i.exec(id)?.[1] ?? '<resource-group>';

export function connectionChecks(what: string, conns: Discovery['workspaceConnections']): PostureCheck[] {
  if (conns.length === 0) {
    return [
      {
        check: msg('CheckPrivateEndpoint', what),
        status: 'FAIL',
        detail: msg('NoPrivateEndpointConnection'),
        fix: msg('FixCreatePrivateEndpoint', what),
      },
    ];
  }
  return conns.map((c) => {
    const pe = c.privateEndpointId.split('/').pop();
    const check = msg('CheckEndpointConnection', what, pe);
    return c.status === 'Approved'
      ? { check, status: 'PASS', detail: 'Approved', fix: '' }
      : { check, status: 'FAIL', detail: c.status, fix: msg('FixApproveConnection', pe, what) };
  });
}

/** Public network access closed: disabled, or denied by default and not explicitly enabled. */
export function isClosed(dep: Dependency): boolean {
  return (
    dep.publicNetworkAccess === 'Disabled' || (dep.publicNetworkAccess !== 'Enabled' && dep.defaultAction === 'Deny') || registryOnly(dep)
  );
}

const REGISTRY_ID = /^\/subscriptions\/[^/]+\/resourceGroups\/[^/]+\/providers\/Microsoft\.MachineLearningServices\/registries\/[^/]+$/i;

/**
 * A workspace storage account that shares models into an Azure ML registry must let the registry
 * in: "selected networks" (public access Enabled, default action Deny) with no IP range, and
 * resource instance rules naming only Azure ML registries. No address on the internet reaches it.
 */
export function registryOnly(dep: Dependency): boolean {
  const instances = dep.resourceInstances ?? [];
  return (
    dep.kind === 'storage' &&
    dep.publicNetworkAccess === 'Enabled' &&
    dep.defaultAction === 'Deny' &&
    dep.ipRules === 0 &&
    instances.length > 0 &&
    instances.every((id) => REGISTRY_ID.test(id))
  );
}

export function assessPosture(ws: Workspace, rg: string, d: Discovery): PostureCheck[] {
  const checks: PostureCheck[] = [];
  const pna = ws.publicNetworkAccess ?? 'Enabled';
  const wsCheck = msg('CheckWorkspacePublicAccess', ws.name);
  checks.push(
    pna === 'Disabled'
      ? { check: wsCheck, status: 'PASS', detail: 'Disabled', fix: '' }
      : {
          check: wsCheck,
          status: 'FAIL',
          detail: pna,
          fix: `az ml workspace update -n ${ws.name} -g ${rg} --public-network-access Disabled`,
        },
  );
  checks.push(...connectionChecks(msg('WorkspaceNamed', ws.name), d.workspaceConnections));
  for (const dep of d.dependencies) {
    const what = NAMED[dep.kind](dep.name);
    const check = msg('CheckPublicAccess', what);
    if (!dep.readable) {
      checks.push({ check, status: 'UNKNOWN', detail: msg('NotReadable'), fix: msg('FixGrantReader', what) });
      continue;
    }
    const closed = isClosed(dep);
    const detail =
      [
        dep.publicNetworkAccess && msg('PublicNetworkAccessIs', dep.publicNetworkAccess),
        dep.defaultAction && msg('DefaultActionIs', dep.defaultAction),
      ]
        .filter(Boolean)
        .join(', ') || msg('PublicAccessNotRestricted');
    const shown = registryOnly(dep)
      ? `${detail}; ${msg('RegistryInstancesOnly', (dep.resourceInstances ?? []).map((id) => id.split('/').pop()).join(', '))}`
      : detail;
    checks.push(
      closed
        ? { check, status: 'PASS', detail: shown, fix: '' }
        : { check, status: 'FAIL', detail, fix: DEP_FIX[dep.kind](dep.name, rgOf(dep.id)) },
    );
    if (dep.kind === 'registry' && dep.sku) {
      const skuCheck = msg('CheckRegistrySku', what);
      checks.push(
        dep.sku === 'Premium'
          ? { check: skuCheck, status: 'PASS', detail: dep.sku, fix: '' }
          : {
              check: skuCheck,
              status: 'FAIL',
              detail: msg('RegistryNotPremium', dep.sku),
              fix: `az acr update -n ${dep.name} -g ${rgOf(dep.id)} --sku Premium`,
            },
      );
    }
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
      out.push({
        check: msg('CheckDiagnoseFinding', category, r.code ?? ''),
        status: r.level === 'Error' ? 'FAIL' : 'WARN',
        detail: r.message ?? '',
        fix: msg('FixSeeDiagnoseMessage'),
      });
    }
  }
  return out;
}
