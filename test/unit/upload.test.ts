import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../tasks/common/errors';
import { snapshotCode } from '../../tasks/common/upload';
import { scratch } from '../../testkit/pipeline-sample';

test('the hash depends on paths and contents only, and is stable', () => {
  const a = scratch({ 'src/train.py': 'print(1)', 'src/util/x.py': 'x = 1' });
  const b = scratch({ 'src/util/x.py': 'x = 1', 'src/train.py': 'print(1)' });
  const c = scratch({ 'src/train.py': 'print(2)', 'src/util/x.py': 'x = 1' });
  const h = (r: string) => snapshotCode(path.join(r, 'src'), r, 'code').hash;
  assert.equal(h(a), h(b));
  assert.notEqual(h(a), h(c));
});

test('.amlignore wins over .gitignore, nested ignore files apply to their folder, .git is never uploaded', () => {
  const r = scratch({
    'src/.gitignore': '*.py\n',
    'src/.amlignore': 'data/\n*.log\n',
    'src/train.py': 'x',
    'src/run.log': 'x',
    'src/data/big.csv': 'x',
    'src/pkg/.gitignore': 'secret.txt\n',
    'src/pkg/secret.txt': 'x',
    'src/pkg/mod.py': 'x',
    'src/.git/config': 'x',
    'src/__pycache__/a.pyc': 'x',
  });
  const snap = snapshotCode(path.join(r, 'src'), r, 'code');
  assert.deepEqual(snap.files.map((f) => f.rel).sort(), ['.gitignore', 'pkg/.gitignore', 'pkg/mod.py', 'train.py']);
});

test('a symlink that leaves the repository is refused, one inside it is followed', () => {
  const r = scratch({ 'src/train.py': 'x', 'shared/lib.py': 'y' });
  fs.symlinkSync(path.join(r, 'shared'), path.join(r, 'src', 'shared'));
  assert.deepEqual(
    snapshotCode(path.join(r, 'src'), r, 'code')
      .files.map((f) => f.rel)
      .sort(),
    ['shared/lib.py', 'train.py'],
  );
  fs.symlinkSync('/etc', path.join(r, 'src', 'etc'));
  assert.throws(
    () => snapshotCode(path.join(r, 'src'), r, 'jobs.train.code'),
    (e: unknown) =>
      e instanceof UserError && /jobs\.train\.code: 'etc' is a symbolic link to \/etc, outside the repository/.test(e.message),
  );
});

test('a link loop and a dangling link are refused by name, unless ignored; a folder named ..data is inside', () => {
  const r = scratch({ 'src/train.py': 'x', 'src/..data/rows.csv': 'a,b' });
  fs.symlinkSync('loop-b', path.join(r, 'src', 'loop-a'));
  fs.symlinkSync('loop-a', path.join(r, 'src', 'loop-b'));
  assert.throws(
    () => snapshotCode(path.join(r, 'src'), r, 'jobs.train.code'),
    (e: unknown) => e instanceof UserError && /jobs\.train\.code: 'loop-a' is a symbolic link that leads back to itself/.test(e.message),
  );
  fs.writeFileSync(path.join(r, 'src', '.amlignore'), 'loop-*\n');
  assert.deepEqual(
    snapshotCode(path.join(r, 'src'), r, 'code')
      .files.map((f) => f.rel)
      .sort(),
    ['..data/rows.csv', 'train.py'],
  );
  fs.symlinkSync('gone.py', path.join(r, 'src', 'dangling.py'));
  assert.throws(
    () => snapshotCode(path.join(r, 'src'), r, 'code'),
    (e: unknown) => e instanceof UserError && /'dangling\.py' is a symbolic link to 'gone\.py', which does not exist/.test(e.message),
  );
});

test("the content hash (the SDK's hash_sha256, version 202208) reads files in chunks: a file larger than one chunk hashes as its whole bytes", async () => {
  const { createHash } = await import('node:crypto');
  const big = Buffer.alloc(3 * (1 << 20) + 17, 7);
  const r = scratch({ 'src/a.bin': '' });
  fs.writeFileSync(path.join(r, 'src', 'a.bin'), big);
  // _get_file_list_content_hash: the file count, '#<name>#<size>' per file, then every file's bytes.
  const expected = createHash('sha256').update(`1#a.bin#${big.length}`).update(big).digest('hex');
  assert.equal(snapshotCode(path.join(r, 'src'), r, 'code').hash, expected);
});
