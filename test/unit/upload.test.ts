import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { test } from 'node:test';
import { UserError } from '../../tasks/common/errors';
import { snapshotCode } from '../../tasks/common/upload';
import { scratch } from '../fixtures/pipeline/helpers';

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
  assert.deepEqual(snapshotCode(path.join(r, 'src'), r, 'code').files.map((f) => f.rel).sort(), ['shared/lib.py', 'train.py']);
  fs.symlinkSync('/etc', path.join(r, 'src', 'etc'));
  assert.throws(() => snapshotCode(path.join(r, 'src'), r, 'jobs.train.code'), (e: unknown) => e instanceof UserError && /jobs\.train\.code: 'etc' is a symbolic link to \/etc, outside the repository/.test(e.message));
});
