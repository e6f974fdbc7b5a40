import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { UserError } from '../../tasks/common/errors';
import { deploymentBody, loadDeploymentFile } from '../../tasks/AmlAksDeploy/deployment';
import { scratch } from '../../testkit/pipeline-sample';

const load = (yaml: string, extra: Record<string, string> = {}) => {
  const root = scratch({
    'deploy/d.yml': yaml,
    'deploy/src/score.py': 'def run(x): return x\n',
    'deploy/conda.yml': 'dependencies: [python=3.10]\n',
    ...extra,
  });
  return { spec: loadDeploymentFile(path.join(root, 'deploy/d.yml'), root), root };
};

const refuses = (yaml: string, message: RegExp, extra: Record<string, string> = {}) =>
  assert.throws(
    () => load(yaml, extra),
    (e: unknown) => {
      assert.ok(e instanceof UserError, String(e));
      assert.match(e.message, message);
      return true;
    },
  );

// The Kubernetes blue deployment of azureml-examples (cli/endpoints/online/kubernetes), paths adapted.
const EXAMPLE = `$schema: https://azuremlschemas.azureedge.net/latest/kubernetesOnlineDeployment.schema.json
name: blue
type: kubernetes
endpoint_name: <ENDPOINT_NAME>
model:
  path: ../model-1/model/
code_configuration:
  code: ./src
  scoring_script: score.py
environment:
  conda_file: ./conda.yml
  image: mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu20.04:latest
request_settings:
  request_timeout_ms: 3000
  max_queue_wait_ms: 3000
resources:
  requests:
    cpu: "0.1"
    memory: "0.1Gi"
  limits:
    cpu: "0.2"
    memory: "200Mi"
tags:
  tag1: deployment-tag1-value
instance_count: 1
scale_settings:
  type: default
`;

describe('Kubernetes online deployment YAML', () => {
  test('the azureml-examples Kubernetes deployment reads, and becomes the body the CLI sends', () => {
    const { spec } = load(EXAMPLE);
    assert.equal(spec.name, 'blue');
    assert.equal(spec.code?.kind, 'local');
    assert.equal(spec.environment?.kind, 'inline');
    assert.deepEqual(
      spec.notes.map((n) => n.replace(/^.*: /, '')),
      ["'model' is replaced by the model input", "'endpoint_name' is replaced by the endpointName input"],
    );
    const body = deploymentBody(spec, {
      modelId: '/m/1',
      codeId: '/c/1',
      environmentId: '/e/1',
      instanceCount: 2,
      location: 'eastus',
      tags: { 'ado.runId': '7', tag1: 'x' },
    });
    assert.deepEqual(body, {
      location: 'eastus',
      tags: { 'ado.runId': '7', tag1: 'x' },
      sku: { name: 'Default', capacity: 2 },
      properties: {
        endpointComputeType: 'Kubernetes',
        model: '/m/1',
        codeConfiguration: { codeId: '/c/1', scoringScript: 'score.py' },
        environmentId: '/e/1',
        scaleSettings: { scaleType: 'Default' },
        requestSettings: { requestTimeout: 'PT3S', maxQueueWait: 'PT3S' },
        containerResourceRequirements: {
          containerResourceRequests: { cpu: '0.1', memory: '0.1Gi' },
          containerResourceLimits: { cpu: '0.2', memory: '200Mi' },
        },
      },
    });
  });

  test('probes and target-utilization scaling as ISO durations; GPU as gpu; a registered environment', () => {
    const { spec } = load(`name: green
environment: azureml:taxi-serve-env:3
liveness_probe: {initial_delay: 30, period: 10, timeout: 2, success_threshold: 1, failure_threshold: 30}
readiness_probe: {period: 5}
scale_settings: {type: target_utilization, min_instances: 1, max_instances: 4, polling_interval: 15, target_utilization_percentage: 70}
request_settings: {request_timeout_ms: 500}
resources: {limits: {nvidia.com/gpu: 1}}
app_insights_enabled: true
model_mount_path: /var/azureml-app/model
environment_variables: {WORKERS: 2}
`);
    assert.deepEqual(spec.environment, { kind: 'named', name: 'taxi-serve-env', version: '3', origin: spec.environment!.origin });
    const p = deploymentBody(spec, { modelId: '/m', environmentId: '/e', instanceCount: 1, tags: {} }).properties as Record<
      string,
      unknown
    >;
    assert.deepEqual(p.livenessProbe, {
      initialDelay: 'PT30S',
      period: 'PT10S',
      timeout: 'PT2S',
      successThreshold: 1,
      failureThreshold: 30,
    });
    assert.deepEqual(p.readinessProbe, { period: 'PT5S' });
    assert.deepEqual(p.scaleSettings, {
      scaleType: 'TargetUtilization',
      minInstances: 1,
      maxInstances: 4,
      pollingInterval: 'PT15S',
      targetUtilizationPercentage: 70,
    });
    assert.deepEqual(p.requestSettings, { requestTimeout: 'PT0.5S' });
    assert.deepEqual(p.containerResourceRequirements, { containerResourceLimits: { gpu: '1' } });
    assert.equal(p.appInsightsEnabled, true);
    assert.equal(p.modelMountPath, '/var/azureml-app/model');
    assert.deepEqual(p.environmentVariables, { WORKERS: '2' });
  });

  test('unknown keys are refused by name, with the line and the keys it takes', () => {
    refuses(
      'name: blue\nreplicas: 3\n',
      /d\.yml line 2: 'replicas' is not a key of a Kubernetes online deployment; remove it \(supported: \$schema, name, type/,
    );
    refuses(
      'name: blue\ninstance_cont: 3\n',
      /line 2: 'instance_cont' is not a key of a Kubernetes online deployment; did you mean 'instance_count'\?/,
    );
    refuses(
      'name: blue\nrequest_settings:\n  timeout: 3\n',
      /line 3: 'request_settings\.timeout' is not a key of this setting; remove it \(supported: request_timeout_ms/,
    );
    refuses(
      'name: blue\nrequest_settings:\n  request_timeout: 3\n',
      /'request_settings\.request_timeout' is not a key of this setting; did you mean 'request_timeout_ms'\?/,
    );
    refuses(
      'name: blue\nscale_settings: {type: default, min_instances: 2}\n',
      /'scale_settings\.min_instances' applies to type: target_utilization only/,
    );
    refuses('name: blue\negress_public_network_access: disabled\n', /applies to managed online deployments only/);
    refuses('name: blue\ndata_collector: {collections: {}}\n', /'data_collector' is not supported by AmlAksDeploy@1 yet/);
  });

  test('managed deployments, bad names, bad values and paths outside the repository are refused', () => {
    refuses(
      '$schema: https://azuremlschemas.azureedge.net/latest/managedOnlineDeployment.schema.json\nname: blue\n',
      /describes a managed online deployment/,
    );
    refuses('type: managed\n', /'type' describes a managed online deployment/);
    refuses('name: 1blue\n', /'name' '1blue' is not a valid deployment name/);
    refuses('instance_count: 0\n', /'instance_count' must be a whole number, 1 or more/);
    refuses('instance_count: "2"\n', /'instance_count' must be a whole number/);
    refuses('request_settings: {request_timeout_ms: -1}\n', /request_timeout_ms' must be a whole number, 1 or more \(milliseconds\)/);
    refuses('code_configuration: {code: ./src}\n', /'code_configuration\.scoring_script' is missing/);
    refuses('code_configuration: {code: ../../etc, scoring_script: passwd}\n', /outside the repository folder/);
    refuses('environment: {build: {path: ./docker}}\n', /asks for a Docker build context/);
    refuses('model_mount_path: relative/path\n', /give an absolute path inside the container/);
    refuses('tags: {team: [a, b]}\n', /'tags\.team' must be text/);
    refuses('toString: 1\n', /'toString' is not a key of a Kubernetes online deployment/);
  });
});
