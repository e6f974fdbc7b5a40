import assert from 'node:assert/strict';
import { test } from 'node:test';
import { CollectionBearer } from '../../tasks/common/devops';
import { dataPlaneRule, originRule } from '../../tasks/common/hosts';

const allows = (rule: ReturnType<typeof dataPlaneRule>, url: string) => rule.allows(new URL(url));

test('the data plane of a public-cloud workspace: its region on Azure ML domains, private-link names included, nothing else', () => {
  const rule = dataPlaneRule('https://management.azure.com', 'East US');
  for (const ok of [
    'https://eastus.api.azureml.ms/discovery',
    'https://eastus.experiments.azureml.net/history/v1.0/x',
    'https://5a1b2c3d-0000-4000-8000-00000000a001.workspace.eastus.api.azureml.ms/mlflow/v1.0/x',
  ])
    assert.ok(allows(rule, ok), ok);
  for (const bad of [
    'https://westus.api.azureml.ms/discovery', // another region
    'http://eastus.api.azureml.ms/discovery', // not https
    'https://eastus.api.azureml.ms:8443/discovery', // another port
    'https://eastus.api.azureml.ms.evil.example/discovery', // a suffix trick
    'https://evil.example/eastus.api.azureml.ms',
    'https://eastus.api.ml.azure.us/discovery', // another cloud's domain
    'https://management.azure.com/discovery',
  ])
    assert.ok(!allows(rule, bad), bad);
  assert.match(rule.describe, /eastus\.api\.azureml\.ms, eastus\.experiments\.azureml\.net/);
});

test('sovereign clouds use their own domains; an unknown ARM URL allows only itself', () => {
  assert.ok(
    allows(dataPlaneRule('https://management.usgovcloudapi.net', 'usgovvirginia'), 'https://usgovvirginia.api.ml.azure.us/discovery'),
  );
  assert.ok(
    allows(dataPlaneRule('https://management.chinacloudapi.cn', 'chinaeast2'), 'https://chinaeast2.experiments.ml.azure.cn/history'),
  );
  assert.ok(!allows(dataPlaneRule('https://management.chinacloudapi.cn', 'chinaeast2'), 'https://chinaeast2.api.azureml.ms/history'));
  const stack = dataPlaneRule('https://management.local.azurestack.external', 'local');
  assert.ok(allows(stack, 'https://management.local.azurestack.external/discovery'));
  assert.ok(!allows(stack, 'https://local.api.azureml.ms/discovery'));
  assert.ok(!originRule('https://127.0.0.1:8443').allows(new URL('https://127.0.0.1:9443/x')));
});

test('the job token is set only for the collection host and port; another host is refused before any header is set', () => {
  const bearer = new CollectionBearer('job-token', 'https://dev.azure.com/contoso/');
  const same: { host: string; port: number; headers: Record<string, string> } = { host: 'dev.azure.com', port: 443, headers: {} };
  bearer.prepareRequest(same);
  assert.equal(same.headers.Authorization, 'Bearer job-token');
  for (const other of [
    { host: 'vsrm.dev.azure.com', port: 443 },
    { host: 'dev.azure.com', port: 8443 },
    { host: 'evil.example', port: 443 },
  ]) {
    const o = { ...other, headers: {} as Record<string, string> };
    assert.throws(() => bearer.prepareRequest(o), /Refusing to send the job's access token to/);
    assert.equal(o.headers.Authorization, undefined);
  }
});
