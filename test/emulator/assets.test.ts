// Workspace assets, code upload to Azurite, pipeline jobs and the data plane, exercised with the
// clients the tasks use: @azure/arm-machinelearning for ARM, @azure/storage-blob for uploads,
// raw HTTPS for startPendingUpload (api-version 2024-04-01), run history and MLflow.
// In-process clients get the emulator CA explicitly (see emulator.test.ts); storage-blob through
// storagePipeline(emu.caCertPem).
import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { AzureMachineLearningWorkspaces, type PipelineJob } from '@azure/arm-machinelearning';
import { ClientSecretCredential } from '@azure/identity';
import { ContainerClient } from '@azure/storage-blob';
import { type Emulator, type SeedResult, TERMINAL_STATUSES, startEmulator, storagePipeline } from '../../testkit/emulator/index';
import { rawRequest, type RawResponse } from '../../testkit/emulator/raw';

let emu: Emulator;
let seed: SeedResult;
let client: AzureMachineLearningWorkspaces;
let token: string;

function raw(method: string, url: string, opts: { token?: string; body?: unknown } = {}): Promise<RawResponse> {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (opts.token) headers.authorization = `Bearer ${opts.token}`;
  return rawRequest(emu.url, emu.caCertPem, method, url, {
    headers,
    ...(opts.body === undefined ? {} : { body: JSON.stringify(opts.body) }),
  });
}

const wsId = (): string => seed.workspace.id;
const armPath = (tail: string, apiVersion = '2024-04-01'): string => `${wsId()}/${tail}?api-version=${apiVersion}`;

function credential(
  clientId = seed.servicePrincipals.secret.clientId,
  secret = seed.servicePrincipals.secret.secret,
): ClientSecretCredential {
  return new ClientSecretCredential(seed.tenantId, clientId, secret, {
    authorityHost: emu.url,
    disableInstanceDiscovery: true,
    tlsOptions: { ca: emu.caCertPem },
  });
}

async function until<T>(what: string, fn: () => T | undefined | Promise<T | undefined>, timeoutMs = 5000): Promise<T> {
  const end = Date.now() + timeoutMs;
  for (;;) {
    const v = await fn();
    if (v !== undefined && v !== false) return v;
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

async function expectAmlError(p: Promise<unknown>, status: number, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: { statusCode?: number; code?: string; message?: string }) => {
    assert.equal(e.statusCode, status, e.message);
    assert.match(String(e.message), message);
    return true;
  });
}

/** Uploads a small code folder through startPendingUpload and registers it; returns the code version's ARM id. */
async function uploadCode(name: string, files: Record<string, string>): Promise<{ id: string; blobUri: string; sasUri: string }> {
  const pending = await raw('POST', armPath(`codes/${name}/versions/1/startPendingUpload`), {
    token,
    body: { pendingUploadType: 'TemporaryBlobReference' },
  });
  assert.equal(pending.status, 200, pending.text);
  const ref = pending.json().blobReferenceForConsumption as { blobUri: string; credential: { sasUri: string } };
  const container = new ContainerClient(ref.credential.sasUri, storagePipeline(emu.caCertPem));
  for (const [file, content] of Object.entries(files))
    await container.getBlockBlobClient(`src/${file}`).upload(content, Buffer.byteLength(content));
  const code = await client.codeVersions.createOrUpdate(seed.resourceGroup, seed.workspace.name, name, '1', {
    properties: { codeUri: `${ref.blobUri}/src`, isAnonymous: true },
  });
  return { id: String(code.id), blobUri: ref.blobUri, sasUri: ref.credential.sasUri };
}

const envId = (name = 'AzureML-sklearn-0.24-ubuntu18.04-py37-cpu', version = '5'): string =>
  `azureml:${wsId()}/environments/${name}/versions/${version}`;

async function component(
  name: string,
  codeId: string,
  outputs: Record<string, unknown>,
  inputs: Record<string, unknown> = {},
): Promise<string> {
  const c = await client.componentVersions.createOrUpdate(seed.resourceGroup, seed.workspace.name, name, '1', {
    properties: {
      componentSpec: {
        name,
        type: 'command',
        code: `azureml:${codeId}`,
        environment: envId(),
        inputs,
        outputs,
        command: `python ${name}.py ${Object.keys(inputs)
          .map((i) => `--${i} \${{inputs.${i}}}`)
          .join(' ')} ${Object.keys(outputs)
          .map((o) => `--${o} \${{outputs.${o}}}`)
          .join(' ')}`,
      },
    },
  });
  return String(c.id);
}

function twoStepPipeline(trainId: string, evalId: string, extra: Partial<PipelineJob> = {}): PipelineJob {
  return {
    jobType: 'Pipeline',
    experimentName: 'taxi-fare-training',
    displayName: 'train and evaluate',
    tags: { 'ado.run': '42' },
    inputs: { learning_rate: { jobInputType: 'literal', value: '0.01' } },
    outputs: { trained_model: { jobOutputType: 'uri_folder', mode: 'Upload' } },
    settings: { default_compute: `${wsId()}/computes/cpu-cluster` },
    jobs: {
      train: {
        type: 'command',
        componentId: trainId,
        inputs: { learning_rate: { job_input_type: 'literal', value: '${{parent.inputs.learning_rate}}' } },
        outputs: { model_output: { type: 'literal', value: '${{parent.outputs.trained_model}}' } },
      },
      evaluate: {
        type: 'command',
        display_name: 'evaluate-model',
        componentId: evalId,
        inputs: { model_input: { job_input_type: 'literal', value: '${{parent.jobs.train.outputs.model_output}}' } },
      },
    },
    ...extra,
  };
}

let trainId = '';
let evalId = '';

before(async () => {
  emu = await startEmulator();
  seed = emu.seedDefault();
  emu.arm.lro.defaultRetryAfterSeconds = 0;
  client = new AzureMachineLearningWorkspaces(credential(), seed.subscriptionId, {
    endpoint: emu.url,
    credentialScopes: [`${emu.url}/.default`],
    tlsOptions: { ca: emu.caCertPem },
  });
  token = (await credential().getToken(`${emu.url}/.default`)).token;
});

after(async () => {
  await emu.close();
});

afterEach(() => {
  emu.faults.clear();
  emu.storage.faults.clear();
});

describe('code upload and assets', () => {
  it('hands out a container SAS through startPendingUpload, stores the upload in Azurite and registers the code version', async () => {
    const old = await raw('POST', armPath('codes/c0/versions/1/startPendingUpload', '2022-10-01'), { token, body: {} });
    assert.equal(old.status, 404, 'startPendingUpload does not exist before 2023-04-01');

    const mark = emu.storage.mark();
    const code = await uploadCode('code-train', { 'train.py': 'print("train")\n', 'lib/util.py': 'X = 1\n' });
    assert.match(code.blobUri, new RegExp(`^${emu.storage.url}/st[a-z0-9]+/5a1b2c3d-0-[0-9a-f-]{36}$`));
    assert.ok(emu.secrets().includes(new URL(code.sasUri).search.slice(1)), 'the SAS is a registered secret');
    assert.equal(new URL(code.sasUri).searchParams.get('sr'), 'c');
    assert.deepEqual((await emu.storage.listBlobs(`${code.blobUri}/src`)).map((b) => b.name).sort(), ['src/lib/util.py', 'src/train.py']);
    assert.equal(emu.storage.bytesUploaded(mark), Buffer.byteLength('print("train")\n') + Buffer.byteLength('X = 1\n'));
    assert.ok(!JSON.stringify(emu.storage.requests).includes('sig='), 'the storage log holds no SAS');

    const got = await client.codeVersions.get(seed.resourceGroup, seed.workspace.name, 'code-train', '1');
    assert.equal(got.properties.codeUri, `${code.blobUri}/src`);
    assert.equal(got.name, '1');
    // The same PUT again is fine; another path for the same version is refused as Azure ML does.
    await client.codeVersions.createOrUpdate(seed.resourceGroup, seed.workspace.name, 'code-train', '1', {
      properties: { codeUri: `${code.blobUri}/src`, isAnonymous: true },
    });
    await expectAmlError(
      client.codeVersions.createOrUpdate(seed.resourceGroup, seed.workspace.name, 'code-train', '1', {
        properties: { codeUri: `${code.blobUri}/other` },
      }),
      400,
      /^Asset paths cannot be updated\.$/,
    );
    await expectAmlError(
      client.codeVersions.createOrUpdate(seed.resourceGroup, seed.workspace.name, 'code-empty', '1', {
        properties: { codeUri: `${code.blobUri}/nothing-here` },
      }),
      400,
      /does not point to any uploaded file/,
    );
    await assert.rejects(
      client.codeVersions.get(seed.resourceGroup, seed.workspace.name, 'code-train', '9'),
      (e: { statusCode?: number }) => e.statusCode === 404,
    );
    const container = await client.codeContainers.get(seed.resourceGroup, seed.workspace.name, 'code-train');
    assert.equal(container.properties.latestVersion, '1');
    assert.equal(container.properties.nextVersion, '2');
  });

  it('refuses a component whose code or environment does not exist, and resolves @latest like the SDK does', async () => {
    const missing = `${wsId()}/codes/not-uploaded/versions/1`;
    await expectAmlError(
      client.componentVersions.createOrUpdate(seed.resourceGroup, seed.workspace.name, 'train', '1', {
        properties: { componentSpec: { type: 'command', command: 'python train.py', code: `azureml:${missing}`, environment: envId() } },
      }),
      400,
      /code asset 'not-uploaded:1'.*was not found/,
    );
    await expectAmlError(
      client.componentVersions.createOrUpdate(seed.resourceGroup, seed.workspace.name, 'train', '1', {
        properties: { componentSpec: { type: 'command', command: 'python train.py', environment: envId('no-such-env', '1') } },
      }),
      400,
      /environment asset 'no-such-env:1'/,
    );
    await expectAmlError(
      client.componentVersions.createOrUpdate(seed.resourceGroup, seed.workspace.name, 'train', '1', {
        properties: { componentSpec: { type: 'command', command: 'python train.py --x ${{inputs.x}}', environment: envId() } },
      }),
      400,
      /declares no input 'x'/,
    );
    const latest = [];
    for await (const v of client.environmentVersions.list(
      seed.resourceGroup,
      seed.workspace.name,
      'AzureML-sklearn-0.24-ubuntu18.04-py37-cpu',
      { orderBy: 'createdtime desc', top: 1 },
    ))
      latest.push(v.name);
    assert.deepEqual(latest, ['5']);
    const env = await client.environmentVersions.get(seed.resourceGroup, seed.workspace.name, 'taxi-train-env', '1');
    assert.match(String(env.properties.image), /^mcr\.microsoft\.com\/azureml\//);
    await expectAmlError(
      client.environmentVersions.createOrUpdate(seed.resourceGroup, seed.workspace.name, 'no-image', '1', {
        properties: { condaFile: 'x: 1' },
      }),
      400,
      /needs properties\.image/,
    );

    const code = await uploadCode('code-pipeline', { 'train.py': 'print(1)\n', 'evaluate.py': 'print(2)\n' });
    trainId = await component('train', code.id, { model_output: { type: 'uri_folder' } }, { learning_rate: { type: 'number' } });
    evalId = await component('evaluate', code.id, { score_report: { type: 'uri_folder' } }, { model_input: { type: 'uri_folder' } });
    const computes = [];
    for await (const c of client.computeOperations.list(seed.resourceGroup, seed.workspace.name))
      computes.push(`${c.name}:${c.properties?.computeType}`);
    assert.deepEqual(computes.sort(), ['aks-prod:Kubernetes', 'cpu-cluster:AmlCompute', 'gpu-cluster:AmlCompute']);
    const ds = await client.datastores.get(seed.resourceGroup, seed.workspace.name, 'workspaceblobstore');
    assert.equal(ds.properties.isDefault, true);
    assert.equal((ds.properties as { containerName?: string }).containerName, `azureml-blobstore-${seed.workspace.workspaceGuid}`);
  });
});

describe('pipeline jobs', () => {
  it('validates compute, bindings and re-submission like Azure ML', async () => {
    await expectAmlError(
      client.jobs.createOrUpdate(seed.resourceGroup, seed.workspace.name, 'bad-compute', {
        properties: twoStepPipeline(trainId, evalId, { settings: { default_compute: `${wsId()}/computes/gpu-clusterx` } }),
      }),
      400,
      /compute 'gpu-clusterx' was not found/,
    );
    const badBinding = twoStepPipeline(trainId, evalId);
    (badBinding.jobs as Record<string, { inputs: Record<string, unknown> }>).evaluate.inputs.model_input = {
      job_input_type: 'literal',
      value: '${{parent.jobs.train.outputs.model}}',
    };
    await expectAmlError(
      client.jobs.createOrUpdate(seed.resourceGroup, seed.workspace.name, 'bad-binding', { properties: badBinding }),
      400,
      /step 'train' has no output 'model'\. Its outputs: model_output/,
    );
    assert.ok(!emu.aml.job('bad-compute') && !emu.aml.job('bad-binding'), 'refused jobs are not created');

    emu.aml.scriptJob('resubmit', { stepDurationMs: Infinity });
    const created = await client.jobs.createOrUpdate(seed.resourceGroup, seed.workspace.name, 'resubmit', {
      properties: twoStepPipeline(trainId, evalId),
    });
    assert.equal(created.properties.status, 'NotStarted');
    assert.match(
      String(created.properties.services?.Studio?.endpoint),
      /^https:\/\/ml\.azure\.com\/runs\/resubmit\?wsid=\/subscriptions\/.+\/resourcegroups\/rg-aml-prod\/workspaces\/mlw-prod&tid=/,
    );
    const retag = await client.jobs.createOrUpdate(seed.resourceGroup, seed.workspace.name, 'resubmit', {
      properties: { ...twoStepPipeline(trainId, evalId), tags: { more: 'yes' } },
    });
    assert.deepEqual(retag.properties.tags, { more: 'yes' });
    await expectAmlError(
      client.jobs.createOrUpdate(seed.resourceGroup, seed.workspace.name, 'resubmit', {
        properties: twoStepPipeline(trainId, evalId, { inputs: { learning_rate: { jobInputType: 'literal', value: '0.5' } } }),
      }),
      400,
      /^A job with this name already exists\. If you are trying to create a new job, use a different name\. If you are trying to update an existing job, the existing job's Inputs cannot be changed\./,
    );
    await client.jobs.beginCancelAndWait(seed.resourceGroup, seed.workspace.name, 'resubmit', { updateIntervalInMs: 10 });
  });

  it('runs a scripted pipeline to Completed, one step run per step in dependency order', async () => {
    emu.aml.scriptJob('ok-run', { startDelayMs: 5, stepDurationMs: 30, phaseMs: 2 });
    emu.aml.setMetrics('ok-run', 'evaluate', { auc: [0.88, 0.91], rmse: [3.0, 2.9] });
    emu.aml.setOutputs('ok-run', 'train', { model_output: { files: { MLmodel: 'flavors: {}\n', 'model.pkl': 'bytes' } } });
    await client.jobs.createOrUpdate(seed.resourceGroup, seed.workspace.name, 'ok-run', { properties: twoStepPipeline(trainId, evalId) });
    const done = await until('ok-run terminal', async () => {
      const j = await client.jobs.get(seed.resourceGroup, seed.workspace.name, 'ok-run');
      return TERMINAL_STATUSES.has(String(j.properties.status)) ? j : undefined;
    });
    assert.equal(done.properties.status, 'Completed');
    const t = emu.aml.transitions.filter((x) => x.job === 'ok-run');
    assert.deepEqual(
      t.filter((x) => !x.step).map((x) => x.status),
      ['NotStarted', 'Running', 'Completed'],
    );
    assert.deepEqual(
      t.filter((x) => x.step === 'train').map((x) => x.status),
      ['NotStarted', 'Queued', 'Preparing', 'Running', 'Finalizing', 'Completed'],
    );
    const trainDone = t.findIndex((x) => x.step === 'train' && x.status === 'Completed');
    const evalStart = t.findIndex((x) => x.step === 'evaluate');
    assert.ok(trainDone < evalStart, 'evaluate starts after train completed');
    assert.equal(emu.aml.terminalAt('ok-run'), t.at(-1)?.time);
    const [train, evaluate] = emu.aml.children('ok-run');
    assert.equal(evaluate.displayName, 'evaluate-model');
    const modelFolder = await emu.aml.datastoreUrl(wsId(), train.outputs.model_output);
    assert.ok(modelFolder);
    const blobs = await emu.storage.listBlobs(modelFolder);
    assert.deepEqual(blobs.map((b) => b.name.split('/').pop()).sort(), ['MLmodel', 'model.pkl']);
    const parentOut = (done.properties as PipelineJob).outputs?.trained_model as { uri?: string } | undefined;
    assert.equal(parentOut?.uri, train.outputs.model_output, 'the pipeline output is the bound step output');
  });

  it('fails the pipeline when a step fails, with the step error in run history', async () => {
    emu.aml.scriptJob('bad-run', {
      startDelayMs: 5,
      stepDurationMs: 20,
      phaseMs: 2,
      fail: { step: 'train', code: 'UserError', message: 'ValueError: learning rate must be positive' },
    });
    await client.jobs.createOrUpdate(seed.resourceGroup, seed.workspace.name, 'bad-run', { properties: twoStepPipeline(trainId, evalId) });
    await until('bad-run terminal', () => emu.aml.terminalAt('bad-run'));
    assert.equal((await client.jobs.get(seed.resourceGroup, seed.workspace.name, 'bad-run')).properties.status, 'Failed');
    assert.deepEqual(
      emu.aml.children('bad-run').map((r) => `${r.step}:${r.status}`),
      ['train:Failed'],
      'evaluate never starts',
    );

    const disc = await raw('GET', String((await client.workspaces.get(seed.resourceGroup, seed.workspace.name)).discoveryUrl));
    assert.equal(disc.status, 200);
    const history = `${String(disc.json().history)}/history/v1.0${wsId()}/runs`;
    const parent = (await raw('GET', `${history}/bad-run`, { token })).json();
    assert.equal(parent.status, 'Failed');
    assert.match(
      String((parent.error as { error: { message: string } }).error.message),
      /^Pipeline has failed child jobs\. Failed nodes: \/train\./,
    );
    const kids = (await raw('GET', `${history}/bad-run/children`, { token })).json().value as Array<Record<string, unknown>>;
    assert.equal(kids.length, 1);
    assert.equal(kids[0].parentRunId, 'bad-run');
    assert.equal(kids[0].displayName, 'train');
    assert.match(String((kids[0].properties as Record<string, string>)['azureml.nodeid']), /^[0-9a-f]{8}$/);
    assert.deepEqual((kids[0].error as { error: { code: string; message: string } }).error, {
      ...(kids[0].error as { error: object }).error,
      code: 'UserError',
      message: 'ValueError: learning rate must be positive',
    });
  });

  it('cancels a running job as a long-running operation; its steps end Canceled', async () => {
    emu.aml.scriptJob('long-run', { startDelayMs: 5, stepDurationMs: Infinity, phaseMs: 2, cancelDelayMs: 30 });
    await client.jobs.createOrUpdate(seed.resourceGroup, seed.workspace.name, 'long-run', { properties: twoStepPipeline(trainId, evalId) });
    await until('train running', () => emu.aml.children('long-run').find((r) => r.status === 'Running'));
    const start = Date.now();
    const poller = await client.jobs.beginCancel(seed.resourceGroup, seed.workspace.name, 'long-run', { updateIntervalInMs: 10 });
    assert.equal((await client.jobs.get(seed.resourceGroup, seed.workspace.name, 'long-run')).properties.status, 'CancelRequested');
    await poller.pollUntilDone();
    assert.ok(Date.now() - start >= 25, 'the operation ends when the job is canceled');
    assert.equal((await client.jobs.get(seed.resourceGroup, seed.workspace.name, 'long-run')).properties.status, 'Canceled');
    assert.deepEqual(
      emu.aml.children('long-run').map((r) => `${r.step}:${r.status}`),
      ['train:Canceled'],
    );
    assert.ok(emu.requests.some((r) => r.method === 'POST' && r.path.endsWith('/jobs/long-run/cancel') && r.status === 202));
    assert.ok(emu.requests.some((r) => r.path.includes('/mfeOperationResults/') && r.status === 204));
    await expectAmlError(
      client.jobs.beginCancelAndWait(seed.resourceGroup, seed.workspace.name, 'long-run'),
      400,
      /status Canceled and cannot be canceled/,
    );
  });
});

describe('data plane', () => {
  it('serves run history and MLflow metrics at the URLs the workspace advertises, to ARM tokens with read access', async () => {
    const ws = await client.workspaces.get(seed.resourceGroup, seed.workspace.name);
    assert.equal(ws.discoveryUrl, `${emu.url}/discovery`);
    assert.equal(ws.mlFlowTrackingUri, `azureml://${new URL(emu.url).host}/mlflow/v1.0${wsId()}`);
    const tracking = String(ws.mlFlowTrackingUri).replace(/^azureml:/, 'https:');
    const mlflow = `${tracking}/api/2.0/mlflow`;

    const parent = (await raw('GET', `${mlflow}/runs/get?run_id=ok-run`, { token })).json().run as { info: Record<string, unknown> };
    assert.equal(parent.info.status, 'FINISHED');
    assert.equal(parent.info.run_name, 'train and evaluate');
    const search = await raw('POST', `${mlflow}/runs/search`, {
      token,
      body: { experiment_ids: [parent.info.experiment_id], filter: "tags.mlflow.parentRunId = 'ok-run'" },
    });
    assert.equal(search.status, 200, search.text);
    const steps = search.json().runs as Array<{
      info: { run_id: string; run_name: string };
      data: { metrics?: Array<{ key: string; value: number }> };
    }>;
    assert.deepEqual(steps.map((r) => r.info.run_name).sort(), ['evaluate-model', 'train']);
    const evaluate = steps.find((r) => r.info.run_name === 'evaluate-model');
    assert.deepEqual(evaluate?.data.metrics?.map((m) => `${m.key}=${m.value}`).sort(), ['auc=0.91', 'rmse=2.9']);
    const hist = (await raw('GET', `${mlflow}/metrics/get-history?run_id=${evaluate?.info.run_id}&metric_key=auc`, { token })).json();
    assert.deepEqual(
      (hist.metrics as Array<{ value: number; step: number }>).map((m) => [m.step, m.value]),
      [
        [0, 0.88],
        [1, 0.91],
      ],
    );
    assert.deepEqual(
      (await raw('GET', `${mlflow}/metrics/get-history?run_id=${evaluate?.info.run_id}&metric_key=f1`, { token })).json(),
      {},
    );
    const missing = await raw('GET', `${mlflow}/runs/get?run_id=nope`, { token });
    assert.deepEqual([missing.status, missing.json().error_code], [404, 'RESOURCE_DOES_NOT_EXIST']);
    const badFilter = await raw('POST', `${mlflow}/runs/search`, {
      token,
      body: { experiment_ids: [parent.info.experiment_id], filter: 'tags.x ~ 1' },
    });
    assert.deepEqual([badFilter.status, badFilter.json().error_code], [400, 'INVALID_PARAMETER_VALUE']);

    const reader = (
      await credential(seed.servicePrincipals.reader.clientId, seed.servicePrincipals.reader.secret).getToken(`${emu.url}/.default`)
    ).token;
    assert.equal(
      (await raw('GET', `${emu.url}/history/v1.0${wsId()}/runs/ok-run/children`, { token: reader })).status,
      200,
      'Reader can read runs',
    );
    const anonymous = await raw('GET', `${emu.url}/history/v1.0${wsId()}/runs/ok-run`);
    assert.equal(anonymous.status, 401);
    const sp = emu.entra.addServicePrincipal({
      tenantId: seed.tenantId,
      displayName: 'no-role-dp',
      secret: 'no-role-dp-secret-0123456789abcdef',
    });
    const noRole = (await credential(sp.clientId, 'no-role-dp-secret-0123456789abcdef').getToken(`${emu.url}/.default`)).token;
    const denied = await raw('GET', `${mlflow}/runs/get?run_id=ok-run`, { token: noRole });
    assert.deepEqual([denied.status, denied.json().error_code], [403, 'PERMISSION_DENIED']);

    emu.aml.dataPlane.childrenPageSize = 1;
    try {
      const first = (await raw('GET', `${emu.url}/history/v1.0${wsId()}/runs/ok-run/children`, { token })).json();
      assert.equal((first.value as unknown[]).length, 1);
      const second = (await raw('GET', String(first.nextLink), { token })).json();
      assert.equal((second.value as unknown[]).length, 1);
      assert.equal(second.nextLink, null);
    } finally {
      emu.aml.dataPlane.childrenPageSize = 100;
    }
    // Faults and the request log cover the data plane too.
    emu.faults.add({ path: '/history/v1.0/', kind: 'status', status: 503 });
    assert.equal((await raw('GET', `${emu.url}/history/v1.0${wsId()}/runs/ok-run`, { token })).status, 503);
    assert.equal((await raw('GET', `${emu.url}/history/v1.0${wsId()}/runs/ok-run`, { token })).status, 200);
    assert.ok(emu.requests.some((r) => r.path === `/history/v1.0${wsId()}/runs/ok-run` && r.fault === 'status'));
  });

  it('injects storage faults and counts re-uploads', async () => {
    const pending = await raw('POST', armPath('codes/code-retry/versions/1/startPendingUpload'), {
      token,
      body: { pendingUploadType: 'TemporaryBlobReference' },
    });
    const sasUri = (pending.json().blobReferenceForConsumption as { credential: { sasUri: string } }).credential.sasUri;
    const fault = emu.storage.faults.add({ path: '/src/a.py', kind: 'status', status: 503 });
    const mark = emu.storage.mark();
    await new ContainerClient(sasUri, storagePipeline(emu.caCertPem)).getBlockBlobClient('src/a.py').upload('abc', 3);
    assert.equal(fault.hits, 1);
    assert.deepEqual(
      emu.storage.requests.slice(mark).map((r) => r.status),
      [503, 201],
    );
    assert.equal(emu.storage.bytesUploaded(mark), 3);
  });
});
