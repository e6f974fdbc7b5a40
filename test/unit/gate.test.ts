import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import {
  AccessDenied,
  evaluateGate as evaluate,
  matchesProtected,
  parseProtectedBranches,
  type CheckLike,
  type GateFacts,
  type GateSettings,
} from '../../tasks/common/gate';
import {
  azureReposHost,
  MIN_REVIEWERS_POLICY,
  type AzureReposReader,
  type PolicyLike,
  type PullRequestLike,
  type ReviewerLike,
} from '../../tasks/common/gate-azure-repos';
import { REST_REFERENCE } from '../../testkit/official';

const SHA = 'a'.repeat(40);
const facts = (over: Partial<GateFacts> = {}): GateFacts => ({
  sourceBranch: 'refs/heads/main',
  reason: 'IndividualCI',
  provider: 'TfsGit',
  repositoryId: 'repo1',
  projectId: 'p1',
  sourceVersion: SHA,
  checkedOut: SHA,
  ...over,
});
const policy = (over: Partial<PolicyLike> = {}, settings: Partial<NonNullable<PolicyLike['settings']>> = {}): PolicyLike => ({
  id: 7,
  isEnabled: true,
  isBlocking: true,
  isDeleted: false,
  type: { id: MIN_REVIEWERS_POLICY },
  ...over,
  settings: {
    minimumApproverCount: 2,
    creatorVoteCounts: false,
    resetOnSourcePush: true,
    scope: [{ repositoryId: 'repo1', refName: 'refs/heads/main', matchKind: 'Exact' }],
    ...settings,
  },
});
/** A reviewed merge: pull request `id` into `target` whose merge commit is `commit`, with reviewers' votes. */
interface FakePr {
  id: number;
  commit: string;
  target?: string;
  author?: string;
  votes?: Array<[string, number, boolean?, boolean?]>;
  contains?: string[];
}
const REVIEWED: FakePr = {
  id: 7,
  commit: SHA,
  votes: [
    ['alice', 10],
    ['bob', 5],
  ],
};

type FakeReader = AzureReposReader & {
  calls: number;
  prs: FakePr[];
  parentsOf: Record<string, string[]>;
  connectionChecks: () => Promise<CheckLike[]>;
};
function reader(
  policies: PolicyLike[],
  head = SHA,
  ancestors: string[] = [],
  defaultBranch = 'refs/heads/main',
  prs: FakePr[] = [REVIEWED],
): FakeReader {
  const pr = (p: FakePr): PullRequestLike => ({
    pullRequestId: p.id,
    status: 'completed',
    targetRefName: p.target ?? 'refs/heads/main',
    createdBy: { id: p.author ?? 'carol', displayName: p.author ?? 'carol' },
    lastMergeCommit: { commitId: p.commit },
  });
  const r: FakeReader = {
    calls: 0,
    prs,
    parentsOf: {},
    async defaultBranch() {
      r.calls++;
      return defaultBranch;
    },
    async policies() {
      r.calls++;
      return policies;
    },
    async branchHead() {
      r.calls++;
      return head;
    },
    async isAncestor(_p: string, _r: string, c: string) {
      r.calls++;
      return ancestors.includes(c);
    },
    async pullRequests(_p: string, _r: string, query: string, commit: string) {
      r.calls++;
      return r.prs.filter((p) => (query === 'lastMergeCommit' ? p.commit === commit : (p.contains ?? []).includes(commit))).map(pr);
    },
    async reviewers(_p: string, _r: string, id: number): Promise<ReviewerLike[]> {
      return (r.prs.find((p) => p.id === id)?.votes ?? []).map(([who, vote, isContainer, hasDeclined]) => ({
        id: who,
        displayName: who,
        vote,
        ...(isContainer ? { isContainer } : {}),
        ...(hasDeclined ? { hasDeclined } : {}),
      }));
    },
    async parents(_p: string, _r: string, c: string) {
      return r.parentsOf[c] ?? [];
    },
    async connectionChecks() {
      return [{ settings: { definitionRef: { name: 'evaluatebranchProtection' } } }];
    },
  };
  return r;
}
const evaluateGate = (f: GateFacts, s: GateSettings, r: FakeReader) =>
  evaluate(f, s, azureReposHost(r, f.projectId, f.repositoryId), () => r.connectionChecks());
const settings = { protectedBranches: ['refs/heads/main', 'refs/heads/release/*'], requireBranchPolicy: true, minimumReviewers: 1 };

test('protected branch with a blocking reviewer policy passes', async () => {
  const r = await evaluateGate(facts(), settings, reader([policy()]));
  assert.equal(r.branch, 'refs/heads/main');
  assert.deepEqual(r.warnings, []);
});

test('look-alike branch names never match', () => {
  for (const ref of [
    'refs/heads/main-fix',
    'refs/heads/mainx',
    'refs/heads/release/../main',
    'refs/heads/MAIN',
    'refs/heads/Main',
    'refs/heads/main/',
    'refs/heads/mаin',
    'refs/heads/release/a/b',
    'refs/heads//main',
    'refs/tags/main',
    'main',
  ]) {
    assert.equal(matchesProtected(ref, settings.protectedBranches), false, ref);
  }
  assert.equal(matchesProtected('refs/heads/release/2026.1', settings.protectedBranches), true);
});

test('refuses feature branches and PR builds before reading anything', async () => {
  const r = reader([policy()]);
  await assert.rejects(
    evaluateGate(facts({ sourceBranch: 'refs/heads/feature/x' }), settings, r),
    /Refusing to run from 'refs\/heads\/feature\/x': the branch matches none of protectedBranches/,
  );
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
    [
      policy({}, { scope: [{ repositoryId: 'other', refName: 'refs/heads/main', matchKind: 'Exact' }] }),
      /no "Minimum number of reviewers"/,
    ],
    [policy({}, { scope: [{ repositoryId: null, refName: 'refs/heads/rel', matchKind: 'Prefix' }] }), /no "Minimum number of reviewers"/],
    [policy({ type: { id: '0609b952-1397-4640-95ec-e00a01b2c241' } }), /no "Minimum number of reviewers"/],
  ];
  for (const [p, re] of cases) await assert.rejects(evaluateGate(facts(), settings, reader([p])), re);
  await assert.rejects(
    evaluateGate(facts(), { ...settings, minimumReviewers: 3 }, reader([policy()])),
    /requires 2 approver\(s\), fewer than minimumReviewers \(3\)/,
  );
});

test('repository-less and prefix-scoped policies apply', async () => {
  await evaluateGate(
    facts(),
    settings,
    reader([policy({}, { scope: [{ repositoryId: null, refName: 'refs/heads/', matchKind: 'Prefix' }] })]),
  );
  await evaluateGate(facts(), settings, reader([policy({}, { scope: [{ repositoryId: null }] })]));
});

test('a commit that is not on the branch is refused', async () => {
  const other = 'b'.repeat(40);
  await assert.rejects(
    evaluateGate(facts({ sourceVersion: other, checkedOut: other }), settings, reader([policy()], SHA, [])),
    /commit bbbbbbbbbbbb is not on refs\/heads\/main/,
  );
  await evaluateGate(
    facts({ sourceVersion: other, checkedOut: other }),
    settings,
    reader([policy()], SHA, [other], 'refs/heads/main', [{ ...REVIEWED, commit: other }]),
  );
});

test('unreadable policies say how to grant access', async () => {
  const r = reader([]);
  r.policies = async () => {
    throw new AccessDenied('401', 'Grant the build service identity Read');
  };
  await assert.rejects(
    evaluateGate(facts(), settings, r),
    /the job cannot read the branch protection on Azure Repos\. Grant the build service identity Read/,
  );
});

test('proof of review: a completed pull request approved by two others passes, and the log names them', async () => {
  const res = await evaluateGate(facts(), settings, reader([policy()]));
  assert.equal(res.review, 'pull request #7 into refs/heads/main, approved by alice, bob');
});

test('proof of review: an unreviewed commit on a new branch under a prefix policy is refused', async () => {
  // release/* is protected by a Prefix policy and the commit is on the branch, but no pull request merged it.
  const rel = 'd'.repeat(40);
  const prefix = policy({}, { scope: [{ repositoryId: 'repo1', refName: 'refs/heads/release/', matchKind: 'Prefix' }] });
  await assert.rejects(
    evaluateGate(facts({ sourceBranch: 'refs/heads/release/9', sourceVersion: rel, checkedOut: rel }), settings, reader([prefix], rel)),
    /commit dddddddddddd is not the merge of a completed pull request approved by reviewers other than its author.*Run the pipeline from the merge commit of a completed pull request/,
  );
});

test('proof of review: approved by its author only, by too few, into an unprotected branch, or by a group: refused', async () => {
  const cases: Array<[FakePr, RegExp]> = [
    [{ id: 8, commit: SHA, author: 'carol', votes: [['carol', 10]] }, /pull request #8, which nobody but its author \(carol\) approved/],
    [
      {
        id: 9,
        commit: SHA,
        votes: [
          ['alice', 10],
          ['bob', -5],
        ],
      },
      /pull request #9, approved by 1 reviewer\(s\) other than its author, fewer than minimumReviewers \(2\)/,
    ],
    [
      {
        id: 10,
        commit: SHA,
        target: 'refs/heads/dev',
        votes: [
          ['alice', 10],
          ['bob', 10],
        ],
      },
      /pull request #10 into refs\/heads\/dev, which is not one of protectedBranches/,
    ],
    [
      {
        id: 11,
        commit: SHA,
        votes: [
          ['alice', 10],
          ['[mlops]\\Contributors', 10, true],
        ],
      },
      /pull request #11, approved by 1 reviewer/,
    ],
    [
      {
        id: 13,
        commit: SHA,
        votes: [
          ['alice', 10],
          ['bob', 10, false, true],
        ],
      },
      /pull request #13, approved by 1 reviewer/,
    ],
  ];
  for (const [pr, re] of cases)
    await assert.rejects(
      evaluateGate(facts(), { ...settings, minimumReviewers: 2 }, reader([policy()], SHA, [], 'refs/heads/main', [pr])),
      re,
    );
});

test('proof of review: a descendant passes only when every commit since the reviewed merge came through an approved pull request into the branch', async () => {
  const [m, a, b] = ['a'.repeat(40), 'e'.repeat(40), 'f'.repeat(40)];
  const r = reader([policy()], b, [a, m], 'refs/heads/main', [
    { id: 7, commit: m, votes: [['alice', 10]] },
    { id: 12, commit: 'c'.repeat(40), votes: [['bob', 10]], contains: [a, b] },
  ]);
  r.parentsOf = { [b]: [a], [a]: [m] };
  const ok = await evaluateGate(facts({ sourceVersion: b, checkedOut: b }), settings, r);
  assert.equal(
    ok.review,
    'pull request #7 into refs/heads/main, approved by alice; the 2 commit(s) since its merge aaaaaaaaaaaa came in through approved pull requests',
  );
  r.prs[1]!.contains = [b];
  await assert.rejects(
    evaluateGate(facts({ sourceVersion: b, checkedOut: b }), settings, r),
    /commit ffffffffffff descends from reviewed work, but commit eeeeeeeeeeee between them came in through no approved pull request/,
  );
});

test('proof of review: a commit of a squashed pull request, never merged itself, is refused', async () => {
  // Pull request #12 carried e...e but was squashed into main as c...c; a new release branch points at e...e.
  const [m, e, sq] = ['a'.repeat(40), 'e'.repeat(40), 'c'.repeat(40)];
  const r = reader(
    [policy({}, { scope: [{ repositoryId: 'repo1', refName: 'refs/heads/release/', matchKind: 'Prefix' }] })],
    e,
    [m],
    'refs/heads/main',
    [
      { id: 7, commit: m, votes: [['alice', 10]] },
      { id: 12, commit: sq, votes: [['bob', 10]], contains: [e] },
    ],
  );
  r.parentsOf = { [e]: [m] };
  // The branch head is e...e for release/1 (the run's branch) and for main alike in this fake; main's history is given by isAncestor.
  r.branchHead = async (_p, _r, ref) => (ref === 'refs/heads/main' ? sq : e);
  await assert.rejects(
    evaluateGate(facts({ sourceBranch: 'refs/heads/release/1', sourceVersion: e, checkedOut: e }), settings, r),
    /commit eeeeeeeeeeee is part of approved pull request #12, but that pull request did not bring it into refs\/heads\/main \(it was squashed or rebased\)/,
  );
});

test('proof of review: every parent of a merge is followed; an unreviewed side branch merged without a pull request is refused', async () => {
  // x...x merges reviewed main (a...a) with an unreviewed commit d...d; x...x itself came in through approved #12.
  const [m, d, x] = ['a'.repeat(40), 'd'.repeat(40), 'b'.repeat(40)];
  const r = reader([policy()], x, [m, d], 'refs/heads/main', [
    { id: 7, commit: m, votes: [['alice', 10]] },
    { id: 12, commit: 'c'.repeat(40), votes: [['bob', 10]], contains: [x] },
  ]);
  r.parentsOf = { [x]: [m, d], [d]: [m] };
  await assert.rejects(
    evaluateGate(facts({ sourceVersion: x, checkedOut: x }), settings, r),
    /commit bbbbbbbbbbbb descends from reviewed work, but commit dddddddddddd between them came in through no approved pull request/,
  );
});

test("proof of review, against the official example: a completed pull request whose only approval is its author's is refused", async () => {
  // GET pullRequests?status=completed (vsts-rest-api-specs git 7.1): #20 by Normal Paulk, reviewed by Normal Paulk with vote 10.
  const file = path.join(
    REST_REFERENCE,
    'MicrosoftDocs+vsts-rest-api-specs/specification/git/7.1/httpExamples/pullRequests/GET__git_repositories__repositoryId__pullRequests_status-completed.json',
  );
  const [pr] = (
    JSON.parse(fs.readFileSync(file, 'utf8')) as {
      responses: { 200: { body: { value: Array<PullRequestLike & { reviewers: ReviewerLike[] }> } } };
    }
  ).responses[200].body.value;
  const merge = pr!.lastMergeCommit!.commitId!;
  const r = reader(
    [policy({}, { scope: [{ repositoryId: null, refName: 'refs/heads/new_feature', matchKind: 'Exact' }] })],
    merge,
    [],
    'refs/heads/main',
    [],
  );
  r.pullRequests = async (_p, _r, query, commit) => (query === 'lastMergeCommit' && commit === merge ? [pr!] : []);
  r.reviewers = async () => pr!.reviewers;
  const run = { ...settings, protectedBranches: ['refs/heads/new_feature'] };
  await assert.rejects(
    evaluateGate(facts({ sourceBranch: 'refs/heads/new_feature', sourceVersion: merge, checkedOut: merge }), run, r),
    /the commit is the merge of pull request #20, which nobody but its author \(Normal Paulk\) approved/,
  );
  // The same pull request with a second person's approval passes.
  r.reviewers = async () => [...pr!.reviewers, { id: '8c8c7d32-6b1b-47f4-b2e9-30b477b5ab3d', displayName: 'Chuck Reinhart', vote: 5 }];
  const ok = await evaluateGate(facts({ sourceBranch: 'refs/heads/new_feature', sourceVersion: merge, checkedOut: merge }), run, r);
  assert.equal(ok.review, 'pull request #20 into refs/heads/new_feature, approved by Chuck Reinhart');
});

test('a policy that keeps approvals when new changes are pushed passes with a warning', async () => {
  const res = await evaluateGate(facts(), settings, reader([policy({}, { resetOnSourcePush: false })]));
  assert.match(res.warnings.join('\n'), /Branch policy 7 keeps approvals when new changes are pushed.*Reset all approval votes/);
  assert.deepEqual(
    (await evaluateGate(facts(), settings, reader([policy({}, { resetOnSourcePush: false, requireVoteOnLastIteration: true })]))).warnings,
    [],
  );
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
  await assert.rejects(
    evaluateGate(facts({ sourceBranch: 'refs/heads/release/1' }), settings, reader([onDefault])),
    /no "Minimum number of reviewers"/,
  );
  // A repository whose default branch is not main: its policy protects that branch, not main.
  await assert.rejects(
    evaluateGate(facts(), settings, reader([onDefault], SHA, [], 'refs/heads/develop')),
    /no "Minimum number of reviewers"/,
  );
});

test('the checkout is compared with Build.SourceVersion also without a policy check, and a missing checkout is said', async () => {
  const noPolicy = { ...settings, requireBranchPolicy: false };
  await assert.rejects(
    evaluateGate(facts({ checkedOut: 'c'.repeat(40) }), noPolicy, reader([])),
    /checked-out commit cccccccccccc differs from Build.SourceVersion aaaaaaaaaaaa/,
  );
  const r = await evaluateGate(facts({ checkedOut: undefined }), settings, reader([policy()]));
  assert.ok(
    r.warnings.some((w) => /checked-out commit was not compared with Build\.SourceVersion/.test(w)),
    r.warnings.join('\n'),
  );
});

test('a checkout that disagrees with Build.SourceVersion is refused', async () => {
  await assert.rejects(
    evaluateGate(facts({ checkedOut: 'c'.repeat(40) }), settings, reader([policy()])),
    /checked-out commit cccccccccccc differs from Build.SourceVersion aaaaaaaaaaaa/,
  );
  await evaluateGate(facts({ checkedOut: SHA }), settings, reader([policy()]));
});
