/**
 * The access audit's evaluation (tasks/AmlPrivateLinkCheck/access.ts): ARM action wildcards,
 * actions minus notActions, deny assignments, exemptions, and agreement with the emulator's own
 * RBAC engine (written separately) on every built-in role and every audited action.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  accessChecks,
  actionMatches,
  auditAccess,
  CAPABILITY_ACTIONS,
  parseAllowedPrincipals,
  permits,
  roleKey,
  type RoleAssignmentJson,
  type RoleDefinitionJson,
} from '../../tasks/AmlPrivateLinkCheck/access';
import { BUILT_IN_ROLES, Rbac } from '../../testkit/emulator/rbac';

test('ARM wildcards: * spans slashes, a /* segment may be empty, case does not matter', () => {
  assert.ok(actionMatches('*', 'Microsoft.MachineLearningServices/workspaces/jobs/write'));
  assert.ok(actionMatches('*/read', 'Microsoft.Storage/storageAccounts/read'));
  assert.ok(!actionMatches('*/read', 'Microsoft.MachineLearningServices/workspaces/jobs/write'));
  assert.ok(
    actionMatches('Microsoft.MachineLearningServices/workspaces/*/write', 'microsoft.machinelearningservices/WORKSPACES/jobs/write'),
  );
  assert.ok(actionMatches('Microsoft.MachineLearningServices/workspaces/*/write', 'Microsoft.MachineLearningServices/workspaces/write'));
  assert.ok(actionMatches('Microsoft.Authorization/*/Write', 'Microsoft.Authorization/roleAssignments/write'));
  assert.ok(!actionMatches('Microsoft.Authorization/*/Write', 'Microsoft.AuthorizationX/roleAssignments/write'));
  assert.ok(actionMatches('Microsoft.Authorization/roleAssignments/write', 'microsoft.authorization/roleassignments/write'));
  // Regular-expression characters in a pattern are literal.
  assert.ok(!actionMatches('Microsoft.Storage/storageAccounts/(read|write)', 'Microsoft.Storage/storageAccounts/read'));
});

test('the task agrees with the emulator on every built-in role and every audited action', () => {
  const rbac = new Rbac();
  const scope = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws';
  const actions = Object.values(CAPABILITY_ACTIONS).flat();
  for (const role of BUILT_IN_ROLES) {
    const pid = `00000000-0000-4000-8000-${role.id.slice(-12)}`;
    rbac.grant(pid, role.name, scope);
    for (const action of actions) {
      assert.equal(
        permits([{ actions: role.actions, notActions: role.notActions }], action),
        rbac.isAllowed(pid, action, scope),
        `${role.name} / ${action}`,
      );
    }
  }
});

const WS = '/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws';
const defs = new Map<string, RoleDefinitionJson>(
  BUILT_IN_ROLES.map((r) => [
    r.id,
    {
      id: `/providers/Microsoft.Authorization/roleDefinitions/${r.id}`,
      properties: { roleName: r.name, type: 'BuiltInRole', permissions: [{ actions: r.actions, notActions: r.notActions }] },
    },
  ]),
);
const role = (name: string): string => BUILT_IN_ROLES.find((r) => r.name === name)!.id;
let n = 0;
function assignment(
  principalId: string,
  roleName: string,
  scope: string,
  extra: Partial<NonNullable<RoleAssignmentJson['properties']>> = {},
): RoleAssignmentJson {
  n++;
  return {
    id: `${scope}/providers/Microsoft.Authorization/roleAssignments/a${n}`,
    properties: {
      principalId,
      principalType: 'User',
      roleDefinitionId: `/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/${role(roleName)}`,
      scope,
      ...extra,
    },
  };
}

test('audit: findings, the pipeline, exemptions, readers, conditions and unreadable roles', () => {
  const a = auditAccess({
    workspaceId: WS,
    assignments: [
      assignment('pipe', 'Contributor', '/subscriptions/s/resourceGroups/rg'),
      assignment('user-1', 'Contributor', '/subscriptions/s/resourceGroups/rg'),
      assignment('reader', 'Reader', WS),
      assignment('ws-mi', 'Contributor', WS),
      assignment('net', 'Network Contributor', '/subscriptions/s'),
      assignment('rbac-admin', 'Role Based Access Control Administrator', WS, {
        condition:
          '@Request[Microsoft.Authorization/roleAssignments:RoleDefinitionId] ForAnyOfAnyValues:GuidNotEquals {8e3af657-a8ff-443c-a75c-2fe8c4bcb635}',
      }),
      {
        id: `${WS}/providers/Microsoft.Authorization/roleAssignments/x`,
        properties: {
          principalId: 'custom',
          roleDefinitionId: '/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/unknown-role',
          scope: WS,
        },
      },
    ],
    definitions: defs,
    denies: [],
    ownPrincipalId: 'PIPE',
    exemptions: new Map([['ws-mi', 'managed identity of workspace ws']]),
  });
  assert.deepEqual(
    a.own.map((g) => g.principalId),
    ['pipe'],
  );
  assert.deepEqual(
    a.exempt.map((g) => [g.principalId, g.reason]),
    [['ws-mi', 'managed identity of workspace ws']],
  );
  assert.deepEqual(
    a.writers.map((g) => [g.principalId, g.capabilities, g.inherited, g.conditional]),
    [
      ['user-1', ['submitJobs', 'registerAssets', 'changeEndpoints'], true, false],
      ['rbac-admin', ['changeAccess'], false, true],
    ],
  );
  assert.deepEqual(a.unreadableRoles, ['/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/unknown-role']);
  assert.equal(roleKey('/providers/Microsoft.Authorization/roleDefinitions/ABC'), 'abc');
});

test('deny assignments: everyone-but, a named principal, child scopes and notActions', () => {
  const base = { workspaceId: WS, definitions: defs, ownPrincipalId: undefined, exemptions: new Map<string, string>() };
  const assignments = [assignment('u1', 'Contributor', '/subscriptions/s'), assignment('u2', 'Contributor', '/subscriptions/s')];
  const everyoneBut = {
    properties: {
      scope: '/subscriptions/s',
      permissions: [{ actions: ['*'], notActions: ['*/read'] }],
      principals: [{ id: '00000000-0000-0000-0000-000000000000', type: 'SystemDefined' }],
      excludePrincipals: [{ id: 'u2' }],
    },
  };
  assert.deepEqual(
    auditAccess({ ...base, assignments, denies: [everyoneBut] }).writers.map((g) => g.principalId),
    ['u2'],
  );
  // Only at its own scope: the workspace below it is not covered.
  const notChildren = { properties: { ...everyoneBut.properties, doNotApplyToChildScopes: true } };
  assert.equal(auditAccess({ ...base, assignments, denies: [notChildren] }).writers.length, 2);
  // Denying only job submission leaves the other capabilities.
  const jobsOnly = {
    properties: {
      scope: WS,
      permissions: [
        { actions: ['Microsoft.MachineLearningServices/workspaces/jobs/*', 'Microsoft.MachineLearningServices/workspaces/experiments/*'] },
      ],
      principals: [{ id: 'u1' }],
    },
  };
  assert.deepEqual(
    auditAccess({ ...base, assignments, denies: [jobsOnly] }).writers.map((g) => [g.principalId, g.capabilities.includes('submitJobs')]),
    [
      ['u1', false],
      ['u2', true],
    ],
  );
});

test('allowedPrincipals: GUIDs, case-folded; anything else is refused with what to give', () => {
  assert.deepEqual(parseAllowedPrincipals(['5F0C1D2E-0000-4000-8000-00000000B0B0']), ['5f0c1d2e-0000-4000-8000-00000000b0b0']);
  assert.throws(() => parseAllowedPrincipals(['bob@contoso.com']), /Input 'allowedPrincipals': 'bob@contoso\.com' is not an object id/);
});

test('checks: a role definition that could not be read fails the audit, and no PASS is claimed', () => {
  const audit = {
    workspaceId: WS,
    assignmentsRead: 2,
    writers: [],
    exempt: [],
    own: [],
    unreadableRoles: ['/subscriptions/s/providers/Microsoft.Authorization/roleDefinitions/unknown-role'],
  };
  const checks = accessChecks(audit);
  assert.deepEqual(
    checks.map((c) => [c.check, c.status]),
    [['Access: role definition unknown-role', 'FAIL']],
  );
  assert.equal(accessChecks({ ...audit, unreadableRoles: [] })[0]!.status, 'PASS');
});
