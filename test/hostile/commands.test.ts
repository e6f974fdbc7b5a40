/**
 * Hostile input, part 1: text that someone else controls never becomes an agent command. Each
 * source the security review named is fed attacker text (Azure's answers through the emulator's
 * rewrite faults, a step's Python error, file names, inputs, DNS answers); every run must issue
 * exactly the task's own commands, and the text must be seen to reach the output, defused.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import type { EmuResponse } from '../../testkit/emulator/types';
import { copySample, scratch } from '../../testkit/pipeline-sample';
import type { TaskRun } from '../../testkit/harness';
import { describe, startWorld, workspaceInputs, type World } from '../../testkit/world';
import { assertOnlyOwnCommands, hostile, hostileLine, reachedOutput } from './helpers';

let w: World;
let sample: string;
const scanned: TaskRun[] = [];
const wsId = () => w.seed.workspace.id;

before(async () => {
  w = await startWorld();
  w.emu.aml.scriptJobs({ startDelayMs: 10, stepDurationMs: 40, phaseMs: 2 });
  w.emu.aml.addData(wsId(), 'taxi-test', '1', 'azureml://datastores/workspaceblobstore/paths/taxi/test/');
  sample = copySample();
});
after(async () => {
  await w.close();
  // A scan that found nothing to scan has failed.
  assert.ok(scanned.length >= 5, `only ${scanned.length} runs were scanned`);
});

function check(r: TaskRun, task: string, tags: string[]): void {
  scanned.push(r);
  assert.ok(assertOnlyOwnCommands(r, task) > 0, 'the run printed commands to check');
  for (const t of tags)
    assert.ok(reachedOutput(r, t), `the ${t} text never reached the output, so this test proves nothing for it\n${describe(r)}`);
}

/** Rewrites the JSON body of matching answers. */
function rewriteJson(method: string, pathRe: RegExp, edit: (body: Record<string, unknown>) => void, times = Infinity) {
  return w.emu.faults.add({
    method,
    path: pathRe,
    kind: 'rewrite',
    times,
    rewrite: (res: EmuResponse) => {
      if (res.status < 300 && res.body && typeof res.body === 'object') edit(res.body as Record<string, unknown>);
      return res;
    },
  });
}

test("AmlPipelineJob: a step's error, step display names, the job status and the job file name", async () => {
  const file = `train ${hostileLine('file')}.yml`;
  fs.copyFileSync(path.join(sample, 'pipeline.yml'), path.join(sample, file));
  w.emu.aml.scriptJobs({
    startDelayMs: 10,
    stepDurationMs: 40,
    phaseMs: 2,
    fail: { step: 'evaluate', code: 'UserError', message: `ValueError: ${hostile('error')}` },
  });
  const children = rewriteJson('GET', /\/runs\/[^/]+\/children/, (b) => {
    for (const v of (b.value as Array<Record<string, unknown>>) ?? []) v.displayName = `${String(v.displayName)} ${hostileLine('step')}`;
  });
  const status = rewriteJson(
    'GET',
    /\/jobs\/ado_[^/?]+\?/,
    (b) => ((b.properties as Record<string, unknown>).status = hostileLine('status')),
    1,
  );
  try {
    const r = await w.run('AmlPipelineJob', { connection: 'wif', inputs: { ...workspaceInputs(w.seed), jobFile: file }, sources: sample });
    assert.equal(r.result, 'Failed', describe(r));
    assert.ok(status.hits > 0 && children.hits > 0);
    check(r, 'AmlPipelineJob', ['file', 'error', 'step', 'status']);
  } finally {
    children.remove();
    status.remove();
    w.emu.aml.scriptJobs({ startDelayMs: 10, stepDurationMs: 40, phaseMs: 2 });
  }
});

test("AmlModelRegister: the job's step keys, and a modelPath input", async () => {
  const base = fs.readFileSync(path.join(sample, 'pipeline.yml'), 'utf8');
  fs.writeFileSync(path.join(sample, 'hostile_src.yml'), `name: hostile_src\n${base}`);
  const sub = await w.run('AmlPipelineJob', {
    connection: 'wif',
    inputs: { ...workspaceInputs(w.seed), jobFile: 'hostile_src.yml' },
    sources: sample,
  });
  assert.equal(sub.result, 'Succeeded', describe(sub));
  const keys = rewriteJson('GET', /\/jobs\/hostile_src\?/, (b) => {
    const jobs = (b.properties as { jobs?: Record<string, unknown> }).jobs ?? {};
    const first = Object.keys(jobs)[0]!;
    jobs[`${first}\n${hostile('stepkey')}`] = jobs[first];
  });
  try {
    const r = await w.run('AmlModelRegister', {
      connection: 'wif',
      inputs: { ...workspaceInputs(w.seed), modelName: 'hostile-model', jobName: 'hostile_src', modelOutput: 'trained_model' },
      sources: sample,
    });
    assert.ok(keys.hits > 0);
    check(r, 'AmlModelRegister', ['stepkey']);
  } finally {
    keys.remove();
  }
  const bad = await w.run('AmlModelRegister', {
    connection: 'wif',
    inputs: { ...workspaceInputs(w.seed), modelName: 'hostile-model', modelPath: `azureml://jobs/x/outputs/y\n${hostile('modelpath')}` },
    sources: sample,
  });
  assert.equal(bad.result, 'Failed', describe(bad));
  check(bad, 'AmlModelRegister', ['modelpath']);
});

test("AmlAksDeploy: the endpoint's authMode, an operation's status, a model's type, getLogs' error and the deployment file name", async () => {
  w.emu.online.script({ endpointMs: 20, deploymentMs: 40, deleteMs: 20, retryAfterSeconds: 0 });
  w.emu.models.add(wsId(), 'hostile-fare', '1', { modelType: 'mlflow_model' });
  w.emu.online.addEndpoint(wsId(), 'hostile-ep', {
    compute: 'aks-prod',
    deployments: [{ name: 'blue', model: `${wsId()}/models/hostile-fare/versions/1`, traffic: 100 }],
  });
  const deployFile = `deploy ${hostileLine('deployfile')}.yml`;
  const repo = scratch({ 'req.json': '{"data": [[1]]}', [deployFile]: 'instance_count: 1\n' });
  w.emu.online.scriptDeployment('green', { createMs: 1500, fail: { code: 'ResourceNotReady', message: 'crashed' } });
  const faults = [
    rewriteJson(
      'GET',
      /\/onlineEndpoints\/hostile-ep\?/,
      (b) => ((b.properties as Record<string, unknown>).authMode = hostileLine('authmode')),
    ),
    rewriteJson(
      'GET',
      /\/models\/hostile-fare\/versions\/1\?/,
      (b) => ((b.properties as Record<string, unknown>).modelType = `mlflow_model ${hostileLine('modeltype')}`),
    ),
    rewriteJson('GET', /operation|Operation/, (b) => {
      if (b.status === 'InProgress') b.status = `InProgress ${hostileLine('lrostatus')}`;
    }),
    w.emu.faults.add({
      method: 'POST',
      path: /\/getLogs\?/,
      kind: 'rewrite',
      times: Infinity,
      rewrite: () => ({ status: 400, body: { error: { code: 'BadRequest', message: hostile('getlogs') } } }),
    }),
  ];
  try {
    const r = await w.run('AmlAksDeploy', {
      connection: 'wif',
      inputs: {
        ...workspaceInputs(w.seed),
        computeName: 'aks-prod',
        endpointName: 'hostile-ep',
        model: 'hostile-fare:1',
        deploymentName: 'green',
        deploymentFile: deployFile,
        instanceCount: '2',
        smokeTestFile: 'req.json',
        authMode: 'aml_token',
        stepWaitSeconds: '0',
      },
      sources: repo,
    });
    assert.equal(r.result, 'Failed', describe(r));
    for (const f of faults) assert.ok(f.hits > 0, `fault on ${String(f.spec.path)} never fired`);
    check(r, 'AmlAksDeploy', ['deployfile', 'authmode', 'modeltype', 'lrostatus', 'getlogs']);
  } finally {
    for (const f of faults) f.remove();
  }
});

test('AmlPrivateLinkCheck: CNAME targets from a DNS answer, and a name given as input', async () => {
  const target = w.names[0]!;
  const evil = `evil##vso[task.setvariable variable=PWNED_cname]1.example`;
  w.dns.set(target.privatelink, { cname: evil });
  w.dns.set(evil, { a: ['20.1.2.3'] });
  try {
    const r = await w.run('AmlPrivateLinkCheck', {
      connection: 'wif',
      inputs: { ...workspaceInputs(w.seed), dnsServers: w.dns.address, tcpCheck: 'false' },
    });
    assert.equal(r.result, 'Failed', describe(r));
    check(r, 'AmlPrivateLinkCheck', ['cname']);
  } finally {
    w.dns.set(target.privatelink, { a: [target.ip] });
  }
  const bad = await w.run('AmlPrivateLinkCheck', {
    inputs: {
      fqdns: `ok.example.com\nx##vso[task.setvariable variable=PWNED_fqdn]1.example=10.0.0.1`,
      dnsServers: w.dns.address,
      tcpCheck: 'false',
    },
  });
  check(bad, 'AmlPrivateLinkCheck', ['fqdn']);
});
