// GitHub Enterprise Server's REST API (/api/v3 on the emulator origin), the part the gate reads:
//   GET /api/v3/repos/{o}/{r}/rules/branches/{branch}       active rules for a branch (rulesets)
//   GET /api/v3/repos/{o}/{r}/rulesets/{id}                 a ruleset; bypass_actors only for admins
//   GET /api/v3/repos/{o}/{r}/branches/{branch}/protection  classic protection (admin read; 404 when none)
//   GET /api/v3/repos/{o}/{r}/branches/{branch}             the branch and its head commit
//   GET /api/v3/repos/{o}/{r}/compare/{base}...{head}       ahead / behind / identical / diverged
//   GET /api/v3/repos/{o}/{r}/commits/{sha}                 a commit and its parents
//   GET /api/v3/repos/{o}/{r}/commits/{sha}/pulls           pull requests whose merge or head is the commit
//   GET /api/v3/repos/{o}/{r}/pulls/{n}/reviews             reviews, oldest first
// Shapes as docs.github.com documents them (REST API 2022-11-28). Tokens are Bearer tokens;
// an unknown one answers 401 "Bad credentials", a missing repository 404 "Not Found".
import type { JsonObject } from './jwt';
import { type EmuRequest, type EmuResponse, header } from './types';

export interface GhUser {
  login: string;
  id: number;
}

export interface GhPull {
  number: number;
  user: GhUser;
  base: string;
  head: string;
  /** Set when merged: the merge (or squash, or rebase) commit on the base branch. */
  mergeCommit?: string;
  /** The head branch's commits. */
  commits: string[];
  reviews: Array<{ user: GhUser; state: 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' | 'DISMISSED' }>;
}

export interface GhRuleset {
  id: number;
  /** Branch names the ruleset targets. */
  branches: string[];
  pullRequest: { required_approving_review_count: number; dismiss_stale_reviews_on_push: boolean };
  bypassActors: Array<{ actor_id: number | null; actor_type: string; bypass_mode: string }>;
}

export interface GhClassicProtection {
  required_approving_review_count: number;
  dismiss_stale_reviews: boolean;
  enforce_admins: boolean;
}

interface GhRepo {
  owner: string;
  name: string;
  /** Linear history per branch, oldest first. */
  branches: Map<string, string[]>;
  pulls: GhPull[];
  rulesets: GhRuleset[];
  classic: Map<string, GhClassicProtection>;
}

const GH_MEDIA = { 'content-type': 'application/json; charset=utf-8', 'x-github-media-type': 'github.v3; format=json' };

export class GitHubService {
  private readonly repos = new Map<string, GhRepo>();
  /** Bearer tokens and whether they hold administration read. */
  private readonly tokens = new Map<string, { admin: boolean }>();

  constructor(private readonly url: () => string) {}

  addToken(token: string, opts: { admin?: boolean } = {}): void {
    this.tokens.set(token, { admin: opts.admin ?? false });
  }

  addRepository(owner: string, name: string): void {
    this.repos.set(`${owner}/${name}`.toLowerCase(), { owner, name, branches: new Map(), pulls: [], rulesets: [], classic: new Map() });
  }

  private repo(full: string): GhRepo {
    const r = this.repos.get(full.toLowerCase());
    if (!r) throw new Error(`no GitHub repository ${full}`);
    return r;
  }

  /** Appends commits to a branch; a new branch starts from `from`. Returns the head. */
  pushCommits(full: string, branch: string, commits: string[], from?: string): string {
    const r = this.repo(full);
    let list = r.branches.get(branch);
    if (!list) {
      list = from ? this.ancestors(r, from) : [];
      r.branches.set(branch, list);
    }
    list.push(...commits.map((c) => c.toLowerCase()));
    return list[list.length - 1]!;
  }

  /** A pull request; with mergeCommit it is merged, and the merge commit lands on the base branch. */
  addPull(full: string, pull: GhPull): void {
    const r = this.repo(full);
    if (pull.mergeCommit && !this.ancestors(r, pull.mergeCommit).length) this.pushCommits(full, pull.base, [pull.mergeCommit]);
    r.pulls.push({ ...pull, ...(pull.mergeCommit ? { mergeCommit: pull.mergeCommit.toLowerCase() } : {}), commits: pull.commits.map((c) => c.toLowerCase()) });
  }

  addRuleset(full: string, ruleset: GhRuleset): void {
    this.repo(full).rulesets.push(ruleset);
  }

  protectClassic(full: string, branch: string, p: GhClassicProtection): void {
    this.repo(full).classic.set(branch, p);
  }

  private ancestors(r: GhRepo, commit: string): string[] {
    for (const list of r.branches.values()) {
      const i = list.indexOf(commit.toLowerCase());
      if (i >= 0) return list.slice(0, i + 1);
    }
    return [];
  }

  static handles(req: EmuRequest): boolean {
    return (req.segments[0] ?? '').toLowerCase() === 'api' && (req.segments[1] ?? '').toLowerCase() === 'v3';
  }

  private error(status: number, message: string): EmuResponse {
    return { status, headers: GH_MEDIA, body: { message, documentation_url: 'https://docs.github.com/enterprise-server@3.14/rest', status: String(status) } };
  }

  async handle(req: EmuRequest): Promise<EmuResponse> {
    const auth = /^(?:Bearer|token)\s+(.+)$/i.exec(header(req, 'authorization') ?? '')?.[1]?.trim();
    const token = auth ? this.tokens.get(auth) : undefined;
    if (!token) return this.error(401, 'Bad credentials');
    if (req.method !== 'GET') return this.error(404, 'Not Found');
    const s = req.segments.slice(2);
    if (s[0] !== 'repos' || s.length < 4) return this.error(404, 'Not Found');
    const r = this.repos.get(`${s[1]}/${s[2]}`.toLowerCase());
    if (!r) return this.error(404, 'Not Found');
    const rest = s.slice(3);
    const base = `${this.url()}/api/v3/repos/${r.owner}/${r.name}`;
    const ok = (body: unknown): EmuResponse => ({ status: 200, headers: GH_MEDIA, body });
    const user = (u: GhUser): JsonObject => ({ login: u.login, id: u.id, type: 'User', site_admin: false });

    if (rest[0] === 'rules' && rest[1] === 'branches' && rest.length >= 3) {
      const branch = rest.slice(2).join('/');
      return ok(
        r.rulesets
          .filter((x) => x.branches.includes(branch))
          .map((x) => ({ type: 'pull_request', ruleset_source_type: 'Repository', ruleset_source: `${r.owner}/${r.name}`, ruleset_id: x.id, parameters: { ...x.pullRequest, require_code_owner_review: false, require_last_push_approval: false, required_review_thread_resolution: false } })),
      );
    }
    if (rest[0] === 'rulesets' && rest.length === 2) {
      const x = r.rulesets.find((y) => String(y.id) === rest[1]);
      if (!x) return this.error(404, 'Not Found');
      return ok({
        id: x.id,
        name: `ruleset ${x.id}`,
        target: 'branch',
        source_type: 'Repository',
        source: `${r.owner}/${r.name}`,
        enforcement: 'active',
        conditions: { ref_name: { include: x.branches.map((b) => `refs/heads/${b}`), exclude: [] } },
        rules: [{ type: 'pull_request', parameters: x.pullRequest }],
        // The bypass list is shown to those who may administer the repository only.
        ...(token.admin ? { bypass_actors: x.bypassActors } : {}),
        current_user_can_bypass: 'never',
      });
    }
    if (rest[0] === 'branches' && rest.length >= 2) {
      const tail = rest[rest.length - 1] === 'protection';
      const branch = rest.slice(1, tail ? -1 : undefined).join('/');
      const list = r.branches.get(branch);
      if (!list?.length) return this.error(404, 'Branch not found');
      if (!tail) return ok({ name: branch, commit: { sha: list[list.length - 1], url: `${base}/commits/${list[list.length - 1]}` }, protected: r.classic.has(branch) || r.rulesets.some((x) => x.branches.includes(branch)) });
      if (!token.admin) return this.error(403, 'Resource not accessible by personal access token');
      const p = r.classic.get(branch);
      if (!p) return this.error(404, 'Branch not protected');
      return ok({
        url: `${base}/branches/${branch}/protection`,
        required_pull_request_reviews: { url: `${base}/branches/${branch}/protection/required_pull_request_reviews`, dismiss_stale_reviews: p.dismiss_stale_reviews, require_code_owner_reviews: false, required_approving_review_count: p.required_approving_review_count, require_last_push_approval: false },
        enforce_admins: { url: `${base}/branches/${branch}/protection/enforce_admins`, enabled: p.enforce_admins },
        required_linear_history: { enabled: false },
        allow_force_pushes: { enabled: false },
        allow_deletions: { enabled: false },
      });
    }
    if (rest[0] === 'compare' && rest.length === 2) {
      const [from, to] = rest[1]!.split('...');
      const a = this.ancestors(r, from ?? '');
      const b = this.ancestors(r, to ?? '');
      if (!a.length || !b.length) return this.error(404, 'Not Found');
      const inB = new Set(b);
      const baseCommit = [...a].reverse().find((c) => inB.has(c))!;
      const aheadBy = b.length - 1 - b.indexOf(baseCommit);
      const behindBy = a.length - 1 - a.indexOf(baseCommit);
      const status = aheadBy === 0 && behindBy === 0 ? 'identical' : behindBy === 0 ? 'ahead' : aheadBy === 0 ? 'behind' : 'diverged';
      return ok({ url: `${base}/compare/${rest[1]}`, status, ahead_by: aheadBy, behind_by: behindBy, total_commits: aheadBy, merge_base_commit: { sha: baseCommit } });
    }
    if (rest[0] === 'commits' && rest.length >= 2) {
      const sha = rest[1]!.toLowerCase();
      const chain = this.ancestors(r, sha);
      const inPulls = r.pulls.some((p) => p.mergeCommit === sha || p.commits.includes(sha));
      if (!chain.length && !inPulls) return this.error(422, `No commit found for SHA: ${rest[1]}`);
      if (rest.length === 3 && rest[2] === 'pulls') {
        return ok(
          r.pulls
            .filter((p) => p.mergeCommit === sha || p.commits.includes(sha))
            .map((p) => ({
              url: `${base}/pulls/${p.number}`,
              number: p.number,
              state: p.mergeCommit ? 'closed' : 'open',
              user: user(p.user),
              base: { ref: p.base, label: `${r.owner}:${p.base}` },
              head: { ref: p.head, label: `${r.owner}:${p.head}`, sha: p.commits[p.commits.length - 1] ?? null },
              merged_at: p.mergeCommit ? '2026-11-30T10:00:00Z' : null,
              merge_commit_sha: p.mergeCommit ?? null,
            })),
        );
      }
      if (rest.length !== 2) return this.error(404, 'Not Found');
      const parent = chain[chain.length - 2];
      return ok({ sha, url: `${base}/commits/${sha}`, commit: { message: `commit ${sha.slice(0, 7)}` }, parents: parent ? [{ sha: parent, url: `${base}/commits/${parent}` }] : [] });
    }
    if (rest[0] === 'pulls' && rest.length === 3 && rest[2] === 'reviews') {
      const p = r.pulls.find((x) => String(x.number) === rest[1]);
      if (!p) return this.error(404, 'Not Found');
      return ok(p.reviews.map((v, i) => ({ id: 1000 + i, user: user(v.user), state: v.state, body: '', submitted_at: new Date(Date.UTC(2026, 10, 30, 9, i)).toISOString(), commit_id: p.commits[p.commits.length - 1] ?? null })));
    }
    return this.error(404, 'Not Found');
  }
}
