// The one waiting home (tasks/common/sleep.ts): polling until settled, retrying transient
// failures, and both stopping at once when the run is cancelled.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { abortableSleep, exponentialDelay, pollUntil, retry } from '../../tasks/common/sleep';

const recordSleeps = (slept: number[], onSleep?: () => void) => async (ms: number) => {
  slept.push(ms);
  onSleep?.();
};

test('pollUntil reads until settled, pausing with the backoff in between and telling each unsettled read', async () => {
  const states = ['Creating', 'Updating', 'Succeeded', 'Unreached'];
  const slept: number[] = [];
  const seen: string[] = [];
  let reads = 0;
  const r = await pollUntil(
    async () => states[reads++]!,
    (s) => s === 'Succeeded',
    { signal: new AbortController().signal, maxPolls: 10, onWait: (s) => seen.push(s), sleep: recordSleeps(slept) },
  );
  assert.deepEqual(r, { value: 'Succeeded', settled: true, cancelled: false });
  assert.equal(reads, 3);
  assert.deepEqual(seen, ['Creating', 'Updating']);
  assert.deepEqual(slept, [exponentialDelay(0), exponentialDelay(1)]);
  assert.deepEqual([0, 1, 2, 5, 9].map(exponentialDelay), [250, 500, 1000, 5000, 5000]);
});

test('pollUntil gives up after maxPolls reads with the last one, unsettled', async () => {
  let reads = 0;
  const r = await pollUntil(
    async () => ++reads,
    () => false,
    { signal: new AbortController().signal, maxPolls: 4, delayMs: () => 1, sleep: async () => undefined },
  );
  assert.deepEqual(r, { value: 4, settled: false, cancelled: false });
});

test('pollUntil stops at once when the run is cancelled during a pause, without another read', async () => {
  const ac = new AbortController();
  let reads = 0;
  const r = await pollUntil(
    async () => ++reads,
    () => false,
    { signal: ac.signal, maxPolls: 100, sleep: recordSleeps([], () => ac.abort()) },
  );
  assert.deepEqual(r, { value: 1, settled: false, cancelled: true });
  assert.equal(reads, 1);
});

test('retry tries again after each pause while the failure is transient, then throws the last failure as it came', async () => {
  const slept: number[] = [];
  let calls = 0;
  const ok = await retry(async () => (++calls < 3 ? Promise.reject(Object.assign(new Error('busy'), { statusCode: 503 })) : 'token'), {
    delaysMs: [10, 30],
    retryable: (e) => (e as { statusCode?: number }).statusCode === 503,
    sleep: recordSleeps(slept),
  });
  assert.equal(ok, 'token');
  assert.deepEqual(slept, [10, 30]);

  calls = 0;
  const failing = () =>
    retry(async () => Promise.reject(Object.assign(new Error(`busy ${++calls}`), { statusCode: 503 })), {
      delaysMs: [1, 1],
      retryable: () => true,
      sleep: async () => undefined,
    });
  await assert.rejects(failing, /busy 3/);

  calls = 0;
  await assert.rejects(
    () =>
      retry(async () => Promise.reject(Object.assign(new Error(`denied ${++calls}`), { statusCode: 403 })), {
        delaysMs: [1, 1],
        retryable: (e) => (e as { statusCode?: number }).statusCode !== 403,
        sleep: async () => undefined,
      }),
    /denied 1/,
  );
});

test('retry stops waiting when the run is cancelled, with the failure it had', async () => {
  const ac = new AbortController();
  let calls = 0;
  const started = Date.now();
  const pending = retry(async () => Promise.reject(new Error(`reset ${++calls}`)), {
    delaysMs: [60_000],
    retryable: () => true,
    signal: ac.signal,
  });
  setTimeout(() => ac.abort(), 20);
  await assert.rejects(pending, /reset 1/);
  assert.equal(calls, 1);
  assert.ok(Date.now() - started < 30_000, 'the 60 s pause was cut short');
});

test('abortableSleep resolves at once for an already cancelled run', async () => {
  const ac = new AbortController();
  ac.abort();
  await abortableSleep(60_000, ac.signal);
});
