import assert from 'node:assert/strict';
import { test } from 'node:test';
import { classify } from '../../tasks/AmlPrivateLinkCheck/classify';
import { mergeTargets } from '../../tasks/AmlPrivateLinkCheck/check';
import { parseDnsServers, parseFqdns, parseRanges, isPublicIp } from '../../tasks/AmlPrivateLinkCheck/targets';
import type { Resolution } from '../../tasks/AmlPrivateLinkCheck/resolve';

const ranges = parseRanges('10.0.0.0/8,192.168.0.0/16');
const res = (addresses: string[], extra: Partial<Resolution> = {}): Resolution => ({
  fqdn: 'x.blob.core.windows.net',
  addresses,
  cnames: [],
  via: 'dns',
  ms: 1,
  ...extra,
});
const t = { fqdn: 'x.blob.core.windows.net', expectedIps: ['10.1.0.4'], source: 'input' };

test('classifies every verdict', () => {
  assert.equal(classify(t, res(['10.1.0.4']), ranges).verdict, 'OK');
  assert.equal(classify(t, res(['20.60.1.1'], { cnames: ['x.privatelink.blob.core.windows.net'] }), ranges).verdict, 'PUBLIC');
  assert.equal(classify(t, res(['10.1.0.9']), ranges).verdict, 'STALE');
  assert.equal(classify(t, res(['172.20.0.1']), ranges).verdict, 'OUT_OF_RANGE');
  assert.equal(classify(t, res([], { error: 'NOT_FOUND' }), ranges).verdict, 'NOT_FOUND');
  assert.equal(classify(t, res([], { error: 'TIMEOUT' }), ranges).verdict, 'TIMEOUT');
});

test('a public answer names the privatelink zone to link', () => {
  const r = classify(t, res(['20.60.1.1'], { cnames: ['x.privatelink.blob.core.windows.net', 'blob.bn9.store.core.windows.net'] }), ranges);
  assert.match(r.advice, /privatelink\.blob\.core\.windows\.net is not linked/);
  assert.match(r.advice, /168\.63\.129\.16/);
});

test('fqdns lines parse host and host=ip, and bad lines name the line', () => {
  assert.deepEqual(
    parseFqdns(['A.Example.com', 'b.example.com=10.0.0.5']).map((x) => [x.fqdn, x.expectedIps]),
    [
      ['a.example.com', []],
      ['b.example.com', ['10.0.0.5']],
    ],
  );
  assert.throws(() => parseFqdns(['ok.example.com', 'bad_host..com']), /Input 'fqdns': line 2 'bad_host..com' is not a valid host name/);
  assert.throws(() => parseFqdns(['a.example.com=10.0.0.300']), /'10.0.0.300' is not an IP address/);
});

test('allowedRanges rejects a bad CIDR by name', () => {
  assert.throws(() => parseRanges('10.0.0.0/8, 10.0.0.0/33'), /Input 'allowedRanges': '10.0.0.0\/33' is not a CIDR range/);
  assert.throws(() => parseRanges('banana'), /'banana' is not a CIDR range/);
});

test('dnsServers accepts ip and ip:port only', () => {
  assert.deepEqual(parseDnsServers('168.63.129.16, 127.0.0.1:5353'), ['168.63.129.16', '127.0.0.1:5353']);
  assert.throws(() => parseDnsServers('dns.example.com'), /Input 'dnsServers'/);
});

test('public means globally routable', () => {
  assert.equal(isPublicIp('20.1.2.3'), true);
  for (const ip of ['10.1.1.1', '172.16.0.1', '192.168.1.1', '100.64.0.1', '127.0.0.1', 'fd00::1']) assert.equal(isPublicIp(ip), false, ip);
});

test('explicit names keep discovered expectations unless they give their own', () => {
  const merged = mergeTargets(
    [{ fqdn: 'a.x.com', expectedIps: ['10.0.0.1'], source: 'private endpoint pe' }],
    [
      { fqdn: 'a.x.com', expectedIps: [], source: 'input' },
      { fqdn: 'b.x.com', expectedIps: ['10.0.0.2'], source: 'input' },
    ],
  );
  assert.deepEqual(
    merged.map((m) => [m.fqdn, m.expectedIps]),
    [
      ['a.x.com', ['10.0.0.1']],
      ['b.x.com', ['10.0.0.2']],
    ],
  );
});

test('without a CNAME the advice names the documented private zone', () => {
  const kv = classify(
    { fqdn: 'kv1.vault.azure.net', expectedIps: [], source: 'x' },
    res([], { fqdn: 'kv1.vault.azure.net', error: 'NOT_FOUND' }),
    ranges,
  );
  assert.match(kv.advice, /privatelink\.vaultcore\.azure\.net/);
  const st = classify({ fqdn: 'st1.file.core.usgovcloudapi.net', expectedIps: [], source: 'x' }, res([], { error: 'NOT_FOUND' }), ranges);
  assert.match(st.advice, /privatelink\.file\.core\.usgovcloudapi\.net/);
  const api = classify(
    { fqdn: 'g.workspace.eastus.cert.api.azureml.ms', expectedIps: [], source: 'x' },
    res([], { error: 'NOT_FOUND' }),
    ranges,
  );
  assert.match(api.advice, /zone privatelink\.api\.azureml\.ms/);
});
