/**
 * The protected-branch gate: runs before anything touches Azure. It refuses unless the run
 * builds a protected branch, is not a pull-request build, the branch has an enabled blocking
 * minimum-reviewers policy, and the commit being built is on that branch.
 * Pure: Azure DevOps is reached through the injected GateReader.
 */
import { minimatch } from 'minimatch';
import { UserError } from './errors';

export const MIN_REVIEWERS_POLICY = 'fa4e907d-c16b-4a4c-9dfa-4906e5d171dd';
export const BRANCH_CONTROL_CHECK = 'evaluatebranchProtection';

export interface GateFacts {
  /** Build.SourceBranch, e.g. refs/heads/main */
  sourceBranch: string;
  /** Build.Reason */
  reason: string;
  /** Build.Repository.Provider: TfsGit, GitHub, ... */
  provider: string;
  repositoryId: string;
  projectId: string;
  /** Build.SourceVersion */
  sourceVersion: string;
  /** The commit checked out in Build.SourcesDirectory, when there is a checkout to read. */
  checkedOut?: string;
  serviceConnectionId?: string;
}

export interface GateSettings {
  protectedBranches: string[];
  requireBranchPolicy: boolean;
  minimumReviewers: number;
}

export interface PolicyScope {
  repositoryId?: string | null;
  refName?: string;
  matchKind?: string;
}

export interface PolicyLike {
  id?: number;
  isEnabled?: boolean;
  isBlocking?: boolean;
  isDeleted?: boolean;
  type?: { id?: string; displayName?: string };
  settings?: { minimumApproverCount?: number; creatorVoteCounts?: boolean; scope?: PolicyScope[] };
}

export interface CheckLike {
  type?: { name?: string };
  settings?: { definitionRef?: { name?: string; id?: string }; displayName?: string };
}

/** Thrown when Azure DevOps refuses a read; the gate turns it into advice. */
export class AccessDenied extends Error {}

export interface GateReader {
  policies(projectId: string, repositoryId: string, refName: string): Promise<PolicyLike[]>;
  branchHead(projectId: string, repositoryId: string, refName: string): Promise<string | undefined>;
  isAncestor(projectId: string, repositoryId: string, commit: string, head: string): Promise<boolean>;
  connectionChecks(projectId: string, connectionId: string): Promise<CheckLike[]>;
}

export interface GateResult {
  branch: string;
  policy?: string;
  warnings: string[];
}

/** Parse "refs/heads/main, refs/heads/release/*" into patterns; refuse what can never match a ref. */
export function parseProtectedBranches(text: string): string[] {
  const list = text.split(/[,\n]/).map((s) => s.trim()).filter(Boolean);
  if (list.length === 0) throw new UserError("Input 'protectedBranches': is empty. List at least one ref, e.g. refs/heads/main.", 'protectedBranches');
  for (const p of list) {
    if (!/^refs\/heads\/[\x21-\x7e]+$/.test(p) || p.includes('..') || p.endsWith('/') || p.includes('//')) {
      throw new UserError(`Input 'protectedBranches': '${p}' is not a branch ref. Write full refs such as refs/heads/main or refs/heads/release/*.`, 'protectedBranches');
    }
  }
  return list;
}

/** A ref git itself would accept (no '..', no trailing slash, ASCII only): anything else is refused. */
function wellFormedRef(ref: string): boolean {
  return /^refs\/heads\/[\x21-\x7e]+$/.test(ref) && !ref.includes('..') && !ref.endsWith('/') && !ref.includes('//') && !ref.endsWith('.lock') && !/[~^:?*[\\]/.test(ref.slice(11));
}

export function matchesProtected(ref: string, patterns: string[]): boolean {
  // Case-sensitive, no dot-files magic, '*' never crosses '/': refs/heads/main-fix does not match refs/heads/main.
  return wellFormedRef(ref) && patterns.some((p) => minimatch(ref, p, { nocase: false, dot: true, noglobstar: false, nonegate: true, nocomment: true }));
}

function scopeApplies(s: PolicyScope, repositoryId: string, ref: string): boolean {
  if (s.repositoryId && s.repositoryId.toLowerCase() !== repositoryId.toLowerCase()) return false;
  if (s.refName === undefined || s.refName === null) return true;
  if ((s.matchKind ?? 'Exact').toLowerCase() === 'prefix') return ref.startsWith(s.refName);
  return ref === s.refName;
}

/** The first policy that makes the branch peer-reviewed, or a reason there is none. */
export function reviewPolicy(policies: PolicyLike[], repositoryId: string, ref: string, minimum: number): { ok: PolicyLike } | { reason: string } {
  const reviewers = policies.filter((p) => p.type?.id?.toLowerCase() === MIN_REVIEWERS_POLICY && (p.settings?.scope ?? []).some((s) => scopeApplies(s, repositoryId, ref)));
  if (reviewers.length === 0) return { reason: 'it has no "Minimum number of reviewers" branch policy' };
  const live = reviewers.filter((p) => !p.isDeleted);
  if (live.length === 0) return { reason: 'its "Minimum number of reviewers" policy was deleted' };
  const enabled = live.filter((p) => p.isEnabled);
  if (enabled.length === 0) return { reason: 'its "Minimum number of reviewers" policy is disabled' };
  const blocking = enabled.filter((p) => p.isBlocking);
  if (blocking.length === 0) return { reason: 'its "Minimum number of reviewers" policy is optional (not required)' };
  const peer = blocking.filter((p) => !p.settings?.creatorVoteCounts);
  if (peer.length === 0) return { reason: 'its "Minimum number of reviewers" policy lets requestors approve their own changes, so it does not prove peer review' };
  const enough = peer.filter((p) => (p.settings?.minimumApproverCount ?? 0) >= minimum);
  if (enough.length === 0) {
    const most = Math.max(...peer.map((p) => p.settings?.minimumApproverCount ?? 0));
    return { reason: `its "Minimum number of reviewers" policy requires ${most} approver(s), fewer than minimumReviewers (${minimum})` };
  }
  return { ok: enough[0]! };
}

function refuse(branch: string, reason: string, fix: string): never {
  throw new UserError(`Refusing to run from '${branch || '(unknown branch)'}': ${reason}. ${fix}`);
}

export async function evaluateGate(f: GateFacts, s: GateSettings, reader: GateReader): Promise<GateResult> {
  const branch = f.sourceBranch;
  const warnings: string[] = [];
  if (f.reason === 'PullRequest' || branch.startsWith('refs/pull/')) {
    refuse(branch, 'this is a pull-request build, and pull requests run unreviewed code', 'Run this step only after the pull request is merged, e.g. add condition: ne(variables[\'Build.Reason\'], \'PullRequest\').');
  }
  if (!matchesProtected(branch, s.protectedBranches)) {
    refuse(branch, `the branch matches none of protectedBranches (${s.protectedBranches.join(', ')})`, 'Merge the change into a protected branch through a pull request, or (for a new release branch) add it to protectedBranches and protect it with a branch policy.');
  }
  if (!s.requireBranchPolicy) {
    warnings.push("requireBranchPolicy is false: the branch name is trusted without checking that it is protected by a review policy.");
  } else {
    if (f.provider && f.provider !== 'TfsGit') {
      refuse(branch, `the repository is hosted on ${f.provider}, whose branch protection this task cannot verify yet`, `Protect the branch on ${f.provider} and set requireBranchPolicy: false to rely on that, together with a "Branch control" check on the service connection.`);
    }
    if (!f.repositoryId || !f.projectId) refuse(branch, 'the job does not say which repository it builds (Build.Repository.ID)', 'Run the task in a pipeline that checks out an Azure Repos repository.');
    let policies: PolicyLike[];
    try {
      policies = await reader.policies(f.projectId, f.repositoryId, branch);
    } catch (e) {
      if (e instanceof AccessDenied) {
        refuse(branch, 'the job access token cannot read branch policies', `Grant the build service identity ("<project> Build Service (<org>)") Read on the repository, and make sure the pipeline setting "Limit job authorization scope" still lets it read this repository. (${e.message})`);
      }
      throw e;
    }
    const verdict = reviewPolicy(policies, f.repositoryId, branch, s.minimumReviewers);
    if ('reason' in verdict) {
      refuse(branch, verdict.reason, `In Project settings > Repositories > Policies for ${branch}, turn on "Require a minimum number of reviewers" with at least ${s.minimumReviewers} reviewer(s), as a required policy, and turn off "Allow requestors to approve their own changes".`);
    }
    // The branch name is only a label: the commit itself must be in the branch's history.
    if (!/^[0-9a-f]{40}$/i.test(f.sourceVersion)) refuse(branch, `the commit being built ('${f.sourceVersion}') is not a git commit id`, 'Run the task from a pipeline that builds the repository itself.');
    // Variables can be set at queue time; the checkout cannot. They must agree.
    if (f.checkedOut && f.checkedOut.toLowerCase() !== f.sourceVersion.toLowerCase()) {
      refuse(branch, `the checked-out commit ${f.checkedOut.slice(0, 12)} differs from Build.SourceVersion ${f.sourceVersion.slice(0, 12)}`, 'Do not override Build.SourceVersion or Build.SourceBranch at queue time; run the pipeline on the protected branch itself.');
    }
    let head: string | undefined;
    let onBranch = false;
    try {
      head = await reader.branchHead(f.projectId, f.repositoryId, branch);
      onBranch = !!head && (head.toLowerCase() === f.sourceVersion.toLowerCase() || (await reader.isAncestor(f.projectId, f.repositoryId, f.sourceVersion, head)));
    } catch (e) {
      if (e instanceof AccessDenied) refuse(branch, 'the job access token cannot read the repository to verify the commit', 'Grant the build service identity Read on the repository.');
      throw e;
    }
    if (!onBranch) {
      refuse(branch, `commit ${f.sourceVersion.slice(0, 12)} is not on ${branch}${head ? ` (head ${head.slice(0, 12)})` : ' (the branch does not exist)'}`, 'Build a commit that was merged into the protected branch; a queue-time override of the branch or commit is not accepted.');
    }
    const p = verdict.ok;
    return { branch, policy: `policy ${p.id ?? '?'} requires ${p.settings?.minimumApproverCount} reviewer(s)`, warnings: [...warnings, ...(await connectionWarnings(f, reader))] };
  }
  return { branch, warnings: [...warnings, ...(await connectionWarnings(f, reader))] };
}

/** Defense in depth: the service connection itself should carry a "Branch control" check. */
async function connectionWarnings(f: GateFacts, reader: GateReader): Promise<string[]> {
  if (!f.serviceConnectionId || !f.projectId) return [];
  const steps = 'Add one: Project settings > Service connections > (this connection) > Approvals and checks > + > Branch control, with "Allowed branches" set to your protected branches, and turn on "Verify branch protection".';
  try {
    const checks = await reader.connectionChecks(f.projectId, f.serviceConnectionId);
    const has = checks.some((c) => c.settings?.definitionRef?.name === BRANCH_CONTROL_CHECK);
    return has ? [] : [`Service connection ${f.serviceConnectionId} has no "Branch control" check, so other pipelines can still use it from any branch. ${steps}`];
  } catch {
    return [`Could not read the checks of service connection ${f.serviceConnectionId} with the job token, so its "Branch control" check is unverified. ${steps}`];
  }
}
