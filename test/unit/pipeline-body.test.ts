import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import {
  anonymousComponentSpec,
  anonymousComponentVersionBody,
  canonicalJson,
  toPipelineJobBody,
} from '../../tasks/AmlPipelineJob/body';
import { anonymousEnvironmentVersion } from '../../tasks/common/asset-refs';
import { parseOverrides } from '../../tasks/AmlPipelineJob/overrides';
import type { AnonymousComponent, JsonObject, ResolvedIds, SubmissionPlan } from '../../tasks/AmlPipelineJob/plan';
import { translatePipelineJob } from '../../tasks/AmlPipelineJob/translate';
import { copySample, SAMPLE, scratch } from '../fixtures/pipeline/helpers';
import { REST_REFERENCE } from '../official';

const WS = '/subscriptions/00000000-1111-2222-3333-444444444444/resourceGroups/rg/providers/Microsoft.MachineLearningServices/workspaces/mlw';
const EXAMPLE = path.join(REST_REFERENCE, 'machinelearningservices/resource-manager/Microsoft.MachineLearningServices/stable/2024-04-01/examples/Job/PipelineJob/createOrUpdate.json');

function samplePlan(overrides: string[] = []): SubmissionPlan {
  return translatePipelineJob(path.join(SAMPLE, 'pipeline.yml'), { root: SAMPLE, overrides: parseOverrides(overrides), tags: { team: 'risk', 'ado.run': 'from-task' } });
}

const IDS: ResolvedIds = {
  components: { train: `${WS}/components/azureml_anonymous/versions/aaa`, evaluate: `${WS}/components/azureml_anonymous/versions/bbb` },
  computes: { 'cpu-cluster': `${WS}/computes/cpu-cluster`, big: `${WS}/computes/big` },
  datastores: { workspaceblobstore: `${WS}/datastores/workspaceblobstore` },
  assets: { 'azureml:taxi-test:1': `${WS}/data/taxi-test/versions/1` },
};

describe('toPipelineJobBody', () => {
  test('the sample pipeline: settings, inputs, outputs and steps in the shape the CLI sends', () => {
    const body = toPipelineJobBody(samplePlan(), IDS, { 'ado.run': '42', 'ado.branch': 'refs/heads/main' });
    assert.equal(body.jobType, 'Pipeline');
    assert.equal(body.displayName, 'train-evaluate');
    assert.equal(body.experimentName, 'taxi-fare');
    assert.deepEqual(body.tags, { team: 'risk', 'ado.run': '42', 'ado.branch': 'refs/heads/main' }, 'lineage tags win');
    assert.deepEqual(body.settings, {
      default_compute: `${WS}/computes/cpu-cluster`,
      default_datastore: `${WS}/datastores/workspaceblobstore`,
      continue_on_step_failure: false,
      _source: 'YAML.JOB',
    });
    assert.deepEqual((body.inputs as JsonObject).test_data, { jobInputType: 'uri_folder', uri: `${WS}/data/taxi-test/versions/1` });
    assert.deepEqual((body.inputs as JsonObject).min_auc, { jobInputType: 'literal', value: '0.7' });
    assert.deepEqual((body.jobs as JsonObject).train, {
      limits: { job_limits_type: 'Command', timeout: 'PT1H' },
      name: 'train',
      type: 'command',
      inputs: {
        training_data: { job_input_type: 'literal', value: '${{parent.inputs.training_data}}' },
        learning_rate: { job_input_type: 'literal', value: '${{parent.inputs.learning_rate}}' },
        n_estimators: { job_input_type: 'literal', value: '${{parent.inputs.n_estimators}}' },
      },
      outputs: { model_output: { value: '${{parent.outputs.trained_model}}', type: 'literal' } },
      _source: 'YAML.COMPONENT',
      componentId: `${WS}/components/azureml_anonymous/versions/aaa`,
    });
  });

  test('uses only property names of the ARM PipelineJob example (2024-04-01), plus jobs', () => {
    const example = JSON.parse(fs.readFileSync(EXAMPLE, 'utf8')) as { parameters: { body: { properties: JsonObject } } };
    const props = example.parameters.body.properties;
    const body = toPipelineJobBody(samplePlan(['jobs.train.compute=azureml:big']), IDS, {});
    for (const k of Object.keys(body)) assert.ok(k === 'jobs' || k in props, `unexpected property ${k}`);
    const exIn = Object.keys((props.inputs as JsonObject).string as JsonObject);
    const exOut = Object.keys((props.outputs as JsonObject).string as JsonObject);
    for (const v of Object.values(body.inputs as JsonObject)) for (const k of Object.keys(v as JsonObject)) assert.ok(exIn.includes(k) || k === 'uri' || k === 'mode', `input key ${k}`);
    for (const v of Object.values(body.outputs as JsonObject)) for (const k of Object.keys(v as JsonObject)) assert.ok(exOut.includes(k), `output key ${k}`);
    assert.equal(((body.jobs as JsonObject).train as JsonObject).computeId, `${WS}/computes/big`);
  });

  test('registered and registry components: componentId and _source', () => {
    const dir = scratch({
      'p.yml': `type: pipeline
compute: azureml:cpu-cluster
jobs:
  a:
    component: azureml:my_train:3
    environment_variables: {MODE: fast}
    resources: {instance_count: 2}
    distribution: {type: pytorch, process_count_per_instance: 4}
    tags: {stage: a}
    properties: {p: v}
    comment: first
  b:
    component: azureml://registries/azureml/components/train_model/versions/2
    inputs:
      x: \${{parent.jobs.a.outputs.model}}
      n: 3
      flag: false
`,
    });
    const plan = translatePipelineJob(path.join(dir, 'p.yml'), { root: dir, overrides: [] });
    const body = toPipelineJobBody(plan, { components: { a: `${WS}/components/my_train/versions/3` }, computes: { 'cpu-cluster': `${WS}/computes/cpu-cluster` } }, {});
    assert.equal(body.computeId, `${WS}/computes/cpu-cluster`);
    const jobs = body.jobs as JsonObject;
    assert.deepEqual(jobs.a, {
      resources: { instance_count: 2 },
      distribution: { distribution_type: 'PyTorch', process_count_per_instance: 4 },
      environment_variables: { MODE: 'fast' },
      name: 'a',
      type: 'command',
      tags: { stage: 'a' },
      properties: { p: 'v' },
      _source: 'REMOTE.WORKSPACE.COMPONENT',
      comment: 'first',
      componentId: `${WS}/components/my_train/versions/3`,
    });
    assert.deepEqual(jobs.b, {
      name: 'b',
      type: 'command',
      inputs: {
        x: { job_input_type: 'literal', value: '${{parent.jobs.a.outputs.model}}' },
        n: { job_input_type: 'literal', value: '3' },
        flag: { job_input_type: 'literal', value: 'False' },
      },
      _source: 'REMOTE.REGISTRY',
      componentId: 'azureml://registries/azureml/components/train_model/versions/2',
    });
  });

  test('serverless passes through; a compute, datastore or asset without an id is a wiring error', () => {
    const plan = samplePlan(['settings.default_compute=azureml:serverless']);
    const body = toPipelineJobBody(plan, IDS, {});
    assert.equal((body.settings as JsonObject).default_compute, 'serverless');
    assert.throws(() => toPipelineJobBody(samplePlan(), { ...IDS, computes: {} }, {}), /no compute ARM id for 'cpu-cluster'/);
    assert.throws(() => toPipelineJobBody(samplePlan(), { ...IDS, datastores: {} }, {}), /no datastore ARM id/);
    assert.throws(() => toPipelineJobBody(samplePlan(), { ...IDS, assets: {} }, {}), /no ARM id for the asset 'azureml:taxi-test:1'/);
    assert.throws(() => toPipelineJobBody(samplePlan(), { ...IDS, components: {} }, {}), /no component id for step 'train'/);
  });
});

describe('anonymous components', () => {
  const ids = { codeId: `${WS}/codes/3f1c/versions/1`, environmentId: `${WS}/environments/CliV2AnonymousEnvironment/versions/9a8b` };
  const trainComponent = (plan: SubmissionPlan) => plan.steps[0]!.component as AnonymousComponent;

  test('spec carries azureml:-prefixed ARM ids for code and environment and the hash as version', () => {
    const { spec, hash } = anonymousComponentSpec(trainComponent(samplePlan()), ids);
    assert.match(hash, /^[0-9a-f]{64}$/);
    assert.equal(spec.version, hash);
    assert.equal(spec.name, 'taxi_train');
    assert.equal(spec.code, `azureml:${ids.codeId}`);
    assert.equal(spec.environment, `azureml:${ids.environmentId}`);
    assert.equal(spec._source, 'YAML.COMPONENT');
    assert.equal(hash, anonymousComponentSpec(trainComponent(samplePlan()), ids).hash, 'same component, same hash');
  });

  test('the hash ignores key order and the file version, and follows content and ids', () => {
    const c = trainComponent(samplePlan());
    const base = anonymousComponentSpec(c, ids).hash;
    const reordered: AnonymousComponent = { ...c, spec: Object.fromEntries(Object.entries(c.spec).reverse()) };
    assert.equal(anonymousComponentSpec(reordered, ids).hash, base);
    assert.equal(anonymousComponentSpec({ ...c, spec: { ...c.spec, version: '99' } }, ids).hash, base);
    assert.notEqual(anonymousComponentSpec({ ...c, spec: { ...c.spec, command: `${String(c.spec.command)} --verbose` } }, ids).hash, base);
    assert.notEqual(anonymousComponentSpec(c, { ...ids, codeId: `${WS}/codes/other/versions/1` }).hash, base);
    assert.equal(canonicalJson({ b: 1, a: [{ d: 1, c: 2 }] }), '{"a":[{"c":2,"d":1}],"b":1}');
  });

  test('an edited sample component gets a new hash; an unedited copy keeps it', () => {
    const dir = copySample();
    const plan = () => translatePipelineJob(path.join(dir, 'pipeline.yml'), { root: dir, overrides: [] });
    const before = anonymousComponentSpec(trainComponent(plan()), ids).hash;
    assert.equal(before, anonymousComponentSpec(trainComponent(samplePlan()), ids).hash);
    fs.appendFileSync(path.join(dir, 'components/train.yml'), 'description: now with a description\n');
    assert.notEqual(anonymousComponentSpec(trainComponent(plan()), ids).hash, before);
  });

  test('inline steps are named azureml_anonymous; existing azureml: prefixes are kept', () => {
    const dir = scratch({
      'p.yml': `type: pipeline
settings: {default_compute: azureml:cpu}
jobs:
  hello:
    command: echo \${{inputs.n}}
    environment: azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest
    inputs: {n: 2}
`,
    });
    const plan = translatePipelineJob(path.join(dir, 'p.yml'), { root: dir, overrides: [] });
    const c = plan.steps[0]!.component as AnonymousComponent;
    assert.deepEqual(c.spec, { type: 'command', command: 'echo ${{inputs.n}}', inputs: { n: { type: 'integer', default: 2 } }, _source: 'YAML.JOB' });
    const { spec } = anonymousComponentSpec(c, { environmentId: 'azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest' });
    assert.equal(spec.name, 'azureml_anonymous');
    assert.equal(spec.environment, 'azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest');
    assert.equal(spec.code, undefined);
    const body = toPipelineJobBody(plan, { components: { hello: `${WS}/components/azureml_anonymous/versions/x` }, computes: { cpu: `${WS}/computes/cpu` } }, {});
    assert.equal(((body.jobs as JsonObject).hello as JsonObject)._source, 'YAML.JOB');
    assert.throws(() => anonymousComponentSpec(trainComponent(samplePlan()), { environmentId: 'x' }), /has code but no code id/);
  });

  test('component and environment version bodies', () => {
    const { spec } = anonymousComponentSpec(trainComponent(samplePlan()), ids);
    assert.deepEqual(anonymousComponentVersionBody(spec), { properties: { componentSpec: spec, isAnonymous: true, properties: {} } });
    const env = trainComponent(samplePlan()).environment;
    assert.equal(env.kind, 'inline');
    if (env.kind !== 'inline') return;
    const v = anonymousEnvironmentVersion(env);
    assert.equal(v.name, 'CliV2AnonymousEnvironment');
    assert.equal(v.version, env.hash);
    assert.deepEqual(v.body, { properties: { image: 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest', isAnonymous: true, condaFile: env.condaFile! } });
  });
});
