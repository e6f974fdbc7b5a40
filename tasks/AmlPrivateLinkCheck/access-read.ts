/**
 * The ARM half of the access audit: role assignments that apply to the workspace
 * (`$filter=atScope()`: its scope and every scope above), the role definitions they name, deny
 * assignments, and the managed identities that belong to the workspace, its computes and its
 * online endpoints. Every call goes to the connection's ARM host.
 */
import type { Workspace } from '@azure/arm-machinelearning';
import type { ArmClient, WorkspaceRef } from '../common/arm';
import { WorkspaceArm } from '../common/workspace-arm';
import { accessChecks, auditAccess, roleKey, type AccessAudit, type DenyAssignmentJson, type Exemptions, type RoleAssignmentJson, type RoleDefinitionJson } from './access';
import { msg } from './messages';
import type { PostureCheck } from './posture';

export const AUTHORIZATION_API = '2022-04-01';

interface IdentityJson {
  principalId?: string;
  userAssignedIdentities?: Record<string, { principalId?: string } | null>;
}

/** Principal ids of a resource's system- and user-assigned identities. */
export function identityPrincipals(identity: IdentityJson | undefined | null): string[] {
  if (!identity) return [];
  const ids = [identity.principalId, ...Object.values(identity.userAssignedIdentities ?? {}).map((u) => u?.principalId)];
  return ids.filter((x): x is string => !!x).map((x) => x.toLowerCase());
}

const status = (e: unknown): number | undefined => (e as { statusCode?: number }).statusCode;
const denied = (e: unknown): boolean => status(e) === 403 || status(e) === 401;

export interface AccessResult {
  audit?: AccessAudit;
  checks: PostureCheck[];
  notes: string[];
}

export interface AccessOptions {
  /** Object ids listed in allowedPrincipals (lower case). */
  allowed: string[];
  /** The object id the check runs as (from its ARM token). */
  ownPrincipalId: string | undefined;
}

/** The workspace's, its computes' and its online endpoints' managed identities, plus the allowed ones. */
async function exemptions(wsArm: WorkspaceArm, ws: Workspace, allowed: string[], notes: string[]): Promise<Exemptions> {
  const out: Exemptions = new Map();
  for (const id of identityPrincipals(ws.identity as IdentityJson | undefined)) out.set(id, msg('ExemptWorkspaceIdentity', ws.name));
  const children: Array<['computes' | 'onlineEndpoints', (n: string) => string]> = [
    ['computes', (n) => msg('ExemptComputeIdentity', n)],
    ['onlineEndpoints', (n) => msg('ExemptEndpointIdentity', n)],
  ];
  for (const [path, why] of children) {
    try {
      for (const r of await wsArm.list<{ name: string; identity?: IdentityJson }>(path)) for (const id of identityPrincipals(r.identity)) out.set(id, why(r.name));
    } catch (e) {
      if (!denied(e)) throw e;
      notes.push(msg('AccessChildrenUnreadable', path));
    }
  }
  for (const id of allowed) out.set(id.toLowerCase(), msg('ExemptAllowedInput'));
  return out;
}

export async function auditWorkspaceAccess(arm: ArmClient, ref: WorkspaceRef, ws: Workspace, o: AccessOptions): Promise<AccessResult> {
  const notes: string[] = [];
  const auth = new WorkspaceArm(arm, ref, AUTHORIZATION_API);
  let assignments: RoleAssignmentJson[];
  try {
    assignments = await auth.list<RoleAssignmentJson>('providers/Microsoft.Authorization/roleAssignments?$filter=atScope()', 200);
  } catch (e) {
    if (!denied(e)) throw e;
    const check: PostureCheck = { check: msg('CheckOtherWritersUnknown'), status: 'UNKNOWN', detail: msg('MissingPermission', 'Microsoft.Authorization/roleAssignments/read'), fix: msg('FixGrantReaderForAccess', ref.name) };
    return { checks: [check], notes };
  }
  let denies: DenyAssignmentJson[] = [];
  try {
    denies = await auth.list<DenyAssignmentJson>('providers/Microsoft.Authorization/denyAssignments?$filter=atScope()', 50);
  } catch (e) {
    if (!denied(e)) throw e;
    // Without them a denied writer is still reported: the error is on the safe side.
    notes.push(msg('DenyAssignmentsUnreadable', 'Microsoft.Authorization/denyAssignments/read'));
  }
  // Each distinct definition once, read at the workspace's scope: Reader there may read it, and a
  // custom role is visible wherever it is assignable.
  const definitions = new Map<string, RoleDefinitionJson>();
  const keys = [...new Set(assignments.map((a) => a.properties?.roleDefinitionId).filter((x): x is string => !!x).map(roleKey))];
  await Promise.all(
    keys.map(async (key) => {
      try {
        definitions.set(key, await auth.get<RoleDefinitionJson>(`providers/Microsoft.Authorization/roleDefinitions/${encodeURIComponent(key)}`));
      } catch (e) {
        if (!denied(e) && status(e) !== 404) throw e;
      }
    }),
  );
  const audit = auditAccess({
    workspaceId: auth.base,
    assignments,
    definitions,
    denies,
    ownPrincipalId: o.ownPrincipalId,
    exemptions: await exemptions(new WorkspaceArm(arm, ref), ws, o.allowed, notes),
  });
  notes.push(msg('AccessNoteGroups'), msg('AccessNoteEligible'));
  if (!o.ownPrincipalId) notes.push(msg('AccessNoteOwnUnknown'));
  else if (audit.own.length === 0) notes.push(msg('AccessNoteOwnIndirect', o.ownPrincipalId));
  return { audit, checks: accessChecks(audit), notes };
}
