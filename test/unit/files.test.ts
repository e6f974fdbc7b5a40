import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { test } from 'node:test';
import { confine, excerpt, isInside, PathRefused, sourcesRootOf } from '../../tasks/common/files';

function repo(): string {
  const r = fs.realpathSync(fs.mkdtempSync(path.join(os.tmpdir(), 'confine-')));
  fs.mkdirSync(path.join(r, 'src', '..data'), { recursive: true });
  fs.writeFileSync(path.join(r, 'src', 'job.yml'), 'x: 1');
  fs.writeFileSync(path.join(r, 'src', '..data', 'rows.csv'), 'a');
  return r;
}

const refusal = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    if (e instanceof PathRefused) return e.kind;
    throw e;
  }
  return 'accepted';
};

test('isInside: a folder named ..data is inside, ../data and a sibling with a common prefix are not', () => {
  assert.equal(isInside('/r', '/r'), true);
  assert.equal(isInside('/r', '/r/..data/x'), true);
  assert.equal(isInside('/r', '/data'), false);
  assert.equal(isInside('/r', '/r2/x'), false);
  assert.equal(isInside('/r/s', '/r'), false);
});

test('confine accepts paths inside the root, as written and through links that stay inside', () => {
  const r = repo();
  const root = sourcesRootOf(r);
  assert.equal(confine(root, r, 'src/job.yml').abs, path.join(r, 'src', 'job.yml'));
  assert.equal(confine(root, path.join(r, 'src'), '..data/rows.csv').real, path.join(r, 'src', '..data', 'rows.csv'));
  assert.equal(confine(root, r, path.join(r, 'src', 'job.yml')).abs, path.join(r, 'src', 'job.yml'));
  fs.symlinkSync(path.join(r, 'src', 'job.yml'), path.join(r, 'alias.yml'));
  assert.equal(confine(root, r, 'alias.yml').real, path.join(r, 'src', 'job.yml'));
});

test('confine refuses what leads out, what is missing and link loops, naming the kind', () => {
  const r = repo();
  const root = sourcesRootOf(r);
  assert.equal(
    refusal(() => confine(root, r, '../../etc/passwd')),
    'outside',
  );
  assert.equal(
    refusal(() => confine(root, r, '/proc/self/environ')),
    'outside',
  );
  assert.equal(
    refusal(() => confine(root, r, 'src/nope.yml')),
    'missing',
  );
  fs.symlinkSync('/etc/passwd', path.join(r, 'passwd.yml'));
  assert.equal(
    refusal(() => confine(root, r, 'passwd.yml')),
    'linksOutside',
  );
  fs.symlinkSync(path.join(r, 'b'), path.join(r, 'a'));
  fs.symlinkSync(path.join(r, 'a'), path.join(r, 'b'));
  assert.equal(
    refusal(() => confine(root, r, 'a')),
    'loop',
  );
  fs.symlinkSync(path.join(r, 'gone'), path.join(r, 'dangling'));
  assert.equal(
    refusal(() => confine(root, r, 'dangling')),
    'missing',
  );
});

test('excerpt quotes at most one short line', () => {
  assert.equal(excerpt('root:x:0:0:root:/root:/bin/bash\ndaemon:x:1:1'), 'root:x:0:0:root:/root:/bin/bash');
  assert.equal(excerpt('a'.repeat(100), 10), `${'a'.repeat(10)}…`);
});
