/**
 * Agent-level: the agent's proxy (Agent.ProxyUrl, Agent.ProxyBypassList) carries every call the
 * task makes (Entra, Azure DevOps for the OIDC token, ARM), and bypassed hosts go direct.
 */
import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, test } from 'node:test';
import { createProxy } from 'proxy';
import { copySample } from '../../testkit/pipeline-sample';
import { describe, startWorld, workspaceInputs, type World } from '../../testkit/world';

let w: World;
let server: http.Server;
let proxyUrl = '';
const tunnels: string[] = [];
before(async () => {
  w = await startWorld();
  server = createProxy(http.createServer());
  server.on('connect', (req: http.IncomingMessage) => tunnels.push(String(req.url)));
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  proxyUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(async () => {
  server.close();
  await w.close();
});

const inputs = () => ({ ...workspaceInputs(w.seed), dnsServers: w.dns.address, tcpCheck: 'false' });
const emulatorHost = () => new URL(w.emu.url).host;

test('Entra, Azure DevOps and ARM calls all go through Agent.ProxyUrl', async () => {
  tunnels.length = 0;
  const since = w.emu.requests.length;
  const r = await w.run('AmlPrivateLinkCheck', { connection: 'wif', inputs: inputs(), variables: { 'Agent.ProxyUrl': proxyUrl } });
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.ok(tunnels.length > 0 && tunnels.every((t) => t === emulatorHost()), `tunnels: ${tunnels.join(', ')}`);
  const services = new Set(w.emu.requests.slice(since).map((q) => q.service));
  assert.deepEqual([...services].sort(), ['ado', 'arm', 'entra']);
  // Each HTTPS client opens its own tunnel: the identity client, the DevOps client and ARM.
  assert.ok(tunnels.length >= 3, `expected tunnels from every client, saw ${tunnels.length}`);
});

test('hosts on Agent.ProxyBypassList go direct', async () => {
  tunnels.length = 0;
  const r = await w.run('AmlPrivateLinkCheck', {
    connection: 'wif',
    inputs: inputs(),
    variables: { 'Agent.ProxyUrl': proxyUrl, 'Agent.ProxyBypassList': JSON.stringify(['127\\.0\\.0\\.1']) },
  });
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.deepEqual(tunnels, []);
});

test('the code upload to the workspace storage goes through the proxy too', async () => {
  w.emu.aml.scriptJobs({ startDelayMs: 10, stepDurationMs: 20, phaseMs: 5 });
  w.emu.aml.addData(w.seed.workspace.id, 'taxi-test', '1', 'azureml://datastores/workspaceblobstore/paths/taxi/test/');
  tunnels.length = 0;
  const repo = copySample();
  const r = await w.run('AmlPipelineJob', {
    connection: 'wif',
    inputs: { ...workspaceInputs(w.seed), jobFile: 'pipeline.yml', wait: 'false' },
    variables: { 'Agent.ProxyUrl': proxyUrl, 'Build.SourcesDirectory': repo },
  });
  assert.equal(r.result, 'Succeeded', describe(r));
  const storageHost = new URL(w.emu.storage.url).host;
  assert.ok(tunnels.includes(storageHost), `tunnels: ${[...new Set(tunnels)].join(', ')}; storage at ${storageHost}`);
});
