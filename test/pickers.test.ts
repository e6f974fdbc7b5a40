/**
 * The classic-editor pickers: every dataSourceBinding of every task.json evaluated the way Azure
 * DevOps does (testkit/emulator/datasource.ts) against the emulated ARM, with the service
 * connection's token, lists paged through nextLink (the emulator pages at 2 items here).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, test } from 'node:test';
import {
  evaluateBinding,
  renderMustache,
  seedPickerWorld,
  type DataSourceBinding,
  type EndpointContext,
  type Fetch,
} from '../testkit/emulator/datasource';
import { startEmulator, type Emulator, type SeedResult } from '../testkit/emulator/index';
import { ROOT } from '../testkit/harness';
import { workspaceInputs } from '../testkit/world';

const TASKS = ['AmlPrivateLinkCheck', 'AmlPipelineJob', 'AmlModelRegister', 'AmlAksDeploy'];
const bindingsOf = (task: string): DataSourceBinding[] =>
  JSON.parse(fs.readFileSync(path.join(ROOT, 'tasks', task, 'task.json'), 'utf8')).dataSourceBindings ?? [];

let emu: Emulator;
let seed: SeedResult;
let endpoint: EndpointContext;
let fetch: Fetch;

before(async () => {
  emu = await startEmulator();
  seed = emu.seedDefault();
  ({ endpoint, fetch } = await seedPickerWorld(emu, seed));
});

after(async () => {
  await emu?.close();
});

async function pick(task: string, target: string, inputs: Record<string, string> = {}) {
  const binding = bindingsOf(task).find((b) => b.target === target);
  assert.ok(binding, `${task} has a binding for ${target}`);
  return evaluateBinding(binding, endpoint, inputs, fetch);
}

test('every task has pickers for its workspace inputs, and they are editable pick lists bound to the connection', () => {
  const expected: Record<string, string[]> = {
    AmlPrivateLinkCheck: ['resourceGroupName', 'workspaceName'],
    AmlPipelineJob: ['resourceGroupName', 'workspaceName'],
    AmlModelRegister: ['resourceGroupName', 'workspaceName', 'modelName'],
    AmlAksDeploy: ['resourceGroupName', 'workspaceName', 'endpointName', 'computeName', 'model'],
  };
  for (const t of TASKS) {
    const task = JSON.parse(fs.readFileSync(path.join(ROOT, 'tasks', t, 'task.json'), 'utf8'));
    assert.deepEqual(
      bindingsOf(t).map((b) => b.target),
      expected[t],
      t,
    );
    for (const b of bindingsOf(t)) {
      const input = task.inputs.find((i: { name: string }) => i.name === b.target);
      assert.equal(input.type, 'pickList', `${t}.${b.target}`);
      assert.equal(input.properties?.EditableOptions, 'True', `${t}.${b.target} accepts a typed value (YAML, variables)`);
      assert.equal(b.endpointId, '$(azureSubscription)');
      assert.match(
        b.endpointUrl,
        /^\{\{\{endpoint\.url\}\}\}subscriptions\/\{\{\{endpoint\.subscriptionId\}\}\}\//,
        'the URL comes from the connection, so sovereign clouds work',
      );
      assert.match(b.resultSelector ?? '', /^jsonpath:/);
    }
  }
});

test('resourceGroupName lists the resource groups holding a workspace the connection can read, across pages', async () => {
  const r = await pick('AmlPipelineJob', 'resourceGroupName');
  assert.deepEqual(r.values.map((v) => v.Value).sort(), ['rg-aml-dev', 'rg-aml-prod', 'rg-aml-test']);
  assert.deepEqual(r.values.map((v) => v.DisplayValue).sort(), ['rg-aml-dev', 'rg-aml-prod', 'rg-aml-test']);
  assert.equal(r.calls.length, 2, `two pages of two: ${r.calls.join(' | ')}`);
  assert.match(r.calls[1]!, /&\$skip=2$/);
});

test('workspaceName lists the workspaces of the chosen resource group', async () => {
  const prod = await pick('AmlPrivateLinkCheck', 'workspaceName', { resourceGroupName: seed.resourceGroup });
  assert.deepEqual(prod.values, [{ Value: 'mlw-prod', DisplayValue: 'mlw-prod (eastus)' }]);
  const dev = await pick('AmlModelRegister', 'workspaceName', { resourceGroupName: 'rg-aml-dev' });
  assert.deepEqual(dev.values, [{ Value: 'mlw-dev', DisplayValue: 'mlw-dev (westeurope)' }]);
});

test('computeName lists Kubernetes computes only, across pages', async () => {
  const r = await pick('AmlAksDeploy', 'computeName', workspaceInputs(seed));
  assert.deepEqual(r.values.map((v) => v.Value).sort(), ['aks-canary', 'aks-prod']);
  assert.equal(r.calls.length, 2, 'four computes in pages of two');
});

test('endpointName lists the Kubernetes online endpoints, not managed ones', async () => {
  const r = await pick('AmlAksDeploy', 'endpointName', workspaceInputs(seed));
  assert.deepEqual(r.values.map((v) => v.Value).sort(), ['taxi-fare-canary', 'taxi-fare-prod']);
});

test('modelName lists model containers with their latest version; the deploy task picks an exact version', async () => {
  const names = await pick('AmlModelRegister', 'modelName', workspaceInputs(seed));
  assert.deepEqual(
    [...names.values].sort((a, b) => a.Value.localeCompare(b.Value)),
    [
      { Value: 'churn-model', DisplayValue: 'churn-model (latest version 2)' },
      { Value: 'fraud-model', DisplayValue: 'fraud-model (latest version 1)' },
      { Value: 'taxi-fare-model', DisplayValue: 'taxi-fare-model (latest version 7)' },
    ],
  );
  assert.equal(names.calls.length, 2);
  const versions = await pick('AmlAksDeploy', 'model', workspaceInputs(seed));
  assert.deepEqual(versions.values.map((v) => v.Value).sort(), ['churn-model:2', 'fraud-model:1', 'taxi-fare-model:7']);
});

test('a binding fails loudly when the connection lacks access (the service shows the error, not an empty list)', async () => {
  await assert.rejects(pick('AmlPipelineJob', 'workspaceName', { resourceGroupName: 'rg-other-team' }), /answered 403/);
});

test('the emulated template dialect: sections, inverted sections, helpers', () => {
  const scopes = [
    { nextLink: 'https://x/y?api-version=1&$skip=abc%3D%3D', id: '/subscriptions/s/resourceGroups/RG1/providers/P/workspaces/w' },
  ];
  assert.equal(renderMustache('{{#nextLink}}{{{ #extractUrlQueryParameter $skip}}}{{/nextLink}}', scopes), 'abc%3D%3D');
  assert.equal(renderMustache('{{{ #extractResource id resourcegroups}}}', scopes), 'RG1');
  assert.equal(renderMustache('{{^missing}}none{{/missing}}{{#missing}}some{{/missing}}', scopes), 'none');
  assert.throws(() => renderMustache('{{{ #notAHelper x}}}', scopes), /unknown mustache helper/);
});
