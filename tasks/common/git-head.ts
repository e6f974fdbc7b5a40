/**
 * The commit actually checked out in the sources folder, read from .git without the git
 * binary. The agent's checkout uses the server's source version, not pipeline variables, so
 * comparing it with Build.SourceVersion catches a queue-time override of that variable.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';

function gitDir(dir: string): string | undefined {
  const dotGit = path.join(dir, '.git');
  if (!fs.existsSync(dotGit)) return undefined;
  if (fs.statSync(dotGit).isDirectory()) return dotGit;
  // Worktrees and submodules: ".git" is a file "gitdir: <path>".
  const m = /^gitdir:\s*(.+)\s*$/m.exec(fs.readFileSync(dotGit, 'utf8'));
  return m ? path.resolve(dir, m[1]!) : undefined;
}

function resolveRef(dir: string, ref: string): string | undefined {
  const loose = path.join(dir, ref);
  if (fs.existsSync(loose)) return fs.readFileSync(loose, 'utf8').trim();
  // A linked worktree keeps shared refs in its common dir.
  const common = path.join(dir, 'commondir');
  const base = fs.existsSync(common) ? path.resolve(dir, fs.readFileSync(common, 'utf8').trim()) : dir;
  if (base !== dir && fs.existsSync(path.join(base, ref))) return fs.readFileSync(path.join(base, ref), 'utf8').trim();
  const packed = path.join(base, 'packed-refs');
  if (!fs.existsSync(packed)) return undefined;
  for (const line of fs.readFileSync(packed, 'utf8').split(/\r?\n/)) {
    const [sha, name] = line.split(' ');
    if (name === ref && sha && /^[0-9a-f]{40}$/i.test(sha)) return sha;
  }
  return undefined;
}

/** The 40-hex commit of HEAD in the first of `dirs` that holds a readable checkout, or undefined. */
export function checkedOutCommit(...dirs: string[]): string | undefined {
  for (const dir of dirs) {
    const sha = headOf(dir);
    if (sha) return sha;
  }
  return undefined;
}

function headOf(dir: string): string | undefined {
  try {
    const g = gitDir(dir);
    if (!g) return undefined;
    const head = fs.readFileSync(path.join(g, 'HEAD'), 'utf8').trim();
    const sha = head.startsWith('ref:') ? resolveRef(g, head.slice(4).trim()) : head;
    return sha && /^[0-9a-f]{40}$/i.test(sha) ? sha.toLowerCase() : undefined;
  } catch {
    return undefined;
  }
}
