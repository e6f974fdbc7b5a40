/**
 * Agent-level tests of AmlPrivateLinkCheck@1's network posture (the seeds' and the Azure ML
 * network-isolation guidance): registry SKU, image build compute, compute public IPs, subnets
 * and NSGs, the managed network, AKS API servers, managed endpoints and Kubernetes scoring hosts.
 * Each test changes the emulated resources, runs the bundled task, and puts them back.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { after, before, test } from 'node:test';
import type { JsonObject } from '../../testkit/emulator/jwt';
import type { TaskRun } from '../../testkit/harness';
import { describe, startWorld, workspaceInputs, type World } from '../../testkit/world';

let w: World;
before(async () => {
  w = await startWorld();
});
after(() => w.close());

interface Check {
  check: string;
  status: string;
  detail: string;
  fix: string;
}
const posture = (r: TaskRun): Check[] => (JSON.parse(fs.readFileSync(r.outputs.reportPath!, 'utf8')) as { posture: Check[] }).posture;
const find = (r: TaskRun, check: string): Check => {
  const c = posture(r).find((p) => p.check === check);
  assert.ok(
    c,
    `no check '${check}' in:\n${posture(r)
      .map((p) => `${p.status} ${p.check}`)
      .join('\n')}`,
  );
  return c;
};
const run = (extra: Record<string, string> = {}) =>
  w.run('AmlPrivateLinkCheck', {
    connection: 'wif',
    inputs: { ...workspaceInputs(w.seed), dnsServers: w.dns.address, tcpCheck: 'false', ...extra },
  });

/** Changes a stored resource's body for the duration of `f`. */
async function withResource<T>(id: string, change: (body: JsonObject) => JsonObject, f: () => Promise<T>): Promise<T> {
  const stored = w.emu.arm.resources.get(id);
  assert.ok(stored, `no resource ${id}`);
  const before = structuredClone(stored.body);
  w.emu.arm.resources.put(stored.id, change(structuredClone(stored.body)));
  try {
    return await f();
  } finally {
    w.emu.arm.resources.put(stored.id, before);
  }
}
const props = (b: JsonObject): JsonObject => b.properties as JsonObject;
const rgId = () => w.emu.arm.resourceGroupId(w.seed.subscriptionId, w.seed.resourceGroup);
const computeId = (name: string) => `${w.seed.workspace.id}/computes/${name}`;

test('the seeded private workspace passes every network check the seeds prescribe', async () => {
  const r = await run();
  assert.equal(r.result, 'Succeeded', describe(r));
  const expect: Array<[string, string]> = [
    ['Container registry crmlwprod: SKU', 'Premium'],
    ['Workspace mlw-prod: image build compute', 'cpu-cluster'],
    [
      'Workspace mlw-prod: managed network isolation',
      'Disabled: the workspace uses your own virtual network (its compute subnets are checked below)',
    ],
    ['Compute cpu-cluster: node public IP', 'none (enableNodePublicIp false)'],
    [
      'Compute cpu-cluster: subnet and NSG',
      'subnet snet-training, NSG nsg-training: inbound only from the virtual network and the documented service-tag rules',
    ],
    ['Compute aks-prod: API server of cluster aks-prod', 'private (enablePrivateCluster)'],
  ];
  for (const [check, detail] of expect) assert.deepEqual([find(r, check).status, find(r, check).detail], ['PASS', detail], check);
});

test('a Standard registry, no image build compute, public node IPs, no subnet and an NSG open to the internet fail, with fixes', async () => {
  const ws = w.seed.workspace.id;
  const registry = String(props(w.emu.arm.resources.get(ws)!.body).containerRegistry);
  const nsg = `${rgId()}/providers/Microsoft.Network/networkSecurityGroups/nsg-training`;
  const openRule = {
    name: 'AllowSshFromInternet',
    properties: {
      protocol: 'Tcp',
      sourcePortRange: '*',
      destinationPortRange: '22',
      sourceAddressPrefix: 'Internet',
      destinationAddressPrefix: '*',
      access: 'Allow',
      priority: 200,
      direction: 'Inbound',
    },
  };
  const r = await withResource(
    registry,
    (b) => ({ ...b, sku: { name: 'Standard', tier: 'Standard' } }),
    () =>
      withResource(
        ws,
        (b) => ({ ...b, properties: { ...props(b), imageBuildCompute: undefined } }),
        () =>
          withResource(
            computeId('cpu-cluster'),
            (b) => ({
              ...b,
              properties: { ...props(b), properties: { ...(props(b).properties as JsonObject), enableNodePublicIp: true } },
            }),
            () =>
              withResource(
                computeId('gpu-cluster'),
                (b) => ({ ...b, properties: { ...props(b), properties: { ...(props(b).properties as JsonObject), subnet: null } } }),
                () =>
                  withResource(
                    nsg,
                    (b) => ({ ...b, properties: { ...props(b), securityRules: [...(props(b).securityRules as JsonObject[]), openRule] } }),
                    () => run(),
                  ),
              ),
          ),
      ),
  );
  assert.equal(r.result, 'Failed', describe(r));
  const sku = find(r, 'Container registry crmlwprod: SKU');
  assert.deepEqual(
    [sku.status, sku.detail, sku.fix],
    ['FAIL', 'Standard; private endpoints need the Premium SKU', 'az acr update -n crmlwprod -g rg-aml-prod --sku Premium'],
  );
  const build = find(r, 'Workspace mlw-prod: image build compute');
  assert.deepEqual(
    [build.status, build.fix],
    ['FAIL', 'az ml workspace update -n mlw-prod -g rg-aml-prod --image-build-compute cpu-cluster'],
  );
  assert.match(build.detail, /container registry is private: environment image builds fail/);
  const ip = find(r, 'Compute cpu-cluster: node public IP');
  assert.equal(ip.status, 'FAIL');
  assert.match(ip.fix, /--enable-node-public-ip false/);
  const nsgCheck = find(r, 'Compute cpu-cluster: subnet and NSG');
  assert.deepEqual(
    [nsgCheck.status, nsgCheck.detail, nsgCheck.fix],
    [
      'FAIL',
      'NSG nsg-training allows inbound traffic from anywhere: AllowSshFromInternet (Internet -> 22)',
      'az network nsg rule delete -g rg-aml-prod --nsg-name nsg-training -n AllowSshFromInternet',
    ],
  );
  assert.deepEqual(
    [find(r, 'Compute gpu-cluster: subnet and NSG').status, find(r, 'Compute gpu-cluster: subnet and NSG').detail],
    ['FAIL', 'no subnet: the nodes run outside your virtual network'],
  );
  assert.match(r.errors[0]!, /posture checks failed/);
  // The documented service-tag rules alone are not "broad": the seeded NSG passes (first test).
});

test('an NSG rule beyond the documented service-tag rules (a public office range, AzureMachineLearning on every port) warns with the fix', async () => {
  const nsg = `${rgId()}/providers/Microsoft.Network/networkSecurityGroups/nsg-training`;
  const rule = (name: string, priority: number, source: string, port: string) => ({
    name,
    properties: {
      protocol: 'Tcp',
      sourcePortRange: '*',
      destinationPortRange: port,
      sourceAddressPrefix: source,
      destinationAddressPrefix: '*',
      access: 'Allow',
      priority,
      direction: 'Inbound',
    },
  });
  const extra = [rule('AllowOfficeSsh', 300, '203.0.113.0/24', '22'), rule('AllowAmlAnyPort', 310, 'AzureMachineLearning', '*')];
  const r = await withResource(
    nsg,
    (b) => ({ ...b, properties: { ...props(b), securityRules: [...(props(b).securityRules as JsonObject[]), ...extra] } }),
    () => run(),
  );
  const c = find(r, 'Compute cpu-cluster: subnet and NSG');
  assert.deepEqual(
    [c.status, c.detail],
    [
      'WARN',
      'NSG nsg-training allows inbound traffic beyond the documented service-tag rules: AllowOfficeSsh (203.0.113.0/24 -> 22), AllowAmlAnyPort (AzureMachineLearning -> *)',
    ],
  );
  assert.match(
    c.fix,
    /^Narrow or remove AllowOfficeSsh, AllowAmlAnyPort on NSG nsg-training: a compute subnet needs inbound only TCP 29876-29877 from BatchNodeManagement and TCP 44224 from AzureMachineLearning/,
  );
  // A WARN alone does not fail the check.
  assert.equal(r.result, 'Succeeded', describe(r));
});

test('a managed network: isolation mode, inactive network and a Failed outbound rule; computes need no subnet', async () => {
  const ws = w.seed.workspace.id;
  const managed = {
    isolationMode: 'AllowInternetOutbound',
    status: { status: 'Inactive', sparkReady: false },
    outboundRules: {
      pypi: { type: 'FQDN', category: 'UserDefined', status: 'Failed', destination: 'pypi.org' },
      'storage-pe': {
        type: 'PrivateEndpoint',
        category: 'Required',
        status: 'Active',
        destination: { serviceResourceId: 'x', subresourceTarget: 'blob' },
      },
    },
  };
  const r = await withResource(
    ws,
    (b) => ({ ...b, properties: { ...props(b), managedNetwork: managed } }),
    () =>
      withResource(
        computeId('gpu-cluster'),
        (b) => ({ ...b, properties: { ...props(b), properties: { ...(props(b).properties as JsonObject), subnet: null } } }),
        () => run(),
      ),
  );
  const mode = find(r, 'Workspace mlw-prod: managed network isolation');
  assert.deepEqual(
    [mode.status, mode.fix],
    ['WARN', 'az ml workspace update -n mlw-prod -g rg-aml-prod --managed-network allow_only_approved_outbound'],
  );
  assert.equal(find(r, 'Workspace mlw-prod: managed network provisioned').status, 'WARN');
  const rule = find(r, 'Managed network outbound rule pypi');
  assert.deepEqual([rule.status, rule.detail], ['FAIL', 'Failed (FQDN to "pypi.org")']);
  assert.ok(!posture(r).some((p) => p.check === 'Managed network outbound rule storage-pe'), 'an Active rule is not a finding');
  assert.ok(!posture(r).some((p) => p.check.endsWith(': subnet and NSG')), 'in a managed network the computes have no subnet of yours');
  assert.equal(r.result, 'Failed', describe(r));
  const strict = await withResource(
    ws,
    (b) => ({
      ...b,
      properties: {
        ...props(b),
        managedNetwork: { isolationMode: 'AllowOnlyApprovedOutbound', status: { status: 'Active' }, outboundRules: {} },
      },
    }),
    () => run(),
  );
  assert.equal(find(strict, 'Workspace mlw-prod: managed network isolation').status, 'PASS');
  assert.equal(strict.result, 'Succeeded', describe(strict));
});

test('AKS: a public API server fails, authorized ranges warn; an Arc cluster cannot be judged', async () => {
  const aks = `${rgId()}/providers/Microsoft.ContainerService/managedClusters/aks-prod`;
  const pub = await withResource(
    aks,
    (b) => ({ ...b, properties: { ...props(b), apiServerAccessProfile: { enablePrivateCluster: false } } }),
    () => run(),
  );
  const c = find(pub, 'Compute aks-prod: API server of cluster aks-prod');
  assert.deepEqual([c.status, c.detail], ['FAIL', 'public: reachable from the internet']);
  assert.match(c.fix, /az aks update -n aks-prod -g rg-aml-prod --enable-apiserver-vnet-integration --enable-private-cluster/);
  const ranges = await withResource(
    aks,
    (b) => ({
      ...b,
      properties: { ...props(b), apiServerAccessProfile: { enablePrivateCluster: false, authorizedIPRanges: ['203.0.113.0/24'] } },
    }),
    () => run(),
  );
  assert.equal(find(ranges, 'Compute aks-prod: API server of cluster aks-prod').status, 'WARN');
  const arc = `/subscriptions/${w.seed.subscriptionId}/resourceGroups/rg-edge/providers/Microsoft.Kubernetes/connectedClusters/arc-1`;
  w.emu.aml.addCompute(w.seed.workspace.id, 'arc-k8s', { computeType: 'Kubernetes', resourceId: arc });
  try {
    const r = await run();
    assert.deepEqual([find(r, 'Compute arc-k8s: API server of cluster arc-1').status], ['UNKNOWN']);
  } finally {
    w.emu.arm.resources.delete(computeId('arc-k8s'));
  }
});

test('online endpoints: a managed one open to the internet fails; Kubernetes scoring hosts must resolve privately', async () => {
  const ws = w.seed.workspace.id;
  w.emu.online.addEndpoint(ws, 'ep-managed-open', { compute: null });
  w.emu.online.addEndpoint(ws, 'ep-managed-closed', { compute: null, publicNetworkAccess: 'Disabled' });
  const k8s = (name: string, uri: string) => {
    w.emu.online.addEndpoint(ws, name, {});
    const e = w.emu.arm.resources.get(`${ws}/onlineEndpoints/${name}`)!;
    w.emu.arm.resources.put(e.id, { ...e.body, properties: { ...props(e.body), scoringUri: uri } });
  };
  k8s('ep-ilb', 'http://10.10.3.20/api/v1/endpoint/ep-ilb/score');
  k8s('ep-public-ip', 'http://20.61.1.5/api/v1/endpoint/ep-public-ip/score');
  k8s('ep-named', 'https://scoring.contoso.example/api/v1/endpoint/ep-named/score');
  w.dns.set('scoring.contoso.example', { a: ['52.160.1.9'] });
  try {
    const r = await run();
    assert.equal(r.result, 'Failed', describe(r));
    const open = find(r, 'Online endpoint ep-managed-open: public network access');
    assert.deepEqual(
      [open.status, open.fix],
      ['FAIL', 'az ml online-endpoint update -n ep-managed-open -g rg-aml-prod -w mlw-prod --set public_network_access=disabled'],
    );
    assert.equal(find(r, 'Online endpoint ep-managed-closed: public network access').status, 'PASS');
    assert.deepEqual([find(r, 'Online endpoint ep-ilb: scoring host 10.10.3.20').status], ['PASS']);
    const pubIp = find(r, 'Online endpoint ep-public-ip: scoring host 20.61.1.5');
    assert.deepEqual([pubIp.status, pubIp.detail], ['FAIL', 'resolves to a public address: 20.61.1.5']);
    assert.match(pubIp.fix, /inferenceRouterServiceType=LoadBalancer and internalLoadBalancerProvider=azure/);
    // A host name is resolved with the same DNS servers as the private-link names.
    assert.equal(find(r, 'Online endpoint ep-named: scoring host scoring.contoso.example').status, 'FAIL');
    w.dns.set('scoring.contoso.example', { a: ['10.10.3.21'] });
    assert.equal(find(await run(), 'Online endpoint ep-named: scoring host scoring.contoso.example').status, 'PASS');
  } finally {
    for (const n of ['ep-managed-open', 'ep-managed-closed', 'ep-ilb', 'ep-public-ip', 'ep-named'])
      w.emu.arm.resources.delete(`${ws}/onlineEndpoints/${n}`);
    w.dns.records.delete('scoring.contoso.example');
  }
});

test('a connection that cannot read the network: subnets, NSGs and clusters are UNKNOWN, named with the fix', async () => {
  const fed = w.seed.servicePrincipals.federated.objectId;
  const roleId = '7e57a001-0000-4000-8000-00000000d002';
  w.emu.arm.rbac.defineRole({
    name: 'ML Only',
    id: roleId,
    type: 'CustomRole',
    assignableScopes: [`/subscriptions/${w.seed.subscriptionId}`],
    actions: [
      'Microsoft.MachineLearningServices/workspaces/*',
      'Microsoft.Authorization/*/read',
      'Microsoft.Storage/storageAccounts/read',
      'Microsoft.KeyVault/vaults/read',
      'Microsoft.ContainerRegistry/registries/read',
      'Microsoft.Network/privateEndpoints/read',
    ],
    notActions: [],
  });
  w.emu.arm.rbac.revoke(fed, 'Contributor');
  w.emu.arm.grantRole(fed, 'ML Only', rgId());
  try {
    const r = await run();
    const subnet = find(r, 'Compute cpu-cluster: subnet and NSG');
    assert.deepEqual(
      [subnet.status, subnet.detail, subnet.fix],
      ['UNKNOWN', 'subnet snet-training not readable', 'Give the service connection Reader on virtual network vnet-aml.'],
    );
    assert.equal(find(r, 'Compute aks-prod: API server of cluster aks-prod').status, 'UNKNOWN');
  } finally {
    w.emu.arm.rbac.revoke(fed);
    w.emu.arm.grantRole(fed, 'Contributor', rgId());
  }
});
