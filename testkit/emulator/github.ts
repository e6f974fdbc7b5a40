// GitHub's REST API, the part the gate reads, in two shapes: GitHub Enterprise Server at
// <emulator origin>/api/v3/..., and github.com at https://api.github.com/... (requests whose Host is
// api.github.com: the emulator's certificate names that host, and tests reach it through a proxy
// that tunnels api.github.com:443 to the emulator, see tunnelGitHub).
//   GET repos/{o}/{r}/rules/branches/{branch}       active rules for a branch (rulesets)
//   GET repos/{o}/{r}/rulesets/{id}                 a ruleset; bypass_actors only for admins
//   GET repos/{o}/{r}/branches/{branch}/protection  classic protection (admin read; 404 when none)
//   GET repos/{o}/{r}/branches/{branch}             the branch and its head commit
//   GET repos/{o}/{r}/compare/{base}...{head}       ahead / behind / identical / diverged
//   GET repos/{o}/{r}/commits/{sha}                 a commit and its parents
//   GET repos/{o}/{r}/commits/{sha}/pulls           pull requests that merged or contain the commit
//   GET repos/{o}/{r}/pulls/{n}/reviews             reviews, oldest first
// Shapes follow the official examples (testkit/reference/reference/octokit+openapi, checked by
// github.test.ts), REST API version 2022-11-28. Lists page with per_page/page and a Link header.
// Tokens are Bearer tokens; an unknown one answers 401 "Bad credentials", a missing repository 404.
import { CommitGraph } from './commit-graph';
import type { JsonObject } from './jwt';
import { type Tunnel, tunnelHosts } from './tunnel';
import { type EmuRequest, type EmuResponse, header } from './types';

export const GITHUB_COM_API = 'api.github.com';

export interface GhUser {
  login: string;
  id: number;
}

export interface GhReview {
  user: GhUser;
  state: 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' | 'DISMISSED' | 'PENDING';
}

export interface GhPull {
  number: number;
  user: GhUser;
  base: string;
  head: string;
  /** Set when merged: the merge commit (or the squash commit) on the base branch; for a rebase, the last head commit. */
  mergeCommit?: string;
  /** How it was merged (default: a merge commit when it has commits, else a squash). */
  mergeMethod?: 'merge' | 'squash' | 'rebase';
  /** The head branch's commits, oldest first (pushed from the base branch's head when new). */
  commits: string[];
  reviews: GhReview[];
}

export interface GhRuleset {
  id: number;
  /** Branch names the ruleset targets. */
  branches: string[];
  pullRequest: { required_approving_review_count: number; dismiss_stale_reviews_on_push: boolean };
  bypassActors: Array<{ actor_id: number | null; actor_type: string; bypass_mode: string }>;
  enforcement?: 'active' | 'evaluate' | 'disabled';
}

export interface GhClassicProtection {
  required_approving_review_count: number;
  dismiss_stale_reviews: boolean;
  enforce_admins: boolean;
}

interface StoredPull extends GhPull {
  baseSha?: string;
}

interface GhRepo {
  owner: string;
  name: string;
  graph: CommitGraph;
  pulls: StoredPull[];
  rulesets: GhRuleset[];
  classic: Map<string, GhClassicProtection>;
}

const GH_MEDIA = { 'content-type': 'application/json; charset=utf-8', 'x-github-media-type': 'github.v3; format=json' };
const WHEN = '2026-11-30T10:00:00Z';

export class GitHubService {
  private readonly repos = new Map<string, GhRepo>();
  /** Bearer tokens and whether they hold administration read. */
  private readonly tokens = new Map<string, { admin: boolean }>();

  constructor(private readonly url: () => string) {}

  addToken(token: string, opts: { admin?: boolean } = {}): void {
    this.tokens.set(token, { admin: opts.admin ?? false });
  }

  addRepository(owner: string, name: string): void {
    this.repos.set(`${owner}/${name}`.toLowerCase(), {
      owner,
      name,
      graph: new CommitGraph(),
      pulls: [],
      rulesets: [],
      classic: new Map(),
    });
  }

  private repo(full: string): GhRepo {
    const r = this.repos.get(full.toLowerCase());
    if (!r) throw new Error(`no GitHub repository ${full}`);
    return r;
  }

  /** The repository's commits and branches. */
  graph(full: string): CommitGraph {
    return this.repo(full).graph;
  }

  /** Appends commits to a branch; a new branch starts from `from`. Returns the head. */
  pushCommits(full: string, branch: string, commits: string[], from?: string): string {
    return this.repo(full).graph.push(branch, commits, from);
  }

  /**
   * A pull request. Its new commits go on its head branch from the base's head; merged (with
   * mergeCommit), the base moves to a merge commit (parents: base head, head tip), a squash commit
   * (parent: base head), or for a rebase to the last head commit.
   */
  addPull(full: string, pull: GhPull): void {
    const r = this.repo(full);
    const g = r.graph;
    const commits = pull.commits.map((c) => c.toLowerCase());
    const baseSha = g.head(pull.base);
    const fresh = commits.filter((c) => !g.has(c));
    if (fresh.length) g.push(pull.head, fresh, baseSha);
    const method = pull.mergeMethod ?? (commits.length ? 'merge' : 'squash');
    const merge = method === 'rebase' ? commits.at(-1) : pull.mergeCommit?.toLowerCase();
    if (merge && !g.has(merge))
      g.add(merge, [...(baseSha ? [baseSha] : []), ...(method === 'merge' && commits.length ? [commits.at(-1)!] : [])]);
    if (merge && (!baseSha || g.isAncestor(baseSha, merge))) g.setHead(pull.base, merge);
    r.pulls.push({ ...pull, commits, ...(merge ? { mergeCommit: merge } : {}), ...(baseSha ? { baseSha } : {}) });
  }

  addRuleset(full: string, ruleset: GhRuleset): void {
    this.repo(full).rulesets.push(ruleset);
  }

  protectClassic(full: string, branch: string, p: GhClassicProtection): void {
    this.repo(full).classic.set(branch, p);
  }

  private error(status: number, message: string, githubCom: boolean): EmuResponse {
    return {
      status,
      headers: GH_MEDIA,
      body: {
        message,
        documentation_url: githubCom ? 'https://docs.github.com/rest' : 'https://docs.github.com/enterprise-server@3.19/rest',
        status: String(status),
      },
    };
  }

  async handle(req: EmuRequest): Promise<EmuResponse> {
    const githubCom = isGitHubComHost(header(req, 'host'));
    const fail = (status: number, message: string) => this.error(status, message, githubCom);
    const auth = /^(?:Bearer|token)\s+(.+)$/i.exec(header(req, 'authorization') ?? '')?.[1]?.trim();
    const token = auth ? this.tokens.get(auth) : undefined;
    if (!token) return fail(401, 'Bad credentials');
    if (req.method !== 'GET') return fail(404, 'Not Found');
    const s = githubCom ? req.segments : req.segments.slice(2);
    if (s[0] !== 'repos' || s.length < 4) return fail(404, 'Not Found');
    const r = this.repos.get(`${s[1]}/${s[2]}`.toLowerCase());
    if (!r) return fail(404, 'Not Found');
    const api = githubCom ? `https://${GITHUB_COM_API}` : `${this.url()}/api/v3`;
    const web = githubCom ? 'https://github.com' : this.url();
    const ctx: Ctx = { req, r, token, api, web, base: `${api}/repos/${r.owner}/${r.name}`, fail };
    const rest = s.slice(3);
    if (rest[0] === 'rules' && rest[1] === 'branches' && rest.length >= 3) return this.branchRules(ctx, rest.slice(2).join('/'));
    if (rest[0] === 'rulesets' && rest.length === 2) return this.ruleset(ctx, rest[1]!);
    if (rest[0] === 'branches' && rest.length >= 2) {
      const tail = rest[rest.length - 1] === 'protection';
      return this.branch(ctx, rest.slice(1, tail ? -1 : undefined).join('/'), tail);
    }
    if (rest[0] === 'compare' && rest.length === 2) return this.compare(ctx, rest[1]!);
    if (rest[0] === 'commits' && rest.length === 3 && rest[2] === 'pulls') return this.commitPulls(ctx, rest[1]!.toLowerCase());
    if (rest[0] === 'commits' && rest.length === 2) return this.commit(ctx, rest[1]!.toLowerCase());
    if (rest[0] === 'pulls' && rest.length === 3 && rest[2] === 'reviews') return this.reviews(ctx, rest[1]!);
    return fail(404, 'Not Found');
  }

  private branchRules(c: Ctx, branch: string): EmuResponse {
    // Only rules of active rulesets apply ("evaluate" and "disabled" ones are not returned).
    const rules = c.r.rulesets
      .filter((x) => (x.enforcement ?? 'active') === 'active' && x.branches.includes(branch))
      .map((x) => ({
        type: 'pull_request',
        ruleset_source_type: 'Repository',
        ruleset_source: `${c.r.owner}/${c.r.name}`,
        ruleset_id: x.id,
        parameters: {
          ...x.pullRequest,
          require_code_owner_review: false,
          require_last_push_approval: false,
          required_review_thread_resolution: false,
          allowed_merge_methods: ['merge', 'squash', 'rebase'],
        },
      }));
    return ok(rules);
  }

  private ruleset(c: Ctx, id: string): EmuResponse {
    const x = c.r.rulesets.find((y) => String(y.id) === id);
    if (!x) return c.fail(404, 'Not Found');
    return ok({
      id: x.id,
      name: `ruleset ${x.id}`,
      target: 'branch',
      source_type: 'Repository',
      source: `${c.r.owner}/${c.r.name}`,
      enforcement: x.enforcement ?? 'active',
      // The bypass list is shown to those who may administer the ruleset only.
      ...(c.token.admin ? { bypass_actors: x.bypassActors } : {}),
      conditions: { ref_name: { include: x.branches.map((b) => `refs/heads/${b}`), exclude: [] } },
      rules: [{ type: 'pull_request', parameters: x.pullRequest }],
      node_id: `RRS_${x.id}`,
      _links: { self: { href: `${c.base}/rulesets/${x.id}` }, html: { href: `${c.web}/${c.r.owner}/${c.r.name}/rules/${x.id}` } },
      created_at: WHEN,
      updated_at: WHEN,
      current_user_can_bypass: 'never',
    });
  }

  private branch(c: Ctx, name: string, protection: boolean): EmuResponse {
    const head = c.r.graph.head(name);
    if (!head) return c.fail(404, 'Branch not found');
    if (!protection) {
      const isProtected = c.r.classic.has(name) || c.r.rulesets.some((x) => x.branches.includes(name));
      return ok({
        name,
        commit: this.commitBody(c, head, false),
        _links: { self: `${c.base}/branches/${name}`, html: `${c.web}/${c.r.owner}/${c.r.name}/tree/${name}` },
        protected: isProtected,
        protection: { enabled: c.r.classic.has(name), required_status_checks: { enforcement_level: 'off', contexts: [], checks: [] } },
        protection_url: `${c.base}/branches/${name}/protection`,
      });
    }
    if (!c.token.admin) return c.fail(403, 'Resource not accessible by personal access token');
    const p = c.r.classic.get(name);
    if (!p) return c.fail(404, 'Branch not protected');
    const url = `${c.base}/branches/${name}/protection`;
    return ok({
      url,
      required_status_checks: {
        url: `${url}/required_status_checks`,
        enforcement_level: 'off',
        strict: false,
        contexts: [],
        contexts_url: `${url}/required_status_checks/contexts`,
        checks: [],
      },
      enforce_admins: { url: `${url}/enforce_admins`, enabled: p.enforce_admins },
      required_pull_request_reviews: {
        url: `${url}/required_pull_request_reviews`,
        dismissal_restrictions: {
          url: `${url}/dismissal_restrictions`,
          users_url: `${url}/dismissal_restrictions/users`,
          teams_url: `${url}/dismissal_restrictions/teams`,
          users: [],
          teams: [],
          apps: [],
        },
        dismiss_stale_reviews: p.dismiss_stale_reviews,
        require_code_owner_reviews: false,
        required_approving_review_count: p.required_approving_review_count,
        require_last_push_approval: false,
      },
      restrictions: {
        url: `${url}/restrictions`,
        users_url: `${url}/restrictions/users`,
        teams_url: `${url}/restrictions/teams`,
        apps_url: `${url}/restrictions/apps`,
        users: [],
        teams: [],
        apps: [],
      },
      required_linear_history: { enabled: false },
      allow_force_pushes: { enabled: false },
      allow_deletions: { enabled: false },
      required_conversation_resolution: { enabled: false },
      lock_branch: { enabled: false },
      allow_fork_syncing: { enabled: false },
    });
  }

  private compare(c: Ctx, spec: string): EmuResponse {
    const [from = '', to = ''] = spec.split('...');
    const g = c.r.graph;
    const a = g.head(from) ?? from.toLowerCase();
    const b = g.head(to) ?? to.toLowerCase();
    if (!g.has(a) || !g.has(b)) return c.fail(404, 'Not Found');
    const base = g.mergeBases(a, b)[0];
    const ahead = g.between(a, b);
    const behind = g.between(b, a);
    const status = !ahead.length && !behind.length ? 'identical' : !behind.length ? 'ahead' : !ahead.length ? 'behind' : 'diverged';
    return ok({
      url: `${c.base}/compare/${spec}`,
      html_url: `${c.web}/${c.r.owner}/${c.r.name}/compare/${spec}`,
      permalink_url: `${c.web}/${c.r.owner}/${c.r.name}/compare/${spec}`,
      diff_url: `${c.web}/${c.r.owner}/${c.r.name}/compare/${spec}.diff`,
      patch_url: `${c.web}/${c.r.owner}/${c.r.name}/compare/${spec}.patch`,
      base_commit: this.commitBody(c, a, false),
      ...(base ? { merge_base_commit: this.commitBody(c, base, false) } : {}),
      status,
      ahead_by: ahead.length,
      behind_by: behind.length,
      total_commits: ahead.length,
      commits: ahead.map((x) => this.commitBody(c, x, false)),
      files: [this.fileBody(c, b)],
    });
  }

  /** One changed file, as commits and comparisons list them. */
  private fileBody(c: Ctx, sha: string): JsonObject {
    return {
      sha,
      filename: 'README.md',
      status: 'modified',
      additions: 1,
      deletions: 0,
      changes: 1,
      blob_url: `${c.web}/${c.r.owner}/${c.r.name}/blob/${sha}/README.md`,
      raw_url: `${c.web}/${c.r.owner}/${c.r.name}/raw/${sha}/README.md`,
      contents_url: `${c.base}/contents/README.md?ref=${sha}`,
      patch: '@@ -1 +1 @@',
    };
  }

  private commit(c: Ctx, sha: string): EmuResponse {
    if (!c.r.graph.has(sha)) return c.fail(422, `No commit found for SHA: ${sha}`);
    return ok(this.commitBody(c, sha, true));
  }

  /** Pull requests that merged the commit (as merge commit) or carried it, newest first (the repository's default branch is main). */
  private commitPulls(c: Ctx, sha: string): EmuResponse {
    if (!c.r.graph.has(sha)) return c.fail(422, `No commit found for SHA: ${sha}`);
    // On the default branch: the merged pull request that introduced it; elsewhere also open ones.
    const main = c.r.graph.head('main');
    const onDefault = main !== undefined && c.r.graph.isAncestor(sha, main);
    const pulls = c.r.pulls
      .filter((p) => (p.mergeCommit === sha || p.commits.includes(sha)) && (!onDefault || p.mergeCommit !== undefined))
      .reverse();
    return paged(
      c.req,
      pulls.map((p) => this.pullBody(c, p)),
    );
  }

  private reviews(c: Ctx, n: string): EmuResponse {
    const p = c.r.pulls.find((x) => String(x.number) === n);
    if (!p) return c.fail(404, 'Not Found');
    const tip = p.commits.at(-1) ?? p.mergeCommit ?? null;
    return paged(
      c.req,
      p.reviews.map((v, i) => ({
        id: 1000 + i,
        node_id: `PRR_${p.number}_${i}`,
        user: user(v.user, c),
        body: '',
        state: v.state,
        html_url: `${c.web}/${c.r.owner}/${c.r.name}/pull/${p.number}#pullrequestreview-${1000 + i}`,
        pull_request_url: `${c.base}/pulls/${p.number}`,
        _links: {
          html: { href: `${c.web}/${c.r.owner}/${c.r.name}/pull/${p.number}#pullrequestreview-${1000 + i}` },
          pull_request: { href: `${c.base}/pulls/${p.number}` },
        },
        ...(v.state === 'PENDING' ? {} : { submitted_at: new Date(Date.UTC(2026, 10, 30, 9, i)).toISOString() }),
        commit_id: tip,
        author_association: 'COLLABORATOR',
      })),
    );
  }

  private commitBody(c: Ctx, sha: string, full: boolean): JsonObject {
    const parents = (c.r.graph.parents(sha) ?? []).map((p) => ({
      sha: p,
      url: `${c.base}/commits/${p}`,
      html_url: `${c.web}/${c.r.owner}/${c.r.name}/commit/${p}`,
    }));
    const person = { name: 'Contoso Dev', email: 'dev@contoso.example', date: WHEN };
    const dev = user({ login: 'contoso-dev', id: 99 }, c);
    return {
      url: `${c.base}/commits/${sha}`,
      sha,
      node_id: `C_${sha.slice(0, 12)}`,
      html_url: `${c.web}/${c.r.owner}/${c.r.name}/commit/${sha}`,
      comments_url: `${c.base}/commits/${sha}/comments`,
      commit: {
        url: `${c.base}/git/commits/${sha}`,
        author: person,
        committer: person,
        message: `commit ${sha.slice(0, 7)}`,
        tree: { url: `${c.base}/git/trees/${sha}`, sha },
        comment_count: 0,
        verification: { verified: false, reason: 'unsigned', signature: null, payload: null },
      },
      author: dev,
      committer: dev,
      parents,
      ...(full ? { stats: { additions: 1, deletions: 0, total: 1 }, files: [this.fileBody(c, sha)] } : {}),
    };
  }

  private pullBody(c: Ctx, p: StoredPull): JsonObject {
    const html = `${c.web}/${c.r.owner}/${c.r.name}/pull/${p.number}`;
    const url = `${c.base}/pulls/${p.number}`;
    const merged = p.mergeCommit !== undefined;
    const repo = { id: 4242, name: c.r.name, full_name: `${c.r.owner}/${c.r.name}`, private: true };
    return {
      url,
      id: 5000 + p.number,
      node_id: `PR_${p.number}`,
      html_url: html,
      diff_url: `${html}.diff`,
      patch_url: `${html}.patch`,
      issue_url: `${c.base}/issues/${p.number}`,
      commits_url: `${url}/commits`,
      review_comments_url: `${url}/comments`,
      review_comment_url: `${c.base}/pulls/comments{/number}`,
      comments_url: `${c.base}/issues/${p.number}/comments`,
      statuses_url: `${c.base}/statuses/${p.commits.at(-1) ?? p.mergeCommit ?? ''}`,
      number: p.number,
      state: merged ? 'closed' : 'open',
      locked: false,
      title: `Pull request ${p.number}`,
      user: user(p.user, c),
      body: null,
      labels: [],
      milestone: null,
      active_lock_reason: null,
      created_at: WHEN,
      updated_at: WHEN,
      closed_at: merged ? WHEN : null,
      merged_at: merged ? WHEN : null,
      merge_commit_sha: p.mergeCommit ?? null,
      assignee: null,
      assignees: [],
      requested_reviewers: [],
      requested_teams: [],
      head: {
        label: `${c.r.owner}:${p.head}`,
        ref: p.head,
        sha: p.commits.at(-1) ?? p.mergeCommit ?? null,
        user: user({ login: c.r.owner, id: 1 }, c),
        repo,
      },
      base: { label: `${c.r.owner}:${p.base}`, ref: p.base, sha: p.baseSha ?? null, user: user({ login: c.r.owner, id: 1 }, c), repo },
      _links: {
        self: { href: url },
        html: { href: html },
        issue: { href: `${c.base}/issues/${p.number}` },
        comments: { href: `${c.base}/issues/${p.number}/comments` },
        review_comments: { href: `${url}/comments` },
        review_comment: { href: `${c.base}/pulls/comments{/number}` },
        commits: { href: `${url}/commits` },
        statuses: { href: `${c.base}/statuses/${p.commits.at(-1) ?? ''}` },
      },
      author_association: 'MEMBER',
      auto_merge: null,
      draft: false,
    };
  }
}

interface Ctx {
  req: EmuRequest;
  r: GhRepo;
  token: { admin: boolean };
  api: string;
  web: string;
  base: string;
  fail: (status: number, message: string) => EmuResponse;
}

const ok = (body: unknown, headers: Record<string, string> = {}): EmuResponse => ({
  status: 200,
  headers: { ...GH_MEDIA, ...headers },
  body,
});

/** A list page by per_page (default 30, at most 100) and page, with GitHub's Link header when there is more. */
function paged(req: EmuRequest, items: unknown[]): EmuResponse {
  const per = Math.min(100, Math.max(1, Number(req.url.searchParams.get('per_page') ?? '30') || 30));
  const page = Math.max(1, Number(req.url.searchParams.get('page') ?? '1') || 1);
  const slice = items.slice((page - 1) * per, page * per);
  const last = Math.max(1, Math.ceil(items.length / per));
  const link = (n: number, rel: string): string => {
    const u = new URL(req.url.toString());
    u.searchParams.set('page', String(n));
    return `<${u.toString()}>; rel="${rel}"`;
  };
  return ok(slice, page < last ? { link: [link(page + 1, 'next'), link(last, 'last')].join(', ') } : {});
}

/** A user as the REST API shows one (simple-user). */
function user(u: GhUser, c: Pick<Ctx, 'api' | 'web'>): JsonObject {
  const api = `${c.api}/users/${u.login}`;
  return {
    login: u.login,
    id: u.id,
    node_id: `U_${u.id}`,
    avatar_url: `${c.web}/avatars/u/${u.id}`,
    gravatar_id: '',
    url: api,
    html_url: `${c.web}/${u.login}`,
    followers_url: `${api}/followers`,
    following_url: `${api}/following{/other_user}`,
    gists_url: `${api}/gists{/gist_id}`,
    starred_url: `${api}/starred{/owner}{/repo}`,
    subscriptions_url: `${api}/subscriptions`,
    organizations_url: `${api}/orgs`,
    repos_url: `${api}/repos`,
    events_url: `${api}/events{/privacy}`,
    received_events_url: `${api}/received_events`,
    type: 'User',
    site_admin: false,
  };
}

function isGitHubComHost(host: string | undefined): boolean {
  return /^api\.github\.com(?::443)?$/i.test(host ?? '');
}

/**
 * A forward proxy for tests that plays the internet for github.com: CONNECT api.github.com:443 is
 * tunnelled to the emulator (whose certificate names api.github.com), anything else is refused.
 */
export function tunnelGitHub(emulatorUrl: string): Promise<Tunnel> {
  return tunnelHosts([{ host: /^api\.github\.com:443$/i, to: () => emulatorUrl }]);
}
