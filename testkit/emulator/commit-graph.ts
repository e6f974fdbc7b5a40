// A Git repository's commits and branches as a graph: each commit has its parents (two for a merge
// commit), each branch points at a commit. Azure Repos and GitHub in the emulator answer refs,
// merge bases, comparisons and commits from it, so a merge commit, a squash and a branch created
// at some commit look to the gate as they do on the real services.

export class CommitGraph {
  private readonly parentsOf = new Map<string, string[]>();
  private readonly heads = new Map<string, string>();

  has(commit: string): boolean {
    return this.parentsOf.has(commit.toLowerCase());
  }

  parents(commit: string): string[] | undefined {
    return this.parentsOf.get(commit.toLowerCase());
  }

  head(branch: string): string | undefined {
    return this.heads.get(branch);
  }

  branches(): Array<[string, string]> {
    return [...this.heads.entries()];
  }

  /** Adds a commit with its parents (which must exist); a commit is immutable once added. */
  add(commit: string, parents: string[]): string {
    const sha = commit.toLowerCase();
    const ps = parents.map((p) => p.toLowerCase());
    for (const p of ps) if (!this.parentsOf.has(p)) throw new Error(`parent ${p} of ${sha} is not in the repository`);
    const known = this.parentsOf.get(sha);
    if (known && known.join() !== ps.join()) throw new Error(`commit ${sha} already exists with other parents`);
    this.parentsOf.set(sha, ps);
    return sha;
  }

  /** Points a branch at a commit (creating or force-moving it). */
  setHead(branch: string, commit: string): void {
    if (!this.has(commit)) throw new Error(`commit ${commit} is not in the repository`);
    this.heads.set(branch, commit.toLowerCase());
  }

  /**
   * Commits one after another on a branch: the first one's parent is the branch's head, or `from`
   * for a new branch (no parent for a new branch without `from`). Returns the new head.
   */
  push(branch: string, commits: string[], from?: string): string {
    let parent = this.heads.get(branch) ?? from?.toLowerCase();
    if (parent === undefined && commits.length === 0) throw new Error(`new branch ${branch} needs a commit or a start point`);
    for (const c of commits) parent = this.add(c, parent ? [parent] : []);
    this.setHead(branch, parent!);
    return parent!;
  }

  /** A commit and everything reachable from it (empty when unknown). */
  ancestors(commit: string): Set<string> {
    const seen = new Set<string>();
    const todo = this.has(commit) ? [commit.toLowerCase()] : [];
    while (todo.length) {
      const c = todo.pop()!;
      if (seen.has(c)) continue;
      seen.add(c);
      todo.push(...(this.parentsOf.get(c) ?? []));
    }
    return seen;
  }

  isAncestor(commit: string, of: string): boolean {
    return this.ancestors(of).has(commit.toLowerCase());
  }

  /** The best common ancestors of two commits, as `git merge-base --all` gives them. */
  mergeBases(a: string, b: string): string[] {
    const inB = this.ancestors(b);
    const common = [...this.ancestors(a)].filter((c) => inB.has(c));
    return common.filter((c) => !common.some((o) => o !== c && this.isAncestor(c, o)));
  }

  /** Commits reachable from `head` but not from `base` (`git rev-list base..head`). */
  between(base: string, head: string): string[] {
    const exclude = this.ancestors(base);
    return [...this.ancestors(head)].filter((c) => !exclude.has(c));
  }
}
