// The emulator's model containers and versions, over raw HTTPS with api-version 2024-04-01:
// list filters and ordering, immutable versions, job-output URIs that must name a completed
// job's output, and lost responses.
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { ClientSecretCredential } from '@azure/identity';
import { type Emulator, type SeedResult, startEmulator } from '../../testkit/emulator/index';

let emu: Emulator;
let seed: SeedResult;
let token: string;

interface Res {
  status: number;
  json: Record<string, unknown>;
}

function call(method: string, tail: string, body?: unknown): Promise<Res> {
  const url = new URL(`${seed.workspace.id}/${tail}${tail.includes('?') ? '&' : '?'}api-version=2024-04-01`, emu.url);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, ca: emu.caCertPem, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Record<string, unknown>) : {} });
        });
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
}

const message = (r: Res): string => String((r.json.error as { message?: string } | undefined)?.message);
const names = (r: Res): string[] => (r.json.value as Array<{ name: string }>).map((v) => v.name);
const putModel = (name: string, version: string, properties: Record<string, unknown>) =>
  call('PUT', `models/${name}/versions/${version}`, { properties: { modelType: 'custom_model', ...properties } });
const ds = (p: string): string => `azureml://datastores/workspaceblobstore/paths/${p}`;

async function commandJob(name: string, stepDurationMs: number): Promise<void> {
  emu.aml.scriptJob(name, { startDelayMs: 5, stepDurationMs, phaseMs: 1 });
  emu.aml.setOutputs(name, undefined, { model: ds(`azureml/${name}/model/`) });
  const r = await call('PUT', `jobs/${name}`, {
    properties: {
      jobType: 'Command',
      command: 'python train.py',
      environmentId: `${seed.workspace.id}/environments/AzureML-sklearn-0.24-ubuntu18.04-py37-cpu/versions/5`,
      computeId: 'cpu-cluster',
      outputs: { model: { jobOutputType: 'mlflow_model', mode: 'Upload' } },
    },
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
}

before(async () => {
  emu = await startEmulator();
  seed = emu.seedDefault();
  const cred = new ClientSecretCredential(seed.tenantId, seed.servicePrincipals.secret.clientId, seed.servicePrincipals.secret.secret, {
    authorityHost: emu.url,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: emu.caCertPem },
  });
  token = (await cred.getToken(`${emu.url}/.default`)).token;
});
after(() => emu.close());

describe('model versions', () => {
  it('creates (201), re-puts the same files (200), and reports latestVersion and nextVersion on the container', async () => {
    const a = await putModel('taxi', '1', { modelUri: ds('m/1/'), tags: { stage: 'candidate' }, description: 'one' });
    assert.equal(a.status, 201, JSON.stringify(a.json));
    assert.equal(a.json.id, `${seed.workspace.id}/models/taxi/versions/1`);
    assert.equal(a.json.type, 'Microsoft.MachineLearningServices/workspaces/models/versions');
    const same = await putModel('taxi', '1', { modelUri: ds('m/1/'), tags: { stage: 'production' }, description: 'one, promoted' });
    assert.equal(same.status, 200, 'tags and description may change');
    assert.deepEqual((same.json.properties as { tags: unknown }).tags, { stage: 'production' });
    assert.equal((await putModel('taxi', '2', { modelUri: ds('m/2/'), tags: { stage: 'candidate', owner: 'fraud' } })).status, 201);
    const c = await call('GET', 'models/taxi');
    assert.equal(c.status, 200);
    assert.deepEqual(
      {
        latest: (c.json.properties as { latestVersion: string }).latestVersion,
        next: (c.json.properties as { nextVersion: string }).nextVersion,
      },
      { latest: '2', next: '3' },
    );
    assert.equal((await call('GET', 'models/nope')).status, 404);
    assert.equal((await call('GET', 'models/taxi/versions/9')).status, 404);
  });

  it('lists newest first with $top, and filters tags as "name" or "name=value" items joined by commas', async () => {
    assert.deepEqual(names(await call('GET', 'models/taxi/versions?$orderBy=createdtime%20desc')), ['2', '1']);
    assert.deepEqual(names(await call('GET', 'models/taxi/versions?$orderBy=createdtime%20desc&$top=1')), ['2']);
    assert.deepEqual(names(await call('GET', `models/taxi/versions?tags=${encodeURIComponent('stage=production')}`)), ['1']);
    assert.deepEqual(names(await call('GET', `models/taxi/versions?tags=${encodeURIComponent('stage=candidate,owner')}`)), ['2']);
    assert.deepEqual(names(await call('GET', `models/taxi/versions?tags=${encodeURIComponent('stage=candidate,owner=ops')}`)), []);
    assert.deepEqual(names(await call('GET', 'models/nope/versions')), []);
  });

  it('refuses to change a version: another path gets "Asset paths cannot be updated.", another type is immutable too', async () => {
    const path = await putModel('taxi', '1', { modelUri: ds('m/other/') });
    assert.equal(path.status, 400);
    assert.equal(message(path), 'Asset paths cannot be updated.');
    const type = await putModel('taxi', '1', { modelUri: ds('m/1/'), modelType: 'triton_model' });
    assert.equal(type.status, 400);
    assert.match(message(type), /taxi:1 already exists and its modelType cannot be changed/);
  });

  it('refuses bad names, types and URIs', async () => {
    assert.match(message(await putModel('-taxi', '1', { modelUri: ds('x/') })), /Model name '-taxi' is invalid/);
    assert.match(message(await putModel('taxi', '3', { modelUri: ds('x/'), modelType: 'onnx' })), /modelType 'onnx' is invalid/);
    assert.match(message(await putModel('taxi', '3', { modelUri: 'azureml://datastores/nostore/paths/x/' })), /datastore 'nostore'/);
    assert.match(message(await putModel('taxi', '3', { modelUri: 'ftp://x/y' })), /not a supported URI/);
    assert.match(message(await putModel('taxi', '3', {})), /modelUri is required/);
  });

  it('a job-output URI must name an output of a completed job', async () => {
    await commandJob('cmd_running', Infinity);
    await commandJob('cmd_done', 5);
    const until = Date.now() + 5000;
    while (String((emu.aml.job('cmd_done')!.body.properties as { status: string }).status) !== 'Completed' && Date.now() < until)
      await new Promise((r) => setTimeout(r, 10));
    assert.match(
      message(await putModel('m', '1', { modelUri: 'azureml://jobs/no_job/outputs/model' })),
      /job 'no_job' referenced by modelUri .* was not found/,
    );
    const running = await putModel('m', '1', { modelUri: 'azureml://jobs/cmd_running/outputs/model' });
    assert.equal(running.status, 400);
    assert.match(
      message(running),
      /Job 'cmd_running' is in status (Queued|Preparing|Running|NotStarted): a model can only be registered from the outputs of a completed job/,
    );
    assert.match(
      message(await putModel('m', '1', { modelUri: 'azureml://jobs/cmd_done/outputs/weights' })),
      /Job 'cmd_done' has no output 'weights'\. Its outputs: model/,
    );
    const ok = await putModel('m', '1', { modelUri: 'azureml://jobs/cmd_done/outputs/model/paths/model/', jobName: 'cmd_done' });
    assert.equal(ok.status, 201, JSON.stringify(ok.json));
    assert.match(message(await putModel('m', '2', { modelUri: ds('x/'), jobName: 'no_job' })), /jobName: job 'no_job' was not found/);
  });

  it('loseResponses stores the version, then answers 503', async () => {
    emu.models.loseResponses(1);
    const r = await putModel('lost', '1', { modelUri: ds('lost/') });
    assert.equal(r.status, 503);
    assert.equal(emu.models.versions(seed.workspace.id, 'lost').length, 1);
    assert.equal((await putModel('lost', '1', { modelUri: ds('lost/') })).status, 200, 'the retry finds it stored');
  });
});
