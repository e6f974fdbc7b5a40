/**
 * The local rehearsal (scripts/demo.ts, `npm run demo` / `npm run demo:fail`), run as a user runs
 * it: a child process on the built tasks, against its own emulated world. The three rehearsals
 * start at once and each test waits for its own, so the file stays well under a minute:
 *  - green: every stage succeeds, outputs flow from stage to stage, the report shows the
 *    registered version and the rollout to 100%, the summaries and the screenshot page are written;
 *  - feature-branch: refused at NetworkCheck › privateLink (the first use of the connection) by the protected-branch gate, nothing submitted;
 *  - bad-model (without the private network namespace, to cover that path too): the gate says
 *    no, registered=false, the Deploy stage skipped by its condition;
 *  - promotion-refused: registered in development, the gate against the registry's champion says
 *    no at Promote, nothing added to the registry, production untouched;
 *  - a parameters file with a missing or mistyped parameter gets Azure DevOps' message and place;
 *  - a pipeline using something the rehearsal does not support is refused, saying what.
 */
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, test } from 'node:test';
import { ROOT } from '../testkit/harness';

const tmp = fs.mkdtempSync(path.join(os.tmpdir(), 'demo-test-'));
after(() => fs.rmSync(tmp, { recursive: true, force: true }));

interface Demo {
  code: number | null;
  out: string;
  dir: string;
}

function demo(name: string, args: string[]): Promise<Demo> {
  const dir = path.join(tmp, name);
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', 'scripts/demo.ts', '--no-color', '--out', dir, ...args], {
      cwd: ROOT,
      env: { ...process.env, NO_COLOR: '1' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (out += d.toString()));
    const timer = setTimeout(() => child.kill('SIGKILL'), 150_000);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, dir });
    });
  });
}

const built = fs.existsSync(path.join(ROOT, 'dist', 'tasks', 'AmlAksDeploy', 'task.json'));
const write = (name: string, text: string): string => {
  const f = path.join(tmp, name);
  fs.writeFileSync(f, text);
  return f;
};
const REQUIRED = [
  'serviceConnection: aml-prod-connection',
  'resourceGroup: rg-mlops-prod',
  'workspace: mlw-prod-weu',
  'jobFile: examples/mlops/pipeline.yml',
  'modelName: taxi-fare-model',
  'metricGate: |',
  '  train.auc >= 0.80',
  'endpointName: taxi-fare-prod',
  'computeName: aks-inference',
];

// All at once: each is its own process with its own emulator (and network namespace when root).
const runs = built
  ? {
      green: demo('green', []),
      feature: demo('feature', ['--variant', 'feature-branch']),
      badModel: demo('bad-model', ['--variant', 'bad-model', '--no-sandbox']),
      promotion: demo('promotion-refused', ['--variant', 'promotion-refused', '--no-sandbox']),
      missing: demo('missing', [
        '--no-sandbox',
        '--parameters',
        write('missing.yml', `${REQUIRED.filter((l) => !l.startsWith('workspace')).join('\n')}\n`),
      ]),
      mistyped: demo('mistyped', [
        '--no-sandbox',
        '--parameters',
        write('mistyped.yml', `${REQUIRED.join('\n')}\nrollout: 10,50,100\nstepWaitSeconds: two minutes\n`),
      ]),
      unsupported: demo('unsupported', [
        '--no-sandbox',
        '--pipeline',
        write('script.yml', 'stages:\n- stage: Build\n  jobs:\n  - job: build\n    steps:\n    - script: echo hello\n'),
      ]),
    }
  : undefined;
const skip = built ? false : 'the tasks are not built: run node scripts/build.mjs first';

const row = (out: string, key: string): string =>
  out
    .split('\n')
    .find((l) => l.startsWith(`  ${key.padEnd(13)}`))
    ?.slice(15) ?? '';

test(
  'npm run demo: the two-workspace example runs green through all five stages with the bundled tasks: development, the registry, production',
  { skip, timeout: 150_000 },
  async () => {
    const r = await runs!.green;
    assert.equal(r.code, 0, r.out.slice(-4000));
    // The pipeline-style log: stages in order, each task step with its header and result.
    const stages = [...r.out.matchAll(/^▶ Stage (\w+)/gm)].map((m) => m[1]);
    assert.deepEqual(stages, ['NetworkCheck', 'Train', 'Evaluate', 'Promote', 'Deploy']);
    assert.equal((r.out.match(/^✔ Succeeded Stage /gm) ?? []).length, 5, r.out.slice(-3000));
    assert.match(r.out, /Task {9}: Azure ML pipeline job/);
    assert.doesNotMatch(r.out, /##vso\[/, 'no agent command noise in the log');
    // Outputs flow: the job name into Evaluate, the model id into Deploy, the registered flag into the condition.
    assert.match(
      r.out,
      /variable amlJobName = \$\[ stageDependencies\.Train\.train\.outputs\['train\.jobName'\] \] → 'ado_4711_[0-9a-f]+'/,
    );
    assert.match(
      r.out,
      /variable devModelVersion = \$\[ stageDependencies\.Evaluate\.evaluate\.outputs\['register\.modelVersion'\] \] → '2'/,
    );
    assert.match(
      r.out,
      /variable registeredModelId = \$\[ stageDependencies\.Promote\.promote\.outputs\['promote\.modelId'\] \] → 'azureml:\/\/registries\/mlr-shared-weu\/models\/taxi-fare-model\/versions\/2'/,
    );
    assert.match(r.out, /dependencies\.Evaluate\.outputs\['evaluate\.register\.registered'\] = 'true'/);
    // The report.
    assert.match(row(r.out, 'Job'), /^ado_4711_[0-9a-f]+ {2}Completed/);
    assert.match(row(r.out, 'Metrics'), /train\.auc 0\.91 · train\.rmse 0\.31/);
    assert.match(row(r.out, 'Gate'), /^passed: train\.auc >= 0\.80 ✔ \(0\.91\), train\.rmse <= 0\.45 ✔ \(0\.31\)/);
    assert.equal(row(r.out, 'Model'), 'taxi-fare-model:2');
    assert.equal(row(r.out, 'Promoted'), 'azureml://registries/mlr-shared-weu/models/taxi-fare-model/versions/2');
    assert.match(
      row(r.out, 'Lineage'),
      /commit 333333333333 · jobName ado_4711_[0-9a-f]+ · sourceWorkspace mlw-dev-weu · sourceModel taxi-fare-model:2/,
    );
    assert.match(
      r.out,
      /✔ production deploys the registry's version \(azureml:\/\/registries\/mlr-shared-weu\/models\/taxi-fare-model\/versions\/2\)/,
    );
    assert.match(
      row(r.out, 'Rollout'),
      /^taxi-fare-model-v2 at 100% on endpoint taxi-fare-prod \(10% → 50% → 100%\), replacing taxi-fare-model-v1/,
    );
    assert.match(row(r.out, 'Scoring URI'), /^https:\/\/127\.0\.0\.1:\d+\/api\/v1\/endpoint\/taxi-fare-prod\/score {2}→ 200 \[1\]/);
    assert.match(r.out, /The rehearsal behaved as expected\./);
    // Run summaries, their index, and the screenshot page.
    for (const f of [
      'NetworkCheck-privateLink.md',
      'Train-privateLinkAgent.md',
      'Train-train.md',
      'Evaluate-register.md',
      'Promote-promote.md',
      'NetworkCheck-privateLinkProduction.md',
      'Deploy-deploy.md',
      'summary.md',
    ])
      assert.ok(fs.existsSync(path.join(r.dir, f)), `${f} written`);
    assert.match(
      fs.readFileSync(path.join(r.dir, 'summary.md'), 'utf8'),
      /\| Deploy \| rollout \| Deploy to AKS \(staged rollout\) \| AmlAksDeploy@1 \| Succeeded \|/,
    );
    const html = fs.readFileSync(path.join(r.dir, 'summary-screenshot.html'), 'utf8');
    assert.match(html, /<table>[\s\S]*<th>Verdict<\/th>/);
    assert.match(html, /Private link check for mlw-dev-weu: passed/);
  },
);

test(
  'npm run demo:fail (feature branch): refused at the first use of the production connection, before anything reaches Azure',
  { skip, timeout: 150_000 },
  async () => {
    const r = await runs!.feature;
    assert.equal(r.code, 0, r.out.slice(-4000));
    assert.equal(row(r.out, 'Stopped at'), 'stage NetworkCheck › job check › step privateLink (AmlPrivateLinkCheck@1)');
    assert.match(
      row(r.out, 'Refusal'),
      /^Refusing to run from 'refs\/heads\/feature\/faster-training': the branch matches none of protectedBranches \(refs\/heads\/main\)/,
    );
    assert.match(r.out, /✔ nothing was submitted to Azure ML \(0 job\(s\)\)/);
    assert.match(r.out, /✔ the gate refused before any Azure call \(0 Entra\/ARM request\(s\) during the step\)/);
    assert.match(r.out, /⊘ Skipped Stage Train: condition succeeded\(\) \(the default\) is false \(NetworkCheck: Failed\)/);
    assert.match(r.out, /⊘ Skipped Stage Evaluate/);
    assert.match(r.out, /⊘ Skipped Stage Deploy/);
    assert.match(r.out, /The rehearsal behaved as expected\./);
  },
);

test(
  'npm run demo:fail (bad model): the gate says no, registered=false, Deploy skipped by its condition',
  { skip, timeout: 150_000 },
  async () => {
    const r = await runs!.badModel;
    assert.equal(r.code, 0, r.out.slice(-4000));
    assert.match(row(r.out, 'Stages'), /Train Succeeded · Evaluate SucceededWithIssues · Promote Skipped · Deploy Skipped/);
    assert.match(
      row(r.out, 'Gate'),
      /^not passed: train\.auc >= 0\.80 ✖ \(0\.72\), train\.rmse <= 0\.45 ✖ \(0\.52\).*registered=false \(SucceededWithIssues\)/,
    );
    assert.equal(row(r.out, 'Model'), 'not registered');
    assert.match(
      r.out,
      /dependencies\.Evaluate\.outputs\['evaluate\.register\.registered'\] = 'false'\n⊘ Skipped Stage Promote: condition 'and\(succeeded\(\), eq\(dependencies\.Evaluate\.outputs\['evaluate\.register\.registered'\], 'true'\)\)' is false/,
    );
    assert.match(r.out, /⊘ Skipped Stage Deploy: condition .* is false \(Promote: Skipped\)/);
    assert.match(r.out, /✔ the endpoint was not touched \(taxi-fare-prod: taxi-fare-model-v1 still serves 100%\)/);
    // Without the private network namespace the rehearsal says what it changed.
    assert.match(r.out, /rehearsal: dnsServers '' → 127\.0\.0\.1:\d+/);
    assert.match(r.out, /The rehearsal behaved as expected\./);
  },
);

test(
  "npm run demo:fail (promotion refused): registered in development, the gate against the registry's champion says no, the registry and production untouched",
  { skip, timeout: 150_000 },
  async () => {
    const r = await runs!.promotion;
    assert.equal(r.code, 0, r.out.slice(-4000));
    assert.match(row(r.out, 'Stages'), /Evaluate Succeeded · Promote SucceededWithIssues · Deploy Skipped/);
    assert.equal(row(r.out, 'Model'), 'taxi-fare-model:2');
    assert.equal(row(r.out, 'Promoted'), 'not promoted to registry mlr-shared-weu (registered=false, SucceededWithIssues)');
    assert.match(
      row(r.out, 'Promote said'),
      /^Model 'taxi-fare-model' was not promoted to registry 'mlr-shared-weu': the evaluation gate failed \(train\.auc: 0\.91 is not as good as champion taxi-fare-model:1 \(0\.94\)/,
    );
    assert.match(r.out, /✔ nothing was added to the registry \(taxi-fare-model has 1 version\(s\)\)/);
    assert.match(r.out, /✔ production was not touched \(taxi-fare-prod: taxi-fare-model-v1 still serves 100%\)/);
    assert.match(r.out, /The rehearsal behaved as expected\./);
  },
);

test(
  'a parameters file with a missing or mistyped parameter gets the Azure DevOps message, and nothing runs',
  { skip, timeout: 150_000 },
  async () => {
    const missing = await runs!.missing;
    assert.equal(missing.code, 1, missing.out);
    assert.match(
      missing.out,
      /The pipeline is not valid; Azure DevOps would not start this run:\n\/.*\/missing\.yml \(Line: 1, Col: 1\): A value for the 'workspace' parameter must be provided\.\n/,
    );
    assert.doesNotMatch(missing.out, /▶ Stage/);
    const mistyped = await runs!.mistyped;
    assert.equal(mistyped.code, 1, mistyped.out);
    assert.match(
      mistyped.out,
      /\/mistyped\.yml \(Line: 11, Col: 1\): The 'stepWaitSeconds' parameter value 'two minutes' is not a valid Number\./,
    );
  },
);

test(
  'a pipeline with a construct the rehearsal does not support is refused, saying what and where',
  { skip, timeout: 150_000 },
  async () => {
    const r = await runs!.unsupported;
    assert.equal(r.code, 3, r.out);
    assert.match(
      r.out,
      /Not supported by the rehearsal: .*script\.yml:6 \(stages\[0\]\.jobs\[0\]\.steps\[0\]\): 'script' steps are not supported by the rehearsal/,
    );
  },
);
