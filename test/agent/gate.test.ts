/**
 * Agent-level: the protected-branch gate of AmlPipelineJob@1 refuses before any Azure request,
 * naming the branch, the reason and what to configure; a protected branch goes through.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { seedJob } from '../../testkit/emulator/index';
import { SEED_PEOPLE } from '../../testkit/emulator/seed';
import { copySample } from '../../testkit/pipeline-sample';
import type { TaskRun } from '../../testkit/harness';
import { describe, startWorld, workspaceInputs, type World } from '../../testkit/world';

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
  w.emu.aml.addData(w.seed.workspace.id, 'taxi-test', '1', 'azureml://datastores/workspaceblobstore/paths/taxi/test/');
  checkout = makeCheckout(w.seed.ado.repository.mainHead);
});
after(() => w.close());

const inputs = () => ({ ...workspaceInputs(w.seed), jobFile: 'pipeline.yml', wait: 'false' });
const sources = (dir = checkout) => ({ 'Build.SourcesDirectory': dir });

async function refused(r: TaskRun, since: number, pattern: RegExp): Promise<void> {
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(r.errors[0]!, pattern);
  const azure = w.emu.requests.slice(since).filter((q) => q.service === 'arm' || q.service === 'entra' || q.service === 'imds');
  assert.deepEqual(
    azure.map((q) => `${q.method} ${q.path}`),
    [],
    'no request reached Entra or ARM',
  );
}

for (const [name, variables, pattern] of [
  [
    'a feature branch',
    { 'Build.SourceBranch': 'refs/heads/feature/new-model' },
    /Refusing to run from 'refs\/heads\/feature\/new-model': the branch matches none of protectedBranches \(refs\/heads\/main\)\. Merge the change/,
  ],
  ['a look-alike branch', { 'Build.SourceBranch': 'refs/heads/main-fix' }, /Refusing to run from 'refs\/heads\/main-fix'/],
  ['a pull-request build', { 'Build.Reason': 'PullRequest', 'Build.SourceBranch': 'refs/pull/42/merge' }, /pull-request build/],
  [
    'a commit that is not on main',
    { 'Build.SourceVersion': 'f'.repeat(40) },
    /commit ffffffffffff is not on refs\/heads\/main.*queue-time override/,
  ],
  [
    'a GitHub repository without a GitHub connection',
    { 'Build.Repository.Provider': 'GitHub' },
    /Input 'githubConnection': the repository is on GitHub, so the gate reads its branch protection and pull requests through a GitHub service connection/,
  ],
] as const) {
  test(`refuses ${name} before any Azure request`, async () => {
    const since = w.emu.requests.length;
    // The checkout always holds the commit being built.
    const commit = (variables as Record<string, string>)['Build.SourceVersion'];
    const r = await w.run('AmlPipelineJob', {
      connection: 'wif',
      inputs: inputs(),
      variables: { ...sources(commit ? makeCheckout(commit) : checkout), ...variables },
    });
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
  const r = await w.run('AmlPipelineJob', {
    connection: 'wif',
    inputs: inputs(),
    variables: sources(),
    endpoints: seedJob(w.seed, w.emu.ado, token, w.emu.caFile).endpoints,
  });
  await refused(r, since, /the job cannot read the branch protection on Azure Repos\. Grant the build service identity .*Build Service/);
});

test('a protected, reviewed branch passes the gate and warns about a connection without Branch control', async () => {
  const r = await w.run('AmlPipelineJob', { connection: 'secret', inputs: inputs(), variables: sources() });
  assert.ok(
    r.log.some((l) => /Branch gate passed: refs\/heads\/main, policy \d+ requires 2 reviewer\(s\)/.test(l)),
    describe(r),
  );
  assert.ok(
    r.warnings.some((x) => /has no "Branch control" check.*Approvals and checks/.test(x)),
    describe(r),
  );
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

test('proof of review: an unreviewed commit pushed to a new branch under a prefix policy is refused', async () => {
  const repo = w.seed.ado.repository;
  w.emu.ado.addPolicy({
    project: w.seed.ado.project,
    type: 'minimumReviewers',
    scope: [{ repositoryId: repo.id, refName: 'refs/heads/release/', matchKind: 'Prefix' }],
    settings: { minimumApproverCount: 2 },
  });
  const commit = w.emu.ado.pushCommits(repo.id, 'refs/heads/release/2', ['e'.repeat(40)], repo.mainHead);
  const since = w.emu.requests.length;
  const r = await w.run('AmlPipelineJob', {
    connection: 'wif',
    inputs: { ...inputs(), protectedBranches: 'refs/heads/main, refs/heads/release/*' },
    variables: { ...sources(makeCheckout(commit)), 'Build.SourceBranch': 'refs/heads/release/2', 'Build.SourceVersion': commit },
  });
  await refused(r, since, /commit eeeeeeeeeeee is not the merge of a completed pull request approved by reviewers other than its author/);
});

test('proof of review: a completed pull request approved by its author only is refused; one approved by two others passes', async () => {
  const repo = w.seed.ado.repository;
  const author = { id: 'a0000000-0000-4000-8000-00000000000a', displayName: 'Dana Author' };
  const run = async (branch: string, commit: string) => {
    const since = w.emu.requests.length;
    const r = await w.run('AmlPipelineJob', {
      connection: 'wif',
      inputs: { ...inputs(), protectedBranches: 'refs/heads/main, refs/heads/release/*' },
      variables: { ...sources(makeCheckout(commit)), 'Build.SourceBranch': branch, 'Build.SourceVersion': commit },
    });
    return { r, since };
  };
  w.emu.ado.pushCommits(repo.id, 'refs/heads/release/3', [], repo.mainHead);
  w.emu.ado.addPullRequest({
    repositoryId: repo.id,
    id: 301,
    targetRefName: 'refs/heads/release/3',
    author,
    lastMergeCommit: '3a'.repeat(20),
    reviewers: [{ ...author, vote: 10 }],
  });
  const self = await run('refs/heads/release/3', '3a'.repeat(20));
  await refused(self.r, self.since, /the commit is the merge of pull request #301, which nobody but its author \(Dana Author\) approved/);

  w.emu.ado.pushCommits(repo.id, 'refs/heads/release/4', [], repo.mainHead);
  w.emu.ado.addPullRequest({
    repositoryId: repo.id,
    id: 302,
    targetRefName: 'refs/heads/release/4',
    author,
    lastMergeCommit: '4b'.repeat(20),
    reviewers: [
      { ...author, vote: 10 },
      { id: 'b0000000-0000-4000-8000-00000000000b', displayName: 'Erin', vote: 10 },
      { id: 'c0000000-0000-4000-8000-00000000000c', displayName: 'Frank', vote: 5 },
    ],
  });
  const ok = await run('refs/heads/release/4', '4b'.repeat(20));
  assert.equal(ok.r.result, 'Succeeded', describe(ok.r));
  assert.ok(
    ok.r.log.some((l) => l.includes('pull request #302 into refs/heads/release/4, approved by Erin, Frank')),
    describe(ok.r),
  );
});

test("proof of review over the commit graph: a merge commit passes; a commit a rebased pull request brought in passes as a descendant; a squashed pull request's commit on a new release branch is refused", async () => {
  const repo = w.seed.ado.repository;
  const h = (x: string) => x.repeat(20);
  const reviewers = SEED_PEOPLE.reviewers.map((r) => ({ ...r, vote: 10 }));
  const runAt = (branch: string, commit: string) =>
    w.run('AmlPipelineJob', {
      connection: 'wif',
      inputs: { ...inputs(), protectedBranches: 'refs/heads/main, refs/heads/release/*' },
      variables: { ...sources(makeCheckout(commit)), 'Build.SourceBranch': branch, 'Build.SourceVersion': commit },
    });
  // #401 completes as a merge commit: parents main's head and the source's tip.
  w.emu.ado.addPullRequest({
    repositoryId: repo.id,
    id: 401,
    author: SEED_PEOPLE.author,
    commits: [h('41')],
    lastMergeCommit: h('42'),
    reviewers,
  });
  assert.deepEqual(w.emu.ado.graph(repo.id).parents(h('42')), [repo.mainHead, h('41')]);
  const merged = await runAt('refs/heads/main', h('42'));
  assert.equal(merged.result, 'Succeeded', describe(merged));
  assert.ok(
    merged.log.some((l) => l.includes('pull request #401 into refs/heads/main, approved by Alice Reviewer, Bob Reviewer')),
    describe(merged),
  );

  // #402 is rebased and fast-forwarded: its first commit is on main but no pull request's merge.
  w.emu.ado.addPullRequest({
    repositoryId: repo.id,
    id: 402,
    author: SEED_PEOPLE.author,
    commits: [h('43'), h('44')],
    mergeStrategy: 'rebase',
    reviewers,
  });
  const between = await runAt('refs/heads/main', h('43'));
  assert.equal(between.result, 'Succeeded', describe(between));
  assert.ok(
    between.log.some((l) =>
      l.includes(
        'pull request #401 into refs/heads/main, approved by Alice Reviewer, Bob Reviewer; the 1 commit(s) since its merge 424242424242 came in through approved pull requests',
      ),
    ),
    describe(between),
  );

  // #403 is squashed: its own commit never reached main; a release branch created at it is refused.
  w.emu.ado.addPolicy({
    project: w.seed.ado.project,
    type: 'minimumReviewers',
    scope: [{ repositoryId: repo.id, refName: 'refs/heads/release/', matchKind: 'Prefix' }],
    settings: { minimumApproverCount: 2, resetOnSourcePush: true },
  });
  w.emu.ado.addPullRequest({
    repositoryId: repo.id,
    id: 403,
    author: SEED_PEOPLE.author,
    commits: [h('45')],
    lastMergeCommit: h('46'),
    mergeStrategy: 'squash',
    reviewers,
  });
  w.emu.ado.pushCommits(repo.id, 'refs/heads/release/45', [], h('45'));
  const since = w.emu.requests.length;
  const squashed = await runAt('refs/heads/release/45', h('45'));
  await refused(
    squashed,
    since,
    /commit 454545454545 is part of approved pull request #403, but that pull request did not bring it into refs\/heads\/main \(it was squashed or rebased\)/,
  );
});
