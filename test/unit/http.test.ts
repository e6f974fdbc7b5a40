import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import { createDefaultHttpClient, createPipelineFromOptions, createPipelineRequest } from '@azure/core-rest-pipeline';
import { restErrorOf, timeoutPolicy } from '../../tasks/common/http';

test('a stalled request is abandoned after the timeout and retried', async () => {
  let calls = 0;
  const server = http.createServer((_req, res) => {
    calls++;
    if (calls === 1) return; // never answers
    res.end('{"ok":true}');
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const pipeline = createPipelineFromOptions({ retryOptions: { maxRetries: 2, retryDelayInMs: 10 } });
    pipeline.addPolicy(timeoutPolicy(200), { afterPhase: 'Retry' });
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
    const res = await pipeline.sendRequest(createDefaultHttpClient(), createPipelineRequest({ url, allowInsecureConnection: true }));
    assert.equal(res.status, 200);
    assert.equal(calls, 2);
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test("the caller's own cancellation is not retried", async () => {
  const server = http.createServer(() => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  try {
    const pipeline = createPipelineFromOptions({ retryOptions: { maxRetries: 3, retryDelayInMs: 10 } });
    pipeline.addPolicy(timeoutPolicy(5_000), { afterPhase: 'Retry' });
    const ac = new AbortController();
    setTimeout(() => ac.abort(), 100);
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/x`;
    await assert.rejects(pipeline.sendRequest(createDefaultHttpClient(), createPipelineRequest({ url, allowInsecureConnection: true, abortSignal: ac.signal })), (e: Error) => e.name === 'AbortError');
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('an error response without an error body names the request, for full URLs and ARM paths alike', () => {
  const res = { status: 502, headers: {}, text: '<html>Bad Gateway</html>' };
  const fromPath = restErrorOf('PUT', '/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/jobs/j?api-version=2024-04-01', res);
  assert.equal(fromPath.message, 'PUT /subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/jobs/j returned 502');
  assert.equal(fromPath.statusCode, 502);
  assert.equal(fromPath.response?.bodyAsText, '<html>Bad Gateway</html>');
  const fromUrl = restErrorOf('GET', 'https://management.azure.com/subscriptions/s?api-version=1', res);
  assert.equal(fromUrl.message, 'GET /subscriptions/s returned 502');
});
