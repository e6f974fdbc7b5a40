/**
 * Who besides the pipeline can write to the workspace: role assignments that apply to it (at its
 * scope and above), their role definitions' actions minus notActions with ARM's wildcards, and
 * deny assignments. Pure: the ARM reads are in access-read.ts.
 */
import { UserError } from '../common/errors';
import { msg } from './messages';
import type { PostureCheck } from './posture';

const ML = 'Microsoft.MachineLearningServices/workspaces';

/** What a writer can do to production, and the actions that give it. */
export type Capability = 'submitJobs' | 'registerAssets' | 'changeEndpoints' | 'changeAccess';

export const CAPABILITY_ACTIONS: Record<Capability, string[]> = {
  submitJobs: [`${ML}/jobs/write`, `${ML}/experiments/runs/submit/action`],
  registerAssets: [
    `${ML}/models/write`,
    `${ML}/models/versions/write`,
    `${ML}/data/write`,
    `${ML}/data/versions/write`,
    `${ML}/components/write`,
    `${ML}/components/versions/write`,
  ],
  changeEndpoints: [`${ML}/onlineEndpoints/write`, `${ML}/onlineEndpoints/deployments/write`],
  changeAccess: ['Microsoft.Authorization/roleAssignments/write'],
};

const CAPABILITIES = Object.keys(CAPABILITY_ACTIONS) as Capability[];

export interface Permission {
  actions?: string[];
  notActions?: string[];
}

/** Microsoft.Authorization 2022-04-01 shapes, as far as the audit reads them. */
export interface RoleAssignmentJson {
  id: string;
  name?: string;
  properties?: { roleDefinitionId?: string; principalId?: string; principalType?: string; scope?: string; condition?: string | null };
}
export interface RoleDefinitionJson {
  id?: string;
  name?: string;
  properties?: { roleName?: string; type?: string; permissions?: Permission[] };
}
export interface DenyAssignmentJson {
  id?: string;
  properties?: {
    denyAssignmentName?: string;
    permissions?: Permission[];
    scope?: string;
    doNotApplyToChildScopes?: boolean;
    principals?: Array<{ id?: string; type?: string }>;
    excludePrincipals?: Array<{ id?: string; type?: string }>;
  };
}

/** One role assignment that lets its principal change production. */
export interface Grant {
  assignmentId: string;
  principalId: string;
  principalType: string;
  role: string;
  scope: string;
  inherited: boolean;
  capabilities: Capability[];
  /** An ABAC condition narrows the assignment; the audit cannot evaluate it and keeps the grant. */
  conditional: boolean;
}

export interface AccessAudit {
  workspaceId: string;
  assignmentsRead: number;
  /** Grants of principals that are neither the pipeline nor exempt: the findings. */
  writers: Grant[];
  /** Write grants of exempt principals, with the reason. */
  exempt: Array<Grant & { reason: string }>;
  /** The pipeline's own write grants. */
  own: Grant[];
  /** Assignments whose role definition could not be read (role definition id). */
  unreadableRoles: string[];
}

/** Why a principal may write: the pipeline itself, a managed identity of the workspace, or the input. */
export type Exemptions = Map<string, string>;

/**
 * ARM's action wildcards: '*' matches any run of characters including '/', and a '/*' segment also
 * matches nothing, so `workspaces/*\/write` covers `workspaces/write` (built-in roles rely on it).
 */
export function actionMatches(pattern: string, action: string): boolean {
  const hole = '\u0000';
  const body = pattern
    .split('*')
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, '\\$&'))
    .join(hole)
    .replaceAll(`/${hole}`, '(?:/.*)?')
    .replaceAll(hole, '.*');
  return new RegExp(`^${body}$`, 'i').test(action);
}

/** Actions minus notActions, over every permission block of a definition. */
export function permits(permissions: Permission[], action: string): boolean {
  return permissions.some(
    (p) => (p.actions ?? []).some((x) => actionMatches(x, action)) && !(p.notActions ?? []).some((x) => actionMatches(x, action)),
  );
}

const EVERYONE = '00000000-0000-0000-0000-000000000000';
const norm = (s: string): string => s.toLowerCase().replace(/\/+$/, '');
const covers = (scope: string, target: string): boolean => {
  const s = norm(scope);
  return s === '' || norm(target) === s || norm(target).startsWith(`${s}/`);
};

function denied(denies: DenyAssignmentJson[], principalId: string, workspaceId: string, action: string): boolean {
  return denies.some(({ properties: d = {} }) => {
    const scope = d.scope ?? '';
    const applies = d.doNotApplyToChildScopes ? norm(scope) === norm(workspaceId) : covers(scope, workspaceId);
    const pid = principalId.toLowerCase();
    const targeted =
      (d.principals ?? []).some((p) => p.id?.toLowerCase() === pid || p.id === EVERYONE) &&
      !(d.excludePrincipals ?? []).some((p) => p.id?.toLowerCase() === pid);
    return applies && targeted && permits(d.permissions ?? [], action);
  });
}

/** The GUID that names a role definition, whatever scope its ARM id is under. */
export const roleKey = (roleDefinitionId: string): string => roleDefinitionId.split('/').pop()!.toLowerCase();

export interface AuditInput {
  workspaceId: string;
  assignments: RoleAssignmentJson[];
  /** By roleKey. */
  definitions: Map<string, RoleDefinitionJson>;
  denies: DenyAssignmentJson[];
  /** The pipeline's own object id, from its token. */
  ownPrincipalId: string | undefined;
  /** Object id (lower case) -> why it may write. */
  exemptions: Exemptions;
}

export function auditAccess(i: AuditInput): AccessAudit {
  const out: AccessAudit = {
    workspaceId: i.workspaceId,
    assignmentsRead: i.assignments.length,
    writers: [],
    exempt: [],
    own: [],
    unreadableRoles: [],
  };
  for (const a of i.assignments) {
    const p = a.properties ?? {};
    if (!p.principalId || !p.roleDefinitionId) continue;
    const def = i.definitions.get(roleKey(p.roleDefinitionId));
    if (!def) {
      out.unreadableRoles.push(p.roleDefinitionId);
      continue;
    }
    const perms = def.properties?.permissions ?? [];
    const pid = p.principalId.toLowerCase();
    const capabilities = CAPABILITIES.filter((c) =>
      CAPABILITY_ACTIONS[c].some((action) => permits(perms, action) && !denied(i.denies, pid, i.workspaceId, action)),
    );
    if (capabilities.length === 0) continue;
    const scope = p.scope ?? a.id.replace(/\/providers\/Microsoft\.Authorization\/roleAssignments\/.*$/i, '');
    const grant: Grant = {
      assignmentId: a.id,
      principalId: pid,
      principalType: p.principalType ?? 'Unknown',
      role: def.properties?.roleName ?? roleKey(p.roleDefinitionId),
      scope,
      inherited: norm(scope) !== norm(i.workspaceId),
      capabilities,
      conditional: !!p.condition,
    };
    const reason = i.exemptions.get(pid);
    if (i.ownPrincipalId && pid === i.ownPrincipalId.toLowerCase()) out.own.push(grant);
    else if (reason) out.exempt.push({ ...grant, reason });
    else out.writers.push(grant);
  }
  return out;
}

/** "resource group rg-prod", "subscription 0000…", "this workspace", "management group mg-corp", "the tenant root". */
export function scopeLabel(scope: string, workspaceId: string): string {
  const s = norm(scope);
  if (s === norm(workspaceId)) return msg('ScopeThisWorkspace');
  if (s === '') return msg('ScopeRoot');
  const mg = /^\/providers\/microsoft\.management\/managementgroups\/([^/]+)$/i.exec(scope);
  if (mg) return msg('ScopeManagementGroup', mg[1]);
  const rg = /^\/subscriptions\/[^/]+\/resourcegroups\/([^/]+)$/i.exec(scope.replace(/\/+$/, ''));
  if (rg) return msg('ScopeResourceGroup', rg[1]);
  const sub = /^\/subscriptions\/([^/]+)$/i.exec(scope.replace(/\/+$/, ''));
  if (sub) return msg('ScopeSubscription', sub[1]);
  return scope;
}

const CAN: Record<Capability, () => string> = {
  submitJobs: () => msg('CanSubmitJobs'),
  registerAssets: () => msg('CanRegisterAssets'),
  changeEndpoints: () => msg('CanChangeEndpoints'),
  changeAccess: () => msg('CanChangeAccess'),
};

export const capabilityText = (caps: Capability[]): string => caps.map((c) => CAN[c]()).join(', ');

/** One line about a grant: "Contributor at resource group rg (inherited): can submit jobs, …". */
export function grantDetail(g: Grant, workspaceId: string): string {
  const where = scopeLabel(g.scope, workspaceId);
  const detail = g.inherited
    ? msg('GrantDetailInherited', g.role, where, capabilityText(g.capabilities))
    : msg('GrantDetail', g.role, where, capabilityText(g.capabilities));
  return g.conditional ? `${detail} ${msg('GrantConditional')}` : detail;
}

/** The audit as posture checks: one FAIL per other writer, a WARN when the pipeline could widen its own rights. */
export function accessChecks(a: AccessAudit): PostureCheck[] {
  const checks: PostureCheck[] = [];
  for (const g of a.writers) {
    checks.push({
      check: msg('CheckOtherWriter', g.principalType, g.principalId),
      status: 'FAIL',
      detail: grantDetail(g, a.workspaceId),
      fix: msg('FixOtherWriter', g.assignmentId),
    });
  }
  for (const g of a.own.filter((x) => x.capabilities.includes('changeAccess'))) {
    checks.push({
      check: msg('CheckPipelineCanGrant'),
      status: 'WARN',
      detail: grantDetail(g, a.workspaceId),
      fix: msg('FixPipelineCanGrant'),
    });
  }
  for (const id of [...new Set(a.unreadableRoles)]) {
    // The grants of an unreadable role are not evaluated: someone could write through them.
    checks.push({
      check: msg('CheckRoleUnreadable', roleKey(id)),
      status: 'FAIL',
      detail: msg('RoleDefinitionUnreadable', id),
      fix: msg('FixReadRoleDefinitions'),
    });
  }
  if (a.writers.length === 0 && a.unreadableRoles.length === 0) {
    checks.push({
      check: msg('CheckNoOtherWriters'),
      status: 'PASS',
      detail: msg('NoOtherWritersDetail', a.assignmentsRead, a.own.length + a.exempt.length),
      fix: '',
    });
  }
  return checks;
}

const GUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

/** allowedPrincipals: one object id per line (comments and blank lines already removed). */
export function parseAllowedPrincipals(lines: string[]): string[] {
  return lines.map((line) => {
    const id = line.trim();
    if (!GUID.test(id)) throw new UserError(msg('AllowedPrincipalNotGuid', id), 'allowedPrincipals');
    return id.toLowerCase();
  });
}
