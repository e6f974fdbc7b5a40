/**
 * Hostile input, part 2: file inputs. A file input is confined to the sources folder (through
 * symbolic links), nothing of the repository is read before the branch gate, and a file that
 * does not parse is never quoted beyond a short excerpt of one line.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { copySample, scratch } from '../../testkit/pipeline-sample';
import { visibleText, type TaskRun } from '../../testkit/harness';
import { assertNoLeaks, describe, startWorld, workspaceInputs, type World, type WorldRunOptions } from '../../testkit/world';
import { assertOnlyOwnCommands } from './helpers';

let w: World;
let repo: string;
const SECRET_LINE = 'second-line-of-a-private-file-0b1c2d';

before(async () => {
  w = await startWorld();
  w.emu.online.script({ endpointMs: 20, deploymentMs: 40, deleteMs: 20, retryAfterSeconds: 0 });
  w.emu.models.add(w.seed.workspace.id, 'files-model', '1', { modelType: 'mlflow_model' });
  repo = scratch({
    'req.json': '{"data": [[1]]}',
    'notes.txt': `root:x:0:0:root:/root:/bin/bash and more text on the first line\n${SECRET_LINE}\n`,
    'broken.json': `{"data": [[1,\n"${SECRET_LINE}"`,
    'deploy.yml': 'instance_count: 1\n',
  });
  fs.symlinkSync('/etc/passwd', path.join(repo, 'passwd.json'));
  fs.symlinkSync('/etc/passwd', path.join(repo, 'passwd.yml'));
});
after(async () => {
  assertNoLeaks(w);
  await w.close();
});

function deploy(inputs: Record<string, string>, more: WorldRunOptions = {}): Promise<TaskRun> {
  return w.run('AmlAksDeploy', {
    connection: 'secret',
    inputs: {
      ...workspaceInputs(w.seed),
      computeName: 'aks-prod',
      endpointName: 'files-ep',
      model: 'files-model:1',
      stepWaitSeconds: '0',
      smokeTestFile: 'req.json',
      ...inputs,
    },
    sources: repo,
    ...more,
  });
}

/** Refused naming the input, before any sign-in, with nothing of the file in any output. */
async function refusedBeforeAzure(inputs: Record<string, string>, input: string, problem: RegExp): Promise<TaskRun> {
  const since = w.emu.requests.length;
  const r = await deploy(inputs);
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(r.errors.at(-1)!, new RegExp(`^Input '${input}': `));
  assert.match(r.errors.at(-1)!, problem);
  assert.deepEqual(
    w.emu.requests.slice(since).map((q) => `${q.method} ${q.path}`),
    [],
    'nothing reached Azure or Azure DevOps',
  );
  const text = visibleText(r);
  for (const leak of ['root:x:0:0', '{"parameters":', 'BEGIN PRIVATE KEY', 'NODE_EXTRA_CA_CERTS=', SECRET_LINE])
    assert.ok(!text.includes(leak), `'${leak}' in the output`);
  assertOnlyOwnCommands(r, 'AmlAksDeploy');
  return r;
}

test('deploymentFile=/proc/self/environ is refused as outside the sources folder: no key, certificate or token printed', async () => {
  await refusedBeforeAzure({ deploymentFile: '/proc/self/environ' }, 'deploymentFile', /is outside the sources folder/);
});

test('deploymentFile=../../etc/passwd is refused, and so is a link in the repository that leads to it', async () => {
  await refusedBeforeAzure({ deploymentFile: '../../etc/passwd' }, 'deploymentFile', /is outside the sources folder/);
  await refusedBeforeAzure(
    { deploymentFile: 'passwd.yml' },
    'deploymentFile',
    /is a symbolic link that leads outside the sources folder \(to \/etc\/passwd/,
  );
});

test('a smokeTestFile outside the repository is refused and nothing is sent to a scoring URI', async () => {
  const scored = w.emu.online.scoringLog.length;
  await refusedBeforeAzure({ smokeTestFile: '/etc/hostname' }, 'smokeTestFile', /is outside the sources folder/);
  await refusedBeforeAzure({ smokeTestFile: 'passwd.json' }, 'smokeTestFile', /symbolic link that leads outside/);
  assert.equal(w.emu.online.scoringLog.length, scored);
});

test('from a feature branch nothing of the repository is read: the gate refuses before any file is parsed', async () => {
  const feature = { variables: { 'Build.SourceBranch': 'refs/heads/feature/x' } };
  const r = await deploy({ deploymentFile: 'notes.txt', smokeTestFile: 'broken.json' }, feature);
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(r.errors.at(-1)!, /^Refusing to run from 'refs\/heads\/feature\/x': the branch matches none of protectedBranches/);
  assert.ok(!visibleText(r).includes('root:x:0:0') && !visibleText(r).includes(SECRET_LINE));
  const sample = copySample();
  fs.writeFileSync(path.join(sample, 'broken.yml'), `type: pipeline\njobs:\n  a: [${SECRET_LINE}\n`);
  const job = await w.run('AmlPipelineJob', {
    connection: 'secret',
    inputs: { ...workspaceInputs(w.seed), jobFile: 'broken.yml' },
    sources: sample,
    ...feature,
  });
  assert.equal(job.result, 'Failed', describe(job));
  assert.match(job.errors.at(-1)!, /^Refusing to run from 'refs\/heads\/feature\/x'/);
  assert.ok(!visibleText(job).includes(SECRET_LINE));
});

test('a file that does not parse is quoted at most as a short excerpt of its first line, never its other lines', async () => {
  const yaml = await deploy({ deploymentFile: 'notes.txt' });
  assert.equal(yaml.result, 'Failed', describe(yaml));
  const text = visibleText(yaml);
  assert.ok(!text.includes(SECRET_LINE), 'the second line of the file is not printed');
  assert.ok(!text.includes('root:x:0:0:root:/root:/bin/bash and more'), 'the first line is cut to an excerpt');
  const json = await deploy({ smokeTestFile: 'broken.json' });
  assert.equal(json.result, 'Failed', describe(json));
  assert.match(json.errors.at(-1)!, /^Input 'smokeTestFile': 'broken\.json' is not JSON/);
  assert.ok(!visibleText(json).includes(SECRET_LINE), 'the smoke-test file is not quoted');
});

test('AmlPipelineJob: a jobFile outside the repository or linking out of it is refused by input name', async () => {
  const sample = copySample();
  fs.symlinkSync('/etc/passwd', path.join(sample, 'passwd.yml'));
  for (const [jobFile, problem] of [
    ['/etc/passwd', /is outside the sources folder/],
    ['passwd.yml', /symbolic link that leads outside/],
  ] as const) {
    const r = await w.run('AmlPipelineJob', { connection: 'secret', inputs: { ...workspaceInputs(w.seed), jobFile }, sources: sample });
    assert.equal(r.result, 'Failed', describe(r));
    assert.match(r.errors.at(-1)!, /^Input 'jobFile': /);
    assert.match(r.errors.at(-1)!, problem);
    assert.ok(!visibleText(r).includes('root:x:0:0'));
  }
});
