/**
 * Agent-level tests of AmlPrivateLinkCheck@1 with registryName: the registry's names (from its
 * private endpoints) and its storage's blob name in the workspace's region are resolved and
 * compared with the endpoints' IPs, and its posture (public network access, endpoint connections,
 * storage, region) joins the workspace's; bad registry input is refused before any Azure call.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, test } from 'node:test';
import type { PrivateName } from '../../testkit/emulator/network';
import type { TaskRun } from '../../testkit/harness';
import { answerPrivately, assertNoLeaks, describe, startWorld, workspaceInputs, type World } from '../../testkit/world';

let w: World;
let registryId: string;
let registryNames: PrivateName[];

interface ReportJson {
  ok: boolean;
  names: Array<{ fqdn: string; verdict: string; advice: string }>;
  posture: Array<{ check: string; status: string; detail: string; fix: string }>;
}
const report = (r: TaskRun): ReportJson => JSON.parse(fs.readFileSync(r.outputs.reportPath!, 'utf8'));
const inputs = (more: Record<string, string> = {}) => ({
  ...workspaceInputs(w.seed),
  dnsServers: w.dns.address,
  tcpCheck: 'false',
  checkAccess: 'false',
  registryName: 'mlr-shared',
  ...more,
});

before(async () => {
  w = await startWorld();
  registryId = String(
    w.emu.registries.add({
      subscriptionId: w.seed.subscriptionId,
      resourceGroup: w.seed.resourceGroup,
      name: 'mlr-shared',
      location: 'eastus',
      regions: ['westeurope'],
      publicNetworkAccess: 'Disabled',
    }).id,
  );
  registryNames = w.emu.registries.addPrivateNetwork(registryId);
  // The check reads the registry's storage, in its managed resource group: Reader there.
  const managed = (w.emu.arm.resources.get(registryId)!.body.properties as { managedResourceGroup: { resourceId: string } })
    .managedResourceGroup.resourceId;
  w.emu.arm.grantRole(w.seed.servicePrincipals.federated.objectId, 'Reader', managed);
  answerPrivately(w.dns, registryNames);
});
after(() => w.close());

test('checks the registry like the workspace: its endpoint names and its storage in the workspace region resolve privately, its posture passes', async () => {
  const r = await w.run('AmlPrivateLinkCheck', { connection: 'wif', inputs: inputs() });
  assert.equal(r.result, 'Succeeded', describe(r));
  const rep = report(r);
  const eastStorage = registryNames.filter((n) => n.fqdn.includes('.blob.')).map((n) => n.fqdn);
  const api = registryNames.filter((n) => n.fqdn.includes('.api.azureml.ms')).map((n) => n.fqdn);
  assert.equal(api.length, 2, 'one API name per registry region');
  const checked = new Set(rep.names.map((n) => n.fqdn));
  for (const n of api) assert.ok(checked.has(n), `registry name ${n} checked`);
  // Only the storage of the workspace's region (eastus), not westeurope's.
  assert.equal(eastStorage.filter((n) => checked.has(n)).length, 1);
  assert.ok(rep.names.every((n) => n.verdict === 'OK'));
  const registryChecks = rep.posture.filter((p) => p.check.includes('mlr-shared'));
  const passed = registryChecks.filter((p) => p.status === 'PASS').map((p) => p.check);
  assert.deepEqual(passed.length, registryChecks.length, JSON.stringify(registryChecks, null, 1));
  assert.ok(passed.includes('Registry mlr-shared: public network access'));
  assert.ok(passed.includes('Registry mlr-shared: replicates to the region of workspace mlw-prod'));
  assert.ok(
    passed.some((c) => /^Registry mlr-shared: .*pe-mlr-shared/.test(c)),
    'the registry endpoint connection is approved',
  );
  assert.ok(passed.some((c) => /^Storage account \S+ of registry mlr-shared: public network access$/.test(c)));
});

test('a registry name answered publicly, public network access, a pending connection and another region all fail, each with its fix', async () => {
  const r0 = w.emu.arm.resources.get(registryId)!;
  const saved = JSON.stringify(r0.body);
  const apiName = registryNames.find((n) => n.fqdn.includes('.api.azureml.ms'))!;
  w.dns.set(apiName.privatelink, { a: ['20.62.0.9'] });
  const p = r0.body.properties as {
    publicNetworkAccess: string;
    registryPrivateEndpointConnections: Array<{ properties: { registryPrivateLinkServiceConnectionState: { status: string } } }>;
    regionDetails: Array<{ location: string }>;
  };
  p.publicNetworkAccess = 'Enabled';
  p.registryPrivateEndpointConnections[0]!.properties.registryPrivateLinkServiceConnectionState.status = 'Pending';
  r0.body.location = 'westeurope';
  p.regionDetails = p.regionDetails.filter((d) => d.location === 'westeurope');
  try {
    const r = await w.run('AmlPrivateLinkCheck', { connection: 'wif', inputs: inputs() });
    assert.equal(r.result, 'Failed', describe(r));
    const rep = report(r);
    assert.equal(rep.names.find((n) => n.fqdn === apiName.fqdn)?.verdict, 'PUBLIC');
    const fails = rep.posture.filter((x) => x.status === 'FAIL' && x.check.includes('mlr-shared'));
    assert.ok(
      fails.some(
        (x) =>
          /public network access/.test(x.check) &&
          /az ml registry update -n mlr-shared -g rg-aml-prod --set publicNetworkAccess=Disabled/.test(x.fix),
      ),
      JSON.stringify(fails),
    );
    assert.ok(fails.some((x) => /pe-mlr-shared/.test(x.check) && x.detail === 'Pending'));
    assert.ok(
      fails.some(
        (x) =>
          /replicates to the region/.test(x.check) &&
          /registry regions westeurope; workspace in eastus/.test(x.detail) &&
          /Add region eastus to the replication regions of registry mlr-shared/.test(x.fix),
      ),
    );
  } finally {
    r0.body = JSON.parse(saved);
    w.emu.arm.resources.put(registryId, r0.body);
    answerPrivately(w.dns, registryNames);
  }
});

for (const [name, more, pattern] of [
  [
    'a registry name with invalid characters',
    { registryName: 'mlr shared' },
    /Input 'registryName': 'mlr shared' is not an Azure ML registry name/,
  ],
  [
    'a registry resource group without a registry',
    { registryName: '', registryResourceGroup: 'rg-shared' },
    /Input 'registryResourceGroup' is set, but registryName is empty/,
  ],
] as const) {
  test(`refuses ${name} before any Azure call`, async () => {
    const before = w.emu.requests.length;
    const r = await w.run('AmlPrivateLinkCheck', { connection: 'wif', inputs: inputs(more as Record<string, string>) });
    assert.equal(r.result, 'Failed');
    assert.match(r.errors.join('\n'), pattern);
    assert.deepEqual(
      w.emu.requests.slice(before).filter((q) => q.service === 'arm'),
      [],
    );
  });
}

test('an unknown registry names the ones the connection can see', async () => {
  const r = await w.run('AmlPrivateLinkCheck', { connection: 'wif', inputs: inputs({ registryName: 'mlr-nope' }) });
  assert.equal(r.result, 'Failed');
  assert.match(
    r.errors.join('\n'),
    /Input 'registryName': the service connection sees no Azure ML registry 'mlr-nope' .*\(registries it can see: mlr-shared \(rg-aml-prod\)\)/,
  );
});

test('no secret appears in any output', () => assertNoLeaks(w));
