// Online endpoints and deployments in the emulator, over raw HTTPS: what Azure ML refuses, the
// long-running operations, keys and tokens, logs, and the scoring route (auth, header, traffic).
import assert from 'node:assert/strict';
import { request as httpsRequest } from 'node:https';
import { after, before, describe, it } from 'node:test';
import { ClientSecretCredential } from '@azure/identity';
import { type Emulator, type SeedResult, startEmulator } from '../../testkit/emulator/index';

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- emulator response bodies of many shapes, read only by assertions
type Body = Record<string, any>;
interface Raw {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  json: () => Body;
}

let emu: Emulator;
let seed: SeedResult;
let token: string;

function raw(method: string, url: string, body?: unknown, headers: Record<string, string> = {}): Promise<Raw> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      new URL(url, emu.url),
      {
        method,
        headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
        ca: emu.caCertPem,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, headers: res.headers, json: () => (text ? JSON.parse(text) : {}) });
        });
      },
    );
    req.on('error', reject);
    if (body !== undefined) req.write(typeof body === 'string' ? body : JSON.stringify(body));
    req.end();
  });
}

const ws = () => seed.workspace.id;
const arm = (tail: string) => `${ws()}/${tail}?api-version=2024-04-01`;
const compute = (name: string) => `${ws()}/computes/${name}`;
const model = (v: string) => `${ws()}/models/m/versions/${v}`;
const env = () => `${ws()}/environments/taxi-train-env/versions/1`;

async function settle(r: Raw): Promise<Body> {
  const url = String(r.headers['azure-asyncoperation']);
  for (let i = 0; i < 200; i++) {
    const s = (await raw('GET', url)).json();
    if (s.status !== 'InProgress') return s;
    await new Promise((res) => setTimeout(res, 10));
  }
  throw new Error('operation did not end');
}

async function endpoint(name: string, authMode = 'Key'): Promise<void> {
  const r = await raw('PUT', arm(`onlineEndpoints/${name}`), {
    location: 'eastus',
    properties: { authMode, compute: compute('aks-prod') },
  });
  assert.equal(r.status, 201, JSON.stringify(r.json()));
  assert.equal((await settle(r)).status, 'Succeeded');
}

async function deployment(ep: string, name: string, extra: Record<string, unknown> = {}): Promise<Raw> {
  return raw('PUT', arm(`onlineEndpoints/${ep}/deployments/${name}`), {
    properties: { endpointComputeType: 'Kubernetes', model: model('1'), environmentId: env(), ...extra },
  });
}

before(async () => {
  emu = await startEmulator();
  seed = emu.seedDefault();
  emu.online.script({ endpointMs: 10, deploymentMs: 20, deleteMs: 10 });
  emu.models.add(ws(), 'm', '1', { modelType: 'custom_model' });
  emu.models.add(ws(), 'm', '2', { modelType: 'mlflow_model' });
  const cred = new ClientSecretCredential(seed.tenantId, seed.servicePrincipals.secret.clientId, seed.servicePrincipals.secret.secret, {
    authorityHost: emu.url,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: emu.caCertPem },
  });
  token = (await cred.getToken(`${emu.url}/.default`))!.token;
});
after(() => emu.close());

describe('online endpoints', () => {
  it('creates a Kubernetes endpoint as a long-running operation with both headers, moving no traffic', async () => {
    const r = await raw('PUT', arm('onlineEndpoints/ep-a'), { properties: { authMode: 'AMLToken', compute: compute('aks-prod') } });
    assert.equal(r.status, 201);
    assert.match(String(r.headers['azure-asyncoperation']), /mfeOperationsStatus/);
    assert.match(String(r.headers.location), /mfeOperationResults/);
    assert.equal(r.json().properties.provisioningState, 'Creating');
    assert.equal((await settle(r)).status, 'Succeeded');
    const got = (await raw('GET', arm('onlineEndpoints/ep-a'))).json();
    assert.equal(got.properties.provisioningState, 'Succeeded');
    assert.equal(got.properties.scoringUri, `${emu.online.url}/api/v1/endpoint/ep-a/score`);
    assert.deepEqual(got.properties.traffic, {});
  });

  it('refuses a missing or non-Kubernetes compute, a bad auth mode and a compute change', async () => {
    const put = (props: Record<string, unknown>, name = 'ep-bad') => raw('PUT', arm(`onlineEndpoints/${name}`), { properties: props });
    const missing = await put({ authMode: 'Key', compute: compute('nope') });
    assert.equal(missing.status, 400);
    assert.match(missing.json().error.message, /Compute .*nope.* was not found/);
    const aml = await put({ authMode: 'Key', compute: compute('cpu-cluster') });
    assert.match(aml.json().error.message, /is of type AmlCompute/);
    assert.match(
      (await put({ authMode: 'Anonymous', compute: compute('aks-prod') })).json().error.message,
      /authMode 'Anonymous' is invalid/,
    );
    emu.aml.addCompute(ws(), 'aks-two', { computeType: 'Kubernetes' });
    const moved = await put({ authMode: 'AMLToken', compute: compute('aks-two') }, 'ep-a');
    assert.match(moved.json().error.message, /cannot be changed/);
  });

  it('validates traffic as Azure ML does: existing, provisioned deployments, summing to 0 or 100', async () => {
    await endpoint('ep-t');
    assert.equal((await settle(await deployment('ep-t', 'blue'))).status, 'Succeeded');
    const traffic = (t: Record<string, number>) =>
      raw('PUT', arm('onlineEndpoints/ep-t'), { properties: { authMode: 'Key', compute: compute('aks-prod'), traffic: t } });
    assert.match((await traffic({ blue: 90 })).json().error.message, /must sum to 100 \(or all be 0\); they sum to 90/);
    assert.match((await traffic({ blue: 50, ghost: 50 })).json().error.message, /Deployment 'ghost' in the traffic rule does not exist/);
    // Long enough that the GET below lands while the update runs, however busy the machine.
    emu.online.script({ endpointMs: 1000, deploymentMs: 20, deleteMs: 10 });
    const ok = await traffic({ blue: 100 });
    assert.equal(ok.status, 200);
    assert.equal((await raw('GET', arm('onlineEndpoints/ep-t'))).json().properties.provisioningState, 'Updating');
    await settle(ok);
    emu.online.script({ endpointMs: 10, deploymentMs: 20, deleteMs: 10 });
    assert.deepEqual(emu.online.traffic('ep-t'), { blue: 100 });
    // PATCH takes a traffic map too (202 with Location).
    const patch = await raw('PATCH', arm('onlineEndpoints/ep-t'), { properties: { traffic: { blue: 0 } } });
    assert.equal(patch.status, 202);
    await settle(patch);
    assert.deepEqual(emu.online.trafficHistory('ep-t'), [{}, { blue: 100 }, { blue: 0 }]);
  });
});

describe('online deployments', () => {
  it('refuses a deployment whose model, environment or code does not exist, a custom model without environment, an unknown instance type', async () => {
    await endpoint('ep-d');
    const msg = async (extra: Record<string, unknown>) => (await deployment('ep-d', 'dep-x1', extra)).json().error.message as string;
    assert.match(await msg({ model: model('9') }), /Model m:9 was not found/);
    assert.match(await msg({ environmentId: `${ws()}/environments/nope/versions/1` }), /Environment nope:1 was not found/);
    assert.match(
      await msg({ environmentId: undefined }),
      /An environment is required to deploy a model that is not an MLflow or Triton model/,
    );
    assert.match(
      await msg({ codeConfiguration: { codeId: `${ws()}/codes/c/versions/1`, scoringScript: 'score.py' } }),
      /Code c:1 was not found/,
    );
    assert.match(
      await msg({ instanceType: 'gpu-big' }),
      /Instance type 'gpu-big' is not defined on the Kubernetes compute \(defined: defaultInstanceType\)/,
    );
    assert.match(await msg({ endpointComputeType: 'Managed' }), /use Kubernetes/);
    const mlflow = await deployment('ep-d', 'dep-x2', { model: model('2'), environmentId: undefined });
    assert.equal(mlflow.status, 201, 'an MLflow model needs no environment');
  });

  it('a scripted failure ends the operation Failed and leaves the deployment Failed; writes while busy get 409', async () => {
    await endpoint('ep-f');
    emu.online.scriptDeployment('broken', { createMs: 100, fail: { code: 'ResourceNotReady', message: 'CrashLoopBackOff' } });
    const r = await deployment('ep-f', 'broken');
    const busy = await raw('DELETE', arm('onlineEndpoints/ep-f/deployments/broken'));
    assert.equal(busy.status, 409);
    const op = await settle(r);
    assert.deepEqual([op.status, op.error.code, op.error.message], ['Failed', 'ResourceNotReady', 'CrashLoopBackOff']);
    assert.equal((await raw('GET', arm('onlineEndpoints/ep-f/deployments/broken'))).json().properties.provisioningState, 'Failed');
    const logs = await raw('POST', arm('onlineEndpoints/ep-f/deployments/broken/getLogs'), { containerType: 'InferenceServer', tail: 2 });
    assert.equal(logs.json().content, 'Error: CrashLoopBackOff\nWorker exited with code 1');
  });

  it('refuses to delete a deployment that has traffic; deleting at 0% removes it from the map', async () => {
    await endpoint('ep-x');
    await settle(await deployment('ep-x', 'blue'));
    await settle(
      await raw('PUT', arm('onlineEndpoints/ep-x'), {
        properties: { authMode: 'Key', compute: compute('aks-prod'), traffic: { blue: 100 } },
      }),
    );
    const refused = await raw('DELETE', arm('onlineEndpoints/ep-x/deployments/blue'));
    assert.equal(refused.status, 400);
    assert.match(refused.json().error.message, /has 100% of the traffic/);
    await settle(
      await raw('PUT', arm('onlineEndpoints/ep-x'), {
        properties: { authMode: 'Key', compute: compute('aks-prod'), traffic: { blue: 0 } },
      }),
    );
    const del = await raw('DELETE', arm('onlineEndpoints/ep-x/deployments/blue'));
    assert.equal(del.status, 202);
    await settle(del);
    assert.equal((await raw('GET', arm('onlineEndpoints/ep-x/deployments/blue'))).status, 404);
    assert.deepEqual(emu.online.traffic('ep-x'), {});
  });
});

describe('keys, tokens and scoring', () => {
  const score = (ep: string, auth: string | undefined, deployment?: string) =>
    raw(
      'POST',
      `${emu.online.url}/api/v1/endpoint/${ep}/score`,
      { data: [1] },
      { authorization: auth ?? '', ...(deployment ? { 'azureml-model-deployment': deployment } : {}) },
    );

  it('listKeys for Key endpoints, the token API for AMLToken ones; both are recorded as secrets', async () => {
    await endpoint('ep-k');
    const keys = (await raw('POST', arm('onlineEndpoints/ep-k/listKeys'))).json();
    assert.ok(keys.primaryKey && keys.secondaryKey);
    assert.ok(emu.secrets().includes(keys.primaryKey));
    assert.match(
      (await raw('POST', arm('onlineEndpoints/ep-k/token'))).json().error.message,
      /only available for endpoints with authMode AMLToken/,
    );
    const t = (await raw('POST', arm('onlineEndpoints/ep-a/token'))).json();
    assert.equal(t.tokenType, 'Bearer');
    assert.ok(emu.secrets().includes(t.accessToken));
    assert.match(
      (await raw('POST', arm('onlineEndpoints/ep-a/listKeys'))).json().error.message,
      /only available for endpoints with authMode Key/,
    );
    await settle(await deployment('ep-a', 'only', { model: model('2'), environmentId: undefined }));
    assert.equal((await score('ep-a', `Bearer ${t.accessToken}`, 'only')).status, 200);
    assert.equal((await score('ep-a', `Bearer ${keys.primaryKey}`, 'only')).status, 401, "another endpoint's key");
  });

  it('scoring checks the key, honours the deployment header, and otherwise follows the traffic split', async () => {
    await endpoint('ep-s');
    await settle(await deployment('ep-s', 'blue'));
    await settle(await deployment('ep-s', 'green'));
    emu.online.scoring('green', (q) => ({ status: 200, body: { from: 'green', n: q.n } }));
    await settle(
      await raw('PUT', arm('onlineEndpoints/ep-s'), {
        properties: { authMode: 'Key', compute: compute('aks-prod'), traffic: { blue: 90, green: 10 } },
      }),
    );
    const key = emu.online.keysOf('ep-s')!.primaryKey;
    assert.equal((await score('ep-s', undefined)).status, 401);
    assert.equal((await score('ep-s', 'Bearer wrong')).status, 401);
    const direct = await score('ep-s', `Bearer ${key}`, 'green');
    assert.deepEqual(direct.json(), { from: 'green', n: 1 });
    assert.equal(direct.headers['azureml-model-deployment'], 'green');
    assert.equal((await score('ep-s', `Bearer ${key}`, 'ghost')).status, 404);
    const served: string[] = [];
    for (let i = 0; i < 20; i++) served.push(String((await score('ep-s', `Bearer ${key}`)).headers['azureml-model-deployment']));
    assert.deepEqual([served.filter((s) => s === 'blue').length, served.filter((s) => s === 'green').length], [18, 2]);
    const log = emu.online.scoringLog.filter((l) => l.endpoint === 'ep-s' && l.status === 200);
    assert.equal(log.filter((l) => l.routedBy === 'header').length, 1);
  });
});
