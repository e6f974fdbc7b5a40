/**
 * Agent-level tests of AmlPrivateLinkCheck@1: every verdict, discovery through ARM, posture,
 * the no-service-connection mode, the agent's own resolver (with its hosts file), bad input.
 */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { DnsServer } from '../../testkit/emulator/dns-server';
import { seedConnection } from '../../testkit/emulator/index';
import type { TaskRun } from '../../testkit/harness';
import { assertNoLeaks, breakPrivateDns, describe, startWorld, workspaceInputs, type World } from '../../testkit/world';

let w: World;
const isRoot = process.getuid?.() === 0;
before(async () => {
  w = await startWorld();
});
after(() => w.close());

interface ReportJson {
  ok: boolean;
  names: Array<{ fqdn: string; verdict: string; answer: string[]; cnames: string[]; advice: string; via: string }>;
  posture: Array<{ check: string; status: string }>;
  notes: string[];
}
const report = (r: TaskRun): ReportJson => JSON.parse(fs.readFileSync(r.outputs.reportPath!, 'utf8'));
const verdicts = (r: TaskRun): Record<string, string> => Object.fromEntries(report(r).names.map((n) => [n.fqdn, n.verdict]));
const wsInputs = () => ({ ...workspaceInputs(w.seed), dnsServers: w.dns.address, tcpCheck: 'false' });

test('a correctly resolving private workspace passes, with a summary table and outputs', async () => {
  const r = await w.run('AmlPrivateLinkCheck', { connection: 'secret', inputs: wsInputs() });
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.equal(r.outputs.privateLinkOk, 'true');
  const rep = report(r);
  assert.equal(rep.names.length, w.names.length);
  assert.ok(rep.names.every((n) => n.verdict === 'OK' && n.cnames[0]?.includes('.privatelink.')));
  assert.ok(rep.posture.length > 0 && rep.posture.every((p) => p.status === 'PASS'));
  const md = r.summaries[0]!.content;
  assert.match(md, /\| Name \| Answer \| Expected \| CNAME chain \| Verdict \|/);
  assert.equal((md.match(/✅ OK/g) ?? []).length, w.names.length);
  assert.ok(r.progress.some((p) => p.value === 100));
});

test('a broken setup: one public answer, one stale record, one missing name', async () => {
  const dns = await new DnsServer().start();
  try {
    const { api, blob, kv } = breakPrivateDns(dns, w.names);
    const r = await w.run('AmlPrivateLinkCheck', { connection: 'wif', inputs: { ...wsInputs(), dnsServers: dns.address } });
    assert.equal(r.result, 'Failed', describe(r));
    assert.equal(r.outputs.privateLinkOk, 'false', describe(r));
    const v = verdicts(r);
    assert.equal(v[blob.fqdn], 'PUBLIC');
    assert.equal(v[api.fqdn], 'STALE');
    assert.equal(v[kv.fqdn], 'NOT_FOUND');
    assert.match(r.errors[0]!, /3 of 8 names failed: (1 (PUBLIC|STALE|NOT_FOUND)(, )?){3}/);
    const advice = Object.fromEntries(report(r).names.map((n) => [n.fqdn, n.advice]));
    assert.match(advice[blob.fqdn]!, /public IP 20\.60\.153\.1.*privatelink\.blob\.core\.windows\.net is not linked/);
    assert.match(advice[api.fqdn]!, /10\.10\.1\.250 but the private endpoint has 10\.10\.1\.4/);
    assert.match(advice[kv.fqdn]!, /privatelink\.vaultcore\.azure\.net/);
    assert.match(r.summaries[0]!.content, /❌ PUBLIC[\s\S]*What to fix/);
    // Shown in the closing note of the issue.
    if (process.env.SHOW_BROKEN_SETUP) console.log(`${r.log.join('\n')}\n\n${r.summaries[0]!.content}`);
  } finally {
    await dns.stop();
  }
});

test('OUT_OF_RANGE, TIMEOUT and NOT_FOUND without a service connection', async () => {
  const dns = await new DnsServer().start();
  try {
    dns.set('in-range.example.net', { a: ['10.1.0.4'] });
    dns.set('other-range.example.net', { a: ['172.20.0.9'] });
    dns.blackholed.add('dead.example.net');
    const r = await w.run('AmlPrivateLinkCheck', {
      inputs: {
        fqdns: 'in-range.example.net=10.1.0.4\nother-range.example.net\ndead.example.net\nnowhere.example.net',
        allowedRanges: '10.0.0.0/8',
        dnsServers: dns.address,
        tcpCheck: 'false',
        timeoutSeconds: '1',
      },
    });
    assert.equal(r.result, 'Failed', describe(r));
    assert.deepEqual(verdicts(r), {
      'dead.example.net': 'TIMEOUT',
      'in-range.example.net': 'OK',
      'nowhere.example.net': 'NOT_FOUND',
      'other-range.example.net': 'OUT_OF_RANGE',
    });
    assert.equal(
      w.emu.requests.filter((q) => q.service === 'arm' && q.time >= Date.now() - r.ms).length,
      0,
      'no Azure call without a connection',
    );
    assert.match(r.errors[0]!, /3 of 4 names failed/);
  } finally {
    await dns.stop();
  }
});

test('a DNS server that never answers ends the task with every name timed out', async () => {
  const dns = await new DnsServer().start();
  dns.silent = true;
  try {
    const r = await w.run('AmlPrivateLinkCheck', {
      inputs: { fqdns: Array.from({ length: 20 }, (_, i) => `n${i}.example.net`).join('\n'), dnsServers: dns.address, timeoutSeconds: '1' },
      timeoutMs: 15_000,
    });
    assert.equal(r.result, 'Failed', describe(r));
    assert.ok(Object.values(verdicts(r)).every((v) => v === 'TIMEOUT'));
    assert.match(r.errors[0]!, /20 of 20 names failed: 20 TIMEOUT/);
  } finally {
    await dns.stop();
  }
});

test('TCP 443: a reachable endpoint is OK, a closed port is TCP_BLOCKED', { skip: !isRoot && 'binding port 443 needs root' }, async () => {
  const server = net.createServer((s) => s.end());
  await new Promise<void>((r) => server.listen(443, '127.60.0.1', () => r()));
  const dns = await new DnsServer().start();
  try {
    dns.set('open.example.net', { a: ['127.60.0.1'] });
    dns.set('closed.example.net', { a: ['127.60.0.2'] });
    const r = await w.run('AmlPrivateLinkCheck', {
      inputs: { fqdns: 'open.example.net\nclosed.example.net', allowedRanges: '127.0.0.0/8', dnsServers: dns.address, timeoutSeconds: '2' },
    });
    assert.deepEqual(verdicts(r), { 'closed.example.net': 'TCP_BLOCKED', 'open.example.net': 'OK' });
    assert.match(report(r).names.find((n) => n.fqdn === 'closed.example.net')!.advice, /NSG, firewall/);
  } finally {
    server.close();
    await dns.stop();
  }
});

test(
  "the agent's own resolver and hosts file are used when no dnsServers are given",
  { skip: !isRoot && 'needs root for a private mount namespace' },
  async (t) => {
    if (spawnSync('unshare', ['-m', 'true']).status !== 0) return t.skip('unshare -m is not permitted here');
    // A DNS server on port 53 of a loopback address, named in a resolv.conf that only this task sees.
    const dns = await new DnsServer().start('127.53.0.9', 53);
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'resolver-'));
    try {
      dns.set('viadns.example.net', { cname: 'viadns.privatelink.example.net' });
      dns.set('viadns.privatelink.example.net', { a: ['10.7.0.5'] });
      dns.set('pinned.example.net', { a: ['20.1.1.1'] });
      fs.writeFileSync(path.join(dir, 'resolv.conf'), 'nameserver 127.53.0.9\noptions timeout:1 attempts:1\n');
      fs.writeFileSync(path.join(dir, 'hosts'), '127.0.0.1 localhost\n10.7.0.6 pinned.example.net\n');
      const r = await w.run('AmlPrivateLinkCheck', {
        inputs: { fqdns: 'viadns.example.net=10.7.0.5\npinned.example.net=10.7.0.6', tcpCheck: 'false' },
        wrapper: (cmd) => [
          'unshare',
          '-m',
          'sh',
          '-c',
          `mount --bind ${dir}/resolv.conf /etc/resolv.conf && mount --bind ${dir}/hosts /etc/hosts && exec "$0" "$@"`,
          ...cmd,
        ],
      });
      assert.equal(r.result, 'Succeeded', describe(r));
      const names = Object.fromEntries(report(r).names.map((n) => [n.fqdn, n]));
      assert.equal(names['viadns.example.net']!.via, 'dns');
      assert.deepEqual(names['viadns.example.net']!.cnames, ['viadns.privatelink.example.net']);
      assert.equal(names['pinned.example.net']!.via, 'hosts', 'the hosts entry wins over the public DNS answer');
    } finally {
      await dns.stop();
    }
  },
);

test('posture: public access, an unapproved endpoint and an open dependency are reported', async () => {
  const ws = w.emu.arm.resources.get(w.seed.workspace.id)!;
  const storageId = String((ws.body.properties as Record<string, unknown>).storageAccount);
  const storage = w.emu.arm.resources.get(storageId)!;
  const saved = structuredClone([ws.body, storage.body]);
  try {
    w.emu.arm.resources.put(ws.id, { ...ws.body, properties: { ...(ws.body.properties as object), publicNetworkAccess: 'Enabled' } });
    w.emu.arm.resources.put(storage.id, {
      ...storage.body,
      properties: { ...(storage.body.properties as object), publicNetworkAccess: 'Enabled', networkAcls: { defaultAction: 'Allow' } },
    });
    w.emu.arm.addPrivateEndpointConnection(ws.id, {
      name: 'pending-conn',
      privateEndpointId: `/subscriptions/${w.seed.subscriptionId}/resourceGroups/rg-other/providers/Microsoft.Network/privateEndpoints/pe-rogue`,
      status: 'Pending',
    });
    const r = await w.run('AmlPrivateLinkCheck', { connection: 'secret', inputs: wsInputs() });
    assert.equal(r.result, 'Failed', describe(r));
    const failed = report(r)
      .posture.filter((p) => p.status === 'FAIL')
      .map((p) => p.check);
    assert.ok(
      failed.some((c) => /Workspace mlw-prod: public network access/.test(c)),
      failed.join('; '),
    );
    assert.ok(
      failed.some((c) => /endpoint pe-rogue/.test(c)),
      failed.join('; '),
    );
    assert.ok(
      failed.some((c) => /Storage account .*: public network access/.test(c)),
      failed.join('; '),
    );
    assert.match(r.errors[0]!, /3 posture checks failed/);
    assert.match(r.summaries[0]!.content, /az ml workspace update -n mlw-prod -g rg-aml-prod --public-network-access Disabled/);
  } finally {
    w.emu.arm.resources.put(ws.id, saved[0]!);
    w.emu.arm.resources.put(storage.id, saved[1]!);
    w.emu.arm.resources.delete(`${ws.id}/privateEndpointConnections/pending-conn`);
  }
});

test('without read access to the endpoints it falls back to the documented names and says so', async () => {
  const sc = seedConnection(w.seed, 'secret');
  const reader = w.seed.servicePrincipals.reader;
  const ep = structuredClone(sc.endpoint);
  ep.parameters = { ...ep.parameters, serviceprincipalid: reader.clientId, serviceprincipalkey: reader.secret };
  const r = await w.run('AmlPrivateLinkCheck', {
    endpoints: { [sc.id]: ep },
    inputs: { azureSubscription: sc.id, ...wsInputs(), checkPosture: 'false' },
  });
  const rep = report(r);
  assert.ok(
    rep.notes.some((n) => /documented name patterns/.test(n)),
    JSON.stringify(rep.notes),
  );
  assert.ok(
    r.warnings.some((x) => /Grant the service connection Reader/.test(x)),
    describe(r),
  );
  // The patterns name the same hosts Azure would; they still resolve correctly here.
  assert.deepEqual(Object.keys(verdicts(r)).sort(), w.names.map((n) => n.fqdn).sort());
  assert.ok(Object.values(verdicts(r)).every((v) => v === 'OK'));
});

test('continueOnWarning turns a failed check into succeeded-with-issues', async () => {
  const r = await w.run('AmlPrivateLinkCheck', {
    inputs: { fqdns: 'nowhere.example.net', dnsServers: w.dns.address, tcpCheck: 'false', continueOnWarning: 'true' },
  });
  assert.equal(r.result, 'SucceededWithIssues', describe(r));
  assert.equal(r.outputs.privateLinkOk, 'false');
});

for (const [name, inputs, pattern] of [
  ['a malformed name in fqdns', { fqdns: 'ok.example.net\nbad..name' }, /^Input 'fqdns': line 2 'bad\.\.name' is not a valid host name/],
  ['a malformed IP in fqdns', { fqdns: 'a.example.net=10.0.0.256' }, /^Input 'fqdns': line 1 .*'10\.0\.0\.256' is not an IP address/],
  [
    'a bad CIDR',
    { fqdns: 'a.example.net', allowedRanges: '10.0.0.0/8,300.0.0.0/8' },
    /^Input 'allowedRanges': '300\.0\.0\.0\/8' is not a CIDR range/,
  ],
  ['nothing to check', {}, /^Input 'fqdns': nothing to check/],
  [
    'a workspace without a connection',
    { workspaceName: 'mlw-prod', resourceGroupName: 'rg' },
    /^Input 'azureSubscription': a workspace was given/,
  ],
] as const) {
  test(`bad input: ${name}`, async () => {
    const r = await w.run('AmlPrivateLinkCheck', { inputs: { ...inputs } });
    assert.equal(r.result, 'Failed');
    assert.match(r.errors[0]!, pattern);
  });
}

test('bad input: a workspace that does not exist, and one the principal cannot read', async () => {
  const missing = await w.run('AmlPrivateLinkCheck', { connection: 'secret', inputs: { ...wsInputs(), workspaceName: 'mlw-missing' } });
  assert.match(missing.errors[0]!, /mlw-missing.*was not found/);
  const sc = seedConnection(w.seed, 'secret');
  const reader = w.seed.servicePrincipals.reader;
  const ep = structuredClone(sc.endpoint);
  ep.parameters = { ...ep.parameters, serviceprincipalid: reader.clientId, serviceprincipalkey: reader.secret };
  const other = `mlw-other`;
  w.emu.arm.addWorkspace({
    subscriptionId: w.seed.subscriptionId,
    resourceGroup: 'rg-other',
    name: other,
    publicNetworkAccess: 'Disabled',
  });
  const denied = await w.run('AmlPrivateLinkCheck', {
    endpoints: { [sc.id]: ep },
    inputs: { azureSubscription: sc.id, resourceGroupName: 'rg-other', workspaceName: other, dnsServers: w.dns.address },
  });
  assert.match(denied.errors[0]!, /lacks permission for 'Microsoft\.MachineLearningServices\/workspaces\/read'.*Reader/);
});

test('no secret appears in any private-link run', () => {
  assertNoLeaks(w);
});

test('runDiagnose adds the workspace diagnose findings to the posture', async () => {
  const key = `${w.seed.workspace.id}/diagnoseFindings`;
  w.emu.arm.resources.put(key, {
    dnsResolutionResults: [
      { code: 'CustomDNSInUse', level: 'Warning', message: 'We have detected an on-premise dns server is configured.' },
    ],
    networkSecurityRuleResults: [{ code: 'NsgBlocksOutbound', level: 'Error', message: 'The NSG denies outbound 443.' }],
  });
  try {
    const r = await w.run('AmlPrivateLinkCheck', { connection: 'secret', inputs: { ...wsInputs(), runDiagnose: 'true' } });
    const diag = report(r).posture.filter((p) => p.check.startsWith('diagnose'));
    assert.deepEqual(diag.map((p) => [p.check, p.status]).sort(), [
      ['diagnose dnsResolutionResults: CustomDNSInUse', 'WARN'],
      ['diagnose networkSecurityRuleResults: NsgBlocksOutbound', 'FAIL'],
    ]);
    assert.equal(r.result, 'Failed', describe(r));
  } finally {
    w.emu.arm.resources.delete(key);
  }
});
