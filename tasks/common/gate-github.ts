/**
 * The gate's view of a GitHub or GitHub Enterprise Server repository, through a GitHub service
 * connection: the branch's protection (rulesets and classic branch protection), branches and
 * commits, and merged pull requests with their reviews. The token goes only to the API host of the
 * connection (api.github.com, or <server>/api/v3/ for GitHub Enterprise Server).
 */
import type { Change, SourceHost } from './gate';
import { AccessDenied } from './gate';
import { msg } from './messages';

/** A GET against the GitHub REST API: undefined on 404; AccessDenied on 401/403. */
export type GitHubGet = <T>(path: string) => Promise<T | undefined>;

/** The REST API base for a GitHub service connection's URL. */
export function githubApiBase(connectionUrl: string): string {
  const u = new URL(connectionUrl);
  if (u.hostname.toLowerCase() === 'github.com' || u.hostname.toLowerCase() === 'api.github.com') return 'https://api.github.com/';
  // GitHub Enterprise Server serves its API under /api/v3/ of the server's URL.
  return `${u.origin}${u.pathname.replace(/\/+$/, '')}/api/v3/`;
}

interface PullLike {
  number: number;
  user?: { login?: string; id?: number };
  base?: { ref?: string };
  merged_at?: string | null;
  merge_commit_sha?: string | null;
}

interface ReviewLike {
  user?: { login?: string; id?: number } | null;
  state?: string;
}

interface PullRequestRuleParams {
  required_approving_review_count?: number;
  dismiss_stale_reviews_on_push?: boolean;
}

interface RuleLike {
  type?: string;
  ruleset_id?: number;
  parameters?: PullRequestRuleParams;
}

interface ClassicProtection {
  required_pull_request_reviews?: { required_approving_review_count?: number; dismiss_stale_reviews?: boolean };
  enforce_admins?: { enabled?: boolean };
}

interface RulesetLike {
  bypass_actors?: Array<{ actor_type?: string; actor_id?: number | null; bypass_mode?: string }>;
}

/** Repository role id of the admin role in ruleset bypass lists (not in the REST description; 5 as GitHub returns it). */
const ADMIN_ROLE_ID = 5;

/** The people whose latest deciding review approved, other than the author (a comment does not change a decision). */
function approvers(reviews: ReviewLike[], author: number | undefined): string[] {
  const latest = new Map<number, { login: string; state: string }>();
  for (const r of reviews) {
    const id = r.user?.id;
    if (id === undefined || !r.state || !['APPROVED', 'CHANGES_REQUESTED', 'DISMISSED'].includes(r.state)) continue;
    latest.set(id, { login: r.user?.login ?? String(id), state: r.state });
  }
  return [...latest.entries()].filter(([id, v]) => id !== author && v.state === 'APPROVED').map(([, v]) => v.login);
}

/**
 * Whether admins can bypass a ruleset, when the token may see its bypass list. Any mode counts:
 * "pull_request" lets them merge a pull request without the required approvals.
 */
function adminsBypass(rs: RulesetLike | undefined): boolean | undefined {
  if (!rs?.bypass_actors) return undefined;
  return rs.bypass_actors.some(
    (a) =>
      a.actor_type === 'OrganizationAdmin' ||
      a.actor_type === 'EnterpriseOwner' ||
      (a.actor_type === 'RepositoryRole' && a.actor_id === ADMIN_ROLE_ID),
  );
}

/** Pages of a list (per_page 100) until a short one; at most `max` pages. */
async function all<T>(get: GitHubGet, path: string, max = 10): Promise<T[]> {
  const out: T[] = [];
  for (let page = 1; page <= max; page++) {
    const items = (await get<T[]>(`${path}${path.includes('?') ? '&' : '?'}per_page=100&page=${page}`)) ?? [];
    out.push(...items);
    if (items.length < 100) break;
  }
  return out;
}

export function githubHost(get: GitHubGet, name: string, repository: string): SourceHost {
  const repo = `repos/${repository.split('/').map(encodeURIComponent).join('/')}`;
  const branchOf = (ref: string): string => encodeURIComponent(ref.replace(/^refs\/heads\//, ''));
  const pulls = (commit: string): Promise<PullLike[]> => all<PullLike>(get, `${repo}/commits/${commit}/pulls`);
  const toChange = async (p: PullLike): Promise<Change> => ({
    id: p.number,
    target: `refs/heads/${p.base?.ref ?? ''}`,
    author: p.user?.login ?? '?',
    // Without a known author nobody can be shown to be someone else.
    approvers: p.user?.id === undefined ? [] : approvers(await all<ReviewLike>(get, `${repo}/pulls/${p.number}/reviews`), p.user.id),
  });
  return {
    name,
    async protection(ref, minimum) {
      const fix = msg('GateGitHubProtectionFix', ref, minimum);
      const rules = ((await get<RuleLike[]>(`${repo}/rules/branches/${branchOf(ref)}`)) ?? []).filter((r) => r.type === 'pull_request');
      for (const rule of rules) {
        const p = rule.parameters ?? {};
        if ((p.required_approving_review_count ?? 0) < minimum || !p.dismiss_stale_reviews_on_push) continue;
        const rs =
          rule.ruleset_id !== undefined ? await get<RulesetLike>(`${repo}/rulesets/${rule.ruleset_id}`).catch(() => undefined) : undefined;
        const bypass = adminsBypass(rs);
        if (bypass) return { reason: msg('GateGitHubAdminsBypass', msg('GateGitHubRuleset', rule.ruleset_id)), fix };
        return {
          ok: msg(
            'GateGitHubRulesetVerified',
            rule.ruleset_id,
            p.required_approving_review_count,
            bypass === undefined ? msg('GateGitHubBypassUnseen') : '',
          ),
        };
      }
      // Classic branch protection; reading it needs administration read on the repository.
      let classic: ClassicProtection | undefined;
      try {
        classic = await get<ClassicProtection>(`${repo}/branches/${branchOf(ref)}/protection`);
      } catch (e) {
        if (!(e instanceof AccessDenied)) throw e;
        // Without rulesets the classic protection is all there is: its reader needs administration read.
        if (!rules.length) throw new AccessDenied(e.message, msg('GateGitHubGrantAdministrationRead', ref));
      }
      const reviews = classic?.required_pull_request_reviews;
      const best = Math.max(
        0,
        ...rules.map((r) => r.parameters?.required_approving_review_count ?? 0),
        reviews?.required_approving_review_count ?? 0,
      );
      if (!reviews && !rules.length) return { reason: msg('GateGitHubNoReviewRule'), fix };
      if (reviews && (reviews.required_approving_review_count ?? 0) >= minimum && reviews.dismiss_stale_reviews) {
        if (!classic?.enforce_admins?.enabled) return { reason: msg('GateGitHubAdminsBypass', msg('GateGitHubClassic')), fix };
        return { ok: msg('GateGitHubClassicVerified', reviews.required_approving_review_count) };
      }
      if (best < minimum) return { reason: msg('GateGitHubTooFewReviews', best, minimum), fix };
      return { reason: msg('GateGitHubStaleReviewsKept'), fix };
    },
    async branchHead(ref) {
      return (await get<{ commit?: { sha?: string } }>(`${repo}/branches/${branchOf(ref)}`))?.commit?.sha;
    },
    async isAncestor(commit, head) {
      const c = await get<{ status?: string }>(`${repo}/compare/${commit}...${head}`);
      return c?.status === 'ahead' || c?.status === 'identical';
    },
    async mergedAs(commit) {
      const merged = (await pulls(commit)).filter((p) => p.merged_at && p.merge_commit_sha?.toLowerCase() === commit.toLowerCase());
      return Promise.all(merged.map(toChange));
    },
    async containing(commit) {
      return Promise.all((await pulls(commit)).filter((p) => p.merged_at).map(toChange));
    },
    async parents(commit) {
      return ((await get<{ parents?: Array<{ sha?: string }> }>(`${repo}/commits/${commit}`))?.parents ?? [])
        .map((p) => p.sha ?? '')
        .filter(Boolean);
    },
  };
}
