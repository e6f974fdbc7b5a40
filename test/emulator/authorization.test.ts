// Microsoft.Authorization in the emulator against the official REST examples (vendored under
// testkit/reference/reference/authorization): the same fields, filters the service knows,
// filters it does not refused, and deny assignments that win over role assignments.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { ClientSecretCredential } from '@azure/identity';
import { REST_REFERENCE } from '../../testkit/official';
import { BUILT_IN_ROLES, type Emulator, type SeedResult, startEmulator } from '../../testkit/emulator/index';
import { rawRequest } from '../../testkit/emulator/raw';

const EXAMPLES = path.join(REST_REFERENCE, 'authorization/resource-manager/Microsoft.Authorization/stable/2022-04-01/examples');
const ROLE_PAGES = path.join(REST_REFERENCE, 'MicrosoftDocs+azure-docs/articles/role-based-access-control/built-in-roles');
const example = (name: string): Record<string, unknown> =>
  (JSON.parse(fs.readFileSync(path.join(EXAMPLES, name), 'utf8')) as { responses: { 200: { body: Record<string, unknown> } } })
    .responses[200].body;

let emu: Emulator;
let seed: SeedResult;
let token: string;
before(async () => {
  emu = await startEmulator();
  seed = emu.seedDefault();
  const sp = seed.servicePrincipals.secret;
  token = (
    await new ClientSecretCredential(seed.tenantId, sp.clientId, sp.secret, {
      authorityHost: emu.url,
      disableInstanceDiscovery: true,
      tlsOptions: { ca: emu.caCertPem },
    }).getToken(`${emu.url}/.default`)
  ).token;
});
after(() => emu.close());

async function get(p: string): Promise<{ status: number; body: Record<string, unknown> }> {
  const r = await rawRequest(emu.url, emu.caCertPem, 'GET', p, { headers: { authorization: `Bearer ${token}` } });
  return { status: r.status, body: r.json() };
}

/** Every key path of the example appears in the emulator's answer (values may differ). */
function keyPaths(v: unknown, prefix = ''): string[] {
  if (Array.isArray(v)) return v.length ? keyPaths(v[0], `${prefix}[]`) : [];
  if (v && typeof v === 'object') return Object.entries(v).flatMap(([k, x]) => [`${prefix}.${k}`, ...keyPaths(x, `${prefix}.${k}`)]);
  return [];
}
const missing = (official: unknown, ours: unknown): string[] => {
  const have = new Set(keyPaths(ours));
  return keyPaths(official).filter((k) => !have.has(k));
};

const ws = () => seed.workspace.id;
const AUTH = 'providers/Microsoft.Authorization';

test('role assignments at a workspace with atScope(): the shape of RoleAssignments_ListForScope, at and above the scope only', async () => {
  const child = `${ws()}/onlineEndpoints/ep-1`;
  emu.arm.grantRole('7e57a001-0000-4000-8000-00000000e001', 'Reader', child, { principalType: 'User' });
  const r = await get(`${ws()}/${AUTH}/roleAssignments?api-version=2022-04-01&$filter=${encodeURIComponent('atScope()')}`);
  assert.equal(r.status, 200);
  assert.deepEqual(missing(example('RoleAssignments_ListForScope.json'), r.body), []);
  const value = r.body.value as Array<{ id: string; properties: { scope: string; principalId: string; roleDefinitionId: string } }>;
  // The seed: five pipeline identities Contributor on the group, one Reader on the workspace; not the endpoint's.
  assert.equal(value.length, 6);
  assert.ok(value.every((a) => a.id.startsWith(`${a.properties.scope}/providers/Microsoft.Authorization/roleAssignments/`)));
  assert.ok(
    value.every((a) =>
      /^\/subscriptions\/[^/]+\/providers\/Microsoft\.Authorization\/roleDefinitions\/[0-9a-f-]{36}$/.test(a.properties.roleDefinitionId),
    ),
  );
  // Without the filter the list also holds assignments below the scope.
  const all = await get(`${ws()}/${AUTH}/roleAssignments?api-version=2022-04-01`);
  assert.equal((all.body.value as unknown[]).length, 7);
  const bad = await get(`${ws()}/${AUTH}/roleAssignments?api-version=2022-04-01&$filter=${encodeURIComponent("roleName eq 'Owner'")}`);
  assert.equal(bad.status, 400);
  emu.arm.rbac.revoke('7e57a001-0000-4000-8000-00000000e001');
});

test("role definitions by id at the workspace's scope: the shape of GetRoleDefinitionById, real built-in ids", async () => {
  const r = await get(`${ws()}/${AUTH}/roleDefinitions/b24988ac-6180-42a0-ab88-20f7382dd24c?api-version=2022-04-01`);
  assert.equal(r.status, 200);
  assert.deepEqual(missing(example('GetRoleDefinitionById.json'), r.body), []);
  assert.equal((r.body.properties as { roleName: string }).roleName, 'Contributor');
  // A custom role is visible only where it is assignable.
  emu.arm.rbac.defineRole({
    name: 'Elsewhere',
    id: '7e57a001-0000-4000-8000-00000000e0ff',
    type: 'CustomRole',
    assignableScopes: [`/subscriptions/${seed.subscriptionId}/resourceGroups/rg-other`],
    actions: ['*/read'],
    notActions: [],
  });
  assert.equal((await get(`${ws()}/${AUTH}/roleDefinitions/7e57a001-0000-4000-8000-00000000e0ff?api-version=2022-04-01`)).status, 404);
});

test('deny assignments: the shape of GetDenyAssignmentByScope, and a deny wins over Contributor', async () => {
  const me = seed.servicePrincipals.secret.objectId;
  const d = emu.arm.rbac.deny({
    name: 'no jobs',
    scope: ws(),
    actions: ['Microsoft.MachineLearningServices/workspaces/jobs/*'],
    principals: [{ id: me, type: 'ServicePrincipal' }],
    excludePrincipals: [{ id: seed.servicePrincipals.federated.objectId, type: 'ServicePrincipal' }],
  });
  try {
    const r = await get(`${ws()}/${AUTH}/denyAssignments?api-version=2022-04-01&$filter=${encodeURIComponent('atScope()')}`);
    assert.equal(r.status, 200);
    assert.deepEqual(missing(example('GetDenyAssignmentByScope.json'), r.body), []);
    assert.equal(emu.arm.rbac.isAllowed(me, 'Microsoft.MachineLearningServices/workspaces/jobs/write', ws()), false);
    assert.equal(emu.arm.rbac.isAllowed(me, 'Microsoft.MachineLearningServices/workspaces/models/versions/write', ws()), true);
  } finally {
    emu.arm.rbac.removeDeny(d.id);
  }
});

test('reading role assignments needs Microsoft.Authorization/roleAssignments/read at the scope', async () => {
  const other = `/subscriptions/${seed.subscriptionId}/resourceGroups/rg-other`;
  emu.arm.addResourceGroup({ subscriptionId: seed.subscriptionId, name: 'rg-other' });
  const r = await get(`${other}/${AUTH}/roleAssignments?api-version=2022-04-01`);
  assert.equal(r.status, 403);
  assert.match(JSON.stringify(r.body), /Microsoft\.Authorization\/roleAssignments\/read/);
});

interface PublishedRole {
  name: string;
  roleName: string;
  roleType: string;
  permissions: Array<{ actions: string[]; notActions: string[] }>;
}

/** Every role definition (the ```json blocks) of the vendored built-in roles pages. */
function publishedRoles(): Map<string, PublishedRole> {
  const out = new Map<string, PublishedRole>();
  for (const file of fs.readdirSync(ROLE_PAGES)) {
    const md = fs.readFileSync(path.join(ROLE_PAGES, file), 'utf8');
    for (const m of md.matchAll(/```json\n([\s\S]*?)\n```/g)) {
      const role = JSON.parse(m[1]!) as PublishedRole;
      out.set(role.name, role);
    }
  }
  return out;
}

test("the emulator's built-in roles carry the published ids, names, actions and notActions", () => {
  const published = publishedRoles();
  // The roles the audit and its tests rely on; each must be vendored, and equal.
  const needed = [
    'acdd72a7-3385-48ef-bd42-f606fba81ae7',
    'b24988ac-6180-42a0-ab88-20f7382dd24c',
    '8e3af657-a8ff-443c-a75c-2fe8c4bcb635',
    'f6c7c914-8db3-469d-8ca1-694a8f32e121',
    '18d7d88d-d35e-4fb5-a5c3-7773c20a72d9',
    '1823dd4f-9b8c-4ab6-ab4e-7397a3684615',
    'f58310d9-a9f6-439a-9e8d-f62e7b41a168',
  ];
  for (const id of needed) {
    const ours = BUILT_IN_ROLES.find((r) => r.id === id);
    const theirs = published.get(id);
    assert.ok(ours, `the emulator lacks built-in role ${id}`);
    assert.ok(theirs, `role ${id} is not in the vendored pages`);
    assert.equal(theirs.roleType, 'BuiltInRole');
    assert.deepEqual(
      { name: ours.name, actions: ours.actions, notActions: ours.notActions },
      { name: theirs.roleName, actions: theirs.permissions[0]!.actions, notActions: theirs.permissions[0]!.notActions },
      theirs.roleName,
    );
    assert.equal(theirs.permissions.length, 1);
  }
});
