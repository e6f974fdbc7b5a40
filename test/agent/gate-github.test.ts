/**
 * Agent-level: the gate for a repository on GitHub Enterprise Server, read through a GitHub service
 * connection (githubConnection) against the emulator's /api/v3: the branch's ruleset or classic
 * protection, then proof of review from the merged pull request and its reviews. The token is a
 * secret and goes to the GitHub API host only.
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import { copySample } from '../../testkit/pipeline-sample';
import type { Endpoint, TaskRun } from '../../testkit/harness';
import { tunnelGitHub } from '../../testkit/emulator/github';
import { assertNoLeaks, describe, startWorld, workspaceInputs, type World } from '../../testkit/world';

let w: World;
const REPO = 'contoso/mlops-gh';
const GH = 'e1e1e1e1-0000-4000-8000-0000000000e1';
const TOKEN = 'ghp_EmulatedGitHubToken0123456789abcdefABCD';
const carol = { login: 'carol', id: 11 };
const alice = { login: 'alice', id: 12 };
const bob = { login: 'bob', id: 13 };

before(async () => {
  w = await startWorld();
  w.emu.aml.addData(w.seed.workspace.id, 'taxi-test', '1', 'azureml://datastores/workspaceblobstore/paths/taxi/test/');
  w.emu.addSecret(TOKEN);
  const gh = w.emu.github;
  gh.addToken(TOKEN);
  gh.addRepository('contoso', 'mlops-gh');
  gh.pushCommits(REPO, 'main', ['a1'.repeat(20)]);
  gh.addRuleset(REPO, {
    id: 42,
    branches: ['main'],
    pullRequest: { required_approving_review_count: 2, dismiss_stale_reviews_on_push: true },
    bypassActors: [],
  });
});
after(async () => {
  assertNoLeaks(w);
  await w.close();
});

/** A run of the GitHub repository's `branch` at `commit`, checked out as the agent does (GitHub Enterprise Server unless `o` says otherwise). */
function run(
  commit: string,
  inputs: Record<string, string> = {},
  branch = 'refs/heads/main',
  o: { endpoint?: Endpoint; provider?: string; variables?: Record<string, string>; task?: string } = {},
): Promise<TaskRun> {
  const sources = copySample();
  fs.mkdirSync(path.join(sources, '.git'));
  fs.writeFileSync(path.join(sources, '.git', 'HEAD'), `${commit}\n`);
  return w.run(o.task ?? 'AmlPipelineJob', {
    connection: 'wif',
    inputs: { ...workspaceInputs(w.seed), jobFile: 'pipeline.yml', wait: 'false', githubConnection: GH, ...inputs },
    endpoints: { [GH]: o.endpoint ?? { url: `${w.emu.url}/`, scheme: 'PersonalAccessToken', parameters: { accessToken: TOKEN } } },
    sources,
    variables: {
      'Build.Repository.Provider': o.provider ?? 'GitHubEnterprise',
      'Build.Repository.Name': REPO,
      'Build.Repository.ID': REPO,
      'Build.SourceBranch': branch,
      'Build.SourceVersion': commit,
      ...o.variables,
    },
  });
}

const gateLines = (r: TaskRun): string[] => [...r.log.filter((l) => /gate|Branch|Checking that/i.test(l)), ...r.errors];

test('GitHub Enterprise: a commit pushed straight to main is refused, naming what is missing', async () => {
  const pushed = w.emu.github.pushCommits(REPO, 'main', ['b2'.repeat(20)]);
  const since = w.emu.requests.length;
  const r = await run(pushed);
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(
    r.errors.at(-1)!,
    /^Refusing to run from 'refs\/heads\/main': commit b2b2b2b2b2b2 is not the merge of a completed pull request approved by reviewers other than its author/,
  );
  assert.deepEqual(
    w.emu.requests
      .slice(since)
      .filter((q) => q.service === 'arm')
      .map((q) => q.path),
    [],
    'nothing reached ARM',
  );
  assert.ok(
    w.emu.requests.slice(since).some((q) => q.service === 'github' && q.path.endsWith(`/commits/${pushed}/pulls`)),
    'the gate asked GitHub',
  );
  console.log(
    `# gate log, unreviewed commit:\n${gateLines(r)
      .map((l) => `#   ${l}`)
      .join('\n')}`,
  );
});

test('GitHub Enterprise: the merge of a pull request approved by two others passes; approved by its author only, refused', async () => {
  w.emu.github.addPull(REPO, {
    number: 7,
    user: carol,
    base: 'main',
    head: 'feature/x',
    mergeCommit: 'c3'.repeat(20),
    commits: ['c4'.repeat(20)],
    reviews: [
      { user: carol, state: 'APPROVED' },
      { user: alice, state: 'APPROVED' },
      { user: bob, state: 'COMMENTED' },
      { user: bob, state: 'APPROVED' },
    ],
  });
  const ok = await run('c3'.repeat(20));
  assert.equal(ok.result, 'Succeeded', describe(ok));
  assert.ok(
    ok.log.some(
      (l) =>
        l.includes('ruleset 42 requires 2 approving review(s), stale approvals dismissed') &&
        l.includes('pull request #7 into refs/heads/main, approved by alice, bob'),
    ),
    describe(ok),
  );
  console.log(
    `# gate log, reviewed commit:\n${gateLines(ok)
      .map((l) => `#   ${l}`)
      .join('\n')}`,
  );

  w.emu.github.addPull(REPO, {
    number: 8,
    user: carol,
    base: 'main',
    head: 'feature/y',
    mergeCommit: 'd5'.repeat(20),
    commits: ['d6'.repeat(20)],
    reviews: [
      { user: carol, state: 'APPROVED' },
      { user: alice, state: 'APPROVED' },
      { user: alice, state: 'DISMISSED' },
    ],
  });
  const self = await run('d5'.repeat(20));
  assert.equal(self.result, 'Failed', describe(self));
  assert.match(self.errors.at(-1)!, /the commit is the merge of pull request #8, which nobody but its author \(carol\) approved/);
});

test('GitHub Enterprise: protection that lets approvals go stale, or too few reviews, is refused; a missing connection is named', async () => {
  w.emu.github.pushCommits(REPO, 'release/1', [], 'c3'.repeat(20));
  w.emu.github.addRuleset(REPO, {
    id: 43,
    branches: ['release/1'],
    pullRequest: { required_approving_review_count: 1, dismiss_stale_reviews_on_push: false },
    bypassActors: [],
  });
  const weak = await run('c3'.repeat(20), { protectedBranches: 'refs/heads/main, refs/heads/release/*' }, 'refs/heads/release/1');
  assert.equal(weak.result, 'Failed', describe(weak));
  // The ruleset keeps stale approvals (and classic protection, which needs administration read, is not visible).
  assert.match(
    weak.errors.at(-1)!,
    /^Refusing to run from 'refs\/heads\/release\/1': its protection keeps approvals when new commits are pushed/,
  );
  const few = await run(
    'c3'.repeat(20),
    { protectedBranches: 'refs/heads/main, refs/heads/release/*', minimumReviewers: '2' },
    'refs/heads/release/1',
  );
  assert.match(few.errors.at(-1)!, /its protection requires 1 approving review\(s\), fewer than minimumReviewers \(2\)/);
  const none = await w.run('AmlPipelineJob', {
    connection: 'wif',
    inputs: { ...workspaceInputs(w.seed), jobFile: 'pipeline.yml', wait: 'false' },
    variables: {
      'Build.Repository.Provider': 'GitHubEnterprise',
      'Build.Repository.Name': REPO,
      'Build.Repository.ID': REPO,
      'Build.SourceVersion': 'c3'.repeat(20),
    },
    sources: copySample(),
  });
  assert.match(none.errors.at(-1)!, /^Input 'githubConnection': the repository is on GitHubEnterprise/);
});

test('github.com: the gate asks api.github.com (here the emulator, reached through the agent proxy) with an OAuth or GitHub App connection', async () => {
  const proxy = await tunnelGitHub(w.emu.url);
  try {
    // Only GitHub goes through the proxy; Azure DevOps and Azure (the emulator's own address) go direct.
    const variables = { 'Agent.ProxyUrl': proxy.url, 'Agent.ProxyBypassList': JSON.stringify(['127\\.0\\.0\\.1']) };
    for (const endpoint of <Endpoint[]>[
      { url: 'https://github.com', scheme: 'OAuth', parameters: { AccessToken: TOKEN } },
      { url: 'https://github.com', scheme: 'InstallationToken', parameters: { IdToken: TOKEN } },
    ]) {
      const since = w.emu.requests.length;
      const ok = await run('c3'.repeat(20), {}, 'refs/heads/main', { endpoint, provider: 'GitHub', variables });
      assert.equal(ok.result, 'Succeeded', describe(ok));
      assert.ok(
        ok.log.some((l) => l.includes('pull request #7 into refs/heads/main, approved by alice, bob')),
        describe(ok),
      );
      const gh = w.emu.requests.slice(since).filter((q) => q.service === 'github');
      assert.ok(gh.length > 0 && gh.every((q) => q.path.startsWith('/repos/contoso/mlops-gh/')), gh.map((q) => q.path).join(', '));
    }
    assert.ok(proxy.connects.length > 0 && proxy.connects.every((c) => c === 'api.github.com:443'), proxy.connects.join(', '));
    const pushed = await run('b2'.repeat(20), {}, 'refs/heads/main', {
      endpoint: { url: 'https://github.com', scheme: 'OAuth', parameters: { AccessToken: TOKEN } },
      provider: 'GitHub',
      variables,
    });
    assert.match(pushed.errors.at(-1)!, /commit b2b2b2b2b2b2 is not the merge of a completed pull request/);
  } finally {
    await proxy.close();
  }
});

test('a redirect from GitHub is not followed, whether to another host or the same one, and says why', async () => {
  for (const location of [
    'https://attacker.example/api/v3/repos/contoso/mlops-gh/branches/main',
    `${w.emu.url}/api/v3/repositories/4242/branches/main`,
  ]) {
    const fault = w.emu.faults.add({
      service: 'github',
      path: /\/mlops-gh\/branches\/main$/,
      kind: 'rewrite',
      times: Infinity,
      rewrite: () => ({ status: 301, headers: { location }, body: { message: 'Moved Permanently', url: location } }),
    });
    try {
      const since = w.emu.requests.length;
      const r = await run('c3'.repeat(20));
      assert.equal(r.result, 'Failed', describe(r));
      assert.match(
        r.errors.at(-1)!,
        /GitHub answered GET \/api\/v3\/repos\/contoso\/mlops-gh\/branches\/main with 301, a redirect to .*, which the gate does not follow/,
      );
      assert.deepEqual(
        w.emu.requests.slice(since).filter((q) => q.path.includes('/repositories/')),
        [],
        'the redirect was not followed',
      );
    } finally {
      fault.remove();
    }
  }
});

test('the other gated tasks read the same GitHub connection: AmlModelRegister refuses an unreviewed commit', async () => {
  const r = await run('b2'.repeat(20), { modelName: 'taxi', modelPath: 'azureml://jobs/job-1/outputs/model_output' }, 'refs/heads/main', {
    task: 'AmlModelRegister',
  });
  assert.equal(r.result, 'Failed', describe(r));
  assert.match(
    r.errors.at(-1)!,
    /^Refusing to run from 'refs\/heads\/main': commit b2b2b2b2b2b2 is not the merge of a completed pull request/,
  );
});
