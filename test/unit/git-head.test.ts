import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { checkedOutCommit } from '../../tasks/common/git-head';

const dir = () => fs.mkdtempSync(path.join(os.tmpdir(), 'head-'));
const write = (p: string, s: string) => {
  fs.mkdirSync(path.dirname(p), { recursive: true });
  fs.writeFileSync(p, s);
};

test('reads a detached HEAD, a loose ref, a packed ref and a .git file', () => {
  const a = dir();
  write(path.join(a, '.git', 'HEAD'), `${'a'.repeat(40)}\n`);
  assert.equal(checkedOutCommit(a), 'a'.repeat(40));
  const b = dir();
  write(path.join(b, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  write(path.join(b, '.git', 'refs', 'heads', 'main'), `${'b'.repeat(40)}\n`);
  assert.equal(checkedOutCommit(b), 'b'.repeat(40));
  const c = dir();
  write(path.join(c, '.git', 'HEAD'), 'ref: refs/heads/main\n');
  write(path.join(c, '.git', 'packed-refs'), `# pack-refs with: peeled\n${'c'.repeat(40)} refs/heads/main\n`);
  assert.equal(checkedOutCommit(c), 'c'.repeat(40));
  const d = dir();
  write(path.join(d, '.git'), `gitdir: ${path.join(a, '.git')}\n`);
  assert.equal(checkedOutCommit(d), 'a'.repeat(40));
  assert.equal(checkedOutCommit(dir()), undefined);
});
