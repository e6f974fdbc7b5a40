/**
 * The gate's view of an Azure Repos repository: its "Minimum number of reviewers" policies
 * (repository and project-wide, Exact, Prefix and DefaultBranch scopes), refs and merge bases,
 * and completed pull requests with their reviewers' votes. Pure: Azure DevOps is reached through
 * the injected AzureReposReader (gate-devops.ts).
 */
import type { Change, SourceHost } from './gate';
import { msg } from './messages';

export const MIN_REVIEWERS_POLICY = 'fa4e907d-c16b-4a4c-9dfa-4906e5d171dd';

export interface PolicyScope {
  repositoryId?: string | null;
  refName?: string | null;
  matchKind?: string;
}

export interface PolicyLike {
  id?: number;
  isEnabled?: boolean;
  isBlocking?: boolean;
  isDeleted?: boolean;
  type?: { id?: string; displayName?: string };
  settings?: {
    minimumApproverCount?: number;
    creatorVoteCounts?: boolean;
    resetOnSourcePush?: boolean;
    requireVoteOnLastIteration?: boolean;
    scope?: PolicyScope[];
  };
}

/** A pull request as Azure DevOps returns it (the fields the gate reads). */
export interface PullRequestLike {
  pullRequestId?: number;
  status?: string | number;
  targetRefName?: string;
  createdBy?: { id?: string; displayName?: string };
  lastMergeCommit?: { commitId?: string };
}

/** IdentityRefWithVote: a group's vote (isContainer) is rolled up from a member, who is listed too. */
export interface ReviewerLike {
  id?: string;
  displayName?: string;
  vote?: number;
  isContainer?: boolean;
  hasDeclined?: boolean;
}

/** Azure DevOps reads with the job token; each may throw AccessDenied. */
export interface AzureReposReader {
  policies(projectId: string, repositoryId: string, refName: string): Promise<PolicyLike[]>;
  /** The repository's default branch (refs/heads/...), or undefined when it has none. */
  defaultBranch(projectId: string, repositoryId: string): Promise<string | undefined>;
  branchHead(projectId: string, repositoryId: string, refName: string): Promise<string | undefined>;
  isAncestor(projectId: string, repositoryId: string, commit: string, head: string): Promise<boolean>;
  /** Pull requests by merge commit (`lastMergeCommit`) or by source commit (`commit`). */
  pullRequests(projectId: string, repositoryId: string, query: 'lastMergeCommit' | 'commit', commit: string): Promise<PullRequestLike[]>;
  reviewers(projectId: string, repositoryId: string, pullRequestId: number): Promise<ReviewerLike[]>;
  parents(projectId: string, repositoryId: string, commit: string): Promise<string[]>;
}

const isDefaultBranchScope = (s: PolicyScope): boolean => (s.matchKind ?? '').toLowerCase() === 'defaultbranch';

/** `defaultBranch`: the repository's default branch, needed only for a DefaultBranch scope (which has no refName). */
function scopeApplies(s: PolicyScope, repositoryId: string, ref: string, defaultBranch: string | undefined): boolean {
  if (s.repositoryId && s.repositoryId.toLowerCase() !== repositoryId.toLowerCase()) return false;
  if (isDefaultBranchScope(s)) return defaultBranch !== undefined && ref === defaultBranch;
  if (s.refName === undefined || s.refName === null) return true;
  if ((s.matchKind ?? 'Exact').toLowerCase() === 'prefix') return ref.startsWith(s.refName);
  return ref === s.refName;
}

/** The first policy that makes the branch peer-reviewed, or a reason there is none. */
export function reviewPolicy(
  policies: PolicyLike[],
  repositoryId: string,
  ref: string,
  minimum: number,
  defaultBranch?: string,
): { ok: PolicyLike } | { reason: string } {
  const reviewers = policies.filter(
    (p) =>
      p.type?.id?.toLowerCase() === MIN_REVIEWERS_POLICY &&
      (p.settings?.scope ?? []).some((s) => scopeApplies(s, repositoryId, ref, defaultBranch)),
  );
  if (reviewers.length === 0) return { reason: msg('GatePolicyMissing') };
  const live = reviewers.filter((p) => !p.isDeleted);
  if (live.length === 0) return { reason: msg('GatePolicyDeleted') };
  const enabled = live.filter((p) => p.isEnabled);
  if (enabled.length === 0) return { reason: msg('GatePolicyDisabled') };
  const blocking = enabled.filter((p) => p.isBlocking);
  if (blocking.length === 0) return { reason: msg('GatePolicyOptional') };
  const peer = blocking.filter((p) => !p.settings?.creatorVoteCounts);
  if (peer.length === 0) return { reason: msg('GatePolicyCreatorVoteCounts') };
  const enough = peer.filter((p) => (p.settings?.minimumApproverCount ?? 0) >= minimum);
  if (enough.length === 0) {
    const most = Math.max(...peer.map((p) => p.settings?.minimumApproverCount ?? 0));
    return { reason: msg('GatePolicyTooFewReviewers', most, minimum) };
  }
  return { ok: enough[0]! };
}

/** Azure DevOps votes: 10 approved, 5 approved with suggestions. */
const APPROVED = 5;

/** A person other than the author who approved: groups count only through their members, a declined reviewer not at all. */
function approvedBy(v: ReviewerLike, author: string): boolean {
  return !v.isContainer && !v.hasDeclined && (v.vote ?? 0) >= APPROVED && !!v.id && v.id.toLowerCase() !== author;
}

const isCompleted = (status: string | number | undefined): boolean => status === 'completed' || status === 3;

export function azureReposHost(r: AzureReposReader, projectId: string, repositoryId: string): SourceHost {
  /** Completed pull requests, with the approvals of everyone but the author (a group's vote counts through its members). */
  const changes = async (query: 'lastMergeCommit' | 'commit', commit: string): Promise<Change[]> => {
    const prs = (await r.pullRequests(projectId, repositoryId, query, commit)).filter(
      (p) => isCompleted(p.status) && p.pullRequestId !== undefined,
    );
    const out: Change[] = [];
    for (const p of prs) {
      if (query === 'lastMergeCommit' && p.lastMergeCommit?.commitId?.toLowerCase() !== commit.toLowerCase()) continue;
      const author = p.createdBy?.id?.toLowerCase() ?? '';
      // Without a known author nobody can be shown to be someone else.
      const votes = author ? await r.reviewers(projectId, repositoryId, p.pullRequestId!) : [];
      const approvers = votes.filter((v) => approvedBy(v, author)).map((v) => v.displayName ?? v.id ?? '?');
      out.push({ id: p.pullRequestId!, target: p.targetRefName ?? '', author: p.createdBy?.displayName ?? author, approvers });
    }
    return out;
  };
  return {
    name: 'Azure Repos',
    async protection(ref, minimum) {
      const policies = await r.policies(projectId, repositoryId, ref);
      // Read only when a policy is scoped to "the default branch", which names no ref of its own.
      const needsDefault = policies.some((p) => (p.settings?.scope ?? []).some(isDefaultBranchScope));
      const defaultBranch = needsDefault ? await r.defaultBranch(projectId, repositoryId).catch(() => undefined) : undefined;
      const verdict = reviewPolicy(policies, repositoryId, ref, minimum, defaultBranch);
      if ('reason' in verdict) return { reason: verdict.reason, fix: msg('GatePolicyFix', ref, minimum) };
      const p = verdict.ok;
      const keepsVotes = !p.settings?.resetOnSourcePush && !p.settings?.requireVoteOnLastIteration;
      return {
        ok: msg('GatePolicyVerified', p.id ?? '?', p.settings?.minimumApproverCount),
        ...(keepsVotes ? { warnings: [msg('GatePolicyKeepsVotes', p.id ?? '?')] } : {}),
      };
    },
    branchHead: (ref) => r.branchHead(projectId, repositoryId, ref),
    isAncestor: (commit, head) => r.isAncestor(projectId, repositoryId, commit, head),
    mergedAs: (commit) => changes('lastMergeCommit', commit),
    containing: (commit) => changes('commit', commit),
    parents: (commit) => r.parents(projectId, repositoryId, commit),
  };
}
