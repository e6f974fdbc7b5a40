/**
 * Agent-level: the protected-branch gate of AmlPipelineJob@1 refuses before any Azure request,
 * naming the branch, the reason and what to configure; a protected branch goes through.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { seedJob } from '../emulator/index';
import { copySample } from '../fixtures/pipeline/helpers';
import type { TaskRun } from '../harness';
import { describe, startWorld, workspaceInputs, type World } from '../world';

let w: World;
let checkout: string;
/** A checkout as the agent leaves it: the repository files and a detached HEAD at `commit`. */
function makeCheckout(commit: string): string {
  const dir = copySample();
  fs.mkdirSync(path.join(dir, '.git'), { recursive: true });
  fs.writeFileSync(path.join(dir, '.git', 'HEAD'), `${commit}\n`);
  return dir;
}
before(async () => {
  w = await startWorld();
  checkout = makeCheckout(w.seed.ado.repository.mainHead);
});
after(() => w.close());

const inputs = () => ({ ...workspaceInputs(w.seed), jobFile: 'pipeline.yml', wait: 'false' });
const sources = (dir = checkout) => ({ 'Build.SourcesDirectory': dir });

async function refused(r: TaskRun, since: number, pattern: RegExp): Promise<void> {
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(r.errors[0]!, pattern);
  const azure = w.emu.requests.slice(since).filter((q) => q.service === 'arm' || q.service === 'entra' || q.service === 'imds');
  assert.deepEqual(azure.map((q) => `${q.method} ${q.path}`), [], 'no request reached Entra or ARM');
}

for (const [name, variables, pattern] of [
  ['a feature branch', { 'Build.SourceBranch': 'refs/heads/feature/new-model' }, /Refusing to run from 'refs\/heads\/feature\/new-model': the branch matches none of protectedBranches \(refs\/heads\/main\)\. Merge the change/],
  ['a look-alike branch', { 'Build.SourceBranch': 'refs/heads/main-fix' }, /Refusing to run from 'refs\/heads\/main-fix'/],
  ['a pull-request build', { 'Build.Reason': 'PullRequest', 'Build.SourceBranch': 'refs/pull/42/merge' }, /pull-request build/],
  ['a commit that is not on main', { 'Build.SourceVersion': 'f'.repeat(40) }, /commit ffffffffffff is not on refs\/heads\/main.*queue-time override/],
  ['a GitHub repository', { 'Build.Repository.Provider': 'GitHub' }, /hosted on GitHub.*requireBranchPolicy: false/],
] as const) {
  test(`refuses ${name} before any Azure request`, async () => {
    const since = w.emu.requests.length;
    // The checkout always holds the commit being built.
    const commit = (variables as Record<string, string>)['Build.SourceVersion'];
    const r = await w.run('AmlPipelineJob', { connection: 'wif', inputs: inputs(), variables: { ...sources(commit ? makeCheckout(commit) : checkout), ...variables } });
    await refused(r, since, pattern);
  });
}

test('refuses when the branch policy is disabled, and says what to configure', async () => {
  w.emu.ado.updatePolicy(w.seed.ado.minimumReviewersPolicyId, { isEnabled: false });
  try {
    const since = w.emu.requests.length;
    const r = await w.run('AmlPipelineJob', { connection: 'wif', inputs: inputs(), variables: sources() });
    await refused(r, since, /policy is disabled.*Require a minimum number of reviewers/);
  } finally {
    w.emu.ado.updatePolicy(w.seed.ado.minimumReviewersPolicyId, { isEnabled: true });
  }
});

test('refuses when minimumReviewers asks for more approvers than the policy has', async () => {
  const since = w.emu.requests.length;
  const r = await w.run('AmlPipelineJob', { connection: 'wif', inputs: { ...inputs(), minimumReviewers: '3' }, variables: sources() });
  await refused(r, since, /requires 2 approver\(s\), fewer than minimumReviewers \(3\)/);
});

test('when the job token cannot read policies it says how to grant access', async () => {
  const token = w.emu.ado.issueJobToken({ project: w.seed.ado.project, canReadPolicies: false });
  const since = w.emu.requests.length;
  const r = await w.run('AmlPipelineJob', { connection: 'wif', inputs: inputs(), variables: sources(), endpoints: seedJob(w.seed, w.emu.ado, token, w.emu.caFile).endpoints });
  await refused(r, since, /cannot read branch policies.*Build Service/);
});

test('a protected, reviewed branch passes the gate and warns about a connection without Branch control', async () => {
  const r = await w.run('AmlPipelineJob', { connection: 'secret', inputs: inputs(), variables: sources() });
  assert.ok(r.log.some((l) => /Branch gate passed: refs\/heads\/main, policy \d+ requires 2 reviewer\(s\)/.test(l)), describe(r));
  assert.ok(r.warnings.some((x) => /has no "Branch control" check.*Approvals and checks/.test(x)), describe(r));
  const wif = await w.run('AmlPipelineJob', { connection: 'wif', inputs: inputs(), variables: sources() });
  assert.ok(!wif.warnings.some((x) => /Branch control/.test(x)), 'the WIF connection has its Branch control check');
});

test('refuses when the checked-out commit differs from Build.SourceVersion (a queue-time override)', async () => {
  // A feature branch queued with Build.SourceBranch and Build.SourceVersion set to main's values:
  // the variables say main, but the agent checked out the feature commit.
  const feature = w.emu.ado.pushCommits(w.seed.ado.repository.id, 'refs/heads/feature/x', ['e'.repeat(40)], w.seed.ado.repository.mainHead);
  const since = w.emu.requests.length;
  const r = await w.run('AmlPipelineJob', { connection: 'wif', inputs: inputs(), variables: sources(makeCheckout(feature)) });
  await refused(r, since, /checked-out commit eeeeeeeeeeee differs from Build.SourceVersion 333333333333.*queue time/);
});
