/** The ARM long-running-operation follower the rollout relies on (tasks/common/lro.ts), against a scripted ARM. */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { ArmClient } from '../../tasks/common/arm';
import { originRule } from '../../tasks/common/hosts';
import type { RawResponse } from '../../tasks/common/http';
import { armOperation, OperationAbandoned, OperationFailed } from '../../tasks/common/lro';

const res = (status: number, body?: unknown, headers: Record<string, string> = {}): RawResponse => ({
  status,
  headers,
  text: body === undefined ? '' : JSON.stringify(body),
});

/** An ArmClient whose first answer and polls are scripted; records the waits asked for. */
function fakeArm(initial: RawResponse, polls: RawResponse[], resource: RawResponse[] = []) {
  const seen: string[] = [];
  const arm = {
    send: async (method: string, path: string) => {
      seen.push(`${method} ${path}`);
      return method === 'GET' ? resource.shift()! : initial;
    },
    poll: async (url: string) => {
      seen.push(`POLL ${url}`);
      return polls.shift()!;
    },
    hosts: originRule('https://arm'),
  } as unknown as ArmClient;
  const waits: number[] = [];
  const sleep = async (ms: number) => {
    waits.push(ms);
  };
  return { arm, seen, waits, sleep };
}

const ASYNC = 'https://arm/providers/x/mfeOperationsStatus/1';
const LOCATION = 'https://arm/providers/x/mfeOperationResults/1';

describe('ARM long-running operations', () => {
  test('Azure-AsyncOperation: polled until Succeeded, honouring Retry-After, reporting each status', async () => {
    const f = fakeArm(
      res(
        201,
        { properties: { provisioningState: 'Creating' } },
        { 'azure-asyncoperation': ASYNC, location: LOCATION, 'retry-after': '2' },
      ),
      [res(200, { status: 'InProgress' }, { 'retry-after': '0' }), res(200, { status: 'Succeeded' })],
    );
    const statuses: string[] = [];
    const out = await armOperation(f.arm, 'PUT', '/e', 'v', {}, { sleep: f.sleep, onPoll: (s) => statuses.push(s), minIntervalMs: 700 });
    assert.equal(out.longRunning, true);
    assert.deepEqual(statuses, ['InProgress', 'Succeeded']);
    assert.deepEqual(f.seen, ['PUT /e', `POLL ${ASYNC}`, `POLL ${ASYNC}`]);
    assert.deepEqual(f.waits, [2000, 100], 'Retry-After in seconds, with a 100 ms floor');
  });

  test('a Failed operation throws its code and message', async () => {
    const f = fakeArm(res(201, {}, { 'azure-asyncoperation': ASYNC }), [
      res(200, { status: 'Failed', error: { code: 'ResourceNotReady', message: 'probe failed' } }),
    ]);
    await assert.rejects(
      armOperation(f.arm, 'PUT', '/d', 'v', {}, { sleep: f.sleep }),
      (e: unknown) => e instanceof OperationFailed && e.code === 'ResourceNotReady' && e.message === 'probe failed',
    );
  });

  test('Location only: 202 until done; without Retry-After the interval grows', async () => {
    const f = fakeArm(res(202, undefined, { location: LOCATION }), [res(202), res(202), res(204)]);
    const out = await armOperation(f.arm, 'DELETE', '/d', 'v', undefined, { sleep: f.sleep, minIntervalMs: 100, maxIntervalMs: 200 });
    assert.equal(out.final?.status, 204);
    assert.deepEqual(f.waits, [100, 150, 200]);
  });

  test('Location answering an error fails the operation', async () => {
    const f = fakeArm(res(202, undefined, { location: LOCATION }), [res(400, { error: { code: 'UserError', message: 'nope' } })]);
    await assert.rejects(
      armOperation(f.arm, 'DELETE', '/d', 'v', undefined, { sleep: f.sleep }),
      (e: unknown) => e instanceof OperationFailed && e.code === 'UserError',
    );
  });

  test("a 201 without headers is followed on the resource's provisioning state", async () => {
    const f = fakeArm(
      res(201, { properties: { provisioningState: 'Creating' } }),
      [],
      [res(200, { properties: { provisioningState: 'Creating' } }), res(200, { properties: { provisioningState: 'Succeeded' } })],
    );
    const out = await armOperation(f.arm, 'PUT', '/e', 'v', {}, { sleep: f.sleep });
    assert.equal(out.longRunning, true);
    assert.deepEqual(f.seen, ['PUT /e', 'GET /e', 'GET /e']);
  });

  test("a synchronous answer is returned at once; an error answer throws with the service's code", async () => {
    const ok = fakeArm(res(200, { properties: { provisioningState: 'Succeeded' } }), []);
    assert.equal((await armOperation(ok.arm, 'PUT', '/e', 'v', {}, { sleep: ok.sleep })).longRunning, false);
    const bad = fakeArm(res(409, { error: { code: 'Conflict', message: 'busy' } }), []);
    await assert.rejects(
      armOperation(bad.arm, 'PUT', '/e', 'v', {}),
      (e: unknown) => (e as { statusCode?: number; code?: string }).statusCode === 409 && (e as { code?: string }).code === 'Conflict',
    );
  });

  test('a cancelled run abandons the wait at once; a timeout abandons it too', async () => {
    const ac = new AbortController();
    const f = fakeArm(res(201, {}, { 'azure-asyncoperation': ASYNC }), [res(200, { status: 'InProgress' })]);
    const sleep = async () => ac.abort();
    await assert.rejects(
      armOperation(f.arm, 'PUT', '/e', 'v', {}, { signal: ac.signal, sleep }),
      (e: unknown) => e instanceof OperationAbandoned && e.reason === 'cancelled',
    );
    const g = fakeArm(res(201, {}, { 'azure-asyncoperation': ASYNC, 'retry-after': '60' }), []);
    await assert.rejects(
      armOperation(g.arm, 'PUT', '/e', 'v', {}, { sleep: g.sleep, timeoutMs: 1000 }),
      (e: unknown) => e instanceof OperationAbandoned && e.reason === 'timeout',
    );
  });
  test('an operation URL on another host is not followed: abandoned at once as foreignHost, nothing polled', async () => {
    const f = fakeArm(res(201, {}, { 'azure-asyncoperation': 'https://elsewhere.example/ops/1' }), []);
    await assert.rejects(
      armOperation(f.arm, 'PUT', '/e', 'v', {}, { sleep: f.sleep }),
      (e: unknown) =>
        e instanceof OperationAbandoned && e.reason === 'foreignHost' && /Refusing to call elsewhere\.example/.test(e.message),
    );
    assert.deepEqual(f.seen, ['PUT /e']);
  });
});
