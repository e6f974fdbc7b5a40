import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AccessDenied, evaluateGate, matchesProtected, MIN_REVIEWERS_POLICY, parseProtectedBranches, type GateFacts, type GateReader, type PolicyLike } from '../../tasks/common/gate';

const SHA = 'a'.repeat(40);
const facts = (over: Partial<GateFacts> = {}): GateFacts => ({ sourceBranch: 'refs/heads/main', reason: 'IndividualCI', provider: 'TfsGit', repositoryId: 'repo1', projectId: 'p1', sourceVersion: SHA, checkedOut: SHA, ...over });
const policy = (over: Partial<PolicyLike> = {}, settings: Partial<NonNullable<PolicyLike['settings']>> = {}): PolicyLike => ({
  id: 7, isEnabled: true, isBlocking: true, isDeleted: false, type: { id: MIN_REVIEWERS_POLICY },
  ...over, settings: { minimumApproverCount: 2, creatorVoteCounts: false, scope: [{ repositoryId: 'repo1', refName: 'refs/heads/main', matchKind: 'Exact' }], ...settings },
});
function reader(policies: PolicyLike[], head = SHA, ancestors: string[] = [], defaultBranch = 'refs/heads/main'): GateReader & { calls: number } {
  const r = {
    calls: 0,
    async defaultBranch() { r.calls++; return defaultBranch; },
    async policies() { r.calls++; return policies; },
    async branchHead() { r.calls++; return head; },
    async isAncestor(_p: string, _r: string, c: string) { r.calls++; return ancestors.includes(c); },
    async connectionChecks() { return [{ settings: { definitionRef: { name: 'evaluatebranchProtection' } } }]; },
  };
  return r;
}
const settings = { protectedBranches: ['refs/heads/main', 'refs/heads/release/*'], requireBranchPolicy: true, minimumReviewers: 1 };

test('protected branch with a blocking reviewer policy passes', async () => {
  const r = await evaluateGate(facts(), settings, reader([policy()]));
  assert.equal(r.branch, 'refs/heads/main');
  assert.deepEqual(r.warnings, []);
});

test('look-alike branch names never match', () => {
  for (const ref of ['refs/heads/main-fix', 'refs/heads/mainx', 'refs/heads/release/../main', 'refs/heads/MAIN', 'refs/heads/Main', 'refs/heads/main/', 'refs/heads/mаin', 'refs/heads/release/a/b', 'refs/heads//main', 'refs/tags/main', 'main']) {
    assert.equal(matchesProtected(ref, settings.protectedBranches), false, ref);
  }
  assert.equal(matchesProtected('refs/heads/release/2026.1', settings.protectedBranches), true);
});

test('refuses feature branches and PR builds before reading anything', async () => {
  const r = reader([policy()]);
  await assert.rejects(evaluateGate(facts({ sourceBranch: 'refs/heads/feature/x' }), settings, r), /Refusing to run from 'refs\/heads\/feature\/x': the branch matches none of protectedBranches/);
  await assert.rejects(evaluateGate(facts({ reason: 'PullRequest' }), settings, r), /pull-request build/);
  await assert.rejects(evaluateGate(facts({ sourceBranch: 'refs/pull/12/merge' }), settings, r), /pull-request build/);
  assert.equal(r.calls, 0);
});

test('each weak policy is refused with its own reason', async () => {
  const cases: Array<[PolicyLike, RegExp]> = [
    [policy({ isEnabled: false }), /disabled/],
    [policy({ isBlocking: false }), /optional/],
    [policy({ isDeleted: true }), /deleted/],
    [policy({}, { creatorVoteCounts: true }), /approve their own changes/],
    [policy({}, { scope: [{ repositoryId: 'other', refName: 'refs/heads/main', matchKind: 'Exact' }] }), /no "Minimum number of reviewers"/],
    [policy({}, { scope: [{ repositoryId: null, refName: 'refs/heads/rel', matchKind: 'Prefix' }] }), /no "Minimum number of reviewers"/],
    [policy({ type: { id: '0609b952-1397-4640-95ec-e00a01b2c241' } }), /no "Minimum number of reviewers"/],
  ];
  for (const [p, re] of cases) await assert.rejects(evaluateGate(facts(), settings, reader([p])), re);
  await assert.rejects(evaluateGate(facts(), { ...settings, minimumReviewers: 3 }, reader([policy()])), /requires 2 approver\(s\), fewer than minimumReviewers \(3\)/);
});

test('repository-less and prefix-scoped policies apply', async () => {
  await evaluateGate(facts(), settings, reader([policy({}, { scope: [{ repositoryId: null, refName: 'refs/heads/', matchKind: 'Prefix' }] })]));
  await evaluateGate(facts(), settings, reader([policy({}, { scope: [{ repositoryId: null }] })]));
});

test('a commit that is not on the branch is refused', async () => {
  const other = 'b'.repeat(40);
  await assert.rejects(evaluateGate(facts({ sourceVersion: other, checkedOut: other }), settings, reader([policy()], SHA, [])), /commit bbbbbbbbbbbb is not on refs\/heads\/main/);
  await evaluateGate(facts({ sourceVersion: other, checkedOut: other }), settings, reader([policy()], SHA, [other]));
});

test('unreadable policies say how to grant access', async () => {
  const r = reader([]);
  r.policies = async () => { throw new AccessDenied('401'); };
  await assert.rejects(evaluateGate(facts(), settings, r), /cannot read branch policies.*Build Service/);
});

test('GitHub repositories fail closed unless requireBranchPolicy is false', async () => {
  await assert.rejects(evaluateGate(facts({ provider: 'GitHub' }), settings, reader([])), /hosted on GitHub/);
  const ok = await evaluateGate(facts({ provider: 'GitHub' }), { ...settings, requireBranchPolicy: false }, reader([]));
  assert.match(ok.warnings[0]!, /requireBranchPolicy is false/);
});

test('a connection without a Branch control check gets a warning with steps', async () => {
  const r = reader([policy()]);
  r.connectionChecks = async () => [];
  const res = await evaluateGate(facts({ serviceConnectionId: 'sc1' }), settings, r);
  assert.match(res.warnings.join(' '), /no "Branch control" check.*Approvals and checks/);
});

test('protectedBranches input refuses non-refs', () => {
  assert.deepEqual(parseProtectedBranches('refs/heads/main, refs/heads/release/*'), ['refs/heads/main', 'refs/heads/release/*']);
  assert.throws(() => parseProtectedBranches('main'), /'main' is not a branch ref/);
});

test('a policy scoped to the default branch counts for the default branch only', async () => {
  const onDefault = policy({}, { scope: [{ repositoryId: null, refName: null, matchKind: 'DefaultBranch' } as never] });
  await evaluateGate(facts(), settings, reader([onDefault]));
  await assert.rejects(evaluateGate(facts({ sourceBranch: 'refs/heads/release/1' }), settings, reader([onDefault])), /no "Minimum number of reviewers"/);
  // A repository whose default branch is not main: its policy protects that branch, not main.
  await assert.rejects(evaluateGate(facts(), settings, reader([onDefault], SHA, [], 'refs/heads/develop')), /no "Minimum number of reviewers"/);
});

test('the checkout is compared with Build.SourceVersion also without a policy check, and a missing checkout is said', async () => {
  const noPolicy = { ...settings, requireBranchPolicy: false };
  await assert.rejects(evaluateGate(facts({ checkedOut: 'c'.repeat(40) }), noPolicy, reader([])), /checked-out commit cccccccccccc differs from Build.SourceVersion aaaaaaaaaaaa/);
  const r = await evaluateGate(facts({ checkedOut: undefined }), settings, reader([policy()]));
  assert.ok(r.warnings.some((w) => /checked-out commit was not compared with Build\.SourceVersion/.test(w)), r.warnings.join('\n'));
});

test('a checkout that disagrees with Build.SourceVersion is refused', async () => {
  await assert.rejects(evaluateGate(facts({ checkedOut: 'c'.repeat(40) }), settings, reader([policy()])), /checked-out commit cccccccccccc differs from Build.SourceVersion aaaaaaaaaaaa/);
  await evaluateGate(facts({ checkedOut: SHA }), settings, reader([policy()]));
});
