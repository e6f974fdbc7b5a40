/**
 * The official Azure ML SDK (azure-ai-ml 1.4.0, Debian's python3-azure) as a real client of the
 * emulator: one python process (py/sdk_client.py) submits every corpus job with
 * `jobs.create_or_update(load_job(path))` (the SDK uploads local code, data and build contexts
 * itself) and follows it to its end, registers a data asset from a local folder and a model from
 * a local file, and creates an online endpoint and deployment (with local scoring code) and sends
 * it all traffic. ARM is the emulator's origin (AZUREML_DEV_URL_MFE, the SDK's developer
 * override), storage is https://<account>.blob.core.windows.net through a tunnel (HTTPS_PROXY),
 * TLS trusts the test CA (REQUESTS_CA_BUNDLE), and the token comes from the emulator's Entra for a
 * seeded service principal (Contributor on the resource group).
 *
 * The emulator must accept what the SDK sends and the SDK must parse what it answers. Where they
 * disagree the emulator is changed, unless it answers as Azure does and 1.4.0 is outdated: then
 * the job is in allow-list.json `sdkClient` (or `sdkOverrides`), each entry needed by some file.
 * Fails, never skips, without python3-azure.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { translateJob } from '../../tasks/AmlPipelineJob/translate';
import type { JsonObject } from '../../testkit/emulator/jwt';
import { tunnelHosts, type Tunnel } from '../../testkit/emulator/tunnel';
import { seedCorpusWorkspace, startWorld, type World } from '../../testkit/world';
import { corpusJobs, loadAllowList, paramsOverride, runSdkScript, sdkOverrideFor } from './differential';

/** What py/sdk_client.py prints per operation. */
interface ClientResult {
  op: 'job' | 'data' | 'model' | 'online';
  ok: boolean;
  error?: string;
  trace?: string;
  seconds?: number;
  // job
  file?: string;
  name?: string;
  type?: string;
  status?: string;
  submitted_status?: string;
  // data, model
  version?: string;
  path?: string;
  got_path?: string;
  got_version?: string;
  // online
  endpoint?: string;
  endpoint_state?: string;
  deployment_state?: string;
  deployment_model?: string;
  scoring_uri?: string;
  traffic?: Record<string, number>;
}

const jobs = corpusJobs();
const allow = loadAllowList();
const usedFailures = new Set<number>();
let w: World;
let internet: Tunnel;
let results: ClientResult[] = [];
let local: string;
let storageSince = 0;

const DATA = 'sdk-client-data';
const MODEL = 'sdk-client-model';
const MODEL_BYTES = Buffer.from('not really a pickle, but bytes all the same\n');
const ENDPOINT = 'sdk-client-ep';
const K8S_ENDPOINT = 'sdk-client-aks';
const LOCAL_UPLOAD = /^LocalUpload\/[0-9a-f]{32}\//;

const resultOf = (op: ClientResult['op']): ClientResult | undefined => results.find((r) => r.op === op);
const why = (r: ClientResult | undefined): string => (r ? `${r.error ?? ''}\n${r.trace ?? ''}` : 'no result');
/** A workspace path of the default datastore (short or long azureml:// form) as a blob URL. */
async function blobUrlOf(uri: string): Promise<string> {
  const m = /\/datastores\/workspaceblobstore\/paths\/(.*)$/.exec(uri);
  assert.ok(m, `not a workspaceblobstore path: ${uri}`);
  const url = await w.emu.aml.datastoreUrl(w.seed.workspace.id, `azureml://datastores/workspaceblobstore/paths/${m[1]}`);
  assert.ok(url, uri);
  return url;
}

before(async () => {
  w = await startWorld();
  w.emu.aml.scriptJobs({ startDelayMs: 10, stepDurationMs: 20, phaseMs: 5 });
  w.emu.online.script({ endpointMs: 30, deploymentMs: 60, retryAfterSeconds: 0 });
  await w.emu.storage.start();
  internet = await tunnelHosts([w.emu.storage.publicRoute()]);
  storageSince = w.emu.storage.mark();

  // What a data scientist has on disk: a data folder, a model file, scoring code and its conda file.
  local = fs.mkdtempSync(path.join(os.tmpdir(), 'sdk-client-'));
  fs.mkdirSync(path.join(local, 'data'));
  fs.writeFileSync(path.join(local, 'data', 'train.csv'), 'x,y\n1,2\n3,4\n');
  fs.writeFileSync(path.join(local, 'data', 'test.csv'), 'x,y\n5,6\n');
  fs.writeFileSync(path.join(local, 'model.pkl'), MODEL_BYTES);
  fs.mkdirSync(path.join(local, 'score'));
  fs.writeFileSync(path.join(local, 'score', 'score.py'), 'def init():\n    pass\n\n\ndef run(raw):\n    return raw\n');
  fs.writeFileSync(
    path.join(local, 'conda.yml'),
    'name: score\ndependencies:\n  - python=3.10\n  - pip:\n    - azureml-inference-server-http\n',
  );

  const operations: object[] = [];
  for (const j of jobs) {
    try {
      seedCorpusWorkspace(w, translateJob(j.file, { root: j.root, overrides: [] }));
    } catch {
      // Our translation refuses the file (allow-list refusals); the SDK gets its chance all the same.
    }
    operations.push({ op: 'job', file: j.file, override: paramsOverride(sdkOverrideFor(allow, j)) ?? [] });
  }
  operations.push({ op: 'data', name: DATA, version: '1', path: path.join(local, 'data'), type: 'uri_folder' });
  operations.push({ op: 'model', name: MODEL, version: '1', path: path.join(local, 'model.pkl') });
  const deployment = {
    deployment: 'blue',
    model: `azureml:${MODEL}:1`,
    code: path.join(local, 'score'),
    scoringScript: 'score.py',
    image: 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest',
    condaFile: path.join(local, 'conda.yml'),
  };
  operations.push({ op: 'online', endpoint: ENDPOINT, instanceType: 'Standard_DS3_v2', ...deployment });
  // On the seeded attached AKS cluster (Kubernetes endpoint), with its instance type.
  operations.push({ op: 'online', endpoint: K8S_ENDPOINT, compute: 'aks-prod', instanceType: 'defaultInstanceType', ...deployment });

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

describe('azure-ai-ml 1.4.0 as a client of the emulator', () => {
  test('one result per operation', () => {
    assert.equal(results.length, jobs.length + 4);
  });

  for (const [i, j] of jobs.entries()) {
    test(`job ${j.rel}`, () => {
      const r = results[i]!;
      assert.equal(r.file, j.file);
      const known = allow.sdkClient.findIndex((e) => e.files.some((f) => j.rel.includes(f)));
      if (known >= 0) {
        usedFailures.add(known);
        assert.equal(r.ok, false, `${j.rel} is in allow-list sdkClient but the SDK submitted it (${r.name}: ${r.status}); drop the entry`);
        assert.match(r.error ?? '', new RegExp(allow.sdkClient[known]!.error, 's'), why(r));
        return;
      }
      assert.ok(r.ok, why(r));
      assert.ok(r.name, 'the created job has a name');
      assert.equal(r.status, 'Completed', `${j.rel}: job ${r.name} (submitted as ${r.submitted_status})`);
      const job = w.emu.aml.job(r.name);
      assert.ok(job, `the emulator has job ${r.name}`);
      assert.equal(job.jobType.toLowerCase(), String(r.type).toLowerCase(), 'the job type the SDK parsed');
      assert.equal((job.body.properties as JsonObject).status, 'Completed');
    });
  }

  test('at least 50 corpus jobs run to Completed, and every sdkClient allow-list entry is needed', () => {
    const completed = results.filter((r) => r.op === 'job' && r.ok && r.status === 'Completed');
    assert.ok(completed.length >= 50, `completed: ${completed.length} of ${jobs.length}`);
    assert.deepEqual(
      allow.sdkClient.filter((_, k) => !usedFailures.has(k)).map((e) => e.files.join(', ')),
      [],
      'sdkClient entries no file needs',
    );
    for (const e of allow.sdkClient) assert.ok(e.reason.length > 20, 'every entry says why');
  });

  test('local code is uploaded under LocalUpload/ and registered with its public blob URI', async () => {
    const codes = w.emu.arm.resources.all().filter((r) => /\/codes\/[^/]+\/versions\/[^/]+$/.test(r.id));
    assert.ok(codes.length >= 20, `code versions: ${codes.length}`);
    const account = w.seed.workspace.body.properties as JsonObject;
    const storageName = String(account.storageAccount).split('/').pop()!;
    for (const c of codes) {
      const uri = String((c.body.properties as JsonObject).codeUri);
      assert.match(
        uri,
        new RegExp(`^https://${storageName}\\.blob\\.core\\.windows\\.net/azureml-blobstore-[0-9a-f-]+/LocalUpload/[0-9a-f]{32}(/|$)`),
        c.id,
      );
      assert.ok(await w.emu.storage.exists(uri), `${uri} has blobs`);
    }
    const puts = w.emu.storage.requests
      .slice(storageSince)
      .filter((q) => q.method === 'PUT' && q.status === 201 && LOCAL_UPLOAD.test(q.blob ?? ''));
    assert.ok(puts.length >= 20, `blob PUTs under LocalUpload/: ${puts.length}`);
    assert.ok(
      internet.connects.length > 0 && internet.connects.every((c) => /^[a-z0-9]+\.blob\.core\.windows\.net:443$/.test(c)),
      internet.connects.join(', '),
    );
  });

  test('data asset from a local folder: uploaded, registered, read back', async () => {
    const r = resultOf('data');
    assert.ok(r?.ok, why(r));
    assert.equal(r.version, '1');
    assert.match(String(r.path), /^azureml:\/\/datastores\/workspaceblobstore\/paths\/LocalUpload\/[0-9a-f]{32}\/data\/?$/);
    assert.equal(r.got_path, r.path);
    const stored = w.emu.arm.resources.get(`${w.seed.workspace.id}/data/${DATA}/versions/1`);
    assert.ok(stored, 'the emulator has the data version');
    assert.equal((stored.body.properties as JsonObject).dataUri, r.path);
    assert.equal((stored.body.properties as JsonObject).dataType, 'uri_folder');
    const blobs = (await w.emu.storage.listBlobs(await blobUrlOf(String(r.path)))).map((b) => b.name.split('/').pop()).sort();
    assert.deepEqual(blobs, ['test.csv', 'train.csv']);
  });

  test('model from a local file: uploaded, registered, read back', async () => {
    const r = resultOf('model');
    assert.ok(r?.ok, why(r));
    assert.equal(r.version, '1');
    assert.equal(r.got_version, '1');
    assert.match(String(r.path), /\/datastores\/workspaceblobstore\/paths\/LocalUpload\/[0-9a-f]{32}\/model\.pkl$/);
    const versions = w.emu.models.versions(w.seed.workspace.id, MODEL);
    assert.deepEqual(
      versions.map((v) => v.name),
      ['1'],
    );
    assert.equal((versions[0]!.properties as JsonObject).modelUri, r.path);
    assert.deepEqual(await w.emu.storage.getBlob(await blobUrlOf(String(r.path))), MODEL_BYTES);
  });

  for (const [endpoint, kind] of [
    [ENDPOINT, 'managed'],
    [K8S_ENDPOINT, 'Kubernetes'],
  ] as const) {
    test(`${kind} online endpoint and deployment: provisioned, the model and the uploaded code deployed, all traffic on it`, async () => {
      const r = results.find((x) => x.op === 'online' && x.endpoint === endpoint);
      assert.ok(r?.ok, why(r));
      assert.equal(r.endpoint_state, 'Succeeded');
      assert.equal(r.deployment_state, 'Succeeded');
      assert.deepEqual(r.traffic, { blue: 100 });
      assert.match(String(r.scoring_uri), new RegExp(`/api/v1/endpoint/${endpoint}/score$`));
      const ep = w.emu.online.endpoint(endpoint)?.properties as JsonObject | undefined;
      assert.equal(ep?.provisioningState, 'Succeeded');
      assert.equal(ep.compute === undefined, kind === 'managed', `compute ${String(ep.compute)}`);
      assert.deepEqual(w.emu.online.traffic(endpoint), { blue: 100 });
      const [dep, ...more] = w.emu.online.deployments(endpoint);
      assert.equal(more.length, 0);
      const props = dep!.properties as JsonObject;
      assert.equal(props.provisioningState, 'Succeeded');
      assert.equal(props.endpointComputeType, kind === 'managed' ? 'Managed' : 'Kubernetes');
      assert.equal(String(props.model).toLowerCase(), `${w.seed.workspace.id}/models/${MODEL}/versions/1`.toLowerCase());
      assert.equal(String(r.deployment_model).toLowerCase(), String(props.model).toLowerCase());
      const codeId = String((props.codeConfiguration as JsonObject).codeId).replace(/^azureml:/, '');
      const code = w.emu.arm.resources.get(codeId);
      assert.ok(code, `the deployment's code ${codeId}`);
      const codeUri = String((code.body.properties as JsonObject).codeUri);
      assert.ok(await w.emu.storage.exists(`${codeUri.replace(/\/$/, '')}/score.py`), `${codeUri}: score.py`);
    });
  }
});
