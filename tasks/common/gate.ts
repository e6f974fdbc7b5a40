/**
 * The protected-branch gate: runs before anything touches Azure. It refuses unless the run
 * builds a protected branch, is not a pull-request build, the branch has an enabled blocking
 * minimum-reviewers policy, and the commit being built is on that branch.
 * Pure: Azure DevOps is reached through the injected GateReader.
 */
import { minimatch } from 'minimatch';
import { refShaped } from './branch-ref';
import { UserError } from './errors';
import { msg } from './messages';

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
  /** The commit checked out for this repository, when there is a checkout to read (none with `checkout: none`). */
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
  /** The repository's default branch (refs/heads/...), or undefined when it has none. */
  defaultBranch(projectId: string, repositoryId: string): Promise<string | undefined>;
}

export interface GateResult {
  branch: string;
  policy?: string;
  warnings: string[];
}

/** Re-exported for callers that already import the gate; inputs.ts imports it from ./branch-ref. */
export { parseProtectedBranches } from './branch-ref';

/** A ref git itself would accept (no '..', no trailing slash, ASCII only): anything else is refused. */
function wellFormedRef(ref: string): boolean {
  return refShaped(ref) && !ref.endsWith('.lock') && !/[~^:?*[\\]/.test(ref.slice(11));
}

export function matchesProtected(ref: string, patterns: string[]): boolean {
  // Case-sensitive, no dot-files magic, '*' never crosses '/': refs/heads/main-fix does not match refs/heads/main.
  return wellFormedRef(ref) && patterns.some((p) => minimatch(ref, p, { nocase: false, dot: true, noglobstar: false, nonegate: true, nocomment: true }));
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
export function reviewPolicy(policies: PolicyLike[], repositoryId: string, ref: string, minimum: number, defaultBranch?: string): { ok: PolicyLike } | { reason: string } {
  const reviewers = policies.filter((p) => p.type?.id?.toLowerCase() === MIN_REVIEWERS_POLICY && (p.settings?.scope ?? []).some((s) => scopeApplies(s, repositoryId, ref, defaultBranch)));
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

function refuse(branch: string, reason: string, fix: string): never {
  throw new UserError(msg('GateRefused', branch || msg('GateUnknownBranch'), reason, fix));
}

export async function evaluateGate(f: GateFacts, s: GateSettings, reader: GateReader): Promise<GateResult> {
  const branch = f.sourceBranch;
  const warnings: string[] = [];
  let policy: string | undefined;
  if (f.reason === 'PullRequest' || branch.startsWith('refs/pull/')) {
    refuse(branch, msg('GatePullRequest'), msg('GatePullRequestFix'));
  }
  if (!matchesProtected(branch, s.protectedBranches)) {
    refuse(branch, msg('GateBranchNotProtected', s.protectedBranches.join(', ')), msg('GateBranchNotProtectedFix'));
  }
  // Variables can be set at queue time; the checkout cannot. They must agree, whatever else is checked.
  if (f.checkedOut === undefined) {
    warnings.push(msg('GateCheckoutNotCompared'));
  } else if (f.checkedOut.toLowerCase() !== f.sourceVersion.toLowerCase()) {
    refuse(branch, msg('GateCheckoutDiffers', f.checkedOut.slice(0, 12), f.sourceVersion.slice(0, 12) || '-'), msg('GateCheckoutDiffersFix'));
  }
  if (!s.requireBranchPolicy) {
    warnings.push(msg('GatePolicyNotRequired'));
  } else {
    if (f.provider && f.provider !== 'TfsGit') {
      refuse(branch, msg('GateUnsupportedProvider', f.provider), msg('GateUnsupportedProviderFix', f.provider));
    }
    if (!f.repositoryId || !f.projectId) refuse(branch, msg('GateNoRepository'), msg('GateNoRepositoryFix'));
    let policies: PolicyLike[];
    try {
      policies = await reader.policies(f.projectId, f.repositoryId, branch);
    } catch (e) {
      if (e instanceof AccessDenied) {
        refuse(branch, msg('GateCannotReadPolicies'), msg('GateCannotReadPoliciesFix', e.message));
      }
      throw e;
    }
    // Read only when a policy is scoped to "the default branch", which names no ref of its own.
    const needsDefault = policies.some((p) => (p.settings?.scope ?? []).some(isDefaultBranchScope));
    const defaultBranch = needsDefault ? await reader.defaultBranch(f.projectId, f.repositoryId).catch(() => undefined) : undefined;
    const verdict = reviewPolicy(policies, f.repositoryId, branch, s.minimumReviewers, defaultBranch);
    if ('reason' in verdict) {
      refuse(branch, verdict.reason, msg('GatePolicyFix', branch, s.minimumReviewers));
    }
    // The branch name is only a label: the commit itself must be in the branch's history.
    if (!/^[0-9a-f]{40}$/i.test(f.sourceVersion)) refuse(branch, msg('GateNotACommit', f.sourceVersion), msg('GateNotACommitFix'));
    let head: string | undefined;
    let onBranch = false;
    try {
      head = await reader.branchHead(f.projectId, f.repositoryId, branch);
      onBranch = !!head && (head.toLowerCase() === f.sourceVersion.toLowerCase() || (await reader.isAncestor(f.projectId, f.repositoryId, f.sourceVersion, head)));
    } catch (e) {
      if (e instanceof AccessDenied) refuse(branch, msg('GateCannotReadRepository'), msg('GateCannotReadRepositoryFix'));
      throw e;
    }
    if (!onBranch) {
      const commit = f.sourceVersion.slice(0, 12);
      refuse(branch, head ? msg('GateCommitNotOnBranch', commit, branch, head.slice(0, 12)) : msg('GateBranchMissing', commit, branch), msg('GateCommitNotOnBranchFix'));
    }
    const p = verdict.ok;
    policy = msg('GatePolicyVerified', p.id ?? '?', p.settings?.minimumApproverCount);
  }
  warnings.push(...(await connectionWarnings(f, reader)));
  return { branch, ...(policy !== undefined ? { policy } : {}), warnings };
}

/** Defense in depth: the service connection itself should carry a "Branch control" check. */
async function connectionWarnings(f: GateFacts, reader: GateReader): Promise<string[]> {
  if (!f.serviceConnectionId || !f.projectId) return [];
  try {
    const checks = await reader.connectionChecks(f.projectId, f.serviceConnectionId);
    const has = checks.some((c) => c.settings?.definitionRef?.name === BRANCH_CONTROL_CHECK);
    return has ? [] : [msg('NoBranchControlCheck', f.serviceConnectionId, msg('AddBranchControlCheck'))];
  } catch {
    return [msg('BranchControlCheckUnverified', f.serviceConnectionId, msg('AddBranchControlCheck'))];
  }
}
