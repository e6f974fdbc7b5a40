/**
 * Agent-level tests of AmlPipelineJob@1 against the emulator: submission of the sample
 * train/evaluate pipeline and the reference examples, waiting, failure, timeout, cancellation,
 * re-submission that uploads nothing, and bad input that creates nothing in Azure.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { copyReference, copySample } from '../../testkit/pipeline-sample';
import type { TaskRun } from '../../testkit/harness';
import { assertNoLeaks, describe, startWorld, workspaceInputs, type World } from '../../testkit/world';

let w: World;
let sample: string;
before(async () => {
  w = await startWorld();
  w.emu.aml.scriptJobs({ startDelayMs: 20, stepDurationMs: 60, phaseMs: 5 });
  w.emu.aml.addData(w.seed.workspace.id, 'taxi-test', '1', 'azureml://datastores/workspaceblobstore/paths/taxi/test/');
  sample = copySample();
  fs.writeFileSync(path.join(sample, 'broken.yml'), 'type: pipeline\njobs:\n  a: [unclosed\n');
});
after(() => w.close());

/** Run from a repository checkout at `root` (Build.SourcesDirectory), as the agent would. */
function run(root: string, jobFile: string, extra: Record<string, string> = {}, more: Parameters<World['run']>[1] = {}): Promise<TaskRun> {
  return w.run('AmlPipelineJob', {
    connection: 'wif',
    inputs: { ...workspaceInputs(w.seed), jobFile, ...extra },
    sources: root,
    ...more,
  });
}

const armWrites = (since: number) => w.emu.requests.slice(since).filter((q) => q.service === 'arm' && q.method !== 'GET');

test('submits the sample pipeline, follows it to Completed and reports every step', async () => {
  // Steps long enough for the task's first polls (2 s, then 3 s) to see them running.
  w.emu.aml.scriptJobs({ startDelayMs: 20, stepDurationMs: 2500, phaseMs: 5 });
  const mark = w.emu.storage.mark();
  const r = await run(sample, 'pipeline.yml');
  w.emu.aml.scriptJobs({ startDelayMs: 20, stepDurationMs: 60, phaseMs: 5 });
  assert.equal(r.result, 'Succeeded', describe(r));
  const name = r.outputs.jobName!;
  assert.match(name, /^ado_4711_[0-9a-f]{10}$/);
  assert.equal(r.outputs.jobStatus, 'Completed');
  assert.match(r.outputs.studioUrl!, /^https:\/\/ml\.azure\.com\/runs\//);
  const job = w.emu.aml.job(name)!;
  const tags = (job.body.properties as { tags: Record<string, string> }).tags;
  assert.equal(tags['ado.commit'], w.seed.ado.repository.mainHead);
  assert.equal(tags['ado.branch'], 'refs/heads/main');
  assert.equal(tags['ado.runId'], '4711');
  assert.match(tags['ado.runUrl']!, /_build\/results\?buildId=4711$/);
  for (const step of ['train', 'evaluate']) {
    assert.ok(
      r.log.some((l) => new RegExp(`step ${step}: Running`).test(l)),
      `${step} running line\n${describe(r)}`,
    );
    assert.ok(
      r.log.some((l) => new RegExp(`step ${step}: Completed`).test(l)),
      `${step} completed line`,
    );
  }
  assert.ok(w.emu.storage.bytesUploaded(mark) > 0, 'the code folder was uploaded');
  const md = r.summaries[0]!.content;
  assert.match(md, /\| Step \| Status \| Duration \| Error \|/);
  assert.match(md, /\| \[train\]\(https:\/\/ml\.azure\.com\/runs\/[^)]+\) \| Completed \|/);
  assert.ok(
    r.log.some((l) => /step train: \w+ \(https:\/\/ml\.azure\.com\/runs\//.test(l)),
    'first line of a step links to it in studio',
  );
  assert.ok(r.progress.length > 3 && r.progress.every((p) => p.value >= 0 && p.value <= 100));
});

test('re-submitting unchanged code uploads nothing and reuses the anonymous assets', async () => {
  await run(sample, 'pipeline.yml');
  const mark = w.emu.storage.mark();
  const since = w.emu.requests.length;
  const r = await run(sample, 'pipeline.yml');
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.equal(w.emu.storage.bytesUploaded(mark), 0);
  assert.ok(r.log.some((l) => /unchanged .* nothing uploaded/.test(l)));
  assert.deepEqual(
    armWrites(since)
      .map((q) => q.path.replace(/.*\/workspaces\/[^/]+\//, ''))
      .filter((p) => !p.startsWith('jobs/')),
    [],
    'only the job itself is written',
  );
});

test("a failing step fails the task, quoting Azure ML's error for that step", async () => {
  w.emu.aml.scriptJobs({
    startDelayMs: 20,
    stepDurationMs: 60,
    phaseMs: 5,
    fail: { step: 'evaluate', code: 'UserError', message: 'AUC 0.61 is below min_auc 0.7' },
  });
  try {
    const f = await run(sample, 'pipeline.yml');
    assert.equal(f.result, 'Failed', describe(f));
    assert.equal(f.outputs.jobStatus, 'Failed');
    assert.match(f.errors[0]!, /ended Failed: step evaluate: UserError: AUC 0\.61 is below min_auc 0\.7/);
  } finally {
    w.emu.aml.scriptJobs({ startDelayMs: 20, stepDurationMs: 60, phaseMs: 5 });
  }
});

test('a timeout cancels the job in Azure ML', async () => {
  w.emu.aml.scriptJobs({ startDelayMs: 20, stepDurationMs: Infinity, phaseMs: 5 });
  try {
    const r = await run(sample, 'pipeline.yml', { timeoutMinutes: '0.02' });
    assert.equal(r.result, 'Failed', describe(r));
    assert.match(r.errors[0]!, /did not finish within .*it was cancelled in Azure ML/);
    const status = (w.emu.aml.job(r.outputs.jobName!)!.body.properties as { status: string }).status;
    assert.ok(['CancelRequested', 'Canceled'].includes(status), status);
  } finally {
    w.emu.aml.scriptJobs({ startDelayMs: 20, stepDurationMs: 60, phaseMs: 5 });
  }
});

test('cancelling the pipeline run cancels the job before the task exits', async () => {
  w.emu.aml.scriptJobs({ startDelayMs: 20, stepDurationMs: Infinity, phaseMs: 5 });
  try {
    const r = await run(sample, 'pipeline.yml', {}, { cancelOn: /Job status: Running/ });
    assert.equal(r.result, 'Failed', describe(r));
    assert.match(r.errors[0]!, /cancelled/);
    const name = /Submitted pipeline job (\S+):/.exec(r.stdout)![1]!;
    const status = (w.emu.aml.job(name)!.body.properties as { status: string }).status;
    assert.ok(['CancelRequested', 'Canceled'].includes(status), status);
  } finally {
    w.emu.aml.scriptJobs({ startDelayMs: 20, stepDurationMs: 60, phaseMs: 5 });
  }
});

test('wait: false ends after submission with the job name and status', async () => {
  const r = await run(sample, 'pipeline.yml', { wait: 'false' });
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.ok(r.outputs.jobName);
  assert.ok(['NotStarted', 'Running', 'Queued'].includes(r.outputs.jobStatus!), r.outputs.jobStatus);
});

test('a bad compute name fails before anything is written', async () => {
  const since = w.emu.requests.length;
  const r = await run(sample, 'pipeline.yml', { overrides: 'settings.default_compute=azureml:no-such-cluster' });
  assert.equal(r.result, 'Failed');
  assert.match(r.errors[0]!, /Compute 'no-such-cluster' does not exist in workspace 'mlw-prod' \(computes there: .*cpu-cluster/);
  assert.deepEqual(armWrites(since), []);
});

for (const [name, file, extra, pattern] of [
  ['a missing job file', 'nope.yml', {}, /^Input 'jobFile': file 'nope\.yml' was not found/],
  ['an override that matches nothing', 'pipeline.yml', { overrides: 'jobs.nope.compute=azureml:cpu-cluster' }, /overrides.*jobs\.nope/],
  ['a malformed YAML file', 'broken.yml', {}, /broken\.yml.*line \d+/],
] as const) {
  test(`bad input: ${name} creates nothing in Azure`, async () => {
    const since = w.emu.requests.length;
    const r = await run(sample, file, extra);
    assert.equal(r.result, 'Failed', describe(r));
    assert.match(r.errors[0]!, pattern);
    assert.deepEqual(
      w.emu.requests.slice(since).filter((q) => q.service === 'arm'),
      [],
    );
  });
}

test('the reference examples that translate are submitted and complete', async () => {
  const ref = copyReference();
  const base = path.join(ref, 'Azure+azureml-examples/cli/jobs/pipelines-with-components/basics');
  for (const dir of ['4b_datastore_datapath_uri', '5a_env_public_docker_image', '5b_env_registered', '5c_env_conda_file']) {
    const r = await run(ref, path.relative(ref, path.join(base, dir, 'pipeline.yml')));
    assert.equal(r.result, 'Succeeded', `${dir}\n${describe(r)}`);
  }
  const overrides =
    'jobs.train_job.inputs.training_data.path=azureml://datastores/workspaceblobstore/paths/1a/data/\njobs.score_job.inputs.test_data.path=azureml://datastores/workspaceblobstore/paths/1a/data/';
  const r1a = await run(ref, path.relative(ref, path.join(base, '1a_e2e_local_components', 'pipeline.yml')), { overrides });
  assert.equal(r1a.result, 'Succeeded', describe(r1a));
});

test('ARM 429 on submission and 503 while waiting are retried: one job, task succeeds', async () => {
  const jobsBefore = w.emu.requests.filter((q) => q.method === 'PUT' && /\/jobs\/[^/]+$/.test(q.path) && q.status < 300).length;
  const throttle = w.emu.faults.add({
    service: 'arm',
    method: 'PUT',
    path: '/jobs/',
    kind: 'status',
    status: 429,
    retryAfterSeconds: 1,
    times: 1,
  });
  const outage = w.emu.faults.add({
    service: 'arm',
    method: 'GET',
    path: '/jobs/',
    kind: 'status',
    status: 503,
    retryAfterSeconds: 0,
    times: 2,
  });
  const r = await run(sample, 'pipeline.yml');
  assert.equal(r.result, 'Succeeded', describe(r));
  assert.equal(throttle.hits, 1);
  assert.equal(outage.hits, 2);
  const jobsAfter = w.emu.requests.filter((q) => q.method === 'PUT' && /\/jobs\/[^/]+$/.test(q.path) && q.status < 300).length;
  assert.equal(jobsAfter - jobsBefore, 1, 'exactly one job was created');
});

test('a workload-identity wait longer than the token lifetimes keeps working', async () => {
  const lifetimes = { access: w.emu.entra.tokenLifetimeSeconds, oidc: w.emu.ado.oidcTokenLifetimeSeconds };
  w.emu.entra.tokenLifetimeSeconds = 2;
  w.emu.ado.oidcTokenLifetimeSeconds = 2;
  w.emu.aml.scriptJobs({ startDelayMs: 20, stepDurationMs: 3000, phaseMs: 5 });
  try {
    const since = w.emu.requests.length;
    const r = await w.run('AmlPipelineJob', {
      connection: 'wif',
      inputs: { ...workspaceInputs(w.seed), jobFile: 'pipeline.yml' },
      variables: { 'Build.SourcesDirectory': sample },
    });
    assert.equal(r.result, 'Succeeded', describe(r));
    const oidc = w.emu.requests.slice(since).filter((q) => q.service === 'ado' && /oidctoken$/.test(q.path));
    assert.ok(oidc.length >= 3, `fresh OIDC tokens during the wait: ${oidc.length}`);
    assert.ok(
      w.emu.requests
        .slice(since)
        .filter((q) => q.service === 'entra')
        .every((q) => q.status === 200),
    );
  } finally {
    w.emu.aml.scriptJobs({ startDelayMs: 20, stepDurationMs: 60, phaseMs: 5 });
    w.emu.entra.tokenLifetimeSeconds = lifetimes.access;
    w.emu.ado.oidcTokenLifetimeSeconds = lifetimes.oidc;
  }
});

test('no secret (SAS, tokens, keys) appears in any pipeline-job run', () => {
  assertNoLeaks(w);
});
