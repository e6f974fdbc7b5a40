/**
 * A workspace storage account that shares models into an Azure ML registry keeps "selected
 * networks" with a resource instance rule for the registry: that passes as closed; any IP range,
 * another resource, or an open default action still fails.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { Dependency } from '../../tasks/AmlPrivateLinkCheck/discovery';
import { assessPosture, isClosed, registryOnly } from '../../tasks/AmlPrivateLinkCheck/posture';

const REG = '/subscriptions/s/resourceGroups/rg-shared/providers/Microsoft.MachineLearningServices/registries/mlr-shared';
const storage = (o: Partial<Dependency>): Dependency => ({
  kind: 'storage',
  id: '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Storage/storageAccounts/st1',
  name: 'st1',
  readable: true,
  connections: [],
  ...o,
});

test('selected networks letting in only Azure ML registries, with no IP range, is closed', () => {
  const dep = storage({ publicNetworkAccess: 'Enabled', defaultAction: 'Deny', ipRules: 0, resourceInstances: [REG] });
  assert.equal(registryOnly(dep), true);
  assert.equal(isClosed(dep), true);
  const check = assessPosture({ name: 'mlw', publicNetworkAccess: 'Disabled' } as never, 'rg', {
    targets: [],
    dependencies: [dep],
    workspaceConnections: [],
    notes: [],
  }).find((c) => c.check.includes('st1'));
  assert.equal(check?.status, 'PASS');
  assert.match(check?.detail ?? '', /only Azure ML registries mlr-shared may reach it/);
});

test('an IP range, another resource, no rule at all or an Allow default action is not closed', () => {
  for (const o of [
    { ipRules: 1, resourceInstances: [REG] },
    { ipRules: 0, resourceInstances: [REG, '/subscriptions/s/resourceGroups/rg/providers/Microsoft.Synapse/workspaces/syn'] },
    { ipRules: 0, resourceInstances: [] },
    { ipRules: 0, resourceInstances: [REG], defaultAction: 'Allow' },
  ]) {
    const dep = storage({ publicNetworkAccess: 'Enabled', defaultAction: 'Deny', ...o });
    assert.equal(isClosed(dep), false, JSON.stringify(o));
  }
  assert.equal(
    registryOnly({
      ...storage({ publicNetworkAccess: 'Enabled', defaultAction: 'Deny', ipRules: 0, resourceInstances: [REG] }),
      kind: 'keyVault',
    } as Dependency),
    false,
  );
});
