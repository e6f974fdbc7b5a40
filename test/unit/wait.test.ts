import assert from 'node:assert/strict';
import { test } from 'node:test';
import { nextInterval, waitForJob, type JobSnapshot, type WaitDeps } from '../../tasks/AmlPipelineJob/wait';

/** A fake clock: sleeping advances time instantly. */
function fake(script: (t: number) => JobSnapshot) {
  let now = 0;
  const lines: string[] = [];
  let polls = 0;
  const deps: WaitDeps = {
    poll: async () => {
      polls++;
      return script(now);
    },
    now: () => now,
    sleep: async (ms) => {
      now += ms;
    },
    log: (l) => lines.push(l),
    progress: () => undefined,
  };
  return { deps, lines, polls: () => polls, now: () => now };
}

test('an hour of waiting costs fewer than 150 polls, and the end is seen within one interval', async () => {
  const endAt = 3_600_000;
  const f = fake((t) => ({ status: t >= endAt ? 'Completed' : 'Running', steps: [] }));
  const r = await waitForJob(f.deps, { timeoutMs: 0, signal: new AbortController().signal });
  assert.equal(r.kind, 'terminal');
  assert.ok(f.polls() < 150, `${f.polls()} polls`);
  assert.ok(f.now() - endAt <= 30_000, `seen ${f.now() - endAt} ms late`);
});

test('prints a line per change of the job or a step, and a heartbeat while quiet', async () => {
  const f = fake((t) => ({
    status: t < 5_000 ? 'Queued' : t < 700_000 ? 'Running' : 'Failed',
    steps: [
      { name: 'train', runId: 'r1', status: t < 300_000 ? 'Running' : 'Completed' },
      {
        name: 'eval',
        runId: 'r2',
        status: t < 300_000 ? 'NotStarted' : t < 700_000 ? 'Running' : 'Failed',
        ...(t >= 700_000 ? { error: 'UserError: boom' } : {}),
      },
    ],
  }));
  const r = await waitForJob(f.deps, { timeoutMs: 0, signal: new AbortController().signal });
  assert.equal(r.kind, 'terminal');
  assert.equal(r.snapshot.status, 'Failed');
  assert.ok(f.lines.some((l) => /step eval: Failed - UserError: boom/.test(l)));
  assert.ok(
    f.lines.some((l) => /^Job still Running after/.test(l)),
    'heartbeat while nothing changed',
  );
  assert.equal(f.lines.filter((l) => /^Job status:/.test(l)).length, 3);
});

test('stops at the timeout and when cancelled', async () => {
  const f = fake(() => ({ status: 'Running', steps: [] }));
  const r = await waitForJob(f.deps, { timeoutMs: 60_000, signal: new AbortController().signal });
  assert.equal(r.kind, 'timeout');
  assert.equal(f.now(), 60_000);
  const ac = new AbortController();
  const g = fake(() => {
    ac.abort();
    return { status: 'Running', steps: [] };
  });
  assert.equal((await waitForJob(g.deps, { timeoutMs: 0, signal: ac.signal })).kind, 'cancelled');
});

test('the interval grows while quiet and resets on change', () => {
  assert.equal(nextInterval(2000, false, 2000, 30000), 3000);
  assert.equal(nextInterval(28000, false, 2000, 30000), 30000);
  assert.equal(nextInterval(30000, true, 2000, 30000), 2000);
});
