import assert from 'node:assert/strict';
import * as http from 'node:http';
import type { AddressInfo } from 'node:net';
import { test } from 'node:test';
import {
  createDefaultHttpClient,
  createHttpHeaders,
  createPipelineFromOptions,
  createPipelineRequest,
  type HttpClient,
  type PipelineRequest,
} from '@azure/core-rest-pipeline';
import { mlClient, type ArmContext } from '../../tasks/common/arm';
import { REQUEST_TIMEOUT_MS, restErrorOf, timeoutPolicy, USER_AGENT } from '../../tasks/common/http';

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
    await assert.rejects(
      pipeline.sendRequest(
        createDefaultHttpClient(),
        createPipelineRequest({ url, allowInsecureConnection: true, abortSignal: ac.signal }),
      ),
      (e: Error) => e.name === 'AbortError',
    );
  } finally {
    server.closeAllConnections();
    server.close();
  }
});

test('an error response without an error body names the request, for full URLs and ARM paths alike', () => {
  const res = { status: 502, headers: {}, text: '<html>Bad Gateway</html>' };
  const fromPath = restErrorOf(
    'PUT',
    '/subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/jobs/j?api-version=2024-04-01',
    res,
  );
  assert.equal(
    fromPath.message,
    'PUT /subscriptions/s/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/w/jobs/j returned 502',
  );
  assert.equal(fromPath.statusCode, 502);
  assert.equal(fromPath.response?.bodyAsText, '<html>Bad Gateway</html>');
  const fromUrl = restErrorOf('GET', 'https://management.azure.com/subscriptions/s?api-version=1', res);
  assert.equal(fromUrl.message, 'GET /subscriptions/s returned 502');
});

test('the Azure ML SDK client sends through our pipeline: trace, timeout and retry, proxy, token, allowed hosts', async () => {
  const sent: PipelineRequest[] = [];
  // A first try that stalls (the timeout's abort), then the workspace.
  const http: HttpClient = {
    async sendRequest(request) {
      sent.push(request);
      if (sent.length === 1) throw Object.assign(new Error('The operation was aborted.'), { name: 'AbortError' });
      const body = {
        id: '/subscriptions/sub/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws',
        name: 'ws',
        location: 'westeurope',
        properties: { publicNetworkAccess: 'Disabled' },
      };
      return {
        request,
        status: 200,
        headers: createHttpHeaders({ 'content-type': 'application/json', 'x-ms-correlation-request-id': 'corr-1' }),
        bodyAsText: JSON.stringify(body),
      };
    },
  };
  const lines: string[] = [];
  const ctx: ArmContext = {
    endpoint: {
      name: 'conn',
      tenantId: 't',
      subscriptionId: 'sub',
      armUrl: 'https://arm.example',
      authorityHost: 'https://login.example',
      armScope: 'https://arm.example/.default',
      environment: 'AzureCloud',
    },
    credential: { getToken: async () => ({ token: 'tok', expiresOnTimestamp: Date.now() + 3_600_000 }) },
    proxy: () => ({ proxyUrl: 'http://proxy.corp.example:3128' }),
    trace: (l) => lines.push(l.replace(/\(\d+ ms\)/, '(n ms)')),
  };
  const client = mlClient(ctx, http);
  const ws = await client.workspaces.get('rg', 'ws');
  assert.equal(ws.publicNetworkAccess, 'Disabled');
  assert.equal(sent.length, 2, 'the stalled try was retried');
  const path = '/subscriptions/sub/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/ws';
  assert.deepEqual(lines, [
    `HTTP GET arm.example${path} -> AbortError (n ms)`,
    `HTTP GET arm.example${path} -> 200 (n ms) x-ms-correlation-request-id: corr-1`,
  ]);
  const last = sent[1]!;
  assert.equal(last.timeout, REQUEST_TIMEOUT_MS);
  assert.equal(last.headers.get('authorization'), 'Bearer tok');
  assert.match(last.headers.get('user-agent') ?? '', new RegExp(`^${USER_AGENT} `));
  assert.equal(String((last.agent as { proxy?: URL } | undefined)?.proxy), 'http://proxy.corp.example:3128/', "the agent's proxy");
  // A host other than the connection's ARM origin (say, an operation's Location) is refused unsent.
  await assert.rejects(
    client.sendRequest(createPipelineRequest({ url: 'https://elsewhere.example/operationResults/x' })),
    /Refusing to call elsewhere\.example with the service connection's credentials/,
  );
  assert.equal(sent.length, 2);
});
