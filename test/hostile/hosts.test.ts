/**
 * Hostile input, part 3: a token goes only to hosts derived from the connection, the workspace
 * and the cloud. Each place where an answer names a host (the workspace's discoveryUrl and
 * mlFlowTrackingUri, the discovery document, a run-history nextLink, an operation's Location or
 * Azure-AsyncOperation, Azure DevOps' resource areas) is pointed at a second HTTPS server, which
 * must receive no Authorization header (in fact nothing at all), while the task says why.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, beforeEach, test } from 'node:test';
import type { EmuResponse } from '../../testkit/emulator/types';
import { copySample, scratch } from '../../testkit/pipeline-sample';
import type { TaskRun } from '../../testkit/harness';
import { assertNoLeaks, describe, startWorld, workspaceInputs, type World } from '../../testkit/world';
import { startOtherHost, type OtherHost } from './helpers';

let w: World;
let other: OtherHost;
let sample: string;
let checked = 0;

before(async () => {
  w = await startWorld();
  other = await startOtherHost();
  w.emu.aml.addData(w.seed.workspace.id, 'taxi-test', '1', 'azureml://datastores/workspaceblobstore/paths/taxi/test/');
  sample = copySample();
});
beforeEach(() => w.emu.aml.scriptJobs({ startDelayMs: 10, stepDurationMs: 60, phaseMs: 2 }));
after(async () => {
  await other.close();
  await w.close();
  assert.ok(checked >= 6, `only ${checked} paths were pointed at the other host`);
});

/** Rewrites matching answers of the emulator; `edit` changes the parsed JSON body or the headers. */
function rewrite(method: string, pathRe: RegExp, edit: (res: EmuResponse) => void) {
  return w.emu.faults.add({ method, path: pathRe, kind: 'rewrite', times: Infinity, rewrite: (res) => (edit(res), res) });
}

const refusal = (r: TaskRun): boolean =>
  [...r.errors, ...r.warnings].some(
    (m) =>
      m.includes(`Refusing to call ${new URL(other.origin).host} with the service connection's credentials`) ||
      m.includes(`Refusing to send the job's access token to ${new URL(other.origin).host}`),
  );

/** Runs with `fault` in place and checks that the other host saw nothing and the task said so. */
async function pointedAway(fault: ReturnType<typeof rewrite>, run: () => Promise<TaskRun>): Promise<TaskRun> {
  const seen = other.requests.length;
  try {
    const r = await run();
    assert.ok(fault.hits > 0, `the rewrite on ${String(fault.spec.path)} never fired`);
    assert.deepEqual(other.requests.slice(seen), [], 'the other host received a request');
    assert.ok(refusal(r), `the task did not say it refused the other host\n${describe(r)}\nwarnings: ${r.warnings.join('\n')}`);
    checked++;
    return r;
  } finally {
    fault.remove();
  }
}

const submit = (inputs: Record<string, string> = {}) =>
  w.run('AmlPipelineJob', {
    connection: 'wif',
    inputs: { ...workspaceInputs(w.seed), jobFile: 'pipeline.yml', ...inputs },
    sources: sample,
  });
const body = (res: EmuResponse) => res.body as Record<string, Record<string, unknown>>;

test("the workspace's discoveryUrl on another host: step statuses are not read from it", async () => {
  const r = await pointedAway(
    rewrite('GET', /\/workspaces\/mlw-prod\?/, (res) => (body(res).properties!.discoveryUrl = `${other.origin}/discovery`)),
    () => submit(),
  );
  assert.equal(r.result, 'Succeeded', describe(r));
});

test('the discovery document naming another run-history host', async () => {
  await pointedAway(
    rewrite('GET', /^\/discovery/, (res) => (body(res).history = other.origin as never)),
    () => submit(),
  );
});

test('a run-history nextLink on another host', async () => {
  w.emu.aml.dataPlane.childrenPageSize = 1;
  try {
    await pointedAway(
      rewrite('GET', /\/runs\/[^/]+\/children/, (res) => {
        const b = res.body as { nextLink?: string | null };
        if (b.nextLink) b.nextLink = `${other.origin}${new URL(b.nextLink).pathname}`;
      }),
      () => submit(),
    );
  } finally {
    w.emu.aml.dataPlane.childrenPageSize = 100;
  }
});

test("a job cancel whose Location names another host (the SDK's poller would follow it)", async () => {
  w.emu.aml.scriptJobs({ startDelayMs: 10, stepDurationMs: Infinity, phaseMs: 2, cancelDelayMs: 30 });
  const r = await pointedAway(
    rewrite('POST', /\/jobs\/[^/]+\/cancel\?/, (res) => {
      res.headers = {
        ...res.headers,
        location: `${other.origin}/operationResults/x`,
        'azure-asyncoperation': `${other.origin}/operationStatuses/x`,
      };
    }),
    () => submit({ timeoutMinutes: '0.03', cancelOnTimeout: 'true' }),
  );
  assert.equal(r.result, 'Failed', describe(r));
});

test("the workspace's MLflow tracking URI on another host: no metrics are read from it", async () => {
  const base = fs.readFileSync(path.join(sample, 'pipeline.yml'), 'utf8');
  fs.writeFileSync(path.join(sample, 'hosts_mlflow.yml'), `name: hosts_mlflow\n${base}`);
  assert.equal((await submit({ jobFile: 'hosts_mlflow.yml' })).result, 'Succeeded');
  const r = await pointedAway(
    rewrite(
      'GET',
      /\/workspaces\/mlw-prod\?/,
      (res) => (body(res).properties!.mlFlowTrackingUri = `azureml://${new URL(other.origin).host}/mlflow/v1.0/x`),
    ),
    () =>
      w.run('AmlModelRegister', {
        connection: 'wif',
        inputs: {
          ...workspaceInputs(w.seed),
          modelName: 'hosts-model',
          jobName: 'hosts_mlflow',
          modelOutput: 'trained_model',
          metricGate: 'train.auc >= 0.5',
        },
        sources: sample,
      }),
  );
  assert.equal(r.result, 'Failed', describe(r));
});

test('an endpoint operation whose Azure-AsyncOperation names another host', async () => {
  w.emu.online.script({ endpointMs: 300, deploymentMs: 40, deleteMs: 20, retryAfterSeconds: 0 });
  w.emu.models.add(w.seed.workspace.id, 'hosts-model', '1', { modelType: 'mlflow_model' });
  const repo = scratch({ 'req.json': '{"data": [[1]]}' });
  const r = await pointedAway(
    rewrite('PUT', /\/onlineEndpoints\/hosts-ep\?/, (res) => {
      res.headers = {
        ...res.headers,
        'azure-asyncoperation': `${other.origin}/operationStatuses/x`,
        location: `${other.origin}/operationResults/x`,
      };
    }),
    () =>
      w.run('AmlAksDeploy', {
        connection: 'wif',
        inputs: {
          ...workspaceInputs(w.seed),
          computeName: 'aks-prod',
          endpointName: 'hosts-ep',
          model: 'hosts-model:1',
          stepWaitSeconds: '0',
          smokeTestFile: 'req.json',
        },
        sources: repo,
      }),
  );
  assert.equal(r.result, 'Failed', describe(r));
});

test("Azure DevOps' resource areas naming another host: the job token stays with the collection", async () => {
  const r = await pointedAway(
    rewrite('GET', /_apis\/ResourceAreas/i, (res) => {
      const b = res.body as { value?: Array<{ locationUrl: string }>; locationUrl?: string };
      for (const a of b.value ?? [b as { locationUrl: string }]) a.locationUrl = `${other.origin}/contoso/`;
    }),
    () => submit(),
  );
  assert.equal(r.result, 'Failed', describe(r));
  assertNoLeaks(w);
});
