/**
 * Agent-level: every AzureRM auth scheme end to end, through the bundled AmlPrivateLinkCheck
 * (it signs in, reads the workspace, its dependencies and private endpoints).
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { assertNoLeaks, describe, startWorld, workspaceInputs, type World } from '../../testkit/world';
import { leakedSecrets } from '../../testkit/harness';

let w: World;
before(async () => {
  w = await startWorld();
});
after(() => w.close());

const checkInputs = () => ({ ...workspaceInputs(w.seed), dnsServers: w.dns.address, tcpCheck: 'false' });

for (const [kind, principal] of [
  ['secret', 'secret'],
  ['certificate', 'certificate'],
  ['wif', 'federated'],
  ['managedIdentity', 'system'],
  ['managedIdentityUser', 'user'],
] as const) {
  test(`signs in with ${kind} and reads the workspace, dependencies and endpoints as that principal`, async () => {
    const since = w.emu.requests.length;
    const r = await w.run('AmlPrivateLinkCheck', { connection: kind, inputs: checkInputs() });
    assert.equal(r.result, 'Succeeded', describe(r));
    const expected =
      principal === 'system'
        ? w.seed.managedIdentities.system.objectId
        : principal === 'user'
          ? w.seed.managedIdentities.user.objectId
          : w.seed.servicePrincipals[principal].objectId;
    const arm = w.emu.requests.slice(since).filter((q) => q.service === 'arm');
    assert.ok(
      arm.some((q) => /workspaces\/mlw-prod$/i.test(q.path) && q.status === 200),
      'the workspace was read',
    );
    assert.ok(
      arm.some((q) => /privateEndpoints\//i.test(q.path) && q.status === 200),
      'private endpoints were read',
    );
    for (const q of arm) assert.equal(q.principal?.id, expected, `${q.method} ${q.path} ran as ${JSON.stringify(q.principal)}`);
    if (kind === 'wif')
      assert.ok(
        w.emu.requests.slice(since).some((q) => q.service === 'ado' && /oidctoken$/.test(q.path)),
        'an OIDC token was requested',
      );
  });
}

test('a workload-identity run that outlives its OIDC and access tokens renews both', async () => {
  const lifetimes = { access: w.emu.entra.tokenLifetimeSeconds, oidc: w.emu.ado.oidcTokenLifetimeSeconds };
  w.emu.entra.tokenLifetimeSeconds = 2;
  w.emu.ado.oidcTokenLifetimeSeconds = 2;
  // Stall the dependency reads past both lifetimes; the endpoint reads after them need new tokens.
  const stall = w.emu.faults.add({
    service: 'arm',
    method: 'GET',
    path: '/Microsoft.Storage/storageAccounts/',
    kind: 'delay',
    delayMs: 3500,
    times: 1,
  });
  try {
    const since = w.emu.requests.length;
    const r = await w.run('AmlPrivateLinkCheck', { connection: 'wif', inputs: checkInputs() });
    assert.equal(r.result, 'Succeeded', describe(r));
    assert.equal(stall.hits, 1);
    const requests = w.emu.requests.slice(since);
    const oidc = requests.filter((q) => q.service === 'ado' && /oidctoken$/.test(q.path));
    const tokens = requests.filter((q) => q.service === 'entra' && /oauth2\/v2\.0\/token$/.test(q.path));
    assert.ok(oidc.length >= 2, `expected a fresh OIDC token after expiry, saw ${oidc.length}`);
    assert.ok(
      tokens.every((q) => q.status === 200),
      `every token request succeeded (no AADSTS700024): ${tokens.map((t) => t.status)}`,
    );
    const afterStall = requests.filter((q) => q.service === 'arm' && /privateEndpoints\//.test(q.path));
    assert.ok(afterStall.length > 0 && afterStall.every((q) => q.status === 200), 'ARM accepted the renewed tokens');
    assert.deepEqual(leakedSecrets(r, w.emu.secrets()), []);
  } finally {
    stall.remove();
    w.emu.entra.tokenLifetimeSeconds = lifetimes.access;
    w.emu.ado.oidcTokenLifetimeSeconds = lifetimes.oidc;
  }
});

test('no secret handed out by the emulator appears in any task output', () => {
  assert.ok(w.runs.length >= 5);
  assertNoLeaks(w);
});
