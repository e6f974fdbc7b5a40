/**
 * The protected-branch gate: runs before anything touches Azure. It refuses unless the run builds
 * a protected branch, is not a pull-request build, the checkout is the commit being built, the
 * branch's protection requires peer review, the commit is on the branch, and the commit itself was
 * peer-reviewed: the merge commit of a completed pull request into a protected branch, approved by
 * at least `minimumReviewers` people other than its author (or a descendant of one whose every
 * commit since is covered by such a pull request).
 * Pure: the repository host (Azure Repos, GitHub) is reached through the injected SourceHost.
 */
import { minimatch } from 'minimatch';
import { refShaped } from './branch-ref';
import { UserError } from './errors';
import { msg } from './messages';

export const BRANCH_CONTROL_CHECK = 'evaluatebranchProtection';

export interface GateFacts {
  /** Build.SourceBranch, e.g. refs/heads/main */
  sourceBranch: string;
  /** Build.Reason */
  reason: string;
  /** Build.Repository.Provider: TfsGit, GitHub, GitHubEnterprise, ... */
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

export interface CheckLike {
  type?: { name?: string };
  settings?: { definitionRef?: { name?: string; id?: string }; displayName?: string };
}

/** Thrown when the host refuses a read; `fix` says how to grant it. */
export class AccessDenied extends Error {
  constructor(
    message: string,
    readonly fix = '',
  ) {
    super(message);
  }
}

/** A completed pull request, as the gate needs it. */
export interface Change {
  /** Its number (!42 on Azure Repos, #42 on GitHub). */
  id: number;
  /** The branch it was merged into, e.g. refs/heads/main. */
  target: string;
  /** Who opened it. */
  author: string;
  /** The people other than the author whose latest vote or review approved it. */
  approvers: string[];
}

/** What the gate asks the repository host. Every method may throw AccessDenied. */
export interface SourceHost {
  /** For messages: "Azure Repos", "GitHub Enterprise", ... */
  name: string;
  /** Whether the branch's protection requires peer review from at least `minimum` people; `warnings` name weaker settings. */
  protection(ref: string, minimum: number): Promise<{ ok: string; warnings?: string[] } | { reason: string; fix: string }>;
  branchHead(ref: string): Promise<string | undefined>;
  isAncestor(commit: string, head: string): Promise<boolean>;
  /** Completed pull requests whose merge (merge, squash or rebase) produced `commit`. */
  mergedAs(commit: string): Promise<Change[]>;
  /** Completed pull requests that brought `commit` in (its source commits). */
  containing(commit: string): Promise<Change[]>;
  parents(commit: string): Promise<string[]>;
}

/** The service connection's checks in Azure DevOps, whichever host the repository is on. */
export type ChecksReader = (projectId: string, connectionId: string) => Promise<CheckLike[]>;

export interface GateResult {
  branch: string;
  policy?: string;
  /** How the commit was shown to be reviewed. */
  review?: string;
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
  return (
    wellFormedRef(ref) &&
    patterns.some((p) => minimatch(ref, p, { nocase: false, dot: true, noglobstar: false, nonegate: true, nocomment: true }))
  );
}

function refuse(branch: string, reason: string, fix: string): never {
  throw new UserError(msg('GateRefused', branch || msg('GateUnknownBranch'), reason, fix));
}

/** Reads through the host; a refusal becomes a gate refusal that says what to grant. */
async function read<T>(branch: string, what: string, f: () => Promise<T>): Promise<T> {
  try {
    return await f();
  } catch (e) {
    if (e instanceof AccessDenied) refuse(branch, msg('GateCannotRead', what), e.fix || e.message);
    throw e;
  }
}

export async function evaluateGate(f: GateFacts, s: GateSettings, host: SourceHost, checks?: ChecksReader): Promise<GateResult> {
  const branch = f.sourceBranch;
  const warnings: string[] = [];
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
    refuse(
      branch,
      msg('GateCheckoutDiffers', f.checkedOut.slice(0, 12), f.sourceVersion.slice(0, 12) || '-'),
      msg('GateCheckoutDiffersFix'),
    );
  }
  if (!s.requireBranchPolicy) {
    warnings.push(msg('GatePolicyNotRequired'));
    warnings.push(...(await connectionWarnings(f, checks)));
    return { branch, warnings };
  }
  const protection = await read(branch, msg('GateWhatProtection', host.name), () => host.protection(branch, s.minimumReviewers));
  if ('reason' in protection) refuse(branch, protection.reason, protection.fix);
  warnings.push(...(protection.warnings ?? []));

  // The branch name is only a label: the commit itself must be in the branch's history.
  if (!/^[0-9a-f]{40}$/i.test(f.sourceVersion)) refuse(branch, msg('GateNotACommit', f.sourceVersion), msg('GateNotACommitFix'));
  const commit = f.sourceVersion.toLowerCase();
  const head = await read(branch, msg('GateWhatBranch', host.name), () => host.branchHead(branch));
  const onBranch =
    !!head &&
    (head.toLowerCase() === commit || (await read(branch, msg('GateWhatBranch', host.name), () => host.isAncestor(commit, head))));
  if (!onBranch) {
    refuse(
      branch,
      head
        ? msg('GateCommitNotOnBranch', commit.slice(0, 12), branch, head.slice(0, 12))
        : msg('GateBranchMissing', commit.slice(0, 12), branch),
      msg('GateCommitNotOnBranchFix'),
    );
  }

  // The policy proves the branch demands review; the commit must show that review happened.
  const review = await read(branch, msg('GateWhatPullRequests', host.name), () => proveReview(commit, s, host));
  if ('reason' in review) refuse(branch, review.reason, msg('GateReviewFix', s.minimumReviewers));
  warnings.push(...(await connectionWarnings(f, checks)));
  return { branch, policy: protection.ok, review: review.ok, warnings };
}

/** Commits the fallback looks at behind a run commit before it gives up. */
const MAX_WALK = 50;

/**
 * The commit was reviewed when it is the merge of a completed pull request into a protected branch
 * approved by enough others. A later commit only when every commit between it and such merges
 * (every parent, back to a reviewed merge on each path) came in through such a pull request and is
 * in that pull request's target branch: a commit of a squashed pull request, never merged itself,
 * does not count, nor does anything pushed or branched without review.
 */
async function proveReview(commit: string, s: GateSettings, host: SourceHost): Promise<{ ok: string } | { reason: string }> {
  const approved = (c: Change): boolean => matchesProtected(c.target, s.protectedBranches) && c.approvers.length >= s.minimumReviewers;
  const describe = (c: Change): string => msg('GateChangeApproved', c.id, c.target, c.approvers.join(', '));
  const merged = await host.mergedAs(commit);
  const good = merged.find(approved);
  if (good) return { ok: describe(good) };
  if (merged.length) {
    // The commit is a pull request's merge, but that pull request does not prove review: say why.
    const c = merged[0]!;
    if (!matchesProtected(c.target, s.protectedBranches)) return { reason: msg('GateChangeIntoUnprotected', c.id, c.target) };
    return {
      reason:
        c.approvers.length === 0
          ? msg('GateChangeNotApprovedByOthers', c.id, c.author)
          : msg('GateChangeTooFewApprovals', c.id, c.approvers.length, s.minimumReviewers),
    };
  }
  const heads = new Map<string, Promise<string | undefined>>();
  /** Whether the pull request brought `c` into its target branch (not squashed or rebased away). */
  const landed = async (c: string, change: Change): Promise<boolean> => {
    if (!heads.has(change.target)) heads.set(change.target, host.branchHead(change.target));
    const head = (await heads.get(change.target))?.toLowerCase();
    return !!head && (head === c || (await host.isAncestor(c, head)));
  };
  const seen = new Set<string>();
  const queue = [commit];
  let reviewed: { change: Change; at: string } | undefined;
  let covered = 0;
  while (queue.length) {
    const cur = queue.shift()!;
    if (seen.has(cur)) continue;
    if (seen.size >= MAX_WALK) return { reason: msg('GateWalkTooLong', commit.slice(0, 12), MAX_WALK) };
    seen.add(cur);
    if (cur !== commit) {
      const m = (await host.mergedAs(cur)).find(approved);
      if (m) {
        reviewed ??= { change: m, at: cur };
        continue;
      }
    }
    const carriers = (await host.containing(cur)).filter(approved);
    let carrier: Change | undefined;
    for (const c of carriers) if (await landed(cur, c)) carrier = c;
    if (!carrier) {
      if (carriers[0]) return { reason: msg('GateCommitNotLanded', cur.slice(0, 12), carriers[0].id, carriers[0].target) };
      return {
        reason:
          cur === commit
            ? msg('GateCommitNotReviewed', commit.slice(0, 12))
            : msg('GateDescendantNotCovered', commit.slice(0, 12), cur.slice(0, 12)),
      };
    }
    covered++;
    const parents = await host.parents(cur);
    // A root commit has no reviewed merge behind it.
    if (!parents.length) return { reason: msg('GateCommitNotReviewed', commit.slice(0, 12)) };
    queue.push(...parents.map((p) => p.toLowerCase()));
  }
  if (!reviewed) return { reason: msg('GateCommitNotReviewed', commit.slice(0, 12)) };
  return { ok: msg('GateReviewedAncestor', describe(reviewed.change), covered, reviewed.at.slice(0, 12)) };
}

/** Defense in depth: the service connection itself should carry a "Branch control" check. */
async function connectionWarnings(f: GateFacts, read?: ChecksReader): Promise<string[]> {
  if (!f.serviceConnectionId || !f.projectId || !read) return [];
  try {
    const checks = await read(f.projectId, f.serviceConnectionId);
    const has = checks.some((c) => c.settings?.definitionRef?.name === BRANCH_CONTROL_CHECK);
    return has ? [] : [msg('NoBranchControlCheck', f.serviceConnectionId, msg('AddBranchControlCheck'))];
  } catch {
    return [msg('BranchControlCheckUnverified', f.serviceConnectionId, msg('AddBranchControlCheck'))];
  }
}
