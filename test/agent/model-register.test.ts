/**
 * Agent-level tests of AmlModelRegister@1 against the emulator, on jobs that AmlPipelineJob@1
 * submitted (the train/evaluate sample): threshold and champion gates, idempotent re-runs,
 * concurrent registrations, throttling and lost responses on the version PUT, bad input that
 * writes nothing, the branch gate, and no secret in any output.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { JobScript } from '../../testkit/emulator/index';
import { copySample } from '../../testkit/pipeline-sample';
import type { TaskRun } from '../../testkit/harness';
import { assertNoLeaks, describe, startWorld, workspaceInputs, type World, type WorldRunOptions } from '../../testkit/world';

let w: World;
let sample: string;
const wsId = (): string => w.seed.workspace.id;

/** Job names by role; each is the sample pipeline under a fixed name. */
const JOB = {
  a: 'reg_job_a',
  better: 'reg_job_better',
  worse: 'reg_job_worse',
  c1: 'reg_job_c1',
  c2: 'reg_job_c2',
  c3: 'reg_job_c3',
  faults: 'reg_job_faults',
  running: 'reg_job_running',
  failed: 'reg_job_failed',
};

async function submit(name: string, script?: JobScript): Promise<void> {
  if (script) w.emu.aml.scriptJob(name, script);
  const base = fs.readFileSync(path.join(sample, 'pipeline.yml'), 'utf8');
  fs.writeFileSync(path.join(sample, `${name}.yml`), `name: ${name}\n${base}`);
  const r = await w.run('AmlPipelineJob', {
    connection: 'wif',
    inputs: { ...workspaceInputs(w.seed), jobFile: `${name}.yml`, wait: 'false' },
    sources: sample,
  });
  assert.equal(r.result, 'Succeeded', describe(r));
}

const status = (name: string): string => String((w.emu.aml.job(name)?.body.properties as { status?: string } | undefined)?.status);

async function until(what: string, fn: () => boolean, timeoutMs = 20_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (!fn()) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

before(async () => {
  w = await startWorld();
  w.emu.aml.scriptJobs({ startDelayMs: 10, stepDurationMs: 20, phaseMs: 2 });
  w.emu.aml.addData(wsId(), 'taxi-test', '1', 'azureml://datastores/workspaceblobstore/paths/taxi/test/');
  sample = copySample();
  // The first submission uploads the code; the others reuse it.
  await submit(JOB.a);
  await Promise.all([
    submit(JOB.better),
    submit(JOB.worse),
    submit(JOB.c1),
    submit(JOB.c2),
    submit(JOB.c3),
    submit(JOB.faults),
    submit(JOB.running, { stepDurationMs: Infinity }),
    submit(JOB.failed, { fail: { step: 'train', code: 'UserError', message: 'training data is empty' } }),
  ]);
  const done = Object.values(JOB).filter((j) => j !== JOB.running);
  await until('the jobs to end', () => done.every((j) => ['Completed', 'Failed'].includes(status(j))) && status(JOB.running) === 'Running');
  // What the steps logged to MLflow: auc of the evaluate step (the last value counts), rmse of train.
  const metrics: Record<string, number[]> = {
    [JOB.a]: [0.95, 0.91],
    [JOB.better]: [0.93],
    [JOB.worse]: [0.91],
    [JOB.c1]: [0.9],
    [JOB.c2]: [0.9],
    [JOB.c3]: [0.9],
    [JOB.faults]: [0.9],
  };
  for (const [job, auc] of Object.entries(metrics)) {
    w.emu.aml.setMetrics(job, 'evaluate', { auc });
    w.emu.aml.setMetrics(job, 'train', { rmse: [3.5, 2.9] });
  }
});
after(() => w.close());

function register(inputs: Record<string, string>, more: WorldRunOptions = {}): Promise<TaskRun> {
  return w.run('AmlModelRegister', {
    connection: 'wif',
    sources: sample,
    ...more,
    inputs: { ...workspaceInputs(w.seed), ...inputs },
  });
}

const armWrites = (since: number) =>
  w.emu.requests
    .slice(since)
    .filter((q) => q.service === 'arm' && q.method !== 'GET')
    .map((q) => `${q.method} ${q.path}`);
const versions = (model: string) => w.emu.models.versions(wsId(), model);
type Props = {
  modelUri: string;
  jobName?: string;
  modelType: string;
  tags: Record<string, string>;
  properties: Record<string, string>;
  description: string;
};
const props = (v: Record<string, unknown>): Props => v.properties as Props;
const stepRun = (job: string, step: string): string => w.emu.aml.children(job).find((c) => c.step === step)!.runId;

test('registers a step output behind a passing threshold gate, with lineage, recorded metrics and outputs', async () => {
  const r = await register({
    modelName: 'taxi-fare',
    jobName: JOB.a,
    modelOutput: 'train.model_output',
    metricGate: 'evaluate.auc >= 0.85\ntrain.rmse < 3.2',
    tags: 'stage=candidate',
  });
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.deepEqual(
    { ...r.outputs, modelId: undefined },
    { modelName: 'taxi-fare', modelVersion: '1', registered: 'true', modelId: undefined },
  );
  assert.equal(r.outputs.modelId, `${wsId()}/models/taxi-fare/versions/1`);
  const [v] = versions('taxi-fare');
  const p = props(v!);
  const trainRun = stepRun(JOB.a, 'train');
  assert.equal(p.modelUri, `azureml://jobs/${trainRun}/outputs/model_output`);
  assert.equal(p.jobName, trainRun, 'jobName is the step run that wrote the model');
  assert.equal(p.modelType, 'mlflow_model');
  assert.deepEqual(
    Object.fromEntries(Object.entries(p.tags).filter(([k]) => /^(stage|metric\.|ado\.(runId|jobName|branch|commit|pipeline))/.test(k))),
    {
      stage: 'candidate',
      'ado.runId': '4711',
      'ado.jobName': JOB.a,
      'ado.branch': 'refs/heads/main',
      'ado.commit': w.seed.ado.repository.mainHead,
      'ado.pipeline': 'mlops-train',
      'metric.evaluate.auc': '0.91',
      'metric.train.rmse': '2.9',
    },
  );
  assert.match(p.tags['ado.runUrl']!, /_build\/results\?buildId=4711$/);
  assert.equal(p.properties['ado.modelSource'], p.modelUri);
  assert.match(p.description, /Registered by .*buildId=4711 from output train\.model_output of job reg_job_a/);
  const md = r.summaries[0]!.content;
  assert.match(md, /^## Model taxi-fare:1 registered/m);
  assert.match(md, /\| Metric \| Value \| Threshold \| Verdict \|/);
  assert.match(md, /\| evaluate\.auc \| 0\.91 \| >= 0\.85 \| pass \|/);
  assert.match(md, /\| train\.rmse \| 2\.9 \| &lt; 3\.2 \| pass \|/);
  assert.match(md, /\[taxi-fare:1\]\(https:\/\/ml\.azure\.com\/model\/taxi-fare:1\/details\/overview\?wsid=/);
  assert.match(md, /\| ado\.commit \| [0-9a-f]{40} \|/);
});

test('re-running the same run and job returns the same version and writes nothing', async () => {
  const since = w.emu.requests.length;
  const r = await register({
    modelName: 'taxi-fare',
    jobName: JOB.a,
    modelOutput: 'train.model_output',
    metricGate: 'evaluate.auc >= 0.85\ntrain.rmse < 3.2',
    tags: 'stage=candidate',
  });
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.equal(r.outputs.modelVersion, '1');
  assert.equal(r.outputs.registered, 'true');
  assert.deepEqual(armWrites(since), []);
  assert.equal(versions('taxi-fare').length, 1);
  assert.ok(
    r.log.some((l) => /version 1 was already registered by this pipeline run/.test(l)),
    describe(r),
  );
  assert.match(r.summaries[0]!.content, /registered earlier by this run/);
});

test('a later pipeline run registering the same job gets a new version', async () => {
  const r = await register(
    { modelName: 'taxi-fare', jobName: JOB.a, modelOutput: 'train.model_output' },
    { variables: { 'Build.BuildId': '4800' } },
  );
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.equal(r.outputs.modelVersion, '2');
});

test('a failing threshold registers nothing and names the metric, its last value and the threshold', async () => {
  const since = w.emu.requests.length;
  // auc was 0.95, then 0.91: the last logged value decides.
  const r = await register({
    modelName: 'taxi-strict',
    jobName: JOB.a,
    modelOutput: 'trained_model',
    metricGate: 'evaluate.auc >= 0.93\ntrain.rmse < 3.2',
  });
  assert.equal(r.result, 'Failed', describe(r));
  assert.equal(r.errors.length, 1);
  assert.match(
    r.errors[0]!,
    /^Model 'taxi-strict' was not registered: the evaluation gate failed \(evaluate\.auc: 0\.91 is not >= 0\.93\)\.$/,
  );
  assert.equal(r.outputs.registered, 'false');
  assert.equal(r.outputs.modelVersion, '');
  assert.deepEqual(armWrites(since), []);
  assert.equal(versions('taxi-strict').length, 0);
  const md = r.summaries[0]!.content;
  assert.match(md, /^## Model taxi-strict: not registered/m);
  assert.match(md, /\| evaluate\.auc \| 0\.91 \| >= 0\.93 \| FAIL: 0\.91 is not >= 0\.93 \|/);
  assert.match(md, /\| train\.rmse \| 2\.9 \| &lt; 3\.2 \| pass \|/);
});

test('onGateFail: skip succeeds with issues, registered=false, nothing written', async () => {
  const since = w.emu.requests.length;
  const r = await register({
    modelName: 'taxi-strict',
    jobName: JOB.a,
    modelOutput: 'trained_model',
    metricGate: 'evaluate.auc >= 0.93',
    onGateFail: 'skip',
  });
  assert.equal(r.result, 'SucceededWithIssues', describe(r));
  assert.equal(r.outputs.registered, 'false');
  assert.ok(
    r.warnings.some((x) => /was not registered: the evaluation gate failed/.test(x)),
    describe(r),
  );
  assert.deepEqual(armWrites(since), []);
});

test('a pipeline-level output registers from the job itself', async () => {
  const r = await register({
    modelName: 'taxi-pipeline-output',
    jobName: JOB.a,
    modelOutput: 'trained_model',
    modelType: 'custom_model',
    description: 'June model',
  });
  assert.equal(r.result, 'Succeeded', describe(r));
  const p = props(versions('taxi-pipeline-output')[0]!);
  assert.equal(p.modelUri, `azureml://jobs/${JOB.a}/outputs/trained_model`);
  assert.equal(p.jobName, JOB.a);
  assert.equal(p.modelType, 'custom_model');
  assert.equal(p.description, 'June model');
  assert.ok(r.log.some((l) => /No metric gate/.test(l)));
});

test('champion/challenger: a challenger that beats the production champion by minImprovement is registered', async () => {
  // v1 is production (auc 0.90); v2 is newer but not production, with a higher auc.
  w.emu.models.add(wsId(), 'taxi-champ', '1', { tags: { stage: 'production', 'metric.evaluate.auc': '0.9' } });
  w.emu.models.add(wsId(), 'taxi-champ', '2', { tags: { stage: 'candidate', 'metric.evaluate.auc': '0.99' } });
  const r = await register({
    modelName: 'taxi-champ',
    jobName: JOB.better,
    modelOutput: 'train.model_output',
    metricGate: 'evaluate.auc >= 0.85',
    compareWith: 'tag:stage=production',
    minImprovement: '0.02',
  });
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.equal(r.outputs.modelVersion, '3');
  assert.ok(
    r.log.some((l) => /Champion: taxi-champ:1/.test(l)),
    describe(r),
  );
  const md = r.summaries[0]!.content;
  assert.match(md, /\| Metric \| Value \| Threshold \| Champion \(taxi-champ:1\) \| Verdict \|/);
  assert.match(md, /\| evaluate\.auc \| 0\.93 \| >= 0\.85 \| 0\.9 \(needs >= 0\.92\) \| pass \|/);
  assert.equal(props(versions('taxi-champ')[2]!).tags['metric.evaluate.auc'], '0.93');
});

test('champion/challenger: a challenger not better by minImprovement is refused and nothing is written', async () => {
  const since = w.emu.requests.length;
  const r = await register({
    modelName: 'taxi-champ',
    jobName: JOB.worse,
    modelOutput: 'train.model_output',
    metricGate: 'evaluate.auc >= 0.85',
    compareWith: 'tag:stage=production',
    minImprovement: '0.02',
  });
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(r.errors[0]!, /evaluate\.auc: 0\.91 does not beat champion taxi-champ:1 \(0\.9\) by 0\.02: needs >= 0\.92/);
  assert.deepEqual(armWrites(since), []);
  assert.equal(versions('taxi-champ').length, 3);
});

test('compareWith latest: the first model passes on thresholds, the next must be at least as good', async () => {
  const first = await register({
    modelName: 'taxi-latest',
    jobName: JOB.better,
    modelOutput: 'train.model_output',
    metricGate: 'evaluate.auc >= 0.8',
    compareWith: 'latest',
  });
  assert.equal(first.result, 'Succeeded', describe(first));
  assert.ok(
    first.log.some((l) => /this is the first model/.test(l)),
    describe(first),
  );
  assert.match(first.summaries[0]!.content, /no such version yet, so this is the first model/);
  assert.match(first.summaries[0]!.content, /\| none yet \| pass \|/);
  const since = w.emu.requests.length;
  const second = await register({
    modelName: 'taxi-latest',
    jobName: JOB.worse,
    modelOutput: 'train.model_output',
    metricGate: 'evaluate.auc >= 0.8',
    compareWith: 'latest',
  });
  assert.equal(second.result, 'Failed', describe(second));
  assert.match(second.errors[0]!, /0\.91 is not as good as champion taxi-latest:1 \(0\.93\)/);
  assert.deepEqual(armWrites(since), []);
});

test('a champion without a recorded metric fails the gate and says which tag is missing', async () => {
  w.emu.models.add(wsId(), 'taxi-manual', '1', { tags: { stage: 'production' } });
  const r = await register({
    modelName: 'taxi-manual',
    jobName: JOB.better,
    modelOutput: 'train.model_output',
    metricGate: 'evaluate.auc >= 0.8',
    compareWith: 'tag:stage=production',
  });
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(r.errors[0]!, /champion taxi-manual:1 has no recorded evaluate\.auc \(tag metric\.evaluate\.auc\)/);
});

test('adopting with a model registered by hand: its metrics are read from the job that trained it', async () => {
  // Registered before this task was adopted: no metric.* tags, but the job that trained it (az ml model create --job-name ...).
  w.emu.models.add(wsId(), 'taxi-adopted', '1', { tags: { stage: 'production' }, jobName: JOB.worse });
  const better = await register({
    modelName: 'taxi-adopted',
    jobName: JOB.better,
    modelOutput: 'train.model_output',
    metricGate: 'evaluate.auc >= 0.8',
    compareWith: 'tag:stage=production',
  });
  assert.equal(better.result, 'Succeeded', describe(better));
  assert.ok(
    better.log.some((l) =>
      l.includes(`Champion taxi-adopted:1 has no recorded evaluate.auc: read 0.91 from the job that trained it (${JOB.worse})`),
    ),
    describe(better),
  );
  assert.match(better.summaries[0]!.content, /\| evaluate\.auc \| 0\.93 \| >= 0\.8 \| 0\.91 \| pass \|/);
  // The same champion against a worse challenger: compared, and refused on the number, not on a missing tag.
  w.emu.models.add(wsId(), 'taxi-adopted2', '1', { tags: { stage: 'production' }, jobName: JOB.better });
  const worse = await register({
    modelName: 'taxi-adopted2',
    jobName: JOB.worse,
    modelOutput: 'train.model_output',
    metricGate: 'evaluate.auc >= 0.8',
    compareWith: 'tag:stage=production',
  });
  assert.equal(worse.result, 'Failed', describe(worse));
  assert.match(worse.errors[0]!, /0\.91 is not as good as champion taxi-adopted2:1 \(0\.93\)/);
});

test('three concurrent registrations of different jobs get distinct versions', async () => {
  w.emu.models.add(wsId(), 'taxi-concurrent', '1', {});
  const runs = await Promise.all(
    [JOB.c1, JOB.c2, JOB.c3].map((job) =>
      register({ modelName: 'taxi-concurrent', jobName: job, modelOutput: 'train.model_output', metricGate: 'evaluate.auc >= 0.5' }),
    ),
  );
  for (const r of runs) assert.equal(r.result, 'Succeeded', describe(r));
  assert.deepEqual(runs.map((r) => r.outputs.modelVersion).sort(), ['2', '3', '4']);
  const stored = versions('taxi-concurrent').slice(1);
  assert.equal(stored.length, 3);
  for (const [i, job] of [JOB.c1, JOB.c2, JOB.c3].entries()) {
    const v = stored.find((s) => props(s).tags['ado.jobName'] === job)!;
    assert.equal(v.name, runs[i]!.outputs.modelVersion);
    assert.equal(props(v).modelUri, `azureml://jobs/${stepRun(job, 'train')}/outputs/model_output`);
  }
});

test('a 429 and a 503 on the model version PUT are retried and yield exactly one version', async () => {
  const put = /\/models\/taxi-faults\/versions\/1/;
  const f429 = w.emu.faults.add({ service: 'arm', method: 'PUT', path: put, kind: 'status', status: 429, retryAfterSeconds: 1 });
  const f503 = w.emu.faults.add({ service: 'arm', method: 'PUT', path: put, kind: 'status', status: 503, retryAfterSeconds: 1 });
  const r = await register({
    modelName: 'taxi-faults',
    jobName: JOB.faults,
    modelOutput: 'train.model_output',
    metricGate: 'evaluate.auc >= 0.5',
  });
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.equal(f429.hits + f503.hits, 2);
  assert.equal(versions('taxi-faults').length, 1);
  assert.equal(r.outputs.modelVersion, '1');
});

test('PUTs that are stored but whose responses are lost never make a second version', async () => {
  // Every answer lost, through all of the client's retries: the task finds what it wrote.
  w.emu.models.loseResponses(20);
  try {
    const r = await register({ modelName: 'taxi-lost', jobName: JOB.faults, modelOutput: 'train.model_output' });
    assert.equal(r.result, 'Succeeded', describe(r));
    assert.equal(r.outputs.modelVersion, '1');
    assert.ok(
      r.log.some((l) => /response was lost/.test(l)),
      describe(r),
    );
  } finally {
    w.emu.models.loseResponses(0);
  }
  assert.equal(versions('taxi-lost').length, 1);
  const again = await register({ modelName: 'taxi-lost', jobName: JOB.faults, modelOutput: 'train.model_output' });
  assert.equal(again.outputs.modelVersion, '1');
  assert.equal(versions('taxi-lost').length, 1);
});

test('an explicit datastore path registers without a job', async () => {
  const r = await register({ modelName: 'taxi-path', modelPath: 'azureml://datastores/workspaceblobstore/paths/models/taxi/' });
  assert.equal(r.result, 'Succeeded', describe(r));
  const p = props(versions('taxi-path')[0]!);
  assert.equal(p.modelUri, 'azureml://datastores/workspaceblobstore/paths/models/taxi/');
  assert.equal(p.jobName ?? null, null);
  assert.equal(p.tags['ado.jobName'], undefined);
});

// ---- bad input: fails clearly, before any write ------------------------------------------

for (const [name, inputs, pattern] of [
  ['a job that is still running', { jobName: JOB.running }, /Job 'reg_job_running' is still Running\. Register after it completes/],
  ['a job that failed', { jobName: JOB.failed }, /Job 'reg_job_failed' ended Failed, so its outputs are not a trained model/],
  ['a job that does not exist', { jobName: 'no_such_job' }, /Job 'no_such_job' does not exist in workspace 'mlw-prod'/],
  [
    'an output the job does not have',
    { modelOutput: 'model' },
    /job 'reg_job_a' has no output 'model'\. Its outputs: trained_model, evaluation_report\. Step outputs: train\.model_output, evaluate\.evaluation_report\./,
  ],
  [
    'an output the step does not have',
    { modelOutput: 'train.model' },
    /step 'train' of job 'reg_job_a' has no output 'model' \(its outputs: model_output\)/,
  ],
  ['a step the job does not have', { modelOutput: 'fit.model_output' }, /job 'reg_job_a' has no step 'fit' \(steps: train, evaluate\)/],
  [
    'a metric the step never logged',
    { metricGate: 'evaluate.auc >= 0.5\nevaluate.precision >= 0.5' },
    /line 2 'evaluate\.precision >= 0\.5': metric 'precision' was never logged by step 'evaluate' of job 'reg_job_a' \(logged: auc\)/,
  ],
  [
    'a job-level metric of a pipeline',
    { metricGate: 'auc >= 0.5' },
    /metric 'auc' was never logged by job 'reg_job_a' itself \(it logged no metrics\)\. .*prefix the step name, e\.g\. evaluate\.auc/,
  ],
] as const) {
  test(`bad input: ${name} fails before any write`, async () => {
    const since = w.emu.requests.length;
    const base: Record<string, string> = { modelName: 'taxi-bad', jobName: JOB.a, modelOutput: 'train.model_output' };
    const r = await register({ ...base, ...inputs });
    assert.equal(r.result, 'Failed', describe(r));
    assert.equal(r.errors.length, 1, describe(r));
    assert.match(r.errors[0]!, pattern);
    assert.doesNotMatch(r.stdout + r.stderr, /\n\s+at .+:\d+:\d+/, 'no stack trace');
    assert.deepEqual(armWrites(since), []);
    assert.equal(r.outputs.registered, 'false');
  });
}

for (const [name, inputs, pattern] of [
  [
    'an unparsable gate expression',
    { metricGate: 'evaluate.auc >= 0.5\nrmse => 3' },
    /^Input 'metricGate': line 2 'rmse => 3' is not a condition: write '>=' rather than '=>'\. Each line is <metric> <op> <number>/,
  ],
  [
    'a model name Azure ML would reject',
    { modelName: 'taxi model' },
    /^Input 'modelName': 'taxi model' is not a valid Azure ML model name/,
  ],
  ['a reserved tag', { tags: 'ado.runId=1' }, /^Input 'tags': tag 'ado\.runId' uses the prefix 'ado\.'/],
  [
    'a comparison that is not one',
    { metricGate: 'evaluate.auc >= 0.5', compareWith: 'production' },
    /^Input 'compareWith': 'production' is not a comparison/,
  ],
  ['a comparison without metrics', { compareWith: 'latest' }, /^Input 'compareWith': 'latest' needs metrics to compare/],
  ['a negative minImprovement', { minImprovement: '-0.1' }, /^Input 'minImprovement' must be a number between 0/],
  ['an unknown model type', { modelType: 'onnx' }, /^Input 'modelType': 'onnx' is not a model type/],
] as const) {
  test(`bad input: ${name} fails before any Azure request`, async () => {
    const since = w.emu.requests.length;
    const r = await register({ modelName: 'taxi-bad', jobName: JOB.a, modelOutput: 'train.model_output', ...inputs });
    assert.equal(r.result, 'Failed', describe(r));
    assert.equal(r.errors.length, 1, describe(r));
    assert.match(r.errors[0]!, pattern);
    assert.deepEqual(
      w.emu.requests.slice(since).map((q) => `${q.service} ${q.method} ${q.path}`),
      [],
    );
  });
}

// ---- the branch gate ------------------------------------------------------------------------

test('refuses a feature branch before any Azure call', async () => {
  const since = w.emu.requests.length;
  const r = await register(
    { modelName: 'taxi-fare', jobName: JOB.a, modelOutput: 'train.model_output' },
    { variables: { 'Build.SourceBranch': 'refs/heads/feature/new-model' } },
  );
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(r.errors[0]!, /Refusing to run from 'refs\/heads\/feature\/new-model'/);
  const azure = w.emu.requests.slice(since).filter((q) => q.service === 'arm' || q.service === 'entra' || q.service === 'imds');
  assert.deepEqual(
    azure.map((q) => `${q.method} ${q.path}`),
    [],
  );
});

test('enforceBranchGate: false registers from any branch and warns', async () => {
  const r = await register(
    { modelName: 'taxi-dev', jobName: JOB.a, modelOutput: 'train.model_output', enforceBranchGate: 'false' },
    { variables: { 'Build.SourceBranch': 'refs/heads/feature/new-model' } },
  );
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.ok(r.warnings.some((x) => /enforceBranchGate is false/.test(x)));
  assert.equal(props(versions('taxi-dev')[0]!).tags['ado.branch'], 'refs/heads/feature/new-model');
});

test('no secret (tokens, keys) appears in any model-register run', () => {
  assertNoLeaks(w);
});
