/**
 * The emulator by hand and `npm run task`, as the README documents them: the emulator prints its
 * help, starts, and a built task run against it prints its result and exits 0 on success, 1 when
 * the task fails, 2 on a usage error.
 */
import assert from 'node:assert/strict';
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { ROOT } from '../testkit/harness';

const TSX = ['--import', 'tsx'];
let emulator: ChildProcess;
let port = '';

before(async () => {
  emulator = spawn(process.execPath, [...TSX, path.join(ROOT, 'testkit', 'emulator', 'cli.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  port = await new Promise<string>((resolve, reject) => {
    let out = '';
    emulator.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      const m = /listening on https:\/\/127\.0\.0\.1:(\d+)/.exec(out);
      if (m && out.includes('Ctrl-C to stop')) resolve(m[1]!);
    });
    emulator.on('exit', (code) => reject(new Error(`the emulator exited (${code}): ${out}`)));
  });
});
after(() => {
  emulator.kill('SIGINT');
});

const task = (...args: string[]) =>
  spawnSync(process.execPath, [...TSX, path.join(ROOT, 'scripts', 'run-task.ts'), ...args, '--emulator', port], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 120_000,
  });

test('npm run emulator -- --help prints the usage and starts nothing', () => {
  const r = spawnSync(process.execPath, [...TSX, path.join(ROOT, 'testkit', 'emulator', 'cli.ts'), '--help'], {
    cwd: ROOT,
    encoding: 'utf8',
    timeout: 30_000,
  });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /^Usage: npm run emulator -- \[options\]/);
  assert.match(r.stdout, /npm run task -- AmlPrivateLinkCheck/);
  assert.doesNotMatch(r.stdout, /listening on/);
});

test('npm run task: the example pipeline job, submitted against the emulator from this repository, exits 0 with its outputs', () => {
  const r = task(
    'AmlPipelineJob',
    '--input',
    'resourceGroupName=rg-aml-prod',
    '--input',
    'workspaceName=mlw-prod',
    '--input',
    'jobFile=examples/mlops/pipeline.yml',
    '--input',
    'wait=false',
  );
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stdout, /^Branch gate passed: refs\/heads\/main/m);
  assert.match(r.stdout, /^output jobName = ado_4711_[0-9a-f]{10}$/m);
  assert.match(r.stdout, /^result: Succeeded$/m);
});

test('npm run task: a task that fails exits 1 with its error; a usage error exits 2', () => {
  const failed = task(
    'AmlPipelineJob',
    '--input',
    'resourceGroupName=rg-aml-prod',
    '--input',
    'workspaceName=mlw-prod',
    '--input',
    'jobFile=examples/mlops/nope.yml',
  );
  assert.equal(failed.status, 1, failed.stdout);
  assert.match(failed.stdout, /^error: Input 'jobFile': file 'examples\/mlops\/nope\.yml' was not found/m);
  assert.match(failed.stdout, /^result: Failed/m);
  const usage = task('AmlPipelinJob');
  assert.equal(usage.status, 2);
  assert.match(
    usage.stderr,
    /'AmlPipelinJob' is not a built task \(built: AmlAksDeploy, AmlModelRegister, AmlPipelineJob, AmlPrivateLinkCheck\)/,
  );
});

test("npm run task: AmlPrivateLinkCheck as the emulator's help shows it passes, saying which inputs it chose for the emulator", () => {
  const r = task('AmlPrivateLinkCheck', '--input', 'resourceGroupName=rg-aml-prod', '--input', 'workspaceName=mlw-prod');
  assert.equal(r.status, 0, `${r.stdout}\n${r.stderr}`);
  assert.match(r.stderr, /^run-task: dnsServers = 127\.0\.0\.1:\d+ \(the emulator's VNet DNS server/m);
  assert.match(r.stderr, /^run-task: tcpCheck = false/m);
  assert.match(
    r.stderr,
    /^run-task: allowedPrincipals = [0-9a-f-]{36}(,[0-9a-f-]{36}){4} \(the emulator seeds one pipeline identity per auth scheme/m,
  );
  assert.match(r.stdout, /^All 8 names resolve to their private endpoints\.$/m);
  assert.match(r.stdout, /^PASS\s+Access: nobody besides the pipeline can write to the workspace/m);
  assert.match(r.stdout, /^result: Succeeded$/m);
  // An input given on the command line wins over the emulator's choice.
  const given = task(
    'AmlPrivateLinkCheck',
    '--input',
    'resourceGroupName=rg-aml-prod',
    '--input',
    'workspaceName=mlw-prod',
    '--input',
    'allowedPrincipals=',
  );
  assert.equal(given.status, 1, given.stdout);
  assert.match(given.stdout, /Access: ServicePrincipal 11111111-0000-4000-8000-000000000012 can write to the workspace/);
});
