import assert from 'node:assert/strict';
import { test } from 'node:test';
import { AccessDenied } from '../../tasks/common/gate';
import { githubApiBase, githubHost, type GitHubGet } from '../../tasks/common/gate-github';

/** A GitHub API of canned answers by path (undefined: 404; an Error: thrown). */
function api(answers: Record<string, unknown>): GitHubGet {
  return async <T>(p: string) => {
    const key = p.replace(/\?.*$/, '');
    const a = answers[key];
    if (a instanceof Error) throw a;
    return a as T | undefined;
  };
}
const R = 'repos/o/r';

test('the API base: api.github.com for github.com, <server>/api/v3/ for GitHub Enterprise Server', () => {
  assert.equal(githubApiBase('https://github.com'), 'https://api.github.com/');
  assert.equal(githubApiBase('https://github.com/'), 'https://api.github.com/');
  assert.equal(githubApiBase('https://github.contoso.com'), 'https://github.contoso.com/api/v3/');
  assert.equal(githubApiBase('https://ghes.contoso.com/'), 'https://ghes.contoso.com/api/v3/');
});

test('rulesets: enough approvals with stale dismissal pass; an admin bypass, stale approvals or too few are refused', async () => {
  const rule = (count: number, dismiss: boolean) => [
    { type: 'pull_request', ruleset_id: 1, parameters: { required_approving_review_count: count, dismiss_stale_reviews_on_push: dismiss } },
  ];
  const host = (answers: Record<string, unknown>) => githubHost(api(answers), 'GitHub', 'o/r');
  const ok = await host({
    [`${R}/rules/branches/main`]: rule(2, true),
    [`${R}/rulesets/1`]: { bypass_actors: [{ actor_type: 'Team', actor_id: 9, bypass_mode: 'always' }] },
  }).protection('refs/heads/main', 2);
  assert.deepEqual(ok, { ok: 'ruleset 1 requires 2 approving review(s), stale approvals dismissed' });
  const admins = await host({
    [`${R}/rules/branches/main`]: rule(2, true),
    [`${R}/rulesets/1`]: { bypass_actors: [{ actor_type: 'RepositoryRole', actor_id: 5, bypass_mode: 'always' }] },
  }).protection('refs/heads/main', 2);
  assert.match((admins as { reason: string }).reason, /administrators can bypass ruleset 1/);
  // "pull_request" mode lets them merge a pull request without the approvals: a bypass too, as is an enterprise owner.
  for (const actor of [
    { actor_type: 'RepositoryRole', actor_id: 5, bypass_mode: 'pull_request' },
    { actor_type: 'OrganizationAdmin', actor_id: null, bypass_mode: 'pull_request' },
    { actor_type: 'EnterpriseOwner', actor_id: null, bypass_mode: 'always' },
  ]) {
    const res = await host({ [`${R}/rules/branches/main`]: rule(2, true), [`${R}/rulesets/1`]: { bypass_actors: [actor] } }).protection(
      'refs/heads/main',
      2,
    );
    assert.match((res as { reason: string }).reason, /administrators can bypass ruleset 1/, JSON.stringify(actor));
  }
  // A write-role bypass (id 4) is not an administrator's.
  assert.ok(
    'ok' in
      (await host({
        [`${R}/rules/branches/main`]: rule(2, true),
        [`${R}/rulesets/1`]: { bypass_actors: [{ actor_type: 'RepositoryRole', actor_id: 4, bypass_mode: 'always' }] },
      }).protection('refs/heads/main', 2)),
  );
  const stale = await host({
    [`${R}/rules/branches/main`]: rule(2, false),
    [`${R}/branches/main/protection`]: new AccessDenied('403'),
  }).protection('refs/heads/main', 2);
  assert.match((stale as { reason: string }).reason, /keeps approvals when new commits are pushed/);
  const few = await host({
    [`${R}/rules/branches/main`]: rule(1, true),
    [`${R}/branches/main/protection`]: new AccessDenied('403'),
  }).protection('refs/heads/main', 2);
  assert.match((few as { reason: string }).reason, /requires 1 approving review\(s\), fewer than minimumReviewers \(2\)/);
});

test('classic protection: needs administrators included; without rulesets an unreadable protection says which permission', async () => {
  const classic = (enforce: boolean) => ({
    [`${R}/rules/branches/main`]: [],
    [`${R}/branches/main/protection`]: {
      required_pull_request_reviews: { required_approving_review_count: 2, dismiss_stale_reviews: true },
      enforce_admins: { enabled: enforce },
    },
  });
  assert.deepEqual(await githubHost(api(classic(true)), 'GitHub', 'o/r').protection('refs/heads/main', 2), {
    ok: 'branch protection requires 2 approving review(s), stale approvals dismissed, administrators included',
  });
  assert.match(
    ((await githubHost(api(classic(false)), 'GitHub', 'o/r').protection('refs/heads/main', 2)) as { reason: string }).reason,
    /administrators can bypass its branch protection/,
  );
  await assert.rejects(
    githubHost(
      api({ [`${R}/rules/branches/main`]: [], [`${R}/branches/main/protection`]: new AccessDenied('403') }),
      'GitHub',
      'o/r',
    ).protection('refs/heads/main', 2),
    (e: unknown) => e instanceof AccessDenied && /Administration read/.test(e.fix),
  );
  assert.match(
    ((await githubHost(api({ [`${R}/rules/branches/main`]: [] }), 'GitHub', 'o/r').protection('refs/heads/main', 2)) as { reason: string })
      .reason,
    /no ruleset or branch protection that requires approving reviews/,
  );
});

test('reviews: the latest deciding review of each person counts, a comment does not undo an approval, the author never counts', async () => {
  const host = githubHost(
    api({
      [`${R}/commits/abc/pulls`]: [
        { number: 5, user: { login: 'carol', id: 1 }, base: { ref: 'main' }, merged_at: '2026-01-01T00:00:00Z', merge_commit_sha: 'abc' },
      ],
      [`${R}/pulls/5/reviews`]: [
        { user: { login: 'carol', id: 1 }, state: 'APPROVED' },
        { user: { login: 'alice', id: 2 }, state: 'APPROVED' },
        { user: { login: 'alice', id: 2 }, state: 'COMMENTED' },
        { user: { login: 'bob', id: 3 }, state: 'APPROVED' },
        { user: { login: 'bob', id: 3 }, state: 'CHANGES_REQUESTED' },
        { user: { login: 'dan', id: 4 }, state: 'APPROVED' },
        { user: { login: 'dan', id: 4 }, state: 'DISMISSED' },
      ],
    }),
    'GitHub',
    'o/r',
  );
  assert.deepEqual(await host.mergedAs('abc'), [{ id: 5, target: 'refs/heads/main', author: 'carol', approvers: ['alice'] }]);
});

test('reviews are read page by page: a change request on a later page undoes an earlier approval', async () => {
  const pages: Record<string, unknown[]> = {
    '1': [
      { user: { login: 'alice', id: 2 }, state: 'APPROVED' },
      ...Array.from({ length: 99 }, (_, i) => ({ user: { login: `c${i}`, id: 100 + i }, state: 'COMMENTED' })),
    ],
    '2': [
      { user: { login: 'alice', id: 2 }, state: 'CHANGES_REQUESTED' },
      { user: { login: 'bob', id: 3 }, state: 'APPROVED' },
    ],
  };
  const asked: string[] = [];
  const get: GitHubGet = async <T>(p: string) => {
    asked.push(p);
    if (p.startsWith(`${R}/commits/abc/pulls`))
      return (
        p.includes('page=1')
          ? [
              {
                number: 5,
                user: { login: 'carol', id: 1 },
                base: { ref: 'main' },
                merged_at: '2026-01-01T00:00:00Z',
                merge_commit_sha: 'abc',
              },
            ]
          : []
      ) as T;
    const page = /[?&]page=(\d+)/.exec(p)?.[1] ?? '1';
    return (pages[page] ?? []) as T;
  };
  assert.deepEqual(await githubHost(get, 'GitHub', 'o/r').mergedAs('abc'), [
    { id: 5, target: 'refs/heads/main', author: 'carol', approvers: ['bob'] },
  ]);
  assert.deepEqual(
    asked.filter((p) => p.includes('/reviews')),
    [`${R}/pulls/5/reviews?per_page=100&page=1`, `${R}/pulls/5/reviews?per_page=100&page=2`],
  );
});
