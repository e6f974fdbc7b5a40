/**
 * Agent-level: the protected-branch gate of AmlPipelineJob@1 refuses before any Azure request,
 * naming the branch, the reason and what to configure; a protected branch goes through.
 */
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import type { TaskRun } from '../harness';
import { describe, startWorld, workspaceInputs, type World } from '../world';

let w: World;
before(async () => {
  w = await startWorld();
});
after(() => w.close());

const inputs = () => ({ ...workspaceInputs(w.seed), jobFile: 'test/fixtures/pipeline/pipeline.yml', wait: 'false' });

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
    const r = await w.run('AmlPipelineJob', { connection: 'wif', inputs: inputs(), variables: { ...variables } });
    await refused(r, since, pattern);
  });
}

test('refuses when the branch policy is disabled, and says what to configure', async () => {
  w.emu.ado.updatePolicy(w.seed.ado.minimumReviewersPolicyId, { isEnabled: false });
  try {
    const since = w.emu.requests.length;
    const r = await w.run('AmlPipelineJob', { connection: 'wif', inputs: inputs() });
    await refused(r, since, /policy is disabled.*Require a minimum number of reviewers/);
  } finally {
    w.emu.ado.updatePolicy(w.seed.ado.minimumReviewersPolicyId, { isEnabled: true });
  }
});

test('refuses when minimumReviewers asks for more approvers than the policy has', async () => {
  const since = w.emu.requests.length;
  const r = await w.run('AmlPipelineJob', { connection: 'wif', inputs: { ...inputs(), minimumReviewers: '3' } });
  await refused(r, since, /requires 2 approver\(s\), fewer than minimumReviewers \(3\)/);
});

test('when the job token cannot read policies it says how to grant access', async () => {
  const token = w.emu.ado.issueJobToken({ project: w.seed.ado.project, canReadPolicies: false });
  const since = w.emu.requests.length;
  const r = await w.run('AmlPipelineJob', { connection: 'wif', inputs: inputs(), endpoints: { SYSTEMVSSCONNECTION: { url: w.seed.ado.collectionUri, scheme: 'OAuth', parameters: { AccessToken: token } } } });
  await refused(r, since, /cannot read branch policies.*Build Service/);
});

test('a protected, reviewed branch passes the gate and warns about a connection without Branch control', async () => {
  const r = await w.run('AmlPipelineJob', { connection: 'secret', inputs: inputs() });
  assert.ok(r.log.some((l) => /Branch gate passed: refs\/heads\/main, policy \d+ requires 2 reviewer\(s\)/.test(l)), describe(r));
  assert.ok(r.warnings.some((x) => /has no "Branch control" check.*Approvals and checks/.test(x)), describe(r));
  const wif = await w.run('AmlPipelineJob', { connection: 'wif', inputs: inputs() });
  assert.ok(!wif.warnings.some((x) => /Branch control/.test(x)), 'the WIF connection has its Branch control check');
});
