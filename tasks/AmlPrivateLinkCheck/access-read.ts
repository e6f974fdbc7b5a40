/**
 * The ARM half of the access audit: role assignments that apply to the workspace
 * (`$filter=atScope()`: its scope and every scope above), the role definitions they name, deny
 * assignments, and the managed identities that belong to the workspace, its computes and its
 * online endpoints. Every call goes to the connection's ARM host.
 */
import type { Workspace } from '@azure/arm-machinelearning';
import type { ArmClient, WorkspaceRef } from '../common/arm';
import { WorkspaceArm } from '../common/workspace-arm';
import {
  accessChecks,
  auditAccess,
  roleKey,
  type AccessAudit,
  type DenyAssignmentJson,
  type Exemptions,
  type RoleAssignmentJson,
  type RoleDefinitionJson,
} from './access';
import { msg } from './messages';
import type { IdentityJson } from './network-posture';
import type { WorkspaceChildren } from './network-read';
import type { PostureCheck } from './posture';

export const AUTHORIZATION_API = '2022-04-01';

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
  /** False when the caller is a person, not the pipeline: then nobody is exempt as "this pipeline". */
  callerIsPipeline?: boolean;
}

/** The workspace's, its computes' and its online endpoints' managed identities, plus the allowed ones. */
function exemptions(ws: Workspace, children: WorkspaceChildren, allowed: string[]): Exemptions {
  const out: Exemptions = new Map();
  for (const id of identityPrincipals(ws.identity as IdentityJson | undefined)) out.set(id, msg('ExemptWorkspaceIdentity', ws.name));
  for (const c of children.computes) for (const id of identityPrincipals(c.identity)) out.set(id, msg('ExemptComputeIdentity', c.name));
  for (const e of children.endpoints) for (const id of identityPrincipals(e.identity)) out.set(id, msg('ExemptEndpointIdentity', e.name));
  for (const id of allowed) out.set(id.toLowerCase(), msg('ExemptAllowedInput'));
  return out;
}

export async function auditWorkspaceAccess(
  arm: ArmClient,
  ref: WorkspaceRef,
  ws: Workspace,
  children: WorkspaceChildren,
  o: AccessOptions,
): Promise<AccessResult> {
  const notes: string[] = [];
  const auth = new WorkspaceArm(arm, ref, AUTHORIZATION_API);
  let assignments: RoleAssignmentJson[];
  try {
    assignments = await auth.list<RoleAssignmentJson>('providers/Microsoft.Authorization/roleAssignments?$filter=atScope()', 200);
  } catch (e) {
    if (!denied(e)) throw e;
    // An audit that could read nothing has not run: it fails like a finding (checkAccess: false opts out).
    const check: PostureCheck = {
      check: msg('CheckOtherWritersUnknown'),
      status: 'FAIL',
      detail: msg('MissingPermission', 'Microsoft.Authorization/roleAssignments/read'),
      fix: msg('FixGrantReaderForAccess', ref.name),
    };
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
  const keys = [
    ...new Set(
      assignments
        .map((a) => a.properties?.roleDefinitionId)
        .filter((x): x is string => !!x)
        .map(roleKey),
    ),
  ];
  await Promise.all(
    keys.map(async (key) => {
      try {
        definitions.set(
          key,
          await auth.get<RoleDefinitionJson>(`providers/Microsoft.Authorization/roleDefinitions/${encodeURIComponent(key)}`),
        );
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
    exemptions: exemptions(ws, children, o.allowed),
  });
  notes.push(msg('AccessNoteGroups'), msg('AccessNoteEligible'));
  if (o.callerIsPipeline === false) {
    // nothing to say about the caller's own grants: they are listed like anyone else's
  } else if (!o.ownPrincipalId) notes.push(msg('AccessNoteOwnUnknown'));
  else if (audit.own.length === 0) notes.push(msg('AccessNoteOwnIndirect', o.ownPrincipalId));
  return { audit, checks: accessChecks(audit), notes };
}
