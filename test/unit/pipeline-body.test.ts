import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { anonymousComponentHash, anonymousComponentVersionBody, fill, jobBody } from '../../tasks/AmlPipelineJob/body';
import { parseOverrides } from '../../tasks/AmlPipelineJob/overrides';
import type { JsonObject, SubmissionPlan } from '../../tasks/AmlPipelineJob/plan';
import { resolveRefs } from '../../tasks/AmlPipelineJob/submit';
import { translatePipelineJob } from '../../tasks/AmlPipelineJob/translate';
import { anonymousEnvironmentVersion } from '../../tasks/common/asset-refs';
import { copySample, SAMPLE, scratch } from '../../testkit/pipeline-sample';
import { REST_REFERENCE } from '../../testkit/official';
import { memoryContext, workspaceId, type Recorded } from '../oracle/ours';

const SCOPE = { subscription: '00000000-1111-2222-3333-444444444444', resourceGroup: 'rg', workspace: 'mlw' };
const WS = workspaceId(SCOPE);
const EXAMPLE = path.join(
  REST_REFERENCE,
  'machinelearningservices/resource-manager/Microsoft.MachineLearningServices/stable/2024-04-01/examples/Job/PipelineJob/createOrUpdate.json',
);

function samplePlan(overrides: string[] = [], dir = SAMPLE): SubmissionPlan {
  return translatePipelineJob(path.join(dir, 'pipeline.yml'), {
    root: dir,
    overrides: parseOverrides(overrides),
    tags: { team: 'risk', 'ado.run': 'from-task' },
  });
}

/** The plan resolved against an in-memory workspace (submit.ts's own code), and the job body. */
async function submitted(
  plan: SubmissionPlan,
  root: string,
  lineage: Record<string, string> = {},
): Promise<{ body: JsonObject; recorded: Recorded; values: Array<string | undefined> }> {
  const { ctx, recorded } = memoryContext(SCOPE, root);
  const values = await resolveRefs(ctx, plan.refs);
  return { body: jobBody(plan.body, values, 'job1', lineage), recorded, values };
}

const specOf = (recorded: Recorded, id: unknown): JsonObject => {
  const c = recorded.components.find((x) => `${WS}/components/${x.name}/versions/${x.version}` === id);
  assert.ok(c, `no anonymous component ${String(id)}`);
  return (c.body.properties as JsonObject).componentSpec as JsonObject;
};

describe('the job body', () => {
  test('the sample pipeline: settings, inputs, outputs and steps in the shape the CLI sends', async () => {
    const { body } = await submitted(samplePlan(), SAMPLE, { 'ado.run': '42', 'ado.branch': 'refs/heads/main' });
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
    const train = (body.jobs as JsonObject).train as JsonObject;
    assert.match(
      String(train.componentId),
      new RegExp(`^${WS}/components/azureml_anonymous/versions/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`),
    );
    assert.deepEqual(
      { ...train, componentId: undefined },
      {
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
        componentId: undefined,
      },
    );
  });

  test('displayName defaults to the job name, as the SDK does', async () => {
    const dir = scratch({
      'p.yml': 'type: pipeline\njobs:\n  a:\n    command: echo hi\n    environment: azureml:env:1\n    compute: azureml:cpu\n',
    });
    const plan = translatePipelineJob(path.join(dir, 'p.yml'), { root: dir, overrides: [] });
    assert.equal(plan.body.displayName, undefined);
    assert.equal((await submitted(plan, dir)).body.displayName, 'job1');
  });

  test('uses only property names of the ARM PipelineJob example (2024-04-01), plus jobs', async () => {
    const example = JSON.parse(fs.readFileSync(EXAMPLE, 'utf8')) as { parameters: { body: { properties: JsonObject } } };
    const props = example.parameters.body.properties;
    const { body } = await submitted(samplePlan(['jobs.train.compute=azureml:big']), SAMPLE);
    // isArchived is JobBaseProperties' (the SDK sends false); the example leaves it out.
    for (const k of Object.keys(body)) assert.ok(k === 'jobs' || k === 'isArchived' || k in props, `unexpected property ${k}`);
    const exIn = Object.keys((props.inputs as JsonObject).string as JsonObject);
    const exOut = Object.keys((props.outputs as JsonObject).string as JsonObject);
    for (const v of Object.values(body.inputs as JsonObject))
      for (const k of Object.keys(v as JsonObject)) assert.ok(exIn.includes(k) || k === 'uri' || k === 'mode', `input key ${k}`);
    for (const v of Object.values(body.outputs as JsonObject))
      for (const k of Object.keys(v as JsonObject)) assert.ok(exOut.includes(k), `output key ${k}`);
    assert.equal(((body.jobs as JsonObject).train as JsonObject).computeId, `${WS}/computes/big`);
  });

  test('registered and registry components: componentId and _source', async () => {
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
    const { body } = await submitted(translatePipelineJob(path.join(dir, 'p.yml'), { root: dir, overrides: [] }), dir);
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

  test('serverless is the workspace compute id the SDK writes; an unresolved reference is a wiring error', async () => {
    const { body } = await submitted(samplePlan(['settings.default_compute=azureml:serverless']), SAMPLE);
    assert.equal((body.settings as JsonObject).default_compute, `${WS}/computes/serverless`);
    const plan = samplePlan();
    assert.throws(() => fill(plan.body, []), /reference \d+ is not resolved/);
  });
});

describe('anonymous components', () => {
  test('the spec as the SDK sends it: name azureml_anonymous, version "1", azureml:-prefixed ids, the hash only in the URL', async () => {
    const { body, recorded } = await submitted(samplePlan(), SAMPLE);
    const id = ((body.jobs as JsonObject).train as JsonObject).componentId;
    const spec = specOf(recorded, id);
    assert.equal(spec.name, 'azureml_anonymous');
    assert.equal(spec.version, '1');
    assert.equal(spec.is_deterministic, true);
    assert.match(String(spec.code), new RegExp(`^azureml:${WS}/codes/[0-9a-f]{64}/versions/1$`));
    assert.match(String(spec.environment), new RegExp(`^azureml:${WS}/environments/CliV2AnonymousEnvironment/versions/[0-9a-f]{32}$`));
    assert.equal(spec._source, 'YAML.COMPONENT');
    assert.equal(id, `${WS}/components/azureml_anonymous/versions/${anonymousComponentHash(spec)}`);
    const again = await submitted(samplePlan(), SAMPLE);
    assert.equal(((again.body.jobs as JsonObject).train as JsonObject).componentId, id, 'same component, same hash');
  });

  test('the hash ignores key order, name and version, and follows content', async () => {
    const { body, recorded } = await submitted(samplePlan(), SAMPLE);
    const spec = specOf(recorded, ((body.jobs as JsonObject).train as JsonObject).componentId);
    const base = anonymousComponentHash(spec);
    assert.match(base, /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/);
    assert.equal(anonymousComponentHash(Object.fromEntries(Object.entries(spec).reverse())), base);
    assert.equal(anonymousComponentHash({ ...spec, version: '99', name: 'other' }), base);
    assert.notEqual(anonymousComponentHash({ ...spec, command: `${String(spec.command)} --verbose` }), base);
    assert.notEqual(anonymousComponentHash({ ...spec, code: `azureml:${WS}/codes/other/versions/1` }), base);
  });

  test('an edited sample component gets a new hash; an unedited copy keeps it', async () => {
    const dir = copySample();
    const trainId = async () => (((await submitted(samplePlan([], dir), dir)).body.jobs as JsonObject).train as JsonObject).componentId;
    const before = await trainId();
    assert.equal(before, (((await submitted(samplePlan(), SAMPLE)).body.jobs as JsonObject).train as JsonObject).componentId);
    fs.appendFileSync(path.join(dir, 'components/train.yml'), 'description: now with a description\n');
    assert.notEqual(await trainId(), before);
  });

  test('inline steps: display name = step name, inferred inputs, the curated environment short form sent as written', async () => {
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
    const { body, recorded } = await submitted(translatePipelineJob(path.join(dir, 'p.yml'), { root: dir, overrides: [] }), dir);
    const hello = (body.jobs as JsonObject).hello as JsonObject;
    assert.equal(hello._source, 'YAML.JOB');
    assert.deepEqual(specOf(recorded, hello.componentId), {
      command: 'echo ${{inputs.n}}',
      environment: 'azureml:AzureML-sklearn-1.0-ubuntu20.04-py38-cpu@latest',
      name: 'azureml_anonymous',
      version: '1',
      display_name: 'hello',
      is_deterministic: true,
      inputs: { n: { type: 'integer', default: '2' } },
      type: 'command',
      _source: 'YAML.JOB',
    });
    assert.equal(recorded.environments.length, 0, 'a curated environment is not registered in the workspace');
  });

  test('component and environment version bodies', async () => {
    const { body, recorded } = await submitted(samplePlan(), SAMPLE);
    const spec = specOf(recorded, ((body.jobs as JsonObject).train as JsonObject).componentId);
    assert.deepEqual(anonymousComponentVersionBody(spec), {
      properties: { properties: {}, tags: {}, isAnonymous: true, isArchived: false, componentSpec: spec },
    });
    const env = recorded.environments[0]!;
    assert.equal(env.name, 'CliV2AnonymousEnvironment');
    assert.deepEqual(Object.keys(env.body.properties as JsonObject).sort(), ['condaFile', 'image', 'isAnonymous', 'isArchived']);
    assert.equal((env.body.properties as JsonObject).image, 'mcr.microsoft.com/azureml/openmpi4.1.0-ubuntu22.04:latest');
    const plan = samplePlan();
    const ref = plan.refs.find((r) => r.kind === 'environment');
    assert.ok(ref && ref.kind === 'environment');
    assert.equal(anonymousEnvironmentVersion(ref.env).version, env.version);
  });
});
