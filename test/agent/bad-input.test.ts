/**
 * Agent-level: a bad service connection fails with one clear sentence naming the input and the
 * fix, with no stack trace, no leaked secret, and no request to ARM.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { leakedSecrets, type TaskRun } from '../../testkit/harness';
import { seedConnection } from '../../testkit/emulator/index';
import { describe, startWorld, workspaceInputs, type World } from '../../testkit/world';

let w: World;
before(async () => {
  w = await startWorld();
});
after(() => w.close());

function assertCleanFailure(r: TaskRun, pattern: RegExp): void {
  assert.equal(r.result, 'Failed', describe(r));
  assert.equal(r.errors.length, 1, describe(r));
  assert.match(r.errors[0]!, pattern);
  assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
  assert.deepEqual(leakedSecrets(r, w.emu.secrets()), []);
}

async function runWithEndpoint(
  mutate: (ep: ReturnType<typeof seedConnection>['endpoint']) => void,
): Promise<{ r: TaskRun; armCalls: number }> {
  const sc = seedConnection(w.seed, 'secret');
  const endpoint = structuredClone(sc.endpoint);
  mutate(endpoint);
  const since = w.emu.requests.length;
  const r = await w.run('AmlPrivateLinkCheck', {
    endpoints: { [sc.id]: endpoint },
    inputs: { azureSubscription: sc.id, ...workspaceInputs(w.seed), dnsServers: w.dns.address },
  });
  return { r, armCalls: w.emu.requests.slice(since).filter((q) => q.service === 'arm').length };
}

test('an unknown service connection id names the input', async () => {
  const r = await w.run('AmlPrivateLinkCheck', { inputs: { azureSubscription: 'no-such-connection', ...workspaceInputs(w.seed) } });
  assertCleanFailure(r, /^Input 'azureSubscription': service connection 'no-such-connection' was not found.*authorized/);
});

test('an unsupported auth scheme says which schemes work', async () => {
  const { r, armCalls } = await runWithEndpoint((ep) => {
    ep.scheme = 'UsernamePassword';
  });
  assertCleanFailure(r, /^Input 'azureSubscription': .*'UsernamePassword' scheme.*workload identity federation, or managed identity/);
  assert.equal(armCalls, 0);
});

test('a malformed certificate is refused before any sign-in', async () => {
  const since = w.emu.requests.length;
  const { r, armCalls } = await runWithEndpoint((ep) => {
    ep.parameters = {
      ...ep.parameters,
      authenticationType: 'spnCertificate',
      servicePrincipalCertificate: '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----',
    };
  });
  assertCleanFailure(r, /malformed certificate.*PEM that contains both the certificate and its unencrypted private key/);
  assert.equal(armCalls, 0);
  assert.equal(w.emu.requests.slice(since).filter((q) => q.service === 'entra').length, 0);
});

test('an unreachable authority says what failed and what to check', async () => {
  const { r, armCalls } = await runWithEndpoint((ep) => {
    // Port 9 (discard) on loopback: nothing listens, the connection is refused at once.
    ep.data = { ...ep.data, environmentAuthorityUrl: 'https://127.0.0.1:9/', activeDirectoryAuthority: 'https://127.0.0.1:9/' };
  });
  assertCleanFailure(r, /Could not sign in to https:\/\/127\.0\.0\.1:9 .*the Entra authority is unreachable from the agent.*proxy/);
  assert.equal(armCalls, 0);
});

test('a wrong client secret gets the Entra code and the fix', async () => {
  const { r, armCalls } = await runWithEndpoint((ep) => {
    ep.parameters = { ...ep.parameters, serviceprincipalkey: 'definitely-not-the-secret' };
  });
  assertCleanFailure(r, /AADSTS7000215: the client secret is wrong/);
  assert.equal(armCalls, 0);
  assert.ok(r.secrets.includes('definitely-not-the-secret'), 'the secret was registered with the agent');
});

test('a principal without a role on the workspace is told which role to grant', async () => {
  w.emu.arm.rbac.revoke(w.seed.servicePrincipals.secret.objectId);
  try {
    const r = await w.run('AmlPrivateLinkCheck', {
      connection: 'secret',
      inputs: { ...workspaceInputs(w.seed), dnsServers: w.dns.address },
    });
    assertCleanFailure(
      r,
      /lacks permission for 'Microsoft\.MachineLearningServices\/workspaces\/read'.*Grant its service principal Reader/,
    );
  } finally {
    w.emu.arm.grantRole(
      w.seed.servicePrincipals.secret.objectId,
      'Contributor',
      `/subscriptions/${w.seed.subscriptionId}/resourceGroups/${w.seed.resourceGroup}`,
    );
  }
});

test('a workspace that does not exist names the inputs to check', async () => {
  const r = await w.run('AmlPrivateLinkCheck', {
    connection: 'secret',
    inputs: { resourceGroupName: w.seed.resourceGroup, workspaceName: 'mlw-nope' },
  });
  assertCleanFailure(r, /mlw-nope.*was not found.*Check the resource group and name inputs/);
});
