import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { checkOnlineName, deriveDeploymentName, ONLINE_NAME, parseAuthMode, parseModelRef } from '../../tasks/AmlAksDeploy/spec';

describe('model input', () => {
  test("name:version, azureml:name:version and the register task's ARM id", () => {
    assert.deepEqual(parseModelRef('taxi-fare:7'), { name: 'taxi-fare', version: '7' });
    assert.deepEqual(parseModelRef(' azureml:taxi.fare_v2:1.0.3 '), { name: 'taxi.fare_v2', version: '1.0.3' });
    assert.deepEqual(
      parseModelRef(
        '/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/mlw/models/taxi/versions/3',
      ),
      {
        name: 'taxi',
        version: '3',
        workspace: { subscriptionId: 's1', resourceGroup: 'rg', name: 'mlw' },
      },
    );
    assert.equal(
      parseModelRef(
        'azureml:/subscriptions/s1/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/mlw/models/taxi/versions/3',
      ).version,
      '3',
    );
  });

  test('accepts a registry model version and names its registry', () => {
    assert.deepEqual(parseModelRef(' azureml://registries/mlr-shared/models/taxi/versions/3 '), {
      name: 'taxi',
      version: '3',
      registry: 'mlr-shared',
    });
  });

  test('refuses a registry URI that is not a version, or whose registry name is invalid', () => {
    assert.throws(
      () => parseModelRef('azureml://registries/shared/models/taxi/labels/latest'),
      /^UserError: Input 'model': 'azureml:\/\/registries\/shared\/models\/taxi\/labels\/latest' is not a registry model version/,
    );
    assert.throws(() => parseModelRef('azureml://registries/ml.reg/models/taxi/versions/1'), /'ml\.reg' is not an Azure ML registry name/);
    assert.throws(() => parseModelRef('azureml://registries/shared/models/-taxi/versions/1'), /is not a valid model name/);
  });

  test('refuses labels, missing versions and other URIs, naming the input', () => {
    assert.throws(() => parseModelRef('taxi@latest'), /^UserError: Input 'model': 'taxi@latest' asks for a label/);
    assert.throws(() => parseModelRef('taxi'), /Input 'model': 'taxi' names no version/);
    assert.throws(() => parseModelRef('taxi:'), /names no version/);
    assert.throws(() => parseModelRef('a:b:c'), /names no version/);
    assert.throws(() => parseModelRef('https://example.com/model.pkl'), /is not a model version reference/);
    assert.throws(() => parseModelRef('-bad:1'), /is not a valid model name/);
  });
});

describe('online endpoint and deployment names', () => {
  test('3-32 letters, digits and -, starting with a letter, not ending with -', () => {
    for (const ok of ['abc', 'blue', 'taxi-fare-prod', 'a'.repeat(32), 'v1-2']) assert.equal(checkOnlineName('deploymentName', ok), ok);
    for (const [bad, why] of [
      ['ab', /it has 2 characters/],
      ['a'.repeat(33), /it has 33 characters/],
      ['7up', /it does not start with a letter/],
      ['blue-', /it ends with '-'/],
      ['blue_green', /it contains '_'/],
      ['blüe', /it contains 'ü'/],
    ] as const) {
      assert.throws(
        () => checkOnlineName('endpointName', bad),
        new RegExp(`Input 'endpointName': '${bad}' is not a valid Azure ML online endpoint name: ${why.source}`),
      );
    }
  });

  test('the derived name shows model and version, is valid, and avoids names taken on the endpoint', () => {
    assert.equal(deriveDeploymentName({ name: 'taxi-fare', version: '7' }, []), 'taxi-fare-v7');
    assert.equal(deriveDeploymentName({ name: 'taxi-fare', version: '7' }, ['Taxi-Fare-V7']), 'taxi-fare-v7-2');
    assert.equal(deriveDeploymentName({ name: 'taxi-fare', version: '7' }, ['taxi-fare-v7', 'taxi-fare-v7-2']), 'taxi-fare-v7-3');
    assert.equal(deriveDeploymentName({ name: 'Credit_Risk.Model', version: '1.0.3' }, []), 'credit-risk-model-v1-0-3');
    assert.equal(deriveDeploymentName({ name: '2024_model', version: '1' }, []), 'm-2024-model-v1');
    const long = deriveDeploymentName({ name: 'a-very-long-model-name-for-the-fraud-team', version: '123' }, []);
    assert.equal(long, 'a-very-long-model-name-for-v123');
    assert.ok(long.length <= 32);
    for (const [name, version] of [
      ['x', '1'],
      ['__', '_'],
      ['a', 'b'.repeat(40)],
      ['ünïcode', '5'],
    ]) {
      const d = deriveDeploymentName({ name: name!, version: version! }, []);
      assert.match(d, ONLINE_NAME, `${name}:${version} -> ${d}`);
    }
  });
});

describe('auth mode', () => {
  test("key and aml_token, in the CLI's spellings", () => {
    assert.equal(parseAuthMode(undefined), 'Key');
    assert.equal(parseAuthMode('KEY'), 'Key');
    assert.equal(parseAuthMode('aml_token'), 'AMLToken');
    assert.equal(parseAuthMode('AMLToken'), 'AMLToken');
  });

  test('anything that would make the endpoint anonymous is refused as such', () => {
    for (const v of ['anonymous', 'None', 'no_auth', 'public'])
      assert.throws(() => parseAuthMode(v), /Input 'authMode': .* without credentials\. Anonymous endpoints are refused/);
    assert.throws(() => parseAuthMode('kerberos'), /'kerberos' is not an authentication mode/);
  });
});
