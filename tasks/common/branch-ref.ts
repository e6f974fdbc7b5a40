/**
 * Branch-ref shape checks shared by the gate and the input parsing. No minimatch here: this module
 * is loaded by every task's index.js (through inputs.ts), which must stay small and fast to start.
 */
import { UserError } from './errors';
import { msg } from './messages';

/** refs/heads/<printable ASCII>, with no '..', no '//' and no trailing slash. */
export function refShaped(ref: string): boolean {
  return /^refs\/heads\/[\x21-\x7e]+$/.test(ref) && !ref.includes('..') && !ref.endsWith('/') && !ref.includes('//');
}

/** Parse "refs/heads/main, refs/heads/release/*" into patterns; refuse what can never match a ref. */
export function parseProtectedBranches(text: string): string[] {
  const list = text
    .split(/[,\n]/)
    .map((s) => s.trim())
    .filter(Boolean);
  if (list.length === 0) throw new UserError(msg('ProtectedBranchesEmpty', 'protectedBranches'), 'protectedBranches');
  for (const p of list) {
    if (!refShaped(p)) {
      throw new UserError(msg('NotABranchRef', 'protectedBranches', p), 'protectedBranches');
    }
  }
  return list;
}
