/**
 * The gate's reads from Azure DevOps, through azure-devops-node-api and the job access token:
 * branch policies, refs and merge bases, pull requests and their reviewers, commits, and the
 * service connection's checks.
 */
import type { WebApi } from 'azure-devops-node-api';
import { GitPullRequestQueryType } from 'azure-devops-node-api/interfaces/GitInterfaces';
import type { AzureReposReader, PolicyLike, PullRequestLike, ReviewerLike } from './gate-azure-repos';
import { AccessDenied, type ChecksReader, type CheckLike } from './gate';
import { msg } from './messages';

const GIT_POLICY_CONFIGURATIONS = '2c420070-a0a2-49cc-9639-c9f271c5ff07';

function denied(e: unknown): boolean {
  const s = (e as { statusCode?: number }).statusCode;
  return s === 401 || s === 403;
}

async function guard<T>(what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (denied(e))
      throw new AccessDenied(
        `${what}: ${(e as { statusCode?: number }).statusCode} ${(e as Error).message}`,
        msg('GateGrantRepositoryRead', what),
      );
    throw e;
  }
}

export function devOpsGateReader(conn: WebApi): AzureReposReader & { checks: ChecksReader } {
  // One Git client per reader: each new client starts with an empty location cache (another
  // OPTIONS round trip), so the reads below share it.
  let gitApi: ReturnType<WebApi['getGitApi']> | undefined;
  const gitClient = () => {
    gitApi ??= conn.getGitApi();
    return gitApi.catch((e: unknown) => {
      gitApi = undefined; // a failed lookup is tried again next time
      throw e;
    });
  };
  return {
    policies: (project, repositoryId, refName) =>
      guard(msg('GateReadPolicies'), async () => {
        const git = await gitClient();
        // node-api has no typed wrapper for git/policy/configurations: resolve the route through
        // the same location service the generated clients use.
        const ver = await git.vsoClient.getVersioningData('7.1', 'git', GIT_POLICY_CONFIGURATIONS, { project }, { repositoryId, refName });
        const res = await git.rest.get<{ value?: PolicyLike[] }>(
          ver.requestUrl!,
          git.createRequestOptions('application/json', ver.apiVersion),
        );
        return res.result?.value ?? [];
      }),
    defaultBranch: (project, repositoryId) =>
      guard(msg('GateReadBranch'), async () => {
        const git = await gitClient();
        return (await git.getRepository(repositoryId, project))?.defaultBranch || undefined;
      }),
    branchHead: (project, repositoryId, refName) =>
      guard(msg('GateReadBranch'), async () => {
        const git = await gitClient();
        const refs = await git.getRefs(repositoryId, project, refName.replace(/^refs\//, ''));
        return (refs ?? []).find((r) => r.name === refName)?.objectId;
      }),
    isAncestor: (project, repositoryId, commit, head) =>
      guard(msg('GateCompareCommits'), async () => {
        const git = await gitClient();
        const bases = await git.getMergeBases(repositoryId, commit, head, project);
        // An unknown commit answers 404, which the client returns as null: not on the branch.
        return (bases ?? []).some((b) => b.commitId?.toLowerCase() === commit.toLowerCase());
      }),
    pullRequests: (project, repositoryId, query, commit) =>
      guard(msg('GateReadPullRequests'), async () => {
        const git = await gitClient();
        const type = query === 'lastMergeCommit' ? GitPullRequestQueryType.LastMergeCommit : GitPullRequestQueryType.Commit;
        const res = await git.getPullRequestQuery({ queries: [{ type, items: [commit] }] }, repositoryId, project);
        // results[i] answers queries[i], keyed by the commit as given.
        const byCommit = res?.results?.[0] ?? {};
        const key = Object.keys(byCommit).find((k) => k.toLowerCase() === commit.toLowerCase());
        return (key ? byCommit[key] : []) as PullRequestLike[];
      }),
    reviewers: (project, repositoryId, pullRequestId) =>
      guard(msg('GateReadPullRequests'), async () => {
        const git = await gitClient();
        return ((await git.getPullRequestReviewers(repositoryId, pullRequestId, project)) ?? []) as ReviewerLike[];
      }),
    parents: (project, repositoryId, commit) =>
      guard(msg('GateCompareCommits'), async () => {
        const git = await gitClient();
        return (await git.getCommit(commit, repositoryId, project))?.parents ?? [];
      }),
    checks: (project, connectionId) =>
      guard(msg('GateReadChecks'), async () => {
        const url = `${conn.serverUrl.replace(/\/?$/, '/')}${encodeURIComponent(project)}/_apis/pipelines/checks/configurations?resourceType=endpoint&resourceId=${encodeURIComponent(connectionId)}&$expand=settings&api-version=7.1-preview.1`;
        const res = await conn.rest.get<{ value?: CheckLike[] }>(url);
        return res.result?.value ?? [];
      }),
  };
}
