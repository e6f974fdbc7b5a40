/** Pure rules of the network posture (tasks/AmlPrivateLinkCheck/network-posture.ts). */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { imageBuildCheck, scoringCheck, scoringHosts } from '../../tasks/AmlPrivateLinkCheck/network-posture';
import { reviewInbound } from '../../tasks/AmlPrivateLinkCheck/nsg';

const rule = (name: string, p: Record<string, unknown>) => ({ name, properties: { direction: 'Inbound', access: 'Allow', ...p } });

test('inbound review: anywhere is broad, the documented service-tag rules and internal sources pass, other public sources go beyond', () => {
  const rules = [
    rule('batch', { protocol: 'Tcp', sourceAddressPrefix: 'BatchNodeManagement', destinationPortRange: '29876-29877' }),
    rule('aml', { protocol: 'Tcp', sourceAddressPrefix: 'AzureMachineLearning', destinationPortRange: '44224' }),
    rule('vnet', { sourceAddressPrefix: 'VirtualNetwork' }),
    rule('lb', { sourceAddressPrefix: 'AzureLoadBalancer', destinationPortRange: '*' }),
    rule('private', { sourceAddressPrefixes: ['10.20.0.0/16', '192.168.1.4'] }),
    rule('asg', {}),
    rule('star', { sourceAddressPrefix: '*' }),
    rule('list', { sourceAddressPrefixes: ['10.0.0.0/8', '0.0.0.0/0'] }),
    rule('half', { sourceAddressPrefix: '0.0.0.0/1' }),
    rule('internet', { sourceAddressPrefix: 'Internet', destinationPortRange: '22' }),
    rule('deny', { sourceAddressPrefix: 'Internet', access: 'Deny' }),
    rule('out', { sourceAddressPrefix: '*', direction: 'Outbound' }),
    rule('cloud', { sourceAddressPrefix: 'AzureCloud', destinationPortRange: '443' }),
    rule('office', { sourceAddressPrefix: '203.0.113.0/24', destinationPortRange: '22' }),
    rule('aml-all-ports', { protocol: 'Tcp', sourceAddressPrefix: 'AzureMachineLearning', destinationPortRange: '*' }),
    rule('batch-udp', { protocol: 'Udp', sourceAddressPrefix: 'BatchNodeManagement', destinationPortRange: '29876' }),
  ];
  const r = reviewInbound(rules);
  assert.deepEqual(
    r.broad.map((x) => x.name),
    ['star', 'list', 'half', 'internet'],
  );
  assert.deepEqual(
    r.beyond.map((x) => x.name),
    ['cloud', 'office', 'aml-all-ports', 'batch-udp'],
  );
});

test('image build compute: only with a private registry, and it must name a compute cluster', () => {
  const computes = [
    { name: 'cpu', properties: { computeType: 'AmlCompute' } },
    { name: 'aks', properties: { computeType: 'Kubernetes' } },
  ];
  assert.deepEqual(imageBuildCheck('ws', 'rg', false, undefined, computes), []);
  assert.equal(imageBuildCheck('ws', 'rg', true, 'cpu', computes)[0]!.status, 'PASS');
  assert.equal(imageBuildCheck('ws', 'rg', true, 'aks', computes)[0]!.status, 'FAIL');
  assert.equal(
    imageBuildCheck('ws', 'rg', true, undefined, computes)[0]!.fix,
    'az ml workspace update -n ws -g rg --image-build-compute cpu',
  );
});

test('scoring hosts: Kubernetes endpoints only; private in range passes, public fails, loopback warns', () => {
  assert.deepEqual(
    scoringHosts([
      { name: 'k', properties: { compute: 'c', scoringUri: 'http://[fd00::5]:80/score' } },
      { name: 'm', properties: { scoringUri: 'https://m.westeurope.inference.ml.azure.com/score' } },
      { name: 'bad', properties: { compute: 'c', scoringUri: 'not a url' } },
    ]),
    [{ endpoint: 'k', host: 'fd00::5' }],
  );
  const c = {
    isPublic: (ip: string) => ip.startsWith('20.'),
    isLoopback: (ip: string) => ip.startsWith('127.'),
    inRanges: (ip: string) => ip.startsWith('10.'),
  };
  assert.equal(scoringCheck('e', 'h', ['10.1.1.1'], c, '10.0.0.0/8').status, 'PASS');
  assert.equal(scoringCheck('e', 'h', ['10.1.1.1', '20.1.1.1'], c, '10.0.0.0/8').status, 'FAIL');
  assert.equal(scoringCheck('e', 'h', ['127.0.0.1'], c, '10.0.0.0/8').status, 'WARN');
  assert.equal(scoringCheck('e', 'h', ['192.168.1.1'], c, '10.0.0.0/8').status, 'FAIL');
  assert.equal(scoringCheck('e', 'h', [], c, '10.0.0.0/8').detail, 'does not resolve from this agent');
});
