/**
 * The official Azure ML SDK (azure-ai-ml 1.4.0, Debian's python3-azure) as a real client of the
 * emulator: one python process (py/sdk_client.py) submits the corpus jobs with
 * `jobs.create_or_update(load_job(path))` (local code and data uploaded by the SDK itself),
 * registers a data asset from a local folder and a model from a local file, and creates an online
 * endpoint and deployment, all against the in-process emulator: ARM at its origin
 * (AZUREML_DEV_URL_MFE), storage at https://<account>.blob.core.windows.net through a tunnel
 * (HTTPS_PROXY), the test CA through REQUESTS_CA_BUNDLE, and a token from the emulator's Entra.
 * The emulator must accept what the SDK sends and the SDK must parse what it answers; where they
 * disagree the emulator is changed, or the difference is in allow-list.json (`sdkClient`) when the
 * emulator follows Azure and 1.4.0 is outdated. Fails, never skips, without python3-azure.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { translateJob } from '../../tasks/AmlPipelineJob/translate';
import { tunnelHosts, type Tunnel } from '../emulator/tunnel';
import { seedCorpusWorkspace, startWorld, type World } from '../world';
import { corpusJobs, loadAllowList, paramsOverride, runSdkScript, sdkOverrideFor, type CorpusJob } from './differential';

interface ClientResult {
  op: 'job' | 'data' | 'model' | 'online';
  ok: boolean;
  error?: string;
  trace?: string;
  file?: string;
  name?: string;
  type?: string;
  status?: string;
  submitted_status?: string;
  version?: string;
  path?: string;
  got_path?: string;
  got_version?: string;
  endpoint?: string;
  endpoint_state?: string;
  deployment_state?: string;
  deployment_model?: string;
  scoring_uri?: string;
  traffic?: Record<string, number>;
}

const jobs = corpusJobs().filter((j) => !process.env.SDK_CLIENT_ONLY || j.rel.includes(process.env.SDK_CLIENT_ONLY));
const allow = loadAllowList();
let w: World;
let internet: Tunnel;
let results: ClientResult[] = [];
let local: string;
let storageSince = 0;

const DATA = 'sdk-client-data';
const MODEL = 'sdk-client-model';
const ENDPOINT = 'sdk-client-ep';

before(async () => {
  w = await startWorld();
  w.emu.aml.scriptJobs({ startDelayMs: 10, stepDurationMs: 20, phaseMs: 5 });
  w.emu.online.script({ endpointMs: 30, deploymentMs: 60, retryAfterSeconds: 0 });
  await w.emu.storage.start();
  internet = await tunnelHosts([w.emu.storage.publicRoute()]);
  storageSince = w.emu.storage.mark();

  // Local files a data scientist has: a data folder, a model file, scoring code.
  local = fs.mkdtempSync(path.join(os.tmpdir(), 'sdk-client-'));
  fs.mkdirSync(path.join(local, 'data'));
  fs.writeFileSync(path.join(local, 'data', 'train.csv'), 'x,y\n1,2\n3,4\n');
  fs.writeFileSync(path.join(local, 'data', 'test.csv'), 'x,y\n5,6\n');
  fs.writeFileSync(path.join(local, 'model.pkl'), Buffer.from('not really a pickle, but bytes all the same'));
  fs.mkdirSync(path.join(local, 'score'));
  fs.writeFileSync(path.join(local, 'score', 'score.py'), 'def init():\n    pass\n\n\ndef run(raw):\n    return raw\n');
  fs.writeFileSync(path.join(local, 'conda.yml'), 'name: score\ndependencies:\n  - python=3.10\n  - pip:\n    - azureml-inference-server-http\n');

  const operations: object[] = [];
  for (const j of jobs) {
    try {
      seedCorpusWorkspace(w, translateJob(j.file, { root: j.root, overrides: [] }));
    } catch {
      // Our translation refuses it; the SDK submits it all the same (what it needs is not seeded).
    }
    operations.push({ op: 'job', file: j.file, override: paramsOverride(sdkOverrideFor(allow, j)) ?? [] });
  }
  operations.push({ op: 'data', name: DATA, version: '1', path: path.join(local, 'data'), type: 'uri_folder' });
  operations.push({ op: 'model', name: MODEL, version: '1', path: path.join(local, 'model.pkl') });
  operations.push({
    op: 'online',
    endpoint: ENDPOINT,
    deployment: 'blue',
    model: `azureml:${MODEL}:1`,
    code: path.join(local, 'score'),
    scoringScript: 'score.py',
    image: 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest',
    condaFile: path.join(local, 'conda.yml'),
    instanceType: 'Standard_DS3_v2',
  });

  const seed = w.seed;
  results = await runSdkScript<ClientResult[]>(
    'sdk_client.py',
    {
      url: w.emu.url,
      tenantId: seed.tenantId,
      clientId: seed.servicePrincipals.secret.clientId,
      clientSecret: seed.servicePrincipals.secret.secret,
      subscription: seed.subscriptionId,
      resourceGroup: seed.resourceGroup,
      workspace: seed.workspace.name,
      operations,
    },
    {
      env: {
        AZUREML_DEV_URL_MFE: w.emu.url,
        REQUESTS_CA_BUNDLE: w.emu.caFile,
        HTTPS_PROXY: internet.url,
        https_proxy: internet.url,
        NO_PROXY: '127.0.0.1,localhost',
        no_proxy: '127.0.0.1,localhost',
      },
      timeoutMs: 600_000,
    },
  );
});

after(async () => {
  await internet?.close();
  await w?.close();
  if (local) fs.rmSync(local, { recursive: true, force: true });
});

const fail = (r: ClientResult | undefined): string => (r ? `${r.error}\n${r.trace ?? ''}` : 'no result');

describe('azure-ai-ml 1.4.0 as a client of the emulator', () => {
  test('one result per operation', () => {
    assert.equal(results.length, jobs.length + 3);
  });

  for (const [i, j] of jobs.entries()) {
    test(`job ${j.rel}`, () => {
      const r = results[i]!;
      assert.equal(r.file, j.file);
      console.log(JSON.stringify({ rel: j.rel, ok: r.ok, status: r.status, error: r.error?.slice(0, 600) }));
      assert.ok(r.ok, fail(r));
      assert.equal(r.status, 'Completed', `${j.rel}: ${r.name}`);
      assert.ok(w.emu.aml.job(r.name!), `the emulator has job ${r.name}`);
    });
  }

  test('data asset from a local folder', async () => {
    const r = results.find((x) => x.op === 'data');
    assert.ok(r?.ok, fail(r));
    console.log(JSON.stringify(r));
  });

  test('model from a local file', async () => {
    const r = results.find((x) => x.op === 'model');
    assert.ok(r?.ok, fail(r));
    console.log(JSON.stringify(r));
  });

  test('online endpoint and deployment', async () => {
    const r = results.find((x) => x.op === 'online');
    assert.ok(r?.ok, fail(r));
    console.log(JSON.stringify(r));
  });

  test('uploads', () => {
    console.log(w.emu.storage.requests.slice(storageSince).map((q) => `${q.method} ${q.path} ${q.status}`).slice(0, 50).join('\n'));
    console.log(internet.connects.slice(0, 10).join(', '));
  });
});

export type { CorpusJob };
