/**
 * Hostile input, part 4: the smaller holes. Secrets echoed by a scoring answer are redacted from
 * the log and the summary; diagnostics that would print credentials are refused or switched off;
 * the checked-out commit is always compared; a default-branch policy protects only the default
 * branch; one-line inputs refuse newlines; broken links in a code folder get their own message;
 * the private-link check uses the production connection only from a protected branch.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { createProxy } from 'proxy';
import { copySample, scratch } from '../../testkit/pipeline-sample';
import { visibleText } from '../../testkit/harness';
import { assertNoLeaks, describe, startWorld, workspaceInputs, type World } from '../../testkit/world';
import { assertOnlyOwnCommands } from './helpers';

let w: World;
let sample: string;
const wsId = () => w.seed.workspace.id;

before(async () => {
  w = await startWorld();
  w.emu.aml.scriptJobs({ startDelayMs: 10, stepDurationMs: 30, phaseMs: 2 });
  w.emu.aml.addData(wsId(), 'taxi-test', '1', 'azureml://datastores/workspaceblobstore/paths/taxi/test/');
  w.emu.online.script({ endpointMs: 20, deploymentMs: 40, deleteMs: 20, retryAfterSeconds: 0 });
  w.emu.models.add(wsId(), 'echo-model', '1', { modelType: 'mlflow_model' });
  sample = copySample();
});
after(async () => {
  assertNoLeaks(w);
  await w.close();
});

const submit = (inputs: Record<string, string> = {}, more: Parameters<World['run']>[1] = {}) =>
  w.run('AmlPipelineJob', {
    connection: 'wif',
    inputs: { ...workspaceInputs(w.seed), jobFile: 'pipeline.yml', wait: 'false', ...inputs },
    sources: sample,
    ...more,
  });

test('a smoke-test answer that echoes the key is redacted from the log and the run summary', async () => {
  let echoed = '';
  w.emu.online.scoring('echo-model-v1', (q) => {
    echoed = String(q.headers.authorization ?? '');
    return { status: 500, body: { error: 'bad request', received: echoed } };
  });
  const r = await w.run('AmlAksDeploy', {
    connection: 'wif',
    inputs: {
      ...workspaceInputs(w.seed),
      computeName: 'aks-prod',
      endpointName: 'echo-ep',
      model: 'echo-model:1',
      stepWaitSeconds: '0',
      smokeTestFile: 'req.json',
    },
    sources: scratch({ 'req.json': '{"data": [[1]]}' }),
  });
  assert.equal(r.result, 'Failed', describe(r));
  const key = echoed.replace(/^Bearer /, '');
  assert.ok(key.length > 16, 'the scoring request carried the key');
  const text = visibleText(r);
  assert.ok(text.includes('"received":"Bearer ***"'), 'the echo reached the output, redacted');
  assert.ok(
    !text
      .split('\n')
      .filter((l) => !l.startsWith('##vso[task.setsecret]'))
      .some((l) => l.includes(key)),
    'the key is nowhere but in setsecret',
  );
  assert.ok(!r.summaries.some((s) => s.content.includes(key)), 'nor in the summary');
});

test('NODE_DEBUG for network modules is refused before anything runs; AZURE_LOG_LEVEL prints no proxy password', async () => {
  const refused = await submit({}, { env: { NODE_DEBUG: 'http,tls' } });
  assert.equal(refused.result, 'Failed', describe(refused));
  assert.match(
    refused.errors.at(-1)!,
    /^The variable NODE_DEBUG is 'http,tls': Node\.js would print every HTTP request of this task with its Authorization header/,
  );
  assert.ok(!/Authorization|Bearer /i.test(refused.stderr), refused.stderr.slice(0, 500));

  const server = createProxy(http.createServer());
  (server as unknown as { authenticate: (req: http.IncomingMessage) => boolean }).authenticate = (req) =>
    req.headers['proxy-authorization'] === `Basic ${Buffer.from('agent:pr0xy-s3cret-pass').toString('base64')}`;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
  try {
    const proxyUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    const r = await submit(
      {},
      {
        env: { AZURE_LOG_LEVEL: 'verbose', DEBUG: 'azure*' },
        variables: { 'Agent.ProxyUrl': proxyUrl, 'Agent.ProxyUsername': 'agent' },
        secretVariables: { 'Agent.ProxyPassword': 'pr0xy-s3cret-pass' },
      },
    );
    assert.equal(r.result, 'Succeeded', describe(r));
    // task-lib's own debug echo of the secret variable is masked by the agent, which knows its secret
    // variables; nothing else may carry it, stderr (where the SDK's logger writes) above all.
    const own = (l: string) => l.startsWith('##vso[task.setsecret]') || l.startsWith('##vso[task.debug]Agent.ProxyPassword=');
    assert.ok(
      !visibleText(r)
        .split('\n')
        .filter((l) => !own(l))
        .some((l) => l.includes('pr0xy-s3cret-pass')),
      'the proxy password is printed nowhere',
    );
    assert.ok(!r.stderr.includes('pr0xy-s3cret-pass'));
    assert.ok(!/azure:core-rest-pipeline|azure:identity/.test(r.stderr), "the SDK's logger stayed off");
  } finally {
    server.close();
  }
});

test('requireBranchPolicy: false still compares the checked-out commit; checkout: none is said, not silent', async () => {
  const other = scratch({ 'pipeline.yml': 'x: 1\n' });
  fs.mkdirSync(path.join(other, '.git'));
  fs.writeFileSync(path.join(other, '.git', 'HEAD'), `${'c'.repeat(40)}\n`);
  const r = await submit({ requireBranchPolicy: 'false' }, { sources: other });
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(r.errors.at(-1)!, /the checked-out commit cccccccccccc differs from Build\.SourceVersion/);
  const none = await submit({}, { checkout: false, sources: copySample() });
  assert.equal(none.result, 'Succeeded', describe(none));
  assert.ok(
    none.warnings.some((m) => /the checked-out commit was not compared with Build\.SourceVersion/.test(m)),
    none.warnings.join('\n'),
  );
});

test('a policy scoped to the default branch protects main only, not every branch', async () => {
  const repo = w.seed.ado.repository;
  const head = w.emu.ado.pushCommits(repo.id, 'refs/heads/release/1', ['d'.repeat(40)], repo.mainHead);
  w.emu.ado.updatePolicy(w.seed.ado.minimumReviewersPolicyId, {
    settings: { scope: [{ repositoryId: repo.id, refName: null, matchKind: 'DefaultBranch' }] },
  });
  try {
    const release = await submit(
      { protectedBranches: 'refs/heads/main, refs/heads/release/*' },
      { sources: copySample(), variables: { 'Build.SourceBranch': 'refs/heads/release/1', 'Build.SourceVersion': head } },
    );
    assert.equal(release.result, 'Failed', describe(release));
    assert.match(release.errors.at(-1)!, /^Refusing to run from 'refs\/heads\/release\/1': .*no "Minimum number of reviewers"/);
    const main = await submit();
    assert.equal(main.result, 'Succeeded', describe(main));
  } finally {
    w.emu.ado.updatePolicy(w.seed.ado.minimumReviewersPolicyId, {
      settings: { scope: [{ repositoryId: repo.id, refName: 'refs/heads/main', matchKind: 'Exact' }] },
    });
  }
});

test('experimentName refuses a newline, with the input named', async () => {
  const r = await submit({ experimentName: 'nightly\n##vso[task.setvariable variable=X]1' });
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(r.errors.at(-1)!, /^Input 'experimentName': 'nightly/);
  assertOnlyOwnCommands(r, 'AmlPipelineJob');
});

test('a link loop or a dangling link in a code folder is named, not a raw ELOOP or ENOENT', async () => {
  const repo = copySample();
  const code = path.join(repo, 'src'); // the components' code folder
  fs.symlinkSync('loop-b', path.join(code, 'loop-a'));
  fs.symlinkSync('loop-a', path.join(code, 'loop-b'));
  const loop = await submit({}, { sources: repo });
  assert.equal(loop.result, 'Failed', describe(loop));
  assert.match(loop.errors.at(-1)!, /'loop-a' is a symbolic link that leads back to itself/);
  fs.rmSync(path.join(code, 'loop-a'));
  fs.rmSync(path.join(code, 'loop-b'));
  fs.symlinkSync('gone.py', path.join(code, 'dangling.py'));
  const dangling = await submit({}, { sources: repo });
  assert.match(dangling.errors.at(-1)!, /'dangling\.py' is a symbolic link to 'gone\.py', which does not exist/);
  for (const r of [loop, dangling]) assert.ok(!/ELOOP|ENOENT/.test(r.errors.join('\n')), r.errors.join('\n'));
});

test('AmlPrivateLinkCheck uses the production connection only from a protected branch, unless the gate is turned off', async () => {
  const feature = { variables: { 'Build.SourceBranch': 'refs/heads/feature/x' } };
  const inputs = { ...workspaceInputs(w.seed), dnsServers: w.dns.address, tcpCheck: 'false' };
  const since = w.emu.requests.length;
  const gated = await w.run('AmlPrivateLinkCheck', { connection: 'wif', inputs, ...feature });
  assert.equal(gated.result, 'Failed', describe(gated));
  assert.match(gated.errors.at(-1)!, /^Refusing to run from 'refs\/heads\/feature\/x'/);
  assert.deepEqual(
    w.emu.requests
      .slice(since)
      .filter((q) => q.service === 'arm' || q.service === 'entra')
      .map((q) => q.path),
    [],
  );
  const open = await w.run('AmlPrivateLinkCheck', { connection: 'wif', inputs: { ...inputs, enforceBranchGate: 'false' }, ...feature });
  assert.equal(open.result, 'Succeeded', describe(open));
  assert.ok(open.warnings.some((m) => /enforceBranchGate is false/.test(m)));
  const namesOnly = await w.run('AmlPrivateLinkCheck', {
    inputs: { fqdns: w.names[0]!.fqdn, dnsServers: w.dns.address, tcpCheck: 'false' },
    ...feature,
  });
  assert.equal(namesOnly.result, 'Succeeded', describe(namesOnly));
});
