// Azure Repos and GitHub in the emulator, held against the official REST examples (vendored under
// testkit/reference/reference) and read with the official client where there is one
// (azure-devops-node-api): pull requests by merge commit and by commit, reviewers' votes, commits
// with their parents (two for a merge commit), merge bases; GitHub's rules, rulesets, protection,
// branches, comparisons, commits, pull requests of a commit and reviews, as GitHub Enterprise
// Server (/api/v3) and as api.github.com.
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { getBearerHandler, WebApi } from 'azure-devops-node-api';
import { GitPullRequestQueryType } from 'azure-devops-node-api/interfaces/GitInterfaces';
import { REST_REFERENCE } from '../../testkit/official';
import { type Emulator, type SeedResult, startEmulator } from '../../testkit/emulator/index';
import { rawRequest } from '../../testkit/emulator/raw';
import { SEED_PEOPLE } from '../../testkit/emulator/seed';

const ADO = path.join(REST_REFERENCE, 'MicrosoftDocs+vsts-rest-api-specs/specification/git/7.1/httpExamples');
const GH = path.join(REST_REFERENCE, 'octokit+openapi/ghes-3.19');
const adoExample = (file: string): Record<string, unknown> =>
  (JSON.parse(fs.readFileSync(path.join(ADO, file), 'utf8')) as { responses: { 200: { body: Record<string, unknown> } } }).responses[200]
    .body;
const ghExample = (name: string): unknown => JSON.parse(fs.readFileSync(path.join(GH, 'examples', `${name}.json`), 'utf8'));
const ghSchema = (name: string): Record<string, unknown> =>
  JSON.parse(fs.readFileSync(path.join(GH, 'schemas', `${name}.json`), 'utf8')) as Record<string, unknown>;

/** Key paths of a JSON value down to `depth` levels (arrays by their first item). */
function keyPaths(v: unknown, depth = Infinity, prefix = ''): string[] {
  if (depth <= 0) return [];
  if (Array.isArray(v)) return v.length ? keyPaths(v[0], depth, `${prefix}[]`) : [];
  if (v && typeof v === 'object')
    return Object.entries(v).flatMap(([k, x]) => [`${prefix}.${k}`, ...keyPaths(x, depth - 1, `${prefix}.${k}`)]);
  return [];
}
/** Key paths of the official example that the emulator's answer lacks. */
const missing = (official: unknown, ours: unknown, depth = Infinity): string[] => {
  const have = new Set(keyPaths(ours, depth));
  return keyPaths(official, depth).filter((k) => !have.has(k));
};

let emu: Emulator;
let seed: SeedResult;
before(async () => {
  emu = await startEmulator();
  seed = emu.seedDefault();
});
after(() => emu.close());

describe('Azure Repos', () => {
  const h = (x: string) => x.repeat(20);
  let git: Awaited<ReturnType<WebApi['getGitApi']>>;
  before(async () => {
    const token = emu.ado.issueJobToken({ project: seed.ado.project });
    git = await new WebApi(seed.ado.collectionUri, getBearerHandler(token), { cert: { caFile: emu.caFile } }).getGitApi();
  });

  it('completes a pull request as a merge commit whose parents are the target and the source, in the shape of the examples', async () => {
    const repo = seed.ado.repository.id;
    const mainBefore = emu.ado.branchHead(repo, 'refs/heads/main')!;
    emu.ado.addPullRequest({
      repositoryId: repo,
      id: 210,
      author: SEED_PEOPLE.author,
      commits: [h('a1'), h('a2')],
      lastMergeCommit: h('a3'),
      reviewers: [
        { ...SEED_PEOPLE.reviewers[0]!, vote: 10 },
        { id: 'c0ffee00-0000-4000-8000-00000000000c', displayName: '[mlops]\\Reviewers', vote: 10, isContainer: true },
      ],
    });
    const merge = h('a3');
    assert.equal(emu.ado.branchHead(repo, 'refs/heads/main'), merge);

    const byMerge = await git.getPullRequestQuery(
      { queries: [{ type: GitPullRequestQueryType.LastMergeCommit, items: [merge] }] },
      repo,
      seed.ado.project,
    );
    const [pr] = byMerge.results?.[0]?.[merge] ?? [];
    assert.equal(pr?.pullRequestId, 210);
    const official = (
      adoExample('pullRequests/GET__git_repositories__repositoryId__pullRequests_status-completed.json').value as unknown[]
    )[0];
    assert.deepEqual(missing(official, pr), []);
    assert.equal(pr?.lastMergeCommit?.commitId, merge);
    assert.equal(pr?.lastMergeTargetCommit?.commitId, mainBefore);
    assert.equal(pr?.lastMergeSourceCommit?.commitId, h('a2'));

    // The commit query finds the pull request by the commits it merged.
    const byCommit = await git.getPullRequestQuery(
      { queries: [{ type: GitPullRequestQueryType.Commit, items: [h('a1')] }] },
      repo,
      seed.ado.project,
    );
    assert.deepEqual(
      byCommit.results?.[0]?.[h('a1')]?.map((p) => p.pullRequestId),
      [210],
    );

    const commit = await git.getCommit(merge, repo, seed.ado.project);
    assert.deepEqual(missing(adoExample('commits/GET__git_repositories__repositoryId__commits__commitId_.json'), commit), []);
    assert.deepEqual(commit.parents, [mainBefore, h('a2')]);
    const bases = await git.getMergeBases(repo, h('a1'), merge, seed.ado.project);
    assert.deepEqual(
      bases?.map((b) => b.commitId),
      [h('a1')],
      'a source commit is an ancestor of the merge',
    );
  });

  it('lists reviewers with their votes in the shape of the example; a group carries isContainer', async () => {
    const reviewers = await git.getPullRequestReviewers(seed.ado.repository.id, 210, seed.ado.project);
    const official = adoExample('pullRequestReviewers/GET__git_repositories__repositoryId__pullRequests__pullRequestId__reviewers.json');
    assert.deepEqual(missing((official.value as unknown[])[0], reviewers[0]), []);
    assert.deepEqual(
      reviewers.map((r) => [r.displayName, r.vote, r.isContainer ?? false, r.hasDeclined]),
      [
        ['Alice Reviewer', 10, false, false],
        ['[mlops]\\Reviewers', 10, true, false],
      ],
    );
  });

  it('a squash completes with one parent; an unknown commit is 404, which the client reads as null', async () => {
    const repo = emu.ado.addRepository({ project: seed.ado.project, name: 'squashed' });
    emu.ado.pushCommits(repo.id, 'refs/heads/main', [h('b0')]);
    emu.ado.addPullRequest({
      repositoryId: repo.id,
      id: 211,
      author: SEED_PEOPLE.author,
      commits: [h('b1')],
      lastMergeCommit: h('b2'),
      mergeStrategy: 'squash',
    });
    assert.deepEqual((await git.getCommit(h('b2'), repo.id, seed.ado.project)).parents, [h('b0')]);
    assert.deepEqual(
      await git.getMergeBases(repo.id, h('b1'), h('b2'), seed.ado.project).then((b) => b?.map((x) => x.commitId)),
      [h('b0')],
      'a squashed source commit is not in the target history',
    );
    assert.equal(await git.getCommit('f'.repeat(40), repo.id, seed.ado.project), null);
  });

  it('the seeded main: every commit is the merge of a completed pull request two people other than its author approved', async () => {
    for (const c of ['1', '2', '3']) {
      const merge = c.repeat(40);
      const res = await git.getPullRequestQuery(
        { queries: [{ type: GitPullRequestQueryType.LastMergeCommit, items: [merge] }] },
        seed.ado.repository.id,
        seed.ado.project,
      );
      const [pr] = res.results?.[0]?.[merge] ?? [];
      // The client leaves the results' pull requests as sent: the status is the enum's name.
      assert.equal(pr?.status as unknown, 'completed');
      const approvers = (pr?.reviewers ?? []).filter((r) => (r.vote ?? 0) >= 5 && r.id !== pr?.createdBy?.id);
      assert.equal(approvers.length, 2);
    }
  });
});

describe('GitHub', () => {
  const REPO = 'contoso/conformance';
  const TOKEN = 'ghp_ConformanceToken00000000000000000000';
  const ADMIN = 'ghp_ConformanceAdmin00000000000000000000';
  const get = async (p: string, token = TOKEN, githubCom = false) => {
    const r = await rawRequest(emu.url, emu.caCertPem, 'GET', githubCom ? p : `/api/v3${p}`, {
      headers: {
        authorization: `Bearer ${token}`,
        accept: 'application/vnd.github+json',
        ...(githubCom ? { host: 'api.github.com' } : {}),
      },
    });
    return { status: r.status, body: JSON.parse(r.text) as unknown, link: r.headers.link };
  };
  const c = (x: string) => x.repeat(20);
  before(() => {
    const gh = emu.github;
    gh.addToken(TOKEN);
    gh.addToken(ADMIN, { admin: true });
    gh.addRepository('contoso', 'conformance');
    gh.pushCommits(REPO, 'main', [c('01')]);
    gh.addRuleset(REPO, {
      id: 42,
      branches: ['main'],
      pullRequest: { required_approving_review_count: 2, dismiss_stale_reviews_on_push: true },
      bypassActors: [{ actor_id: 5, actor_type: 'RepositoryRole', bypass_mode: 'pull_request' }],
    });
    gh.protectClassic(REPO, 'main', { required_approving_review_count: 2, dismiss_stale_reviews: true, enforce_admins: true });
    gh.addPull(REPO, {
      number: 7,
      user: { login: 'carol', id: 11 },
      base: 'main',
      head: 'feature/x',
      commits: [c('02'), c('03')],
      mergeCommit: c('04'),
      reviews: [{ user: { login: 'alice', id: 12 }, state: 'APPROVED' }],
    });
  });

  it('rules, ruleset, protection and branch in the shape of the examples; bypass actors only for admins', async () => {
    const rules = await get(`/repos/${REPO}/rules/branches/main`);
    // Rule items: the example's rules are of other types; their parameters differ from pull_request's.
    assert.deepEqual(missing(ghExample('repository-rule-items'), rules.body, 1), []);
    const params = (rules.body as Array<{ parameters: Record<string, unknown> }>)[0]!.parameters;
    const required = (ghSchema('repository-rule-pull-request').properties as { parameters: { required: string[] } }).parameters.required;
    assert.deepEqual(
      required.filter((k) => !(k in params)),
      [],
      'every required parameter of the pull_request rule',
    );
    const ruleset = await get(`/repos/${REPO}/rulesets/42`, ADMIN);
    assert.deepEqual(missing(ghExample('repository-ruleset'), ruleset.body, 2), []);
    assert.equal('bypass_actors' in ((await get(`/repos/${REPO}/rulesets/42`)).body as object), false);
    const modes = (ghSchema('repository-ruleset-bypass-actor').properties as Record<string, { enum?: string[] }>).bypass_mode?.enum ?? [];
    assert.ok(
      (ruleset.body as { bypass_actors: Array<{ bypass_mode: string }> }).bypass_actors.every((a) => modes.includes(a.bypass_mode)),
    );
    assert.deepEqual(missing(ghExample('branch-protection'), (await get(`/repos/${REPO}/branches/main/protection`, ADMIN)).body, 2), []);
    assert.equal((await get(`/repos/${REPO}/branches/main/protection`)).status, 403, 'classic protection needs administration read');
    const branch = await get(`/repos/${REPO}/branches/main`);
    assert.deepEqual(missing(ghExample('branch-get'), branch.body, 2), []);
    assert.equal((branch.body as { commit: { sha: string } }).commit.sha, c('04'));
  });

  it('a merge commit has two parents; compare, commit, pulls of a commit and reviews in the shape of the examples, also as api.github.com', async () => {
    for (const githubCom of [false, true]) {
      const commit = await get(`/repos/${REPO}/commits/${c('04')}`, TOKEN, githubCom);
      assert.deepEqual(missing(ghExample('commit'), commit.body, 2), []);
      assert.deepEqual(
        (commit.body as { parents: Array<{ sha: string; url: string }> }).parents.map((p) => p.sha),
        [c('01'), c('03')],
      );
      assert.ok((commit.body as { url: string }).url.startsWith(githubCom ? 'https://api.github.com/repos/' : `${emu.url}/api/v3/repos/`));
      const cmp = await get(`/repos/${REPO}/compare/${c('02')}...main`, TOKEN, githubCom);
      assert.deepEqual(missing(ghExample('commit-comparison'), cmp.body, 2), []);
      assert.deepEqual([(cmp.body as { status: string }).status, (cmp.body as { ahead_by: number }).ahead_by], ['ahead', 2]);
      const pulls = await get(`/repos/${REPO}/commits/${c('04')}/pulls`, TOKEN, githubCom);
      // Top-level fields, and those of the parts the gate reads (labels, milestone, assignees are empty here).
      const [official] = ghExample('pull-request-simple-items') as Array<Record<string, unknown>>;
      const [ours] = pulls.body as Array<Record<string, unknown>>;
      assert.deepEqual(missing(official, ours, 1), []);
      for (const part of ['user', 'head', 'base']) assert.deepEqual(missing(official![part], ours![part], 1), [], part);
      assert.deepEqual(
        (pulls.body as Array<{ number: number; merge_commit_sha: string; base: { ref: string } }>).map((p) => [
          p.number,
          p.merge_commit_sha,
          p.base.ref,
        ]),
        [[7, c('04'), 'main']],
      );
      const reviews = await get(`/repos/${REPO}/pulls/7/reviews`, TOKEN, githubCom);
      assert.deepEqual(missing(ghExample('pull-request-review-items'), reviews.body), []);
    }
  });

  it('pages lists with a Link header; unknown tokens and commits answer as GitHub does', async () => {
    emu.github.addPull(REPO, {
      number: 8,
      user: { login: 'carol', id: 11 },
      base: 'main',
      head: 'feature/y',
      commits: [c('05')],
      mergeCommit: c('06'),
      reviews: Array.from({ length: 3 }, (_, i) => ({ user: { login: `r${i}`, id: 100 + i }, state: 'APPROVED' as const })),
    });
    const first = await get(`/repos/${REPO}/pulls/8/reviews?per_page=2`);
    assert.equal((first.body as unknown[]).length, 2);
    assert.match(String(first.link), /[?&]page=2>; rel="next"/);
    const second = await get(`/repos/${REPO}/pulls/8/reviews?per_page=2&page=2`);
    assert.equal((second.body as unknown[]).length, 1);
    assert.equal(second.link, undefined);
    assert.equal((await get(`/repos/${REPO}/branches/main`, 'ghp_unknown')).status, 401);
    assert.equal((await get(`/repos/${REPO}/commits/${'9'.repeat(40)}`)).status, 422);
  });
});
