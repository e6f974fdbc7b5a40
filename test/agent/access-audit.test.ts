/**
 * Agent-level tests of AmlPrivateLinkCheck@1's access audit: the bundled task reads the emulated
 * role assignments (atScope), role definitions and deny assignments of the seeded workspace and
 * reports who besides the pipeline can write to it.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, test } from 'node:test';
import type { TaskRun } from '../../testkit/harness';
import { assertNoLeaks, describe, seedPipelinePrincipals, startWorld, workspaceInputs, type World } from '../../testkit/world';

let w: World;
before(async () => {
  w = await startWorld();
});
after(() => w.close());

interface Grant {
  principalId: string;
  principalType: string;
  role: string;
  scope: string;
  inherited: boolean;
  capabilities: string[];
}
interface ReportJson {
  ok: boolean;
  posture: Array<{ check: string; status: string; detail: string; fix: string }>;
  access?: { assignmentsRead: number; writers: Grant[]; exempt: Array<Grant & { reason: string }>; own: Grant[] };
  notes: string[];
}
const report = (r: TaskRun): ReportJson => JSON.parse(fs.readFileSync(r.outputs.reportPath!, 'utf8'));
const inputs = (extra: Record<string, string> = {}) => ({
  ...workspaceInputs(w.seed),
  dnsServers: w.dns.address,
  tcpCheck: 'false',
  ...extra,
});

/** The three extra writers of the issue: an inherited Contributor, a data-scientist group and a subscription Owner. */
const WRITERS = {
  contributor: '7e57a001-0000-4000-8000-00000000c001',
  scientists: '7e57a001-0000-4000-8000-00000000c002',
  owner: '7e57a001-0000-4000-8000-00000000c003',
};

function addWriters(): () => void {
  const rg = w.emu.arm.resourceGroupId(w.seed.subscriptionId, w.seed.resourceGroup);
  w.emu.arm.grantRole(WRITERS.contributor, 'Contributor', rg, { principalType: 'User' });
  w.emu.arm.grantRole(WRITERS.scientists, 'AzureML Data Scientist', w.seed.workspace.id, { principalType: 'Group' });
  w.emu.arm.grantRole(WRITERS.owner, 'Owner', `/subscriptions/${w.seed.subscriptionId}`, { principalType: 'User' });
  return () => Object.values(WRITERS).forEach((id) => w.emu.arm.rbac.revoke(id));
}

test('a workspace that only the pipeline can write to passes the audit', async () => {
  const r = await w.run('AmlPrivateLinkCheck', { connection: 'wif', inputs: inputs() });
  assert.equal(r.result, 'Succeeded', describe(r));
  const a = report(r).access!;
  assert.deepEqual(a.writers, []);
  assert.deepEqual(
    a.own.map((g) => [g.principalId, g.role, g.inherited]),
    [[w.seed.servicePrincipals.federated.objectId, 'Contributor', true]],
  );
  // The other seeded scheme identities are exempt because the world lists them, and nothing else is.
  assert.deepEqual(a.exempt.map((g) => g.reason).sort(), Array(4).fill('listed in allowedPrincipals'));
  // The Reader user can write nothing, so it is not in the report at all.
  assert.ok(![...a.writers, ...a.exempt, ...a.own].some((g) => g.principalId === w.seed.servicePrincipals.reader.objectId));
  assert.ok(
    report(r).posture.some((p) => p.check === 'Access: nobody besides the pipeline can write to the workspace' && p.status === 'PASS'),
  );
});

test('three extra writers fail the check: inherited Contributor, data-scientist group, subscription Owner', async () => {
  const undo = addWriters();
  try {
    const r = await w.run('AmlPrivateLinkCheck', { connection: 'wif', inputs: inputs() });
    assert.equal(r.result, 'Failed', describe(r));
    assert.equal(r.outputs.privateLinkOk, 'false');
    const a = report(r).access!;
    const byId = new Map(a.writers.map((g) => [g.principalId, g]));
    assert.deepEqual([...byId.keys()].sort(), Object.values(WRITERS).sort());
    const c = byId.get(WRITERS.contributor)!;
    assert.deepEqual(
      [c.principalType, c.role, c.inherited, c.capabilities],
      ['User', 'Contributor', true, ['submitJobs', 'registerAssets', 'changeEndpoints']],
    );
    const g = byId.get(WRITERS.scientists)!;
    // The Data Scientist role may submit and register, and create endpoints, but not change access.
    assert.deepEqual(
      [g.principalType, g.role, g.inherited, g.capabilities],
      ['Group', 'AzureML Data Scientist', false, ['submitJobs', 'registerAssets', 'changeEndpoints']],
    );
    const o = byId.get(WRITERS.owner)!;
    assert.deepEqual(
      [o.principalType, o.role, o.inherited, o.capabilities],
      ['User', 'Owner', true, ['submitJobs', 'registerAssets', 'changeEndpoints', 'changeAccess']],
    );
    assert.match(r.errors[0]!, /3 posture checks failed: Access: User 7e57a001-0000-4000-8000-00000000c001 can write to the workspace/);
    const md = r.summaries[0]!.content;
    assert.match(md, /### Who can write to the workspace/);
    assert.match(md, /\| User \| `7e57a001-0000-4000-8000-00000000c001` \| Contributor \| resource group rg-aml-prod \| yes \|/);
    assert.match(md, /\| Group \| `7e57a001-0000-4000-8000-00000000c002` \| AzureML Data Scientist \| this workspace \| no \|/);
    assert.match(
      md,
      /\| User \| `7e57a001-0000-4000-8000-00000000c003` \| Owner \| subscription 0{8}-0{4}-0{4}-0{4}-0{10}aa \| yes \|.*change role assignments/,
    );
    assert.match(
      md,
      /az role assignment delete --ids \/subscriptions\/.*\/providers\/Microsoft\.Authorization\/roleAssignments\/[0-9a-f-]{36}/,
    );
    assert.ok(report(r).notes.some((n) => /Groups are reported as groups/.test(n)));
    assertNoLeaks(w);
    // Shown in the closing note of the issue.
    if (process.env.SHOW_ACCESS_SUMMARY) console.log(`${r.errors.join('\n')}\n\n${md}`);
  } finally {
    undo();
  }
});

test('continueOnWarning turns the findings into warnings; allowedPrincipals exempts a writer', async () => {
  const undo = addWriters();
  try {
    const warn = await w.run('AmlPrivateLinkCheck', { connection: 'wif', inputs: inputs({ continueOnWarning: 'true' }) });
    assert.equal(warn.result, 'SucceededWithIssues', describe(warn));
    assert.equal(warn.outputs.privateLinkOk, 'false');
    const allowed = [...seedPipelinePrincipals(w.seed), WRITERS.scientists].join('\n');
    const r = await w.run('AmlPrivateLinkCheck', {
      connection: 'wif',
      inputs: inputs({ allowedPrincipals: `# the data-science break-glass group\n${allowed.toUpperCase()}` }),
    });
    const a = report(r).access!;
    assert.deepEqual(a.writers.map((g) => g.principalId).sort(), [WRITERS.contributor, WRITERS.owner]);
    assert.ok(a.exempt.some((g) => g.principalId === WRITERS.scientists && g.reason === 'listed in allowedPrincipals'));
  } finally {
    undo();
  }
});

test("the workspace's, its computes' and its endpoints' managed identities are exempt", async () => {
  const ws = w.emu.arm.resources.get(w.seed.workspace.id)!;
  const wsMi = String((ws.body.identity as { principalId: string }).principalId);
  const compute = w.emu.arm.resources.get(`${w.seed.workspace.id}/computes/cpu-cluster`)!;
  const computeMi = '7e57a001-0000-4000-8000-00000000c0c1';
  w.emu.arm.resources.put(compute.id, {
    ...compute.body,
    identity: { type: 'SystemAssigned', principalId: computeMi, tenantId: w.seed.tenantId },
  });
  w.emu.arm.grantRole(wsMi, 'Contributor', w.seed.workspace.id);
  w.emu.arm.grantRole(computeMi, 'AzureML Data Scientist', w.seed.workspace.id);
  try {
    const r = await w.run('AmlPrivateLinkCheck', { connection: 'wif', inputs: inputs() });
    assert.equal(r.result, 'Succeeded', describe(r));
    const reasons = new Map(report(r).access!.exempt.map((g) => [g.principalId, g.reason]));
    assert.equal(reasons.get(wsMi.toLowerCase()), 'managed identity of workspace mlw-prod');
    assert.equal(reasons.get(computeMi), 'managed identity of compute cpu-cluster');
  } finally {
    w.emu.arm.rbac.revoke(wsMi);
    w.emu.arm.rbac.revoke(computeMi);
    w.emu.arm.resources.put(compute.id, compute.body);
  }
});

test('a deny assignment that stops everyone but the pipeline removes the writer it covers', async () => {
  const undo = addWriters();
  const pipeline = seedPipelinePrincipals(w.seed).map((id) => ({ id, type: 'ServicePrincipal' }));
  const deny = w.emu.arm.rbac.deny({
    name: 'deployment stack: deny writes',
    scope: w.emu.arm.resourceGroupId(w.seed.subscriptionId, w.seed.resourceGroup),
    actions: ['*'],
    notActions: ['*/read'],
    principals: [{ id: '00000000-0000-0000-0000-000000000000', type: 'SystemDefined' }],
    excludePrincipals: pipeline,
  });
  try {
    const r = await w.run('AmlPrivateLinkCheck', { connection: 'wif', inputs: inputs() });
    assert.equal(r.result, 'Succeeded', describe(r));
    assert.deepEqual(report(r).access!.writers, []);
  } finally {
    undo();
    w.emu.arm.rbac.removeDeny(deny.id);
  }
});

test("the pipeline's principal as Owner: a warning that it could widen its own rights", async () => {
  const sub = `/subscriptions/${w.seed.subscriptionId}`;
  const fed = w.seed.servicePrincipals.federated.objectId;
  w.emu.arm.grantRole(fed, 'User Access Administrator', sub);
  try {
    const r = await w.run('AmlPrivateLinkCheck', { connection: 'wif', inputs: inputs() });
    assert.equal(r.result, 'Succeeded', describe(r));
    const warning = report(r).posture.find((p) => p.check === "Access: the pipeline's own principal can change role assignments");
    assert.equal(warning?.status, 'WARN');
    assert.match(warning!.detail, /User Access Administrator at subscription .* \(inherited\): can change role assignments/);
  } finally {
    w.emu.arm.rbac.revoke(fed, 'User Access Administrator');
  }
});

test('a connection that cannot read role assignments: the report names the missing permission', async () => {
  const roleId = '7e57a001-0000-4000-8000-00000000d001';
  w.emu.arm.rbac.defineRole({
    name: 'ML Pipeline Operator',
    id: roleId,
    type: 'CustomRole',
    assignableScopes: [`/subscriptions/${w.seed.subscriptionId}`],
    actions: [
      'Microsoft.MachineLearningServices/workspaces/*',
      'Microsoft.Network/privateEndpoints/read',
      'Microsoft.Resources/subscriptions/resourceGroups/read',
    ],
    notActions: [],
  });
  const fed = w.seed.servicePrincipals.federated.objectId;
  const rg = w.emu.arm.resourceGroupId(w.seed.subscriptionId, w.seed.resourceGroup);
  w.emu.arm.rbac.revoke(fed, 'Contributor');
  w.emu.arm.grantRole(fed, 'ML Pipeline Operator', rg);
  try {
    const r = await w.run('AmlPrivateLinkCheck', { connection: 'wif', inputs: inputs() });
    const unknown = report(r).posture.find((p) => p.check === 'Access: who else can write to the workspace');
    // The audit did not run, so the check fails (checkAccess: false opts out).
    assert.equal(unknown?.status, 'FAIL', describe(r));
    assert.equal(r.result, 'Failed', describe(r));
    assert.match(r.errors[0]!, /Access: who else can write to the workspace/);
    assert.equal(unknown!.detail, 'not readable: the service connection lacks Microsoft.Authorization/roleAssignments/read');
    assert.match(unknown!.fix, /Give the service connection Reader on workspace mlw-prod/);
    assert.equal(report(r).access, undefined);
  } finally {
    w.emu.arm.rbac.revoke(fed);
    w.emu.arm.grantRole(fed, 'Contributor', rg);
  }
});

test('bad input and opting out', async () => {
  const bad = await w.run('AmlPrivateLinkCheck', { connection: 'wif', inputs: inputs({ allowedPrincipals: 'alice@contoso.com' }) });
  assert.equal(bad.result, 'Failed');
  assert.match(bad.errors[0]!, /^Input 'allowedPrincipals': 'alice@contoso\.com' is not an object id\. Give the object id \(a GUID\)/);
  const undo = addWriters();
  try {
    const off = await w.run('AmlPrivateLinkCheck', { connection: 'wif', inputs: inputs({ checkAccess: 'false' }) });
    assert.equal(off.result, 'Succeeded', describe(off));
    assert.equal(report(off).access, undefined);
    assert.doesNotMatch(off.summaries[0]!.content, /Who can write/);
  } finally {
    undo();
  }
});
