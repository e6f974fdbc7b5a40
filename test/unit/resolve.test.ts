import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { readHosts, resolveAll } from '../../tasks/AmlPrivateLinkCheck/resolve';
import { DnsServer } from '../../testkit/emulator/dns-server';

const dns = new DnsServer();
before(async () => {
  await dns.start();
  dns.set('ws.blob.core.windows.net', { cname: 'ws.privatelink.blob.core.windows.net' });
  dns.set('ws.privatelink.blob.core.windows.net', { a: ['10.1.0.4'] });
  dns.set('plain.example.net', { a: ['10.2.0.1'] });
  dns.blackholed.add('dead.example.net');
});
after(() => dns.stop());

test('follows the CNAME chain into privatelink and returns the final A record', async () => {
  const [r] = await resolveAll(['ws.blob.core.windows.net'], { servers: [dns.address], timeoutMs: 2000, hosts: new Map() });
  assert.deepEqual(r!.addresses, ['10.1.0.4']);
  assert.deepEqual(r!.cnames, ['ws.privatelink.blob.core.windows.net']);
  assert.equal(r!.error, undefined);
});

test('an unknown name is NOT_FOUND and a dead one TIMEOUT, without stalling the others', async () => {
  const names = ['dead.example.net', 'missing.example.net', ...Array.from({ length: 30 }, () => 'plain.example.net')];
  const rs = await resolveAll(names, { servers: [dns.address], timeoutMs: 800, hosts: new Map() });
  assert.equal(rs[0]!.error, 'TIMEOUT');
  assert.equal(rs[1]!.error, 'NOT_FOUND');
  for (const r of rs.slice(2)) assert.deepEqual(r.addresses, ['10.2.0.1']);
});

test('the hosts file wins over DNS, as getaddrinfo does', async () => {
  const file = path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'hosts-')), 'hosts');
  fs.writeFileSync(file, '# comment\n10.9.9.9  plain.example.net  alias.example.net # trailing\n');
  const hosts = readHosts(file);
  assert.deepEqual(hosts.get('alias.example.net'), ['10.9.9.9']);
  const [r] = await resolveAll(['plain.example.net'], { servers: [dns.address], timeoutMs: 800, hosts });
  assert.equal(r!.via, 'hosts');
  assert.deepEqual(r!.addresses, ['10.9.9.9']);
});

test('200 names with 10 dead: exactly the dead ones time out, none are dropped', async () => {
  const names: string[] = [];
  for (let i = 0; i < 200; i++) {
    const n = `m${i}.scale.example.net`;
    names.push(n);
    if (i % 20 === 0) dns.blackholed.add(n);
    else dns.set(n, { a: ['10.3.0.1'] });
  }
  const rs = await resolveAll(names, { servers: [dns.address], timeoutMs: 1000, hosts: new Map() });
  assert.deepEqual(
    rs.filter((r) => r.error === 'TIMEOUT').map((r) => r.fqdn),
    names.filter((_, i) => i % 20 === 0),
  );
  assert.ok(rs.filter((r) => !r.error).every((r) => r.addresses[0] === '10.3.0.1'));
});
