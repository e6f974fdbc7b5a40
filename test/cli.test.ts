/**
 * The jump-host command, run as users run it: the built dist/cli/aml-secure-mlops.js under node,
 * signed in with environment credentials (DefaultAzureCredential) against the emulator, or with
 * no credentials at all for explicit names. Exit codes 0 / 1 / 2.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { DnsServer } from '../testkit/emulator/dns-server';
import { ROOT } from '../testkit/harness';
import { breakPrivateDns, startWorld, type World } from '../testkit/world';

const CLI = path.join(ROOT, 'dist', 'cli', 'aml-secure-mlops.js');
let w: World;

before(async () => {
  w = await startWorld();
});
after(async () => {
  await w?.close();
});

interface CliRun {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return new Promise((resolve) => {
    // A clean environment: no Azure sign-in leaks in from the machine running the tests.
    const base = Object.fromEntries(
      Object.entries(process.env).filter(([k]) => !/^(AZURE_|ARM_|MSI_|IDENTITY_|HTTPS?_PROXY|NO_PROXY|FORCE_COLOR|NO_COLOR)/i.test(k)),
    ) as Record<string, string>;
    const child = spawn(process.execPath, [CLI, ...args], {
      env: { ...base, PATH: '/usr/bin:/bin', NODE_EXTRA_CA_CERTS: w.emu.caFile, ...env },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => (stdout += d));
    child.stderr.on('data', (d) => (stderr += d));
    child.on('close', (code) => resolve({ code, stdout, stderr }));
  });
}

const signIn = () => ({
  AZURE_TENANT_ID: w.seed.tenantId,
  AZURE_CLIENT_ID: w.seed.servicePrincipals.secret.clientId,
  AZURE_CLIENT_SECRET: w.seed.servicePrincipals.secret.secret,
  AZURE_AUTHORITY_HOST: w.emu.url,
});
const wsArgs = () => [
  'check-privatelink',
  '--workspace',
  w.seed.workspace.name,
  '--resource-group',
  w.seed.resourceGroup,
  '--arm-url',
  w.emu.url,
  '--no-tcp',
];

test('usage errors exit 2 with the reason and the usage, no stack', async () => {
  for (const [args, reason] of [
    [[], /Give a command: check-privatelink/],
    [['check-dns'], /Unknown command 'check-dns'/],
    [['check-privatelink'], /Nothing to check: give --workspace with --resource-group, or --fqdns/],
    [['check-privatelink', '--workspace', 'mlw-prod'], /--workspace needs --resource-group/],
    [['check-privatelink', '--fqdns', 'a.example.net', '--timeout', '0'], /--timeout must be whole seconds from 1 to 120/],
    [
      ['check-privatelink', '--fqdns', 'a.example.net', '--bogus'],
      /^aml-secure-mlops: Unknown option '--bogus'\. The options are listed below\./,
    ],
    [['check-privatelink', '--fqdns'], /^aml-secure-mlops: Option '--fqdns' needs a value, as in --fqdns <value>\./],
    [
      ['check-privatelink', '--fqdns', 'a.example.net,bad..name'],
      /^aml-secure-mlops: --fqdns: entry 2 'bad\.\.name' is not a valid host name\. Separate fully qualified names with commas/,
    ],
    [['check-privatelink', '--fqdns', 'a.example.net', '--allowed-ranges', '10.0.0.0/33'], /^aml-secure-mlops: --allowed-ranges: /],
    [['check-privatelink', '--fqdns', 'bad_name!'], /^aml-secure-mlops: --fqdns: /],
  ] as const) {
    const r = await cli([...args]);
    assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
    assert.match(r.stderr, reason);
    assert.doesNotMatch(r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
    assert.doesNotMatch(r.stderr, /positional argument|one per line/, 'no parser jargon, no task-input wording');
  }
  const help = await cli(['--help']);
  assert.equal(help.code, 0);
  assert.match(help.stdout, /Usage: aml-secure-mlops check-privatelink[\s\S]*--version +print the version[\s\S]*Exit codes: 0/);
});

test('explicit names need no sign-in: all private exits 0; --json prints the report', async () => {
  const dns = await new DnsServer().start();
  try {
    dns.set('a.example.net', { a: ['10.1.0.4'] });
    dns.set('b.example.net', { cname: 'b.privatelink.example.net' });
    dns.set('b.privatelink.example.net', { a: ['10.1.0.5'] });
    const r = await cli([
      'check-privatelink',
      '--fqdns',
      'a.example.net=10.1.0.4,b.example.net',
      '--dns-servers',
      dns.address,
      '--no-tcp',
      '--json',
    ]);
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout);
    assert.equal(report.ok, true);
    assert.deepEqual(
      report.names.map((n: { fqdn: string; verdict: string }) => `${n.fqdn} ${n.verdict}`),
      ['a.example.net OK', 'b.example.net OK'],
    );
    assert.doesNotMatch(r.stderr, /Signed in/, 'no Azure call was made');
  } finally {
    await dns.stop();
  }
});

test('a broken setup through the developer sign-in: the table names each failure and its fix, exit 1', async () => {
  const dns = await new DnsServer().start();
  try {
    const { api, blob, kv } = breakPrivateDns(dns, w.names);
    const r = await cli([...wsArgs(), '--dns-servers', dns.address], signIn());
    assert.equal(r.code, 1, r.stderr);
    assert.match(r.stderr, new RegExp(`Signed in to ${w.emu.url.replace(/[.:/]/g, '\\$&')}, subscription ${w.seed.subscriptionId}`));
    assert.match(r.stdout, /^VERDICT\s+NAME\s+ANSWER\s+EXPECTED/);
    const row = (fqdn: string) => r.stdout.split('\n').find((l) => l.includes(` ${fqdn} `)) ?? '';
    assert.match(row(blob.fqdn), /^PUBLIC\s/);
    assert.match(row(api.fqdn), /^STALE\s.*10\.10\.1\.250\s+10\.10\.1\.4$/);
    assert.match(row(kv.fqdn), /^NOT_FOUND\s/);
    assert.match(r.stdout, /privatelink\.blob\.core\.windows\.net is not linked/);
    assert.match(r.stdout, /ISOLATION POSTURE[\s\S]*PASS\s+Workspace mlw-prod: public network access/);
    assert.match(r.stdout, /3 of 8 names failed\.$/m);
    assert.doesNotMatch(r.stdout, /\x1b\[/, 'no colour when stdout is not a terminal');
    const coloured = await cli([...wsArgs(), '--dns-servers', dns.address], { ...signIn(), FORCE_COLOR: '1' });
    assert.match(coloured.stdout, new RegExp(`\\x1b\\[31mSTALE\\x1b\\[0m\\s+${api.fqdn.replace(/\./g, '\\.')}`), 'failures in red');
    assert.match(coloured.stdout, /\x1b\[32mOK\x1b\[0m/, 'good names in green');
    const plain = await cli([...wsArgs(), '--dns-servers', dns.address, '--no-color'], { ...signIn(), FORCE_COLOR: '1' });
    assert.doesNotMatch(plain.stdout, /\x1b\[/);
    for (const s of w.emu.secrets()) assert.ok(!r.stdout.includes(s) && !r.stderr.includes(s), 'no secret in the output');
    // The subscription was found without --subscription (the only one the sign-in sees).
    const ok = await cli([...wsArgs(), '--dns-servers', w.dns.address, '--json'], signIn());
    assert.equal(ok.code, 0, ok.stderr);
    assert.equal(JSON.parse(ok.stdout).names.length, 8);
  } finally {
    await dns.stop();
  }
});

test('an unreachable DNS server is its own verdict with its own fix, not a missing record', async () => {
  const r = await cli(['check-privatelink', '--fqdns', 'a.example.net', '--dns-servers', '127.0.0.1:1', '--no-tcp']);
  assert.equal(r.code, 1, r.stderr);
  assert.match(r.stdout, /^DNS_UNREACHABLE +a\.example\.net/m);
  assert.match(r.stdout, /No DNS server took the query \(ECONNREFUSED\)/);
  assert.doesNotMatch(r.stdout, /NOT_FOUND|Link the private DNS zone/);
});

test('no sign-in for a workspace check: exit 2 with what to do', async () => {
  const r = await cli([...wsArgs(), '--dns-servers', w.dns.address]);
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.stderr, /No Azure sign-in found for .*Run 'az login'.*AZURE_CLIENT_SECRET.*--fqdns/);
  assert.doesNotMatch(r.stderr, /\.\. /, 'no double period');
});

test('a sign-in without access to the workspace: exit 2 with the role to ask for', async () => {
  const r = await cli([...wsArgs(), '--subscription', w.seed.subscriptionId, '--resource-group', 'rg-nope'], signIn());
  assert.equal(r.code, 2, r.stdout);
  assert.match(r.stderr, /aml-secure-mlops: .*rg-nope/);
});

test('npm pack ships the command as the bin, bundled, with nothing to install', () => {
  const r = spawnSync('npm', ['pack', '--dry-run', '--json', '--ignore-scripts'], { cwd: ROOT, encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  const [pack] = JSON.parse(r.stdout) as Array<{ files: Array<{ path: string }> }>;
  const files = pack!.files.map((f) => f.path).sort();
  assert.ok(files.includes('dist/cli/aml-secure-mlops.js') && files.includes('dist/cli/azure.js'), files.join(', '));
  assert.ok(!files.some((f) => f.startsWith('tasks/') || f.startsWith('node_modules/')), files.join(', '));
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  assert.equal(pkg.bin['aml-secure-mlops'], 'dist/cli/aml-secure-mlops.js');
  assert.equal(pkg.dependencies, undefined, 'the bundle needs no runtime dependencies');
});

test('--check-access from a jump host: nobody is exempt but --allowed-principals, the caller included', async () => {
  const pipeline = w.seed.servicePrincipals.federated.objectId;
  const others = [
    w.seed.servicePrincipals.certificate.objectId,
    w.seed.managedIdentities.system.objectId,
    w.seed.managedIdentities.user.objectId,
  ];
  // Signed in as the secret SP, which is Contributor too: it is reported, as a person at a jump host would be.
  const r = await cli(
    [...wsArgs(), '--dns-servers', w.dns.address, '--check-access', '--allowed-principals', [pipeline, ...others].join(','), '--json'],
    signIn(),
  );
  assert.equal(r.code, 1, r.stderr);
  const report = JSON.parse(r.stdout) as { access: { writers: Array<{ principalId: string }>; own: unknown[] } };
  assert.deepEqual(
    report.access.writers.map((g) => g.principalId),
    [w.seed.servicePrincipals.secret.objectId],
  );
  assert.deepEqual(report.access.own, []);
  const bad = await cli([...wsArgs(), '--check-access', '--allowed-principals', 'bob@contoso.com'], signIn());
  assert.equal(bad.code, 2);
  assert.match(bad.stderr + bad.stdout, /--allowed-principals: 'bob@contoso\.com' is not an object id/);
});
