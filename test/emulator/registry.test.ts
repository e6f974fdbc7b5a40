// The emulator's Azure ML registries over raw HTTPS, held against the official 2024-04-01
// examples (Registries/get.json, Registry/ModelVersion/*.json): shapes, api-versions, the
// long-running model version PUT that shares a job output from a workspace, pending uploads,
// and what the service refuses (names, short URIs, regions, rights, storage that keeps the
// registry out, immutable versions), plus a deployment of a registry model in a second workspace.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import { request as httpsRequest } from 'node:https';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ClientSecretCredential } from '@azure/identity';
import { REST_REFERENCE } from '../../testkit/official';
import { type Emulator, type SeedResult, startEmulator } from '../../testkit/emulator/index';

const EXAMPLES = path.join(
  REST_REFERENCE,
  'machinelearningservices/resource-manager/Microsoft.MachineLearningServices/stable/2024-04-01/examples',
);
const example = (f: string): { responses: Record<string, { body: unknown }> } =>
  JSON.parse(fs.readFileSync(path.join(EXAMPLES, f), 'utf8'));

let emu: Emulator;
let seed: SeedResult;
let token: string;
let readerToken: string;
let registryId: string;
let devId: string;

interface Res {
  status: number;
  json: Record<string, unknown>;
  headers: Record<string, string | string[] | undefined>;
}

function call(method: string, pathAndQuery: string, body?: unknown, bearer = token): Promise<Res> {
  const url = new URL(pathAndQuery, emu.url);
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      url,
      { method, headers: { 'content-type': 'application/json', authorization: `Bearer ${bearer}` }, ca: emu.caCertPem, agent: false },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Record<string, unknown>) : {}, headers: res.headers });
        });
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(JSON.stringify(body));
    req.end();
  });
}

const api = (p: string, v = '2024-04-01'): string => `${p}${p.includes('?') ? '&' : '?'}api-version=${v}`;
const reg = (tail = '', v?: string): string => api(`${registryId}${tail}`, v);
const message = (r: Res): string => String((r.json.error as { message?: string } | undefined)?.message);

/**
 * Swagger fields of a model version (AssetBase.isArchived; ModelVersionProperties.jobName and the
 * read-only provisioningState) that the examples leave out.
 */
const SWAGGER_ONLY = new Set([
  '$.properties.isArchived',
  '$.properties.jobName',
  '$.properties.provisioningState',
  '$.value[0].properties.isArchived',
  '$.value[0].properties.jobName',
  '$.value[0].properties.provisioningState',
]);

/** Every key path of `actual` appears in `expected` (arrays compare their first item) or the swagger: nothing invented. */
function keysWithin(actual: unknown, expected: unknown, at = '$'): string[] {
  return keyPaths(actual, expected, at).filter((k) => !SWAGGER_ONLY.has(k));
}

function keyPaths(actual: unknown, expected: unknown, at: string): string[] {
  if (Array.isArray(actual))
    return Array.isArray(expected) && actual.length && expected.length ? keyPaths(actual[0], expected[0], `${at}[0]`) : [];
  if (actual && typeof actual === 'object') {
    if (!expected || typeof expected !== 'object') return [at];
    const e = expected as Record<string, unknown>;
    // Maps keyed by the user (tags, properties) are open in the example ("string": ...).
    if ('string' in e && Object.keys(e).length === 1) return [];
    return Object.entries(actual as Record<string, unknown>).flatMap(([k, v]) =>
      k in e ? keyPaths(v, e[k], `${at}.${k}`) : [`${at}.${k}`],
    );
  }
  return [];
}

async function waitOperation(r: Res): Promise<Record<string, unknown>> {
  const url = String(r.headers['azure-asyncoperation']);
  for (let i = 0; i < 200; i++) {
    const s = await call('GET', url);
    if (s.json.status !== 'InProgress') return s.json;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error('operation did not end');
}

async function completedJob(name: string, files: Record<string, string>): Promise<void> {
  emu.aml.scriptJob(name, { startDelayMs: 5, stepDurationMs: 10, phaseMs: 1 });
  emu.aml.setOutputs(name, undefined, { model: { files } });
  const r = await call('PUT', api(`${devId}/jobs/${name}`), {
    properties: {
      jobType: 'Command',
      command: 'python train.py',
      environmentId: `${devId}/environments/AzureML-sklearn-0.24-ubuntu18.04-py37-cpu/versions/5`,
      computeId: 'cpu-cluster',
      outputs: { model: { jobOutputType: 'mlflow_model', mode: 'Upload' } },
    },
  });
  assert.equal(r.status, 201, JSON.stringify(r.json));
  for (let i = 0; i < 200 && (emu.aml.job(name)?.body.properties as { status?: string }).status !== 'Completed'; i++)
    await new Promise((res) => setTimeout(res, 20));
}

const longUri = (job: string, output = 'model'): string =>
  `azureml://subscriptions/${seed.subscriptionId}/resourceGroups/rg-aml-dev/workspaces/mlw-dev/jobs/${job}/outputs/${output}`;

before(async () => {
  emu = await startEmulator();
  seed = emu.seedDefault();
  const dev = emu.arm.addWorkspace({
    subscriptionId: seed.subscriptionId,
    resourceGroup: 'rg-aml-dev',
    name: 'mlw-dev',
    location: 'eastus',
  });
  devId = String(dev.id);
  emu.aml.seedWorkspace(devId);
  registryId = String(
    emu.registries.add({
      subscriptionId: seed.subscriptionId,
      resourceGroup: 'rg-shared',
      name: 'mlr-shared',
      location: 'eastus',
      regions: ['westeurope'],
    }).id,
  );
  const mk = (id: string, secret: string) =>
    new ClientSecretCredential(seed.tenantId, id, secret, {
      authorityHost: emu.url,
      disableInstanceDiscovery: true,
      tlsOptions: { ca: emu.caCertPem },
    });
  token = (await mk(seed.servicePrincipals.secret.clientId, seed.servicePrincipals.secret.secret).getToken(`${emu.url}/.default`)).token;
  readerToken = (await mk(seed.servicePrincipals.reader.clientId, seed.servicePrincipals.reader.secret).getToken(`${emu.url}/.default`))
    .token;
  // The pipeline's principal: Contributor on the production group (seed) and on the development
  // workspace (it runs the job there), AzureML Registry User on the registry.
  emu.arm.grantRole(seed.servicePrincipals.secret.objectId, 'AzureML Registry User', registryId);
  emu.arm.grantRole(seed.servicePrincipals.secret.objectId, 'Contributor', devId);
  emu.registries.allowSharingFrom(devId, registryId);
  // Job outputs are written to the Azurite account of the workspace only once storage runs.
  await emu.storage.start();
  await completedJob('train_1', { MLmodel: 'flavors: {}\n', 'model.pkl': 'weights' });
});
after(() => emu.close());

describe('registry resource', () => {
  it('GET answers in the shape of Registries/get.json, with nothing the example does not have', async () => {
    const r = await call('GET', reg());
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(keysWithin(r.json, example('Registries/get.json').responses['200']!.body), []);
    const p = r.json.properties as {
      regionDetails: Array<{ location: string; storageAccountDetails: unknown[] }>;
      publicNetworkAccess: string;
    };
    assert.deepEqual(
      p.regionDetails.map((d) => d.location),
      ['eastus', 'westeurope'],
    );
    assert.equal(p.regionDetails[0]!.storageAccountDetails.length, 1);
  });

  it('does not exist before api-version 2023-04-01, and refuses an invalid name', async () => {
    const old = await call('GET', reg('', '2022-10-01'));
    assert.equal(old.status, 404);
    assert.equal((old.json.error as { code: string }).code, 'InvalidResourceType');
    const bad = await call(
      'GET',
      api(
        `/subscriptions/${seed.subscriptionId}/resourceGroups/${seed.resourceGroup}/providers/Microsoft.MachineLearningServices/registries/ml.reg`,
      ),
    );
    assert.equal(bad.status, 400);
    assert.match(message(bad), /registry name 'ml\.reg' is invalid/);
    const missing = await call(
      'GET',
      api(
        `/subscriptions/${seed.subscriptionId}/resourceGroups/${seed.resourceGroup}/providers/Microsoft.MachineLearningServices/registries/mlr-nope`,
      ),
    );
    assert.equal(missing.status, 404);
  });

  it('lists the registries of a subscription the caller can read', async () => {
    const r = await call('GET', api(`/subscriptions/${seed.subscriptionId}/providers/Microsoft.MachineLearningServices/registries`));
    assert.equal(r.status, 200);
    assert.deepEqual(
      (r.json.value as Array<{ name: string }>).map((x) => x.name),
      ['mlr-shared'],
    );
  });
});

describe('registry model versions', () => {
  it('startPendingUpload answers as createOrGetStartPendingUpload.json: a SAS on the registry storage', async () => {
    const r = await call('POST', reg('/models/taxi/versions/1/startPendingUpload'), { pendingUploadType: 'TemporaryBlobReference' });
    assert.equal(r.status, 200, JSON.stringify(r.json));
    assert.deepEqual(keysWithin(r.json, example('Registry/ModelVersion/createOrGetStartPendingUpload.json').responses['200']!.body), []);
    const ref = r.json.blobReferenceForConsumption as {
      blobUri: string;
      storageAccountArmId: string;
      credential: { credentialType: string; sasUri: string };
    };
    assert.equal(ref.credential.credentialType, 'SAS');
    assert.ok(ref.credential.sasUri.startsWith(`${ref.blobUri}?`));
    assert.match(ref.storageAccountArmId, /\/providers\/Microsoft\.Storage\/storageAccounts\//);
  });

  it('shares a job output from the workspace as a long-running PUT that copies the files; the version then reads as get.json', async () => {
    emu.registries.copyMs = 300;
    const body = {
      properties: {
        modelType: 'mlflow_model',
        modelUri: longUri('train_1'),
        tags: { stage: 'candidate' },
        properties: { 'ado.commit': 'abc' },
      },
    };
    const r = await call('PUT', reg('/models/taxi/versions/1'), body);
    assert.equal(r.status, 201, JSON.stringify(r.json));
    assert.ok(r.headers['azure-asyncoperation'], 'Azure-AsyncOperation');
    assert.equal((await call('GET', reg('/models/taxi/versions/1'))).status, 404, 'not there while the copy runs');
    assert.equal((await waitOperation(r)).status, 'Succeeded');
    emu.registries.copyMs = 60;
    const v = await call('GET', reg('/models/taxi/versions/1'));
    assert.equal(v.status, 200);
    assert.deepEqual(keysWithin(v.json, example('Registry/ModelVersion/get.json').responses['200']!.body), []);
    assert.equal(v.json.type, 'Microsoft.MachineLearningServices/registries/models/versions');
    const list = await call('GET', reg('/models/taxi/versions?tags=stage=candidate'));
    assert.deepEqual(keysWithin(list.json, example('Registry/ModelVersion/list.json').responses['200']!.body), []);
    assert.deepEqual(
      (list.json.value as Array<{ name: string }>).map((x) => x.name),
      ['1'],
    );
    // The files arrived in the registry's storage.
    const st = (
      emu.arm.resources.get(registryId)!.body.properties as {
        regionDetails: Array<{ storageAccountDetails: Array<{ systemCreatedStorageAccount: { storageAccountName: string } }> }>;
      }
    ).regionDetails[0]!.storageAccountDetails[0]!.systemCreatedStorageAccount.storageAccountName;
    const blobs = await emu.storage.listBlobs(
      emu.storage.blobUrl({ account: emu.storage.azuriteAccount(st), container: 'models', path: 'taxi/1/' }),
    );
    assert.deepEqual(blobs.map((b) => b.name).sort(), ['taxi/1/MLmodel', 'taxi/1/model.pkl']);
    // Re-PUT of the same source: 200, tags may change; another source is refused.
    const again = await call('PUT', reg('/models/taxi/versions/1'), { properties: { ...body.properties, tags: { stage: 'production' } } });
    assert.equal(again.status, 200, JSON.stringify(again.json));
    const other = await call('PUT', reg('/models/taxi/versions/1'), {
      properties: { ...body.properties, modelUri: longUri('train_1', 'other') },
    });
    assert.equal(other.status, 400);
    assert.equal(message(other), 'Asset paths cannot be updated.');
    const pending = await call('POST', reg('/models/taxi/versions/1/startPendingUpload'), {});
    assert.equal(pending.status, 400);
    assert.match(message(pending), /already exists/);
  });

  it('refuses what a registry cannot resolve: short URIs, missing jobs and outputs, unknown workspaces', async () => {
    const put = (uri: string) => call('PUT', reg('/models/bad/versions/1'), { properties: { modelType: 'custom_model', modelUri: uri } });
    assert.match(message(await put('azureml://jobs/train_1/outputs/model')), /relative to a workspace, and a registry has none/);
    assert.match(message(await put(longUri('nope'))), /job 'nope' .* was not found/);
    assert.match(message(await put(longUri('train_1', 'nothing'))), /has no output 'nothing'/);
    assert.match(
      message(
        await put(
          `azureml://subscriptions/${seed.subscriptionId}/resourceGroups/rg-aml-dev/workspaces/mlw-nope/jobs/train_1/outputs/model`,
        ),
      ),
      /workspace 'mlw-nope' .* not found/,
    );
    assert.equal(emu.registries.versions(registryId, 'bad').length, 0);
  });

  it('refuses without AzureML Registry User on the registry, and without read on the source workspace', async () => {
    const noRole = await call('PUT', reg('/models/taxi/versions/9'), { properties: { modelUri: longUri('train_1') } }, readerToken);
    assert.equal(noRole.status, 403);
    assert.match(message(noRole), /registries\/assets\/write/);
    emu.arm.rbac.revoke(seed.servicePrincipals.secret.objectId, 'Contributor', devId);
    try {
      const noRead = await call('PUT', reg('/models/taxi/versions/9'), { properties: { modelUri: longUri('train_1') } });
      assert.equal(noRead.status, 403);
      assert.match(message(noRead), /workspaces\/jobs\/read/);
    } finally {
      emu.arm.grantRole(seed.servicePrincipals.secret.objectId, 'Contributor', devId);
    }
  });

  it('refuses a workspace in a region the registry does not replicate to', async () => {
    const far = String(
      emu.arm.addWorkspace({ subscriptionId: seed.subscriptionId, resourceGroup: 'rg-aml-far', name: 'mlw-far', location: 'northeurope' })
        .id,
    );
    emu.arm.grantRole(seed.servicePrincipals.secret.objectId, 'Reader', far);
    const r = await call('PUT', reg('/models/taxi/versions/8'), {
      properties: {
        modelUri: `azureml://subscriptions/${seed.subscriptionId}/resourceGroups/rg-aml-far/workspaces/mlw-far/datastores/workspaceblobstore/paths/m/`,
      },
    });
    assert.equal(r.status, 400);
    assert.match(message(r), /region 'northeurope', which registry 'mlr-shared' does not replicate to/);
  });

  it('fails the copy when the workspace storage keeps the registry out (data exfiltration protection)', async () => {
    const st = emu.arm.resources.get(String((emu.arm.resources.get(devId)!.body.properties as { storageAccount: string }).storageAccount))!;
    const saved = JSON.stringify(st.body.properties);
    (st.body.properties as { networkAcls: { resourceAccessRules: unknown[] } }).networkAcls.resourceAccessRules = [];
    try {
      const r = await call('PUT', reg('/models/taxi/versions/7'), { properties: { modelUri: longUri('train_1') } });
      assert.equal(r.status, 201);
      const op = await waitOperation(r);
      assert.equal(op.status, 'Failed');
      assert.match(String((op.error as { message: string }).message), /network rules do not allow the registry/);
      assert.equal((await call('GET', reg('/models/taxi/versions/7'))).status, 404, 'a failed copy leaves no version');
    } finally {
      st.body.properties = JSON.parse(saved);
    }
  });
});

describe('deploying a registry model in a workspace', () => {
  it('accepts azureml://registries/... when the registry replicates to the workspace region and holds the version', async () => {
    const ep = await call('PUT', api(`${seed.workspace.id}/onlineEndpoints/taxi-reg`), {
      location: 'eastus',
      properties: { authMode: 'Key', compute: `${seed.workspace.id}/computes/aks-prod`, traffic: {} },
    });
    assert.ok(ep.status === 200 || ep.status === 201, JSON.stringify(ep.json));
    for (
      let i = 0;
      i < 100 &&
      (emu.arm.resources.get(`${seed.workspace.id}/onlineEndpoints/taxi-reg`)?.body.properties as { provisioningState?: string })
        .provisioningState !== 'Succeeded';
      i++
    )
      await new Promise((res) => setTimeout(res, 20));
    const dep = (model: string, bearer = token) =>
      call(
        'PUT',
        api(`${seed.workspace.id}/onlineEndpoints/taxi-reg/deployments/blue`),
        { location: 'eastus', properties: { endpointComputeType: 'Kubernetes', model }, sku: { capacity: 1 } },
        bearer,
      );
    assert.match(message(await dep('azureml://registries/mlr-nope/models/taxi/versions/1')), /Registry 'mlr-nope' .* not found/);
    assert.match(message(await dep('azureml://registries/mlr-shared/models/taxi/versions/42')), /taxi:42 was not found in registry/);
    const ok = await dep('azureml://registries/mlr-shared/models/taxi/versions/1');
    assert.ok(ok.status === 201 || ok.status === 200, JSON.stringify(ok.json));
  });
});
