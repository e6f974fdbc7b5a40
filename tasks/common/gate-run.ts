/**
 * Running the protected-branch gate from a task: facts from the job's variables, settings from
 * the task's inputs, the repository host by Build.Repository.Provider (Azure Repos through the job
 * token, GitHub through the githubConnection input), and the service connection's checks in
 * Azure DevOps. Loads azure-devops-node-api.
 */
import * as path from 'node:path';
import type { AgentIo } from './agent';
import { connectDevOps } from './devops';
import { UserError } from './errors';
import { AccessDenied, evaluateGate, type GateResult, type GateSettings, type SourceHost } from './gate';
import { azureReposHost } from './gate-azure-repos';
import { devOpsGateReader } from './gate-devops';
import { githubApiBase, githubHost, type GitHubGet } from './gate-github';
import { checkedOutCommit } from './git-head';
import { originRule } from './hosts';
import { JsonClient, restErrorOf } from './http';
import { msg } from './messages';

/**
 * Where this repository is checked out: Build.Repository.LocalPath, the sources folder, or (with
 * several repositories checked out) the sources folder's subfolder named after the repository.
 */
function checkoutFolders(v: (name: string) => string): string[] {
  const sources = v('Build.SourcesDirectory');
  const name = v('Build.Repository.Name').split('/').pop() ?? '';
  return [v('Build.Repository.LocalPath'), sources, sources && name ? path.join(sources, name) : ''].filter(Boolean);
}

/** A GitHub service connection's token, by its scheme (as the platform's own tasks read it). */
function githubToken(io: AgentIo, id: string): string | undefined {
  const scheme = (io.endpoints.scheme(id) ?? '').toLowerCase();
  // The parameter names of microsoft/azure-pipelines-tasks (UsePythonVersionV1, GitHubCommentV0).
  const key =
    scheme === 'personalaccesstoken'
      ? 'accessToken'
      : scheme === 'installationtoken'
        ? 'IdToken'
        : ['oauth', 'oauth2', 'token'].includes(scheme)
          ? 'AccessToken'
          : undefined;
  if (!key) throw new UserError(msg('GitHubConnectionScheme', id, io.endpoints.scheme(id) ?? '-'), 'githubConnection');
  // A GitHub Enterprise Server connection's Token scheme carries an ApiToken.
  return io.endpoints.auth(id, key) ?? (scheme === 'token' ? io.endpoints.auth(id, 'ApiToken') : undefined);
}

/** The GitHub REST API of the githubConnection input, with its token for that host only. */
function githubGet(io: AgentIo, connectionId: string): { get: GitHubGet; enterprise: boolean } {
  const url = io.endpoints.url(connectionId);
  if (!url) throw new UserError(msg('GitHubConnectionNotFound', connectionId), 'githubConnection');
  const token = io.secrets.protect(githubToken(io, connectionId));
  if (!token) throw new UserError(msg('GitHubConnectionNoToken', connectionId), 'githubConnection');
  const base = githubApiBase(url);
  const client = new JsonClient(base, undefined, [], io.proxy, { hosts: originRule(base), followRedirects: false });
  const get: GitHubGet = async <T>(p: string) => {
    const full = new URL(p, base).toString();
    const res = await client.send('GET', full, {
      headers: { authorization: `Bearer ${token}`, accept: 'application/vnd.github+json', 'x-github-api-version': '2022-11-28' },
    });
    if (res.status === 404) return undefined;
    // Redirects are not followed (the token stays on this origin, and a renamed repository should be named anew).
    if (res.status >= 300 && res.status < 400)
      throw new UserError(msg('GitHubRedirectRefused', new URL(full).pathname, res.status, res.headers.location ?? '-'));
    if ((res.status === 403 || res.status === 429) && res.headers['x-ratelimit-remaining'] === '0') {
      const reset = Number(res.headers['x-ratelimit-reset']);
      throw new UserError(msg('GitHubRateLimited', Number.isFinite(reset) && reset > 0 ? new Date(reset * 1000).toISOString() : '-'));
    }
    if (res.status === 401 || res.status === 403)
      throw new AccessDenied(`GET ${new URL(full).pathname}: ${res.status}`, msg('GateGitHubGrantRead', connectionId));
    if (res.status >= 400) throw restErrorOf('GET', full, res);
    return (res.text ? JSON.parse(res.text) : undefined) as T;
  };
  return { get, enterprise: new URL(base).hostname !== 'api.github.com' };
}

/** Refuse (UserError) unless the run may act in production; log what was verified. */
export async function enforceGate(io: AgentIo, settings: GateSettings, serviceConnectionId: string): Promise<GateResult> {
  const v = (n: string) => io.variable(n) ?? '';
  const job = io.job();
  const facts = {
    sourceBranch: v('Build.SourceBranch'),
    reason: v('Build.Reason'),
    provider: v('Build.Repository.Provider'),
    repositoryId: v('Build.Repository.ID'),
    projectId: job.projectId,
    sourceVersion: v('Build.SourceVersion'),
    serviceConnectionId,
    ...(() => {
      const head = checkedOutCommit(...checkoutFolders(v));
      return head ? { checkedOut: head } : {};
    })(),
  };
  io.info(msg('GateChecking', facts.sourceBranch || msg('GateThisRun'), settings.protectedBranches.join(', ')));
  const devops = devOpsGateReader(connectDevOps(job, io.proxy, io.secrets));
  const result = await evaluateGate(
    facts,
    settings,
    host(io, facts.provider, facts.repositoryId, v('Build.Repository.Name'), job.projectId, devops, settings.requireBranchPolicy),
    devops.checks,
  );
  io.info(
    result.policy
      ? msg('GatePassed', result.branch, result.policy, facts.sourceVersion.slice(0, 12), result.review ?? '')
      : msg('GatePassedOnName', result.branch),
  );
  for (const w of result.warnings) io.warn(w);
  return result;
}

/** The repository host the run's repository lives on; a provider the gate cannot verify is refused. */
function host(
  io: AgentIo,
  provider: string,
  repositoryId: string,
  repositoryName: string,
  projectId: string,
  devops: ReturnType<typeof devOpsGateReader>,
  required: boolean,
): SourceHost {
  const p = provider.toLowerCase();
  if (p === 'tfsgit' || p === '') {
    if (required && (!repositoryId || !projectId))
      throw new UserError(msg('GateRefused', msg('GateThisRun'), msg('GateNoRepository'), msg('GateNoRepositoryFix')));
    return azureReposHost(devops, projectId, repositoryId);
  }
  if (p === 'github' || p === 'githubenterprise') {
    const id = io.input('githubConnection');
    if (!id) {
      if (!required) return unverifiable(provider);
      throw new UserError(msg('GateGitHubNeedsConnection', provider), 'githubConnection');
    }
    const { get, enterprise } = githubGet(io, id);
    return githubHost(get, enterprise ? 'GitHub Enterprise' : 'GitHub', repositoryName || repositoryId);
  }
  if (required) throw new UserError(msg('GateUnsupportedProvider', provider, provider));
  return unverifiable(provider);
}

/** With requireBranchPolicy false the host is never asked; reaching it would be a bug. */
function unverifiable(provider: string): SourceHost {
  const no = (): never => {
    throw new Error(`the gate asked ${provider}, which it cannot read`);
  };
  return { name: provider, protection: no, branchHead: no, isAncestor: no, mergedAs: no, containing: no, parents: no };
}
