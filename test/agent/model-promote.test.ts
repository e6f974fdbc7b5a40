/**
 * Agent-level tests of promotion through an Azure ML registry, with two workspaces: jobs run in
 * the development workspace (mlw-dev), AmlModelRegister@1 with registryName promotes a model from
 * there into registry mlr-shared (a job output, or a version registered in mlw-dev), and
 * AmlAksDeploy@1 deploys it in the production workspace (mlw-prod) from the registry. Covers the
 * lineage across the two workspaces, the idempotent re-run, the metric gate at promotion time,
 * the branch gate, and every refusal before anything is written: an invalid or unknown registry,
 * a registry in another region, a model version that does not exist, missing rights on the
 * registry or the workspace, and storage that keeps the registry out.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { copySample } from '../../testkit/pipeline-sample';
import type { TaskRun } from '../../testkit/harness';
import { assertNoLeaks, describe, startWorld, workspaceInputs, type World, type WorldRunOptions } from '../../testkit/world';

let w: World;
let sample: string;
let devId: string;
let registryId: string;
const DEV = { resourceGroupName: 'rg-aml-dev', workspaceName: 'mlw-dev' };
const JOB = { good: 'promo_job_good', better: 'promo_job_better', worse: 'promo_job_worse' };
const MLMODEL = 'artifact_path: model\nflavors:\n  sklearn:\n    pickled_model: model.pkl\n';

const status = (name: string): string => String((w.emu.aml.job(name)?.body.properties as { status?: string } | undefined)?.status);

async function submitInDev(name: string): Promise<void> {
  w.emu.aml.setOutputs(name, 'train', { model_output: { files: { MLmodel: MLMODEL, 'model.pkl': `weights of ${name}` } } });
  const base = fs.readFileSync(path.join(sample, 'pipeline.yml'), 'utf8');
  fs.writeFileSync(path.join(sample, `${name}.yml`), `name: ${name}\n${base}`);
  const r = await w.run('AmlPipelineJob', {
    connection: 'wif',
    inputs: { ...DEV, jobFile: `${name}.yml`, wait: 'false' },
    sources: sample,
  });
  assert.equal(r.result, 'Succeeded', describe(r));
}

before(async () => {
  w = await startWorld();
  // Job outputs land in the development workspace's storage account once storage runs.
  await w.emu.storage.start();
  const sub = w.seed.subscriptionId;
  const fed = w.seed.servicePrincipals.federated.objectId;
  devId = String(
    w.emu.arm.addWorkspace({
      subscriptionId: sub,
      resourceGroup: DEV.resourceGroupName,
      name: DEV.workspaceName,
      location: 'eastus',
      publicNetworkAccess: 'Disabled',
    }).id,
  );
  w.emu.aml.seedWorkspace(devId);
  w.emu.aml.addData(devId, 'taxi-test', '1', 'azureml://datastores/workspaceblobstore/paths/taxi/test/');
  w.emu.arm.grantRole(fed, 'Contributor', devId);
  registryId = String(
    w.emu.registries.add({
      subscriptionId: sub,
      resourceGroup: 'rg-mlops-shared',
      name: 'mlr-shared',
      location: 'eastus',
      regions: ['westeurope'],
    }).id,
  );
  const west = String(
    w.emu.registries.add({ subscriptionId: sub, resourceGroup: 'rg-mlops-shared', name: 'mlr-west', location: 'westeurope' }).id,
  );
  for (const r of [registryId, west]) w.emu.arm.grantRole(fed, 'AzureML Registry User', r);
  // The development storage denies public access but lets the registry in (resource instance rule).
  w.emu.registries.allowSharingFrom(devId, registryId);
  w.emu.aml.scriptJobs({ startDelayMs: 10, stepDurationMs: 20, phaseMs: 2 });
  sample = copySample();
  await submitInDev(JOB.good);
  await Promise.all([submitInDev(JOB.better), submitInDev(JOB.worse)]);
  const end = Date.now() + 20_000;
  while (!Object.values(JOB).every((j) => status(j) === 'Completed')) {
    if (Date.now() > end) throw new Error(`jobs did not complete: ${Object.values(JOB).map(status).join(', ')}`);
    await new Promise((r) => setTimeout(r, 20));
  }
  for (const [job, auc] of [
    [JOB.good, 0.9],
    [JOB.better, 0.93],
    [JOB.worse, 0.82],
  ] as const)
    w.emu.aml.setMetrics(job, 'evaluate', { auc: [auc] });
});
after(() => w.close());

function promote(inputs: Record<string, string>, more: WorldRunOptions = {}): Promise<TaskRun> {
  return w.run('AmlModelRegister', {
    connection: 'wif',
    sources: sample,
    ...more,
    inputs: { ...DEV, registryName: 'mlr-shared', modelName: 'taxi-fare', ...inputs },
  });
}

const armWrites = (since: number) =>
  w.emu.requests
    .slice(since)
    .filter((q) => q.service === 'arm' && q.method !== 'GET')
    .map((q) => `${q.method} ${q.path}`);
const registryVersions = (model: string) => w.emu.registries.versions(registryId, model);
type Props = { modelUri: string; jobName?: string | null; tags: Record<string, string>; properties: Record<string, string> };
const props = (v: Record<string, unknown>): Props => v.properties as Props;
const stepRun = (job: string, step: string): string => w.emu.aml.children(job).find((c) => c.step === step)!.runId;
const longUri = (run: string, output: string) =>
  `azureml://subscriptions/${w.seed.subscriptionId}/resourceGroups/${DEV.resourceGroupName}/workspaces/${DEV.workspaceName}/jobs/${run}/outputs/${output}`;

test('promotes a gated job output from the development workspace into the registry: files copied, lineage intact', async () => {
  const before = w.emu.requests.length;
  const r = await promote({
    jobName: JOB.good,
    modelOutput: 'train.model_output',
    metricGate: 'evaluate.auc >= 0.85',
    tags: 'stage=candidate',
  });
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.deepEqual(r.outputs, {
    modelName: 'taxi-fare',
    modelVersion: '1',
    registered: 'true',
    modelId: 'azureml://registries/mlr-shared/models/taxi-fare/versions/1',
  });
  const [v] = registryVersions('taxi-fare');
  const p = props(v!);
  const run = stepRun(JOB.good, 'train');
  assert.equal(p.modelUri, longUri(run, 'model_output'), 'the registry copies from the long form of the job output');
  assert.equal(p.jobName, null, 'a registry has no jobs: the link is the URI and the lineage');
  const lineage = {
    'ado.sourceWorkspace': devId,
    'ado.jobName': JOB.good,
    'ado.runId': '4711',
    'ado.branch': 'refs/heads/main',
    'ado.commit': w.seed.ado.repository.mainHead,
  };
  for (const [k, val] of Object.entries(lineage)) {
    assert.equal(p.tags[k], val, `tag ${k}`);
    assert.equal(p.properties[k], val, `immutable property ${k}`);
  }
  assert.equal(
    p.tags['metric.evaluate.auc'] ?? p.tags['metric.auc'] ?? Object.entries(p.tags).find(([k]) => k.startsWith('metric.'))?.[1],
    '0.9',
  );
  assert.equal(p.properties['ado.modelSource'], p.modelUri);
  // The registry's temporary data reference came first, then the long-running copy.
  const writes = armWrites(before);
  assert.deepEqual(writes, [
    `POST ${registryId}/models/taxi-fare/versions/1/startPendingUpload`,
    `PUT ${registryId}/models/taxi-fare/versions/1`,
  ]);
  const st = (
    w.emu.arm.resources.get(registryId)!.body.properties as {
      regionDetails: Array<{ storageAccountDetails: Array<{ systemCreatedStorageAccount: { storageAccountName: string } }> }>;
    }
  ).regionDetails[0]!.storageAccountDetails[0]!.systemCreatedStorageAccount.storageAccountName;
  const copied = await w.emu.storage.listBlobs(
    w.emu.storage.blobUrl({ account: w.emu.storage.azuriteAccount(st), container: 'models', path: 'taxi-fare/1/' }),
  );
  assert.deepEqual(copied.map((b) => b.name).sort(), ['taxi-fare/1/MLmodel', 'taxi-fare/1/model.pkl']);
  assert.match(r.summaries[0]?.content ?? '', /Model taxi-fare:1 promoted to registry mlr-shared/);
  assert.match(r.summaries[0]!.content, /azureml:\/\/registries\/mlr-shared\/models\/taxi-fare\/versions\/1/);
  assert.match(r.summaries[0]!.content, /ado\.sourceWorkspace/);
});

test('a re-run of the promotion returns the same registry version and writes nothing', async () => {
  const before = w.emu.requests.length;
  const r = await promote(
    { jobName: JOB.good, modelOutput: 'train.model_output', metricGate: 'evaluate.auc >= 0.85' },
    { variables: { 'Build.BuildId': '4712', 'System.JobAttempt': '2' } },
  );
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.equal(r.outputs.modelVersion, '1');
  assert.equal(r.outputs.modelId, 'azureml://registries/mlr-shared/models/taxi-fare/versions/1');
  assert.deepEqual(armWrites(before), []);
  assert.equal(registryVersions('taxi-fare').length, 1);
  assert.match(r.log.join('\n'), /already the promotion of train\.model_output/);
});

test('the metric gate applies at promotion: a model that does not beat the registry champion is not promoted', async () => {
  const before = w.emu.requests.length;
  const r = await promote({
    jobName: JOB.worse,
    modelOutput: 'train.model_output',
    metricGate: 'evaluate.auc >= 0.8',
    compareWith: 'latest',
  });
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(
    r.errors.join('\n'),
    /Model 'taxi-fare' was not promoted to registry 'mlr-shared': the evaluation gate failed \(evaluate\.auc: 0\.82 is not as good as champion taxi-fare:1 \(0\.9\)\)/,
  );
  assert.deepEqual(armWrites(before), []);
  assert.equal(registryVersions('taxi-fare').length, 1);
  assert.match(r.summaries[0]!.content, /not promoted to registry mlr-shared/);
  // With onGateFail: skip the run goes on, with registered=false for the deploy stage's condition.
  const skipped = await promote({
    jobName: JOB.worse,
    modelOutput: 'train.model_output',
    metricGate: 'evaluate.auc >= 0.8',
    compareWith: 'latest',
    onGateFail: 'skip',
  });
  assert.equal(skipped.result, 'SucceededWithIssues', describe(skipped));
  assert.equal(skipped.outputs.registered, 'false');
});

test('lineage across the two workspaces: a version registered in development is shared into the registry and deployed in production', async () => {
  // Development: register the better model in mlw-dev as the development pipeline does.
  const dev = await w.run('AmlModelRegister', {
    connection: 'wif',
    sources: sample,
    inputs: { ...DEV, modelName: 'taxi-fare', jobName: JOB.better, modelOutput: 'train.model_output', metricGate: 'evaluate.auc >= 0.85' },
  });
  assert.equal(dev.result, 'Succeeded', describe(dev));
  const devVersion = dev.outputs.modelVersion!;
  // Promotion: share that version; the gate re-reads the job it names (ado.jobName) at promotion time.
  const r = await promote({ sourceModel: `taxi-fare:${devVersion}`, metricGate: 'evaluate.auc >= 0.85', compareWith: 'latest' });
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.equal(r.outputs.modelId, 'azureml://registries/mlr-shared/models/taxi-fare/versions/2');
  const v = registryVersions('taxi-fare').find((x) => x.name === '2')!;
  const p = props(v);
  assert.equal(p.tags['ado.sourceModel'], `taxi-fare:${devVersion}`);
  assert.equal(p.tags['ado.sourceWorkspace'], devId);
  assert.equal(p.tags['ado.jobName'], JOB.better);
  assert.equal(p.modelUri, longUri(stepRun(JOB.better, 'train'), 'model_output'));
  assert.match(r.log.join('\n'), /Champion: taxi-fare:1 \(the latest version\)/);

  // Production: deploy the registry version in mlw-prod, another workspace, from the registry.
  w.emu.online.script({ endpointMs: 30, deploymentMs: 60, deleteMs: 30, retryAfterSeconds: 0 });
  const d = await w.run('AmlAksDeploy', {
    connection: 'wif',
    inputs: {
      ...workspaceInputs(w.seed),
      endpointName: 'taxi-fare-prod',
      computeName: 'aks-prod',
      model: r.outputs.modelId!,
      stepWaitSeconds: '0',
      rollout: '100',
    },
  });
  assert.equal(d.result, 'Succeeded', describe(d));
  const dep = w.emu.arm.resources.get(`${w.seed.workspace.id}/onlineEndpoints/taxi-fare-prod/deployments/${d.outputs.deploymentName}`)!;
  assert.equal((dep.body.properties as { model: string }).model, 'azureml://registries/mlr-shared/models/taxi-fare/versions/2');
  const summary = d.summaries[0]!.content;
  assert.match(
    summary,
    new RegExp(
      `Model \\*\\*taxi-fare:2\\*\\* from registry mlr-shared \\(promoted from workspace mlw-dev, model taxi-fare:${devVersion} there, job ${JOB.better}, commit ${w.seed.ado.repository.mainHead.slice(0, 12)} on refs/heads/main, run `,
    ),
  );
  assert.match(d.log.join('\n'), /Model taxi-fare:2 from registry mlr-shared \(promoted from workspace mlw-dev/);
});

test('a registry version that does not exist is refused by AmlAksDeploy before anything is created', async () => {
  const before = w.emu.requests.length;
  const d = await w.run('AmlAksDeploy', {
    connection: 'wif',
    inputs: {
      ...workspaceInputs(w.seed),
      endpointName: 'taxi-fare-none',
      computeName: 'aks-prod',
      model: 'azureml://registries/mlr-shared/models/taxi-fare/versions/42',
      stepWaitSeconds: '0',
    },
  });
  assert.equal(d.result, 'Failed');
  assert.match(
    d.errors.join('\n'),
    /Model taxi-fare version 42 does not exist in registry 'mlr-shared' \(versions there: 1, 2\)\. Deploy the version the promotion step reported/,
  );
  assert.deepEqual(armWrites(before), []);
  const far = await w.run('AmlAksDeploy', {
    connection: 'wif',
    inputs: {
      ...workspaceInputs(w.seed),
      endpointName: 'taxi-fare-none',
      computeName: 'aks-prod',
      model: 'azureml://registries/mlr-west/models/taxi-fare/versions/1',
      stepWaitSeconds: '0',
    },
  });
  assert.match(far.errors.join('\n'), /registry 'mlr-west' replicates to westeurope, but workspace 'mlw-prod' is in eastus/);
  assert.deepEqual(armWrites(before), []);
});

for (const [name, inputs, pattern] of [
  [
    'a registry name with invalid characters',
    { registryName: 'ml.reg!', jobName: JOB.good, modelOutput: 'train.model_output' },
    /Input 'registryName': 'ml\.reg!' is not an Azure ML registry name/,
  ],
  [
    'an unknown registry',
    { registryName: 'mlr-nope', jobName: JOB.good, modelOutput: 'train.model_output' },
    /Input 'registryName': the service connection sees no Azure ML registry 'mlr-nope' in subscription .* \(registries it can see: mlr-shared \(rg-mlops-shared\), mlr-west \(rg-mlops-shared\)\)/,
  ],
  [
    'an unknown registry in the given resource group',
    { registryName: 'mlr-nope', registryResourceGroup: 'rg-mlops-shared', jobName: JOB.good, modelOutput: 'train.model_output' },
    /there is no Azure ML registry 'mlr-nope' in resource group 'rg-mlops-shared'/,
  ],
  [
    'a registry in another region than the workspace',
    { registryName: 'mlr-west', jobName: JOB.good, modelOutput: 'train.model_output' },
    /Input 'registryName': registry 'mlr-west' replicates to westeurope, but workspace 'mlw-dev' is in eastus/,
  ],
  [
    'a model version that does not exist',
    { sourceModel: 'taxi-fare:99' },
    /Input 'sourceModel': model taxi-fare version 99 does not exist in workspace 'mlw-dev' \(its versions: /,
  ],
  [
    'sourceModel without a registry',
    { registryName: '', sourceModel: 'taxi-fare:1' },
    /Input 'sourceModel' is set, but registryName is empty/,
  ],
] as const) {
  test(`refuses ${name} before any write, saying what to do`, async () => {
    // A group the connection can read: an unknown name there is an unknown name, not a 403.
    const rg = `/subscriptions/${w.seed.subscriptionId}/resourceGroups/rg-mlops-shared`;
    w.emu.arm.grantRole(w.seed.servicePrincipals.federated.objectId, 'Reader', rg);
    after(() => void w.emu.arm.rbac.revoke(w.seed.servicePrincipals.federated.objectId, 'Reader', rg));
    const before = w.emu.requests.length;
    const count = registryVersions('taxi-fare').length;
    const r = await promote(inputs as Record<string, string>);
    assert.equal(r.result, 'Failed', describe(r));
    assert.match(r.errors.join('\n'), pattern);
    assert.doesNotMatch(r.stderr, /\n\s+at /, 'no stack trace');
    assert.deepEqual(armWrites(before), []);
    assert.equal(registryVersions('taxi-fare').length, count);
    if (name.includes('invalid characters'))
      assert.deepEqual(
        w.emu.requests.slice(before).filter((q) => q.service === 'arm'),
        [],
        'refused before any Azure call',
      );
  });
}

test('without AzureML Registry User on the registry the promotion is refused, naming the role; nothing is created', async () => {
  const fed = w.seed.servicePrincipals.federated.objectId;
  w.emu.arm.rbac.revoke(fed, 'AzureML Registry User', registryId);
  w.emu.arm.grantRole(fed, 'Reader', registryId);
  try {
    const r = await promote({ jobName: JOB.better, modelOutput: 'train.model_output', modelName: 'taxi-rights' });
    assert.equal(r.result, 'Failed', describe(r));
    assert.match(
      r.errors.join('\n'),
      /lacks permission for 'Microsoft\.MachineLearningServices\/registries\/assets\/write' on '.*mlr-shared.*'\. Grant its service principal AzureML Registry User \(on the registry\)/,
    );
    assert.equal(registryVersions('taxi-rights').length, 0);
  } finally {
    w.emu.arm.rbac.revoke(fed, 'Reader', registryId);
    w.emu.arm.grantRole(fed, 'AzureML Registry User', registryId);
  }
});

test('without read on the source workspace the promotion is refused before it touches the registry, naming the role', async () => {
  // The secret connection's principal: AzureML Registry User on the registry, nothing on mlw-dev.
  w.emu.arm.grantRole(w.seed.servicePrincipals.secret.objectId, 'AzureML Registry User', registryId);
  const before = w.emu.requests.length;
  const r = await promote({ jobName: JOB.better, modelOutput: 'train.model_output', modelName: 'taxi-rights' }, { connection: 'secret' });
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(
    r.errors.join('\n'),
    /lacks permission for 'Microsoft\.MachineLearningServices\/workspaces\/read' on '.*mlw-dev'\. Grant its service principal Reader/,
  );
  assert.deepEqual(armWrites(before), []);
});

test('refuses, before any write, a workspace whose storage keeps the registry out, with the resource instance rule as the fix', async () => {
  const stId = String((w.emu.arm.resources.get(devId)!.body.properties as { storageAccount: string }).storageAccount);
  const st = w.emu.arm.resources.get(stId)!;
  const saved = JSON.stringify(st.body.properties);
  (st.body.properties as { networkAcls: { resourceAccessRules: unknown[] } }).networkAcls.resourceAccessRules = [];
  const fed = w.seed.servicePrincipals.federated.objectId;
  try {
    // The connection can read the storage account: the task sees the rules and refuses up front.
    w.emu.arm.grantRole(fed, 'Reader', stId);
    let before = w.emu.requests.length;
    const r = await promote({ jobName: JOB.better, modelOutput: 'train.model_output', modelName: 'taxi-blocked' });
    assert.equal(r.result, 'Failed', describe(r));
    assert.match(
      r.errors.join('\n'),
      /whose network rules do not let registry 'mlr-shared' in, .* Nothing was written\. .*az storage account network-rule add --account-name \S+ -g rg-aml-dev --resource-id .*registries\/mlr-shared/,
    );
    assert.deepEqual(armWrites(before), []);
    // It cannot: it warns, the registry's copy fails, the error says why and what to do, no version stays.
    w.emu.arm.rbac.revoke(fed, 'Reader', stId);
    before = w.emu.requests.length;
    const blind = await promote({ jobName: JOB.better, modelOutput: 'train.model_output', modelName: 'taxi-blocked' });
    assert.equal(blind.result, 'Failed', describe(blind));
    assert.match(
      blind.warnings.join('\n'),
      /Could not read storage account \S+ \(403\) to check that registry mlr-shared may copy from it/,
    );
    assert.match(
      blind.errors.join('\n'),
      /Registry 'mlr-shared' could not copy model 'taxi-blocked' from workspace 'mlw-dev': .*network rules do not allow the registry.* Nothing was added to the registry\. .*--resource-id .*registries\/mlr-shared/,
    );
    assert.equal(registryVersions('taxi-blocked').length, 0);
  } finally {
    st.body.properties = JSON.parse(saved);
    w.emu.arm.rbac.revoke(fed, 'Reader', stId);
  }
});

test('promotion sits behind the same branch gate: a feature branch is refused before any Azure call', async () => {
  const before = w.emu.requests.length;
  const r = await promote(
    { jobName: JOB.better, modelOutput: 'train.model_output' },
    { variables: { 'Build.SourceBranch': 'refs/heads/feature/new-model' } },
  );
  assert.equal(r.result, 'Failed');
  assert.match(r.errors.join('\n'), /Refusing to run from 'refs\/heads\/feature\/new-model'/);
  assert.deepEqual(
    w.emu.requests.slice(before).filter((q) => q.service === 'arm'),
    [],
  );
});

test('no secret appears in any output', () => assertNoLeaks(w));
