/**
 * Agent-level tests of AmlAksDeploy@1 against the emulator: a first deploy on a new endpoint,
 * blue/green replacement, a staged rollout with the traffic history seen by the service, every
 * failure path (an operation failing in Azure, a failing smoke test, 5xx during a traffic shift,
 * a cancelled run) ending in the exact previous traffic with no leftover deployment, bad input
 * refused before anything is created, and no key or token in any output.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { scratch } from '../../testkit/pipeline-sample';
import type { TaskRun } from '../../testkit/harness';
import { assertNoLeaks, describe, startWorld, workspaceInputs, type World, type WorldRunOptions } from '../../testkit/world';

let w: World;
let repo: string;
let wsId: string;
const modelId = (name: string, v: string) => `${wsId}/models/${name}/versions/${v}`;

before(async () => {
  w = await startWorld();
  wsId = w.seed.workspace.id;
  w.emu.online.script({ endpointMs: 30, deploymentMs: 60, deleteMs: 30, retryAfterSeconds: 0 });
  for (const v of ['5', '6', '7', '8']) w.emu.models.add(wsId, 'taxi-fare', v, { modelType: 'mlflow_model' });
  w.emu.models.add(wsId, 'credit-risk', '3', { modelType: 'custom_model' });
  // A repository checkout: smoke request, a broken one, a deployment file with code and conda.
  repo = scratch({
    'deploy/sample-request.json': JSON.stringify({ data: [[1, 2, 3, 4]] }),
    'deploy/broken-request.json': '{"data": [[1, 2, 3,',
    'deploy/score/score.py': 'def init():\n    pass\n\ndef run(raw):\n    return [0.42]\n',
    'deploy/conda.yml': 'dependencies:\n  - python=3.10\n  - pip:\n    - azureml-inference-server-http\n',
    'deploy/deployment.yml': [
      '$schema: https://azuremlschemas.azureedge.net/latest/kubernetesOnlineDeployment.schema.json',
      'name: ignored-by-input',
      'type: kubernetes',
      'endpoint_name: somewhere-else',
      'model: azureml:other:1',
      'code_configuration:',
      '  code: ./score',
      '  scoring_script: score.py',
      'environment:',
      '  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest',
      '  conda_file: ./conda.yml',
      'instance_count: 2',
      'request_settings:',
      '  request_timeout_ms: 3000',
      '  max_concurrent_requests_per_instance: 4',
      'liveness_probe:',
      '  initial_delay: 10',
      '  period: 5',
      'resources:',
      '  requests:',
      '    cpu: "0.5"',
      '    memory: 1Gi',
      'environment_variables:',
      '  WORKERS: "2"',
      'tags:',
      '  team: pricing',
      '',
    ].join('\n'),
    // Deployment files the bad-input tests refuse.
    'deploy/unknown-key.yml': 'name: blue\ninstance_count: 1\nreplicas: 3\n',
    'deploy/managed.yml': '$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json\nname: blue\n',
  });
});
after(() => w.close());

function run(inputs: Record<string, string>, more: WorldRunOptions = {}): Promise<TaskRun> {
  return w.run('AmlAksDeploy', {
    connection: 'wif',
    inputs: {
      ...workspaceInputs(w.seed),
      computeName: 'aks-prod',
      model: 'taxi-fare:7',
      stepWaitSeconds: '0',
      smokeTestFile: 'deploy/sample-request.json',
      ...inputs,
    },
    sources: repo,
    ...more,
  });
}

/** An endpoint that already serves `traffic` from deployments of taxi-fare versions. */
function existing(name: string, deployments: Record<string, { version: string; traffic: number }>): Record<string, number> {
  w.emu.online.addEndpoint(wsId, name, {
    compute: 'aks-prod',
    deployments: Object.entries(deployments).map(([d, x]) => ({ name: d, model: modelId('taxi-fare', x.version), traffic: x.traffic })),
  });
  return w.emu.online.traffic(name);
}

const deploymentNames = (endpoint: string) =>
  w.emu.online
    .deployments(endpoint)
    .map((d) => String(d.name))
    .sort();
const armWrites = (since: number) =>
  w.emu.requests.slice(since).filter((q) => q.service === 'arm' && q.method !== 'GET' && !/\/(listKeys|token|getLogs)$/.test(q.path));

test('first deploy: creates the endpoint on the Kubernetes compute, smoke-tests the deployment alone, gives it 100%', async () => {
  const r = await run({ endpointName: 'taxi-first' });
  assert.equal(r.result, 'Succeeded', describe(r));
  const ep = w.emu.online.endpoint('taxi-first')!;
  const props = ep.properties as Record<string, unknown>;
  assert.equal(props.compute, `${wsId}/computes/aks-prod`);
  assert.equal(props.authMode, 'Key');
  assert.deepEqual(w.emu.online.traffic('taxi-first'), { 'taxi-fare-v7': 100 });
  assert.deepEqual(deploymentNames('taxi-first'), ['taxi-fare-v7']);
  const dep = w.emu.online.deployments('taxi-first')[0]!;
  assert.equal((dep.properties as Record<string, unknown>).model, modelId('taxi-fare', '7'));
  assert.equal((dep.tags as Record<string, string>)['ado.runId'], '4711');
  assert.deepEqual(r.outputs, {
    endpointName: 'taxi-first',
    deploymentName: 'taxi-fare-v7',
    previousDeployment: '',
    scoringUri: `${w.emu.online.url}/api/v1/endpoint/taxi-first/score`,
  });
  // Creating the endpoint moved no traffic; the only change was to 100% after the smoke test.
  assert.deepEqual(w.emu.online.trafficHistory('taxi-first'), [{}, { 'taxi-fare-v7': 100 }]);
  const smoke = w.emu.online.scoringLog.filter((s) => s.endpoint === 'taxi-first');
  assert.ok(
    smoke.length >= 2 && smoke.every((s) => s.routedBy === 'header' && s.deployment === 'taxi-fare-v7' && s.status === 200),
    JSON.stringify(smoke),
  );
  const md = r.summaries[0]!.content;
  assert.match(md, /\| Step \| Traffic \| Checks \| Result \|/);
  assert.match(md, /\| smoke \| taxi-fare-v7 only \(header\) \| HTTP 200 \| passed \|/);
  assert.match(md, /\| 100% \| taxi-fare-v7 100% \|/);
});

test('blue/green: the new deployment replaces the one serving 100%, which is deleted (Location-only operations)', async () => {
  const before = existing('taxi-bg', { blue: { version: '6', traffic: 100 } });
  w.emu.online.script({ lroHeaders: 'location' });
  try {
    const r = await run({ endpointName: 'taxi-bg', rollout: '100', deploymentName: 'green' });
    assert.equal(r.result, 'Succeeded', describe(r));
    assert.equal(r.outputs.previousDeployment, 'blue');
    assert.equal(r.outputs.deploymentName, 'green');
  } finally {
    w.emu.online.script({ lroHeaders: 'both' });
  }
  assert.deepEqual(w.emu.online.trafficHistory('taxi-bg'), [before, { blue: 0, green: 100 }]);
  assert.deepEqual(w.emu.online.traffic('taxi-bg'), { green: 100 });
  assert.deepEqual(deploymentNames('taxi-bg'), ['green']);
});

test("the version brought to 100% is tagged production for this endpoint; the one it replaced is retired; another endpoint's is untouched", async () => {
  const tags = (v: string) =>
    (w.emu.models.versions(wsId, 'tag-fare').find((x) => x.name === v)!.properties as { tags: Record<string, string> }).tags;
  const serves = (ep: string) => `${w.seed.workspace.name}/${ep}`;
  w.emu.models.add(wsId, 'tag-fare', '1', {
    modelType: 'mlflow_model',
    tags: { stage: 'production', 'production.endpoint': serves('tag-ep'), team: 'pricing' },
  });
  w.emu.models.add(wsId, 'tag-fare', '2', { modelType: 'mlflow_model' });
  w.emu.models.add(wsId, 'tag-fare', '9', {
    modelType: 'mlflow_model',
    tags: { stage: 'production', 'production.endpoint': serves('other-ep') },
  });
  w.emu.online.addEndpoint(wsId, 'tag-ep', {
    compute: 'aks-prod',
    deployments: [{ name: 'blue', model: modelId('tag-fare', '1'), traffic: 100 }],
  });
  const r = await run({ endpointName: 'tag-ep', model: 'tag-fare:2', rollout: '100' });
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.deepEqual(tags('2'), { stage: 'production', 'production.endpoint': serves('tag-ep') });
  assert.deepEqual(tags('1'), { stage: 'retired', team: 'pricing' }, 'the replaced version is retired, its other tags kept');
  assert.deepEqual(tags('9'), { stage: 'production', 'production.endpoint': serves('other-ep') });
  assert.ok(
    r.log.some((l) => l.startsWith('Model tag-fare:2 is now tagged stage=production, serving ')),
    describe(r),
  );
  // Files and lineage of a version are immutable: only tags changed.
  assert.equal(
    (w.emu.models.versions(wsId, 'tag-fare').find((x) => x.name === '2')!.properties as { modelUri: string }).modelUri,
    'azureml://datastores/workspaceblobstore/paths/models/tag-fare/2/',
  );
});

test('staged rollout 10,50,100: the service sees each split in order; keepPrevious keeps the old deployment at 0%', async () => {
  existing('taxi-staged', { blue: { version: '6', traffic: 100 } });
  const r = await run({ endpointName: 'taxi-staged', rollout: '10, 50, 100', stepWaitSeconds: '1', keepPrevious: 'true' });
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.deepEqual(w.emu.online.trafficHistory('taxi-staged'), [
    { blue: 100 },
    { blue: 90, 'taxi-fare-v7': 10 },
    { blue: 50, 'taxi-fare-v7': 50 },
    { blue: 0, 'taxi-fare-v7': 100 },
  ]);
  assert.deepEqual(deploymentNames('taxi-staged'), ['blue', 'taxi-fare-v7']);
  assert.ok(r.ms >= 3000, `held each step for stepWaitSeconds (${r.ms} ms)`);
  const md = r.summaries[0]!.content;
  for (const row of [
    /\| 10% \| blue 90%, taxi-fare-v7 10% \| held 1 s; provisioning Succeeded; smoke HTTP 200 \| passed \|/,
    /\| 50% \| blue 50%, taxi-fare-v7 50% \|/,
    /\| cleanup \| taxi-fare-v7 100% \| kept blue at 0% \(keepPrevious\) \| kept \|/,
  ])
    assert.match(md, row);
});

test('two deployments serving traffic share the rest in proportion; the derived name avoids a taken one', async () => {
  existing('taxi-canary', { blue: { version: '5', traffic: 80 }, 'taxi-fare-v7': { version: '6', traffic: 20 } });
  const r = await run({ endpointName: 'taxi-canary', rollout: '50,100' });
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.equal(r.outputs.deploymentName, 'taxi-fare-v7-2');
  assert.equal(r.outputs.previousDeployment, 'blue,taxi-fare-v7');
  assert.deepEqual(w.emu.online.trafficHistory('taxi-canary')[1], { blue: 40, 'taxi-fare-v7': 10, 'taxi-fare-v7-2': 50 });
  assert.deepEqual(w.emu.online.traffic('taxi-canary'), { 'taxi-fare-v7-2': 100 });
  assert.deepEqual(deploymentNames('taxi-canary'), ['taxi-fare-v7-2']);
});

test('a deployment file brings code (uploaded once), an inline environment and settings; inputs override it', async () => {
  const r = await run({
    endpointName: 'taxi-file',
    model: 'credit-risk:3',
    deploymentFile: 'deploy/deployment.yml',
    deploymentName: 'credit-v3',
    instanceCount: '3',
    authMode: 'aml_token',
  });
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.ok(
    r.log.some((l) => /'model' is replaced by the model input/.test(l)),
    "says the file's model is replaced",
  );
  const ep = w.emu.online.endpoint('taxi-file')!;
  assert.equal((ep.properties as Record<string, unknown>).authMode, 'AMLToken');
  const dep = w.emu.online.deployments('taxi-file')[0]!;
  const p = dep.properties as { codeConfiguration: { codeId: string; scoringScript: string }; environmentId: string } & Record<
    string,
    unknown
  >;
  assert.equal(dep.name, 'credit-v3');
  assert.equal(p.model, modelId('credit-risk', '3'));
  assert.match(p.codeConfiguration.codeId, /\/codes\/[0-9a-f]{64}\/versions\/1$/);
  assert.equal(p.codeConfiguration.scoringScript, 'score.py');
  assert.match(p.environmentId, /\/environments\/CliV2AnonymousEnvironment\/versions\/[0-9a-f]{32}$/);
  assert.deepEqual(p.requestSettings, { requestTimeout: 'PT3S', maxConcurrentRequestsPerInstance: 4 });
  assert.deepEqual(p.livenessProbe, { initialDelay: 'PT10S', period: 'PT5S' });
  assert.deepEqual(p.containerResourceRequirements, { containerResourceRequests: { cpu: '0.5', memory: '1Gi' } });
  assert.deepEqual(p.environmentVariables, { WORKERS: '2' });
  assert.equal((dep.sku as Record<string, unknown>).capacity, 3);
  assert.equal((dep.tags as Record<string, string>).team, 'pricing');
  assert.equal((dep.tags as Record<string, string>)['ado.branch'], 'refs/heads/main');
  // The smoke test used an Azure ML token, fetched through the token API.
  assert.ok(w.emu.requests.some((q) => q.method === 'POST' && q.path.endsWith('/onlineEndpoints/taxi-file/token')));
  assert.ok(w.emu.online.scoringLog.filter((s) => s.endpoint === 'taxi-file').every((s) => s.status === 200));

  // A re-run of the same file uploads nothing new.
  const mark = w.emu.storage.mark();
  const again = await run({
    endpointName: 'taxi-file',
    model: 'credit-risk:3',
    deploymentFile: 'deploy/deployment.yml',
    deploymentName: 'credit-v3b',
  });
  assert.equal(again.result, 'Succeeded', describe(again));
  assert.equal(w.emu.storage.bytesUploaded(mark), 0);
  assert.deepEqual(w.emu.online.traffic('taxi-file'), { 'credit-v3b': 100 });
});

// ---- failures: each ends with the exact previous traffic and no leftover deployment ----

async function failsAndRestores(endpoint: string, r: TaskRun, before: Record<string, number>, pattern: RegExp): Promise<void> {
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(r.errors.at(-1)!, pattern);
  assert.deepEqual(w.emu.online.traffic(endpoint), before, 'the previous traffic, exactly');
  assert.deepEqual(deploymentNames(endpoint), Object.keys(before).sort(), 'no leftover deployment');
  assert.deepEqual(w.emu.online.trafficHistory(endpoint).at(-1), before);
  assert.match(r.summaries.at(-1)!.content, /\| rollback \| blue 100% \|.*\| rolled back \|/);
}

test('an operation failing mid-way in Azure: logs printed, failed deployment deleted, traffic untouched', async () => {
  const before = existing('taxi-lro', { blue: { version: '6', traffic: 100 } });
  w.emu.online.scriptDeployment('lro-fails', {
    createMs: 300,
    fail: { code: 'ResourceNotReady', message: 'Liveness probe failed: container crashed (exit code 1)' },
    logs: {
      InferenceServer:
        'Booting worker\nTraceback (most recent call last):\nModuleNotFoundError: No module named sklearn\n##vso[task.setvariable variable=deploymentName;isOutput=true]hijacked',
    },
  });
  const r = await run({ endpointName: 'taxi-lro', deploymentName: 'lro-fails' });
  await failsAndRestores(
    'taxi-lro',
    r,
    before,
    /creation of deployment lro-fails failed in Azure: ResourceNotReady: Liveness probe failed.*Rolled back: deployment lro-fails deleted\. The container logs are above\./,
  );
  assert.ok(
    r.log.some((l) => l.includes('ModuleNotFoundError: No module named sklearn')),
    'container logs printed',
  );
  assert.equal(r.outputs.deploymentName, 'lro-fails', 'a log line cannot issue agent commands');
  assert.ok(!r.commands.some((c) => c.message.includes('hijacked')));
  assert.deepEqual(w.emu.online.trafficHistory('taxi-lro'), [before], 'traffic never changed');
});

test('a failing smoke test stops the rollout before any traffic moves', async () => {
  const before = existing('taxi-smoke', { blue: { version: '6', traffic: 100 } });
  w.emu.online.scoring('smoke-fails', () => ({ status: 500, body: { error: 'model returned NaN' } }));
  const r = await run({ endpointName: 'taxi-smoke', deploymentName: 'smoke-fails' });
  await failsAndRestores(
    'taxi-smoke',
    r,
    before,
    /at smoke: smoke test of smoke-fails failed: HTTP 500, expected 200: \{"error":"model returned NaN"\}/,
  );
  assert.deepEqual(w.emu.online.trafficHistory('taxi-smoke'), [before]);
});

test('a smoke test checks the JSON body: a value out of range fails', async () => {
  const before = existing('taxi-range', { blue: { version: '6', traffic: 100 } });
  w.emu.online.scoring('range-fails', () => ({ status: 200, body: { predictions: [1.7] } }));
  const r = await run({ endpointName: 'taxi-range', deploymentName: 'range-fails', smokeTestExpect: '200; $.predictions[0] in 0..1' });
  await failsAndRestores('taxi-range', r, before, /\$\.predictions\[0\] = 1\.7 is not in 0\.\.1/);
});

test('5xx from the new deployment during the traffic shift: back from 50% to the exact previous split', async () => {
  const before = existing('taxi-5xx', { blue: { version: '6', traffic: 100 } });
  // Smoke test, check at 10%: fine. Check at 50%: the model starts failing.
  w.emu.online.scoring('shift-5xx', (q) => (q.n <= 2 ? { status: 200, body: { ok: true } } : { status: 502, body: 'Bad Gateway' }));
  const r = await run({ endpointName: 'taxi-5xx', deploymentName: 'shift-5xx' });
  await failsAndRestores('taxi-5xx', r, before, /failed at 50%: smoke test of shift-5xx failed: HTTP 502/);
  assert.deepEqual(w.emu.online.trafficHistory('taxi-5xx'), [before, { blue: 90, 'shift-5xx': 10 }, { blue: 50, 'shift-5xx': 50 }, before]);
});

test('ARM answering 503 to a traffic update (after the retries): the previous split is restored', async () => {
  const before = existing('taxi-arm5xx', { blue: { version: '6', traffic: 100 } });
  // Once the check at 10% passed, every attempt of the next endpoint PUT (1 + 5 retries) gets 503.
  w.emu.online.scoring('arm-5xx', (q) => {
    if (q.n === 2)
      w.emu.faults.add({
        service: 'arm',
        method: 'PUT',
        path: /\/onlineEndpoints\/taxi-arm5xx\?/,
        kind: 'status',
        status: 503,
        retryAfterSeconds: 0,
        times: 6,
      });
    return { status: 200, body: {} };
  });
  const r = await run({ endpointName: 'taxi-arm5xx', deploymentName: 'arm-5xx' });
  await failsAndRestores('taxi-arm5xx', r, before, /failed at 50%: .*503/);
  assert.deepEqual(w.emu.online.trafficHistory('taxi-arm5xx'), [before, { blue: 90, 'arm-5xx': 10 }, before]);
});

test('a traffic update whose operation fails in Azure is rolled back', async () => {
  const before = existing('taxi-upd', { blue: { version: '6', traffic: 100 } });
  w.emu.online.failNext('endpointUpdate', { code: 'InternalServerError', message: 'Failed to update the inference router' });
  const r = await run({ endpointName: 'taxi-upd', deploymentName: 'upd-fails' });
  await failsAndRestores(
    'taxi-upd',
    r,
    before,
    /traffic update at 10% failed in Azure: InternalServerError: Failed to update the inference router/,
  );
});

test('a cancelled run (SIGINT during a traffic step) restores the previous split and deletes the new deployment before exiting', async () => {
  const before = existing('taxi-cancel', { blue: { version: '6', traffic: 100 } });
  // SIGINT once 10% is applied, while the task holds the step for 30 s.
  const r = await run(
    { endpointName: 'taxi-cancel', deploymentName: 'cancelled', stepWaitSeconds: '30' },
    { cancelOn: /traffic 10%: Succeeded/ },
  );
  await failsAndRestores(
    'taxi-cancel',
    r,
    before,
    /was cancelled at 10%: the pipeline run was cancelled\. Rolled back: traffic restored to blue 100%; deployment cancelled deleted/,
  );
  assert.deepEqual(w.emu.online.trafficHistory('taxi-cancel'), [before, { blue: 90, cancelled: 10 }, before]);
  assert.ok(r.ms < 15_000, `exited promptly (${r.ms} ms), not after the 30 s hold`);
  assert.ok(r.warnings.some((m) => /cancelled \(SIGINT\)/.test(m)));
});

test('a run cancelled while the deployment is being created waits for it, then deletes it', async () => {
  const before = existing('taxi-cancel2', { blue: { version: '6', traffic: 100 } });
  w.emu.online.scriptDeployment('slow-create', { createMs: 1500 });
  const r = await run({ endpointName: 'taxi-cancel2', deploymentName: 'slow-create' }, { cancelOn: /Creating deployment 'slow-create'/ });
  await failsAndRestores(
    'taxi-cancel2',
    r,
    before,
    /was cancelled at create: the pipeline run was cancelled\. Rolled back: deployment slow-create deleted/,
  );
  assert.deepEqual(w.emu.online.trafficHistory('taxi-cancel2'), [before]);
});

test('keepFailedDeployment keeps the failed deployment at 0% for debugging; traffic is still restored', async () => {
  const before = existing('taxi-keep', { blue: { version: '6', traffic: 100 } });
  w.emu.online.scoring('kept', (q) => (q.n <= 1 ? { status: 200 } : { status: 500 }));
  const r = await run({ endpointName: 'taxi-keep', deploymentName: 'kept', keepFailedDeployment: 'true' });
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(r.errors.at(-1)!, /deployment kept kept for debugging at 0%/);
  assert.deepEqual(w.emu.online.traffic('taxi-keep'), before);
  assert.deepEqual(deploymentNames('taxi-keep'), ['blue', 'kept']);
});

test('rollbackOnFailure false leaves traffic where the failure happened and says how to restore it', async () => {
  existing('taxi-norb', { blue: { version: '6', traffic: 100 } });
  w.emu.online.scoring('norb', (q) => (q.n <= 1 ? { status: 200 } : { status: 500 }));
  const r = await run({ endpointName: 'taxi-norb', deploymentName: 'norb', rollbackOnFailure: 'false' });
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(
    r.errors.at(-1)!,
    /rollbackOnFailure is false, so traffic is left at blue 90%, norb 10%.*az ml online-endpoint update --name taxi-norb --traffic "blue=100"/,
  );
  assert.deepEqual(w.emu.online.traffic('taxi-norb'), { blue: 90, norb: 10 });
});

test('a failed first deploy leaves the new endpoint empty: no traffic, no deployment', async () => {
  w.emu.online.scoring('first-fails', () => ({ status: 503, body: 'model not loaded' }));
  const r = await run({ endpointName: 'taxi-first-fails', deploymentName: 'first-fails' });
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(r.errors.at(-1)!, /at smoke: smoke test of first-fails failed: HTTP 503/);
  assert.deepEqual(w.emu.online.traffic('taxi-first-fails'), {});
  assert.deepEqual(deploymentNames('taxi-first-fails'), []);
});

test('an existing endpoint keeps its auth mode: an Entra-token (AADToken) endpoint is smoke-tested with an Entra token', async () => {
  w.emu.online.addEndpoint(wsId, 'taxi-aad', {
    compute: 'aks-prod',
    authMode: 'AADToken',
    deployments: [{ name: 'blue', model: modelId('taxi-fare', '6'), traffic: 100 }],
  });
  const r = await run({ endpointName: 'taxi-aad', rollout: '100', authMode: 'key' });
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.ok(r.log.some((l) => /keeps its authentication mode AADToken/.test(l)));
  assert.ok(w.emu.online.scoringLog.filter((s) => s.endpoint === 'taxi-aad').every((s) => s.status === 200));
  assert.deepEqual(w.emu.online.traffic('taxi-aad'), { 'taxi-fare-v7': 100 });
});

test('the protected-branch gate refuses a feature branch before any Azure request', async () => {
  const since = w.emu.requests.length;
  const r = await run({ endpointName: 'taxi-gate' }, { variables: { 'Build.SourceBranch': 'refs/heads/feature/x' } });
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(r.errors[0]!, /Refusing to run from 'refs\/heads\/feature\/x'/);
  assert.deepEqual(
    w.emu.requests.slice(since).filter((q) => q.service === 'arm' || q.service === 'entra'),
    [],
  );
});

// ---- bad input: refused before anything is created ----

for (const [name, inputs, pattern, reachesAzure] of [
  [
    'an unknown compute',
    { computeName: 'aks-nope' },
    /compute 'aks-nope' does not exist in workspace 'mlw-prod' \(computes there: .*aks-prod \(Kubernetes\).*az ml compute attach .*--type Kubernetes.*never deploys to another target/,
    true,
  ],
  [
    'a compute that is not Kubernetes',
    { computeName: 'cpu-cluster' },
    /compute 'cpu-cluster' is of type AmlCompute, not Kubernetes\..*az ml compute attach/,
    true,
  ],
  [
    'an unknown model version',
    { model: 'taxi-fare:99' },
    /model 'taxi-fare' version 99 does not exist in workspace 'mlw-prod' \(versions there: 5, 6, 7, 8\)/,
    true,
  ],
  [
    'a custom model without an environment',
    { model: 'credit-risk:3' },
    /credit-risk:3 is a custom_model: .*Give a deploymentFile with environment:/,
    true,
  ],
  ['a model label instead of a version', { model: 'azureml:taxi-fare@latest' }, /^Input 'model': .*asks for a label/, false],
  ['a rollout that goes down', { rollout: '50,10,100' }, /^Input 'rollout': 10 does not increase on 50/, false],
  ['a rollout that does not end at 100', { rollout: '10,50' }, /^Input 'rollout': the last step is 50%, not 100%/, false],
  ['a rollout step of 0', { rollout: '0,100' }, /^Input 'rollout': 0 is outside 1\.\.100/, false],
  [
    'a smoke-test file that is not JSON',
    { smokeTestFile: 'deploy/broken-request.json' },
    /^Input 'smokeTestFile': 'deploy\/broken-request\.json' is not JSON/,
    false,
  ],
  [
    'an anonymous auth mode',
    { authMode: 'anonymous' },
    /^Input 'authMode': 'anonymous' would let anyone .*Anonymous endpoints are refused/,
    false,
  ],
  ['a bad smoke expectation', { smokeTestExpect: '200; $.x ~ 3' }, /^Input 'smokeTestExpect': /, false],
  [
    'an invalid deployment name',
    { deploymentName: '7-up' },
    /^Input 'deploymentName': '7-up' is not a valid .* it does not start with a letter/,
    false,
  ],
  [
    'a deployment file with an unknown key',
    { deploymentFile: 'deploy/unknown-key.yml' },
    /unknown-key\.yml line 3: 'replicas' is not a key of a Kubernetes online deployment/,
    false,
  ],
  [
    'a managed deployment file',
    { deploymentFile: 'deploy/managed.yml' },
    /managed\.yml line 1: '\$schema' describes a managed online deployment/,
    false,
  ],
] as const) {
  test(`bad input: ${name} fails before anything is created`, async () => {
    const since = w.emu.requests.length;
    const r = await run({ endpointName: 'taxi-bad', ...inputs });
    assert.equal(r.result, 'Failed', describe(r));
    assert.match(r.errors[0]!, pattern);
    assert.deepEqual(armWrites(since), [], 'nothing written');
    if (!reachesAzure)
      assert.deepEqual(
        w.emu.requests.slice(since).filter((q) => q.service === 'arm' || q.service === 'entra'),
        [],
        'not even a sign-in',
      );
    assert.equal(w.emu.online.endpoint('taxi-bad'), undefined);
  });
}

test('an existing managed endpoint, or one on another compute, is refused: never a fallback', async () => {
  w.emu.online.addEndpoint(wsId, 'taxi-managed', { compute: null });
  const since = w.emu.requests.length;
  const r = await run({ endpointName: 'taxi-managed' });
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(r.errors[0]!, /endpoint 'taxi-managed' exists as a managed online endpoint .*never falls back/);
  w.emu.aml.addCompute(wsId, 'aks-staging', { computeType: 'Kubernetes' });
  existing('taxi-elsewhere', { blue: { version: '6', traffic: 100 } });
  const r2 = await run({ endpointName: 'taxi-elsewhere', computeName: 'aks-staging' });
  assert.match(r2.errors[0]!, /endpoint 'taxi-elsewhere' runs on compute 'aks-prod', not 'aks-staging'/);
  assert.deepEqual(armWrites(since), []);
});

test('an explicit deployment name that already exists is refused instead of updated in place', async () => {
  existing('taxi-clash', { blue: { version: '6', traffic: 100 } });
  const since = w.emu.requests.length;
  const r = await run({ endpointName: 'taxi-clash', deploymentName: 'blue' });
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(r.errors[0]!, /deployment 'blue' already exists on endpoint 'taxi-clash' \(traffic 100%\).*never updates it in place/);
  assert.deepEqual(armWrites(since), []);
});

test('no key or token appears in any run', () => {
  assertNoLeaks(w);
});
