/** scripts/test.mjs: filters narrow, --test-name-pattern reaches node, a pattern that selects nothing fails. */
import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import * as path from 'node:path';
import { test } from 'node:test';
import { ROOT } from '../../testkit/harness';

// Without NODE_TEST_CONTEXT the nested runner runs its files instead of reporting to this one.
const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'NODE_TEST_CONTEXT'));
const run = (...args: string[]) =>
  spawnSync(process.execPath, [path.join(ROOT, 'scripts', 'test.mjs'), ...args], { cwd: ROOT, encoding: 'utf8', env });

test('path filters narrow: a file must contain every substring', () => {
  const both = run('--list', 'agent', 'gate');
  assert.equal(both.status, 0, both.stderr);
  assert.deepEqual(both.stdout.trim().split('\n'), ['test/agent/gate-github.test.ts', 'test/agent/gate.test.ts']);
  const agent = run('--list', 'agent').stdout.trim().split('\n');
  assert.ok(agent.length > 2 && agent.every((f) => f.startsWith('test/agent/')), agent.join(', '));
});

test('filters that no file matches all of, and unknown options, fail with a message', () => {
  const none = run('--list', 'agent', 'sink');
  assert.equal(none.status, 1);
  assert.match(none.stderr, /no test file's path contains all of: agent, sink/);
  const bad = run('--bogus');
  assert.equal(bad.status, 2);
  assert.match(bad.stderr, /unknown option --bogus/);
});

test('--test-name-pattern runs only the matching tests, and fails when it matches none', () => {
  const one = run('unit/sink.test', '--test-name-pattern', '^neutralize keeps ordinary text');
  assert.equal(one.status, 0, one.stdout + one.stderr);
  assert.match(one.stdout, /^# pass 1$/m);
  assert.match(one.stdout, /^# skipped [1-9]\d*$/m);
  const none = run('unit/sink.test', '--test-name-pattern=no test is called this');
  assert.equal(none.status, 1, none.stdout + none.stderr);
  assert.match(none.stderr, /no test name matches no test is called this in the selected files/);
});
