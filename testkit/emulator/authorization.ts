// Microsoft.Authorization as ARM serves it: role assignments and deny assignments listed at a
// scope, role definitions by id. Shapes follow azure-rest-api-specs 2022-04-01 examples
// (RoleAssignments_ListForScope, GetRoleDefinitionById, GetDenyAssignmentByScope): assignments
// carry the definition's ARM id, not its name, so a client must read the definitions too.
import { type ArmRequest, type ArmService, armPage } from './arm';
import { ArmError } from './armerrors';
import type { JsonObject } from './jwt';
import { EVERYONE, scopeCovers, type DenyAssignment, type RoleAssignment, type RoleDefinition } from './rbac';

const AUTH = 'Microsoft.Authorization';

/**
 * Where a role definition lives: custom roles under their first assignable scope; built-in ones
 * under the subscription they are read through, or at the tenant root (`subscriptionId` empty).
 */
export function roleDefinitionArmId(subscriptionId: string, def: RoleDefinition): string {
  const home = def.type === 'CustomRole' ? (def.assignableScopes?.[0] ?? '') : subscriptionId ? `/subscriptions/${subscriptionId}` : '';
  return `${home.replace(/\/+$/, '')}/providers/${AUTH}/roleDefinitions/${def.id}`;
}

function roleDefinitionBody(subscriptionId: string, def: RoleDefinition): JsonObject {
  return {
    id: roleDefinitionArmId(subscriptionId, def),
    type: `${AUTH}/roleDefinitions`,
    name: def.id,
    properties: {
      roleName: def.name,
      type: def.type ?? 'BuiltInRole',
      description: def.description ?? '',
      assignableScopes: def.assignableScopes ?? ['/'],
      permissions: [{ actions: def.actions, notActions: def.notActions, dataActions: [], notDataActions: [] }],
      createdOn: '2018-06-20T00:00:00.0000000Z',
      updatedOn: '2024-01-10T00:00:00.0000000Z',
      createdBy: null,
      updatedBy: null,
    },
  };
}

function assignmentBody(subscriptionId: string, a: RoleAssignment, def: RoleDefinition): JsonObject {
  const scope = a.scope.replace(/\/+$/, '') || '/';
  return {
    id: `${scope === '/' ? '' : scope}/providers/${AUTH}/roleAssignments/${a.id}`,
    type: `${AUTH}/roleAssignments`,
    name: a.id,
    properties: {
      roleDefinitionId: roleDefinitionArmId(subscriptionId, def),
      principalId: a.principalId,
      principalType: a.principalType,
      scope,
      condition: a.condition ?? null,
      conditionVersion: a.condition ? '2.0' : null,
      createdOn: '2025-03-01T09:00:00.0000000Z',
      updatedOn: '2025-03-01T09:00:00.0000000Z',
      createdBy: null,
      updatedBy: null,
      delegatedManagedIdentityResourceId: null,
      description: null,
    },
  };
}

function denyBody(d: DenyAssignment): JsonObject {
  return {
    id: `${d.scope.replace(/\/+$/, '')}/providers/${AUTH}/denyAssignments/${d.id}`,
    type: `${AUTH}/denyAssignments`,
    name: d.id,
    properties: {
      denyAssignmentName: d.name,
      description: '',
      permissions: [{ actions: d.actions, notActions: d.notActions, dataActions: [], notDataActions: [] }],
      scope: d.scope,
      doNotApplyToChildScopes: d.doNotApplyToChildScopes,
      principals: d.principals,
      excludePrincipals: d.excludePrincipals,
      isSystemProtected: true,
    },
  };
}

/** The scope a `.../providers/Microsoft.Authorization/<kind>` list names. */
function scopeOf(req: ArmRequest): string {
  const i = req.path.toLowerCase().lastIndexOf(`/providers/${AUTH.toLowerCase()}/`);
  return i <= 0 ? '/' : req.path.slice(0, i);
}

type Filter = { atScope: boolean; principalId?: string };

/**
 * The $filter forms the service documents: atScope() (at or above the scope), principalId eq
 * '{id}' and assignedTo('{id}') (at, above or below, for one principal), and both joined by
 * `and`. Anything else is refused, as the service refuses it.
 */
function parseFilter(raw: string | null): Filter {
  const f: Filter = { atScope: false };
  if (raw === null || raw.trim() === '') return f;
  for (const part of raw.split(/\s+and\s+/i)) {
    const p = part.trim();
    const pid = /^principalId\s+eq\s+'([0-9a-fA-F-]{36})'$/i.exec(p) ?? /^assignedTo\('([0-9a-fA-F-]{36})'\)$/i.exec(p);
    if (/^atScope\(\)$/i.test(p)) f.atScope = true;
    else if (pid) f.principalId = pid[1]!.toLowerCase();
    else
      throw new ArmError(
        400,
        'UnsupportedQuery',
        `The filter '${raw}' is not supported. Supported filters are 'atScope()', 'principalId eq {id}' and 'assignedTo({id})'.`,
      );
  }
  return f;
}

/** At or above `scope` with atScope(); otherwise at, above or below it. */
function inView(assignmentScope: string, scope: string, atScope: boolean): boolean {
  return scopeCovers(assignmentScope, scope) || (!atScope && scopeCovers(scope, assignmentScope));
}

export function installAuthorizationRoutes(arm: ArmService): void {
  arm.addApiVersions(AUTH, [
    '2015-07-01',
    '2018-01-01-preview',
    '2020-04-01-preview',
    '2020-10-01-preview',
    '2022-04-01',
    '2022-05-01-preview',
  ]);
  const scopes = [
    '/subscriptions/{subscriptionId}',
    '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}',
    '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/{namespace}/{type}/{name}',
    '/subscriptions/{subscriptionId}/resourceGroups/{resourceGroupName}/providers/{namespace}/{type}/{name}/{childType}/{childName}',
  ];
  const sub = (req: ArmRequest): string => req.params.subscriptionId ?? '';
  for (const base of scopes) {
    arm.route('GET', `${base}/providers/${AUTH}/roleAssignments`, {
      action: `${AUTH}/roleAssignments/read`,
      scope: scopeOf,
      handler: (req) => {
        const scope = scopeOf(req);
        const f = parseFilter(req.query.get('$filter'));
        const value = arm.rbac
          .list(f.principalId)
          .filter((a) => inView(a.scope, scope, f.atScope))
          .map((a) => assignmentBody(sub(req), a, arm.rbac.role(a.roleName)!));
        return { status: 200, body: armPage(req, value, arm.listPageSize, '$skipToken') };
      },
    });
    arm.route('GET', `${base}/providers/${AUTH}/denyAssignments`, {
      action: `${AUTH}/denyAssignments/read`,
      scope: scopeOf,
      handler: (req) => {
        const scope = scopeOf(req);
        const f = parseFilter(req.query.get('$filter'));
        const value = arm.rbac
          .denyList()
          .filter((d) => inView(d.scope, scope, f.atScope))
          .filter((d) => !f.principalId || d.principals.some((p) => p.id.toLowerCase() === f.principalId || p.id === EVERYONE))
          .map(denyBody);
        return { status: 200, body: armPage(req, value, arm.listPageSize, '$skipToken') };
      },
    });
  }
  // Role definitions, read at any scope: built-in ones everywhere, custom ones within their assignable scopes.
  const visibleAt = (def: RoleDefinition, scope: string): boolean =>
    def.type !== 'CustomRole' || (def.assignableScopes ?? []).some((s) => scopeCovers(s, scope));
  for (const base of ['', ...scopes]) {
    arm.route('GET', `${base}/providers/${AUTH}/roleDefinitions`, {
      action: `${AUTH}/roleDefinitions/read`,
      ...(base ? { scope: scopeOf } : { skipAuthorization: true }),
      handler: (req) => ({
        status: 200,
        body: {
          value: arm.rbac
            .roleList()
            .filter((d) => visibleAt(d, scopeOf(req)))
            .map((d) => roleDefinitionBody(sub(req), d)),
        },
      }),
    });
    arm.route('GET', `${base}/providers/${AUTH}/roleDefinitions/{roleId}`, {
      action: `${AUTH}/roleDefinitions/read`,
      // Reading a definition at the tenant root needs only a valid token.
      ...(base ? { scope: scopeOf } : { skipAuthorization: true }),
      handler: (req) => {
        const def = arm.rbac.roleById(req.params.roleId ?? '');
        if (!def || !visibleAt(def, scopeOf(req)))
          throw new ArmError(
            404,
            'RoleDefinitionDoesNotExist',
            `The specified role definition with ID '${req.params.roleId}' does not exist.`,
          );
        return { status: 200, body: roleDefinitionBody(sub(req), def) };
      },
    });
  }
}
