import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseOverrides } from '../../tasks/AmlPipelineJob/overrides';
import type { JsonObject, SubmissionPlan } from '../../tasks/AmlPipelineJob/plan';
import { translatePipelineJob } from '../../tasks/AmlPipelineJob/translate';
import { copyReference, copySample, readable, referenceYamls, SAMPLE, throwsUserError } from '../../testkit/pipeline-sample';

const AZ = 'Azure+azureml-examples';
const MLOPS = 'Azure+mlops-project-template';
const BASICS = 'cli/jobs/pipelines-with-components/basics';

let copy: string;
before(() => {
  copy = copyReference();
});
after(() => fs.rmSync(copy, { recursive: true, force: true }));

function plan(repo: string, file: string, overrides: string[] = []): SubmissionPlan {
  return translatePipelineJob(path.join(copy, repo, file), { root: path.join(copy, repo), overrides: parseOverrides(overrides) });
}

// A test's view of JSON, indexed freely (the assertions check the shapes).
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- deep ad-hoc indexing in assertions
type Obj = Record<string, any>;

/** The readable job body (slots shown as what they stand for). */
const view = (p: SubmissionPlan): Obj => readable(p) as Obj;

function step(p: SubmissionPlan, name: string): Obj {
  const s = view(p).jobs?.[name];
  assert.ok(s, `no step ${name} in ${Object.keys(view(p).jobs ?? {}).join(', ')}`);
  return s as Obj;
}

/** The anonymous component a step runs (its readable spec). */
function anon(s: Obj): Obj {
  assert.ok(
    s.componentId && typeof s.componentId === 'object' && 'component' in s.componentId,
    `not an anonymous component: ${JSON.stringify(s.componentId)}`,
  );
  return s.componentId.component as Obj;
}

const lit = (value: string) => ({ job_input_type: 'literal', value });
const NOT_A_JOB = "not a job; give AmlPipelineJob@1 the job YAML you would pass to 'az ml job create --file'";

/**
 * Every YAML in the reference set, and what the task does with it: translated (a test below
 * asserts the plan) or refused, naming the exact key path.
 */
const EXPECTED: Record<string, { refused: string; fragments?: string[] } | 'translates'> = {
  [`${BASICS}/1a_e2e_local_components/pipeline.yml`]: 'translates',
  [`${BASICS}/1a_e2e_local_components/train.yml`]: { refused: `is a command component (commandComponent.schema.json), ${NOT_A_JOB}` },
  [`${BASICS}/1a_e2e_local_components/score.yml`]: { refused: `is a command component (commandComponent.schema.json), ${NOT_A_JOB}` },
  [`${BASICS}/1a_e2e_local_components/eval.yml`]: { refused: `is a command component (commandComponent.schema.json), ${NOT_A_JOB}` },
  [`${BASICS}/1a_e2e_local_components/data.yml`]: { refused: 'data.yml line 7: a key appears twice in the same mapping' },
  [`${BASICS}/1b_e2e_registered_components/pipeline.yml`]: 'translates',
  [`${BASICS}/1b_e2e_registered_components/pipeline-serverless.yml`]: {
    refused: "line 36: 'jobs.train_job.services' is not supported by AmlPipelineJob@1",
    fragments: ['remove it'],
  },
  [`${BASICS}/1b_e2e_registered_components/train.yml`]: { refused: NOT_A_JOB },
  [`${BASICS}/1b_e2e_registered_components/score.yml`]: { refused: NOT_A_JOB },
  [`${BASICS}/1b_e2e_registered_components/eval.yml`]: { refused: NOT_A_JOB },
  [`${BASICS}/2a_basic_component/pipeline.yml`]: {
    refused: "2a_basic_component/component.yml line 8: 'inputs.number' is 1, not an input definition",
    fragments: ['{type: number'],
  },
  [`${BASICS}/2a_basic_component/component.yml`]: { refused: NOT_A_JOB },
  [`${BASICS}/2b_component_with_input_output/pipeline.yml`]: 'translates',
  [`${BASICS}/2b_component_with_input_output/component.yml`]: { refused: NOT_A_JOB },
  [`${BASICS}/3a_basic_pipeline/pipeline.yml`]: {
    refused: "line 8: 'settings.default_datestore' is not supported by AmlPipelineJob@1 in settings",
    fragments: ["did you mean 'default_datastore'?"],
  },
  [`${BASICS}/3a_basic_pipeline/componentA.yml`]: { refused: NOT_A_JOB },
  [`${BASICS}/3a_basic_pipeline/componentB.yml`]: { refused: NOT_A_JOB },
  [`${BASICS}/3a_basic_pipeline/componentC.yml`]: { refused: NOT_A_JOB },
  [`${BASICS}/4b_datastore_datapath_uri/pipeline.yml`]: 'translates',
  [`${BASICS}/4b_datastore_datapath_uri/component-file.yml`]: { refused: NOT_A_JOB },
  [`${BASICS}/4b_datastore_datapath_uri/component-folder.yml`]: { refused: NOT_A_JOB },
  [`${BASICS}/5a_env_public_docker_image/pipeline.yml`]: 'translates',
  [`${BASICS}/5a_env_public_docker_image/component.yml`]: { refused: NOT_A_JOB },
  [`${BASICS}/5b_env_registered/pipeline.yml`]: 'translates',
  [`${BASICS}/5b_env_registered/component.yml`]: { refused: NOT_A_JOB },
  [`${BASICS}/5c_env_conda_file/pipeline.yml`]: 'translates',
  [`${BASICS}/5c_env_conda_file/component.yml`]: { refused: NOT_A_JOB },
  [`${BASICS}/5c_env_conda_file/conda.yaml`]: { refused: `is a conda environment file, ${NOT_A_JOB}` },
  [`${BASICS}/5c_env_conda_file/conda.yml`]: { refused: `is a conda environment file, ${NOT_A_JOB}` },
  'classical/aml-cli-v2/data-science/environment/train-conda.yml': { refused: `is a conda environment file, ${NOT_A_JOB}` },
  'classical/aml-cli-v2/mlops/azureml/train/pipeline.yml': 'translates',
  'classical/aml-cli-v2/mlops/azureml/train/train.yml': 'translates',
  'classical/aml-cli-v2/mlops/azureml/train/data.yml': { refused: `is a data definition (data.schema.json), ${NOT_A_JOB}` },
  'classical/aml-cli-v2/mlops/azureml/train/train-env.yml': {
    refused: `is an environment definition (environment.schema.json), ${NOT_A_JOB}`,
  },
  'classical/aml-cli-v2/mlops/azureml/train/register-rai-components.yml': { refused: 'is an Azure Pipelines YAML' },
  'classical/aml-cli-v2/mlops/devops-pipelines/deploy-batch-endpoint-pipeline.yml': { refused: 'is an Azure Pipelines YAML' },
  'classical/aml-cli-v2/mlops/devops-pipelines/deploy-model-training-pipeline.yml': { refused: 'is an Azure Pipelines YAML' },
  'classical/aml-cli-v2/mlops/devops-pipelines/deploy-online-endpoint-pipeline.yml': { refused: 'is an Azure Pipelines YAML' },
  'classical/aml-cli-v2/mlops/devops-pipelines/register-rai-components.yml': { refused: 'is an Azure Pipelines YAML' },
  'classical/aml-cli-v2/mlops/devops-pipelines/run-unit-tests.yml': { refused: 'is an Azure Pipelines YAML' },
};

describe('reference examples (azureml-examples, mlops-project-template)', () => {
  test('every reference YAML is either translated or refused with the exact key path', () => {
    const seen = new Set<string>();
    for (const [repoDir, rel] of referenceYamls(copy)) {
      seen.add(rel);
      const want = EXPECTED[rel];
      assert.ok(want, `no expectation for ${rel}`);
      const run = () => translatePipelineJob(path.join(repoDir, rel), { root: repoDir, overrides: [] });
      if (want === 'translates') {
        const p = run();
        assert.ok(p.steps.length > 0, rel);
      } else {
        throwsUserError(run, want.refused, ...(want.fragments ?? []));
      }
    }
    assert.deepEqual([...seen].sort(), Object.keys(EXPECTED).sort(), 'the reference set changed');
  });

  test('1a (local components, local data): the data folder is an upload, components anonymous with the SDK keys', () => {
    const p = plan(AZ, `${BASICS}/1a_e2e_local_components/pipeline.yml`);
    const v = view(p);
    assert.equal(v.displayName, '1a_e2e_local_components');
    assert.equal(v.description, 'Dummy train-score-eval pipeline with local components');
    assert.deepEqual(v.inputs, {
      pipeline_job_training_max_epocs: { jobInputType: 'literal', value: '20' },
      pipeline_job_training_learning_rate: { jobInputType: 'literal', value: '1.8' },
      pipeline_job_learning_rate_schedule: { jobInputType: 'literal', value: 'time-based' },
    });
    assert.deepEqual(v.outputs, {
      pipeline_job_trained_model: { jobOutputType: 'uri_folder', mode: 'Upload' },
      pipeline_job_evaluation_report: { jobOutputType: 'uri_folder', mode: 'Upload' },
    });
    assert.deepEqual(
      p.steps.map((s) => s.name),
      ['train_job', 'score_job', 'evaluate_job'],
    );
    const dataDir = path.join(copy, AZ, BASICS, '1a_e2e_local_components/data');

    const train = step(p, 'train_job');
    assert.equal(train.computeId, 'cpu-cluster');
    assert.deepEqual(train.inputs, {
      training_data: { job_input_type: 'uri_folder', uri: { data: dataDir, type: 'uri_folder' } },
      max_epocs: lit('${{parent.inputs.pipeline_job_training_max_epocs}}'),
      learning_rate: lit('${{parent.inputs.pipeline_job_training_learning_rate}}'),
      learning_rate_schedule: lit('${{parent.inputs.pipeline_job_learning_rate_schedule}}'),
    });
    assert.deepEqual(train.outputs, { model_output: { value: '${{parent.outputs.pipeline_job_trained_model}}', type: 'literal' } });
    const tc = anon(train);
    assert.equal(tc.name, 'azureml_anonymous');
    assert.equal(tc.version, '1');
    assert.equal(tc.is_deterministic, true);
    assert.equal(tc._source, 'YAML.COMPONENT');
    assert.deepEqual(tc.inputs, {
      training_data: { type: 'uri_folder' },
      max_epocs: { type: 'integer' },
      learning_rate: { type: 'number', default: '0.01' },
      learning_rate_schedule: { type: 'string', default: 'time-based' },
    });
    assert.deepEqual(tc.code, { code: path.join(copy, AZ, BASICS, '1a_e2e_local_components/train_src') });
    assert.equal(tc.environment, 'azureml:AzureML-sklearn-0.24-ubuntu18.04-py37-cpu@latest', 'the curated short form is sent as written');

    // score.yml uses the old `code: local_path:` form and `type: path` ports, which the SDK sends as written
    const score = step(p, 'score_job');
    const sc = anon(score);
    assert.deepEqual(sc.code, { code: path.join(copy, AZ, BASICS, '1a_e2e_local_components/score_src') });
    assert.deepEqual(sc.outputs, { score_output: { type: 'path' } });
    assert.deepEqual(score.inputs.model_input, lit('${{parent.jobs.train_job.outputs.model_output}}'));
    assert.deepEqual(score.inputs.test_data, { job_input_type: 'uri_folder', uri: { data: dataDir, type: 'uri_folder' } });
    assert.deepEqual(score.outputs, { score_output: { job_output_type: 'uri_folder', mode: 'Upload' } });
    assert.equal(sc.environment, 'azureml:AzureML-sklearn-0.24-ubuntu18.04-py37-cpu:5');
    assert.equal(p.refs.filter((r) => r.kind === 'data').length, 1, 'one data folder used by two steps is one upload');

    const ev = step(p, 'evaluate_job');
    assert.deepEqual(ev.inputs, { scoring_result: lit('${{parent.jobs.score_job.outputs.score_output}}') });
    assert.deepEqual(ev.outputs, { eval_output: { value: '${{parent.outputs.pipeline_job_evaluation_report}}', type: 'literal' } });
  });

  test('1b (registered components) keeps azureml:name@latest references and the top-level compute', () => {
    const p = plan(AZ, `${BASICS}/1b_e2e_registered_components/pipeline.yml`, [
      'jobs.train_job.inputs.training_data.path=azureml:taxi-data@latest',
      'jobs.score_job.inputs.test_data.path=azureml:taxi-data:2',
    ]);
    assert.equal(view(p).computeId, 'cpu-cluster');
    const train = step(p, 'train_job');
    assert.equal(train.componentId, 'azureml:my_train@latest');
    assert.equal(train._source, 'REMOTE.WORKSPACE.COMPONENT');
    assert.equal(train.computeId, undefined);
    assert.deepEqual(train.inputs.training_data, { job_input_type: 'uri_folder', uri: 'azureml:taxi-data@latest' });
    const assets = p.refs
      .filter((r) => r.kind === 'asset')
      .map((r) => (r.kind === 'asset' ? `${r.assetType}:${r.ref.name}:${r.ref.version ?? r.ref.label}` : ''));
    assert.deepEqual(
      assets.sort(),
      [
        'components:my_eval:latest',
        'components:my_score:latest',
        'components:my_train:latest',
        'data:taxi-data:2',
        'data:taxi-data:latest',
      ].sort(),
    );
    // registered components: outputs are not known locally, bindings pass through
    assert.deepEqual(step(p, 'evaluate_job').inputs, { scoring_result: lit('${{parent.jobs.score_job.outputs.score_output}}') });
  });

  test('2b: a CRLF component file and a local data folder', () => {
    const p = plan(AZ, `${BASICS}/2b_component_with_input_output/pipeline.yml`);
    assert.deepEqual(view(p).settings, { default_compute: 'serverless', _source: 'YAML.JOB' });
    const s = step(p, 'hello_python_world_job');
    const c = anon(s);
    assert.equal(
      c.command,
      'python hello.py   --input_data ${{inputs.sample_input_data}} --input_string ${{inputs.sample_input_string}} --output_data ${{outputs.sample_output_data}}',
    );
    assert.deepEqual(c.inputs, {
      sample_input_data: { type: 'uri_folder' },
      sample_input_string: { type: 'string', default: 'hello_python_world_default' },
    });
    assert.equal(c.environment.environment.image, 'python');
    assert.equal(s.inputs.sample_input_data.uri.type, 'uri_folder');
  });

  test('3a translates when the datastore typo is fixed: limits, local_path code, CRLF component', () => {
    const file = path.join(copy, AZ, BASICS, '3a_basic_pipeline/pipeline.yml');
    const fixed = path.join(path.dirname(file), 'pipeline-fixed.yml');
    fs.writeFileSync(fixed, fs.readFileSync(file, 'utf8').replace('default_datestore', 'default_datastore'));
    try {
      const p = translatePipelineJob(fixed, { root: path.join(copy, AZ), overrides: [] });
      assert.deepEqual(view(p).settings, { default_datastore: 'workspaceblobstore', default_compute: 'serverless', _source: 'YAML.JOB' });
      assert.deepEqual(step(p, 'component_a').limits, { job_limits_type: 'Command', timeout: 'PT1H' });
      assert.deepEqual(anon(step(p, 'component_a')).code, { code: path.join(path.dirname(file), 'componentA_src') });
      assert.equal(
        anon(step(p, 'component_b')).name,
        'azureml_anonymous',
        'the file name is not sent: anonymous components are azureml_anonymous',
      );
    } finally {
      fs.rmSync(fixed);
    }
  });

  test('4b: datastore URIs with ${{name}}, modes, uri_file, an empty step output and a pipeline output path', () => {
    const p = plan(AZ, `${BASICS}/4b_datastore_datapath_uri/pipeline.yml`);
    assert.deepEqual(view(p).settings, { default_compute: 'cpu-cluster', _source: 'YAML.JOB' });
    assert.deepEqual(view(p).outputs, {
      pipeline_sample_output_data: { jobOutputType: 'uri_folder', uri: 'azureml://datastores/workspaceblobstore/paths/azureml/${{name}}' },
    });
    const folder = step(p, 'component_folder');
    assert.deepEqual(folder.inputs, {
      sample_input_data: {
        job_input_type: 'uri_folder',
        uri: 'azureml://datastores/workspaceblobstore/paths/azureml/${{name}}',
        mode: 'ReadOnlyMount',
      },
      sample_input_string: lit('${{parent.inputs.pipeline_sample_input_string}}'),
    });
    const file = step(p, 'component_file');
    assert.deepEqual(file.inputs, {
      sample_input_data_file: {
        job_input_type: 'uri_file',
        uri: 'azureml://datastores/workspaceblobstore/paths/azureml/${{name}}/hello-world.txt',
        mode: 'Download',
      },
      placeholder: lit('${{parent.jobs.component_folder.outputs.sample_output_data}}'),
    });
    assert.equal(file.outputs, undefined, 'an empty step output is left to the component default, as the CLI does');
  });

  test('5a/5b/5c: inline image, registry environment, conda file read next to the component', () => {
    const a = anon(step(plan(AZ, `${BASICS}/5a_env_public_docker_image/pipeline.yml`), 'hello_python_world_job'));
    assert.equal(a.environment.environment.image, 'docker.io/python');
    assert.match(a.environment.environment.hash, /^[0-9a-f]{32}$/);

    const b = step(plan(AZ, `${BASICS}/5b_env_registered/pipeline.yml`), 'hello_python_world_job');
    assert.equal(b.computeId, 'cpu-cluster');
    assert.equal(anon(b).environment, 'azureml://registries/azureml/environments/sklearn-1.0/labels/latest');

    const p = plan(AZ, `${BASICS}/5c_env_conda_file/pipeline.yml`);
    const env = anon(step(p, 'hello_python_world_job')).environment.environment as Obj;
    assert.match(env.condaFile as string, /^channels:/);
    assert.equal(env.image, 'mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04:latest');
  });

  test('mlops-project-template: inline steps become anonymous components with inferred inputs', () => {
    const p = plan(MLOPS, 'classical/aml-cli-v2/mlops/azureml/train/pipeline.yml', ['inputs.input.path=azureml:taxi-data@latest']);
    const v = view(p);
    assert.equal(v.experimentName, 'taxi-fare-training');
    assert.deepEqual(v.settings, {
      default_datastore: 'workspaceblobstore',
      default_compute: 'rai-cluster',
      continue_on_step_failure: false,
      _source: 'YAML.JOB',
    });
    assert.deepEqual(v.inputs, { input: { jobInputType: 'uri_folder', uri: 'azureml:taxi-data@latest' } });
    assert.deepEqual(Object.keys(v.outputs), ['prepared_data', 'trained_model', 'predictions', 'score_report', 'deploy_flag']);
    assert.deepEqual(v.outputs.prepared_data, { jobOutputType: 'uri_folder' });

    const prep = step(p, 'prep_data');
    assert.equal(prep.display_name, 'prep-data');
    const pc = anon(prep);
    assert.equal(pc._source, 'YAML.JOB');
    assert.equal(pc.name, 'azureml_anonymous');
    assert.equal(pc.display_name, 'prep_data', 'an inline step is displayed under its key, as the SDK does');
    assert.deepEqual(pc.inputs, { raw_data: { type: 'uri_folder' } });
    assert.deepEqual(pc.outputs, { prepared_data: { type: 'uri_folder' } });
    assert.deepEqual(pc.code, { code: path.join(copy, MLOPS, 'classical/aml-cli-v2/data-science/src') });
    assert.equal(pc.environment, 'azureml:taxi-train-env@latest');

    const ev = step(p, 'evaluate_model');
    assert.deepEqual(anon(ev).inputs, {
      model_name: { type: 'string', default: 'taxi-model' },
      model_input: { type: 'uri_folder' },
      prepared_data: { type: 'uri_folder' },
    });
    assert.deepEqual(ev.inputs.model_name, lit('taxi-model'));
    const reg = step(p, 'register_model');
    assert.equal(reg.outputs, undefined);
    assert.equal(anon(reg).outputs, undefined);
    assert.deepEqual(reg.inputs.deploy_flag, lit('${{parent.jobs.evaluate_model.outputs.deploy_flag}}'));
  });
});

describe('the sample train/evaluate pipeline (examples/mlops)', () => {
  test('translates: local components, local code, inline conda environment, registered env and data', () => {
    const p = translatePipelineJob(path.join(SAMPLE, 'pipeline.yml'), { root: SAMPLE, overrides: [] });
    const v = view(p);
    assert.equal(v.displayName, 'train-evaluate');
    assert.equal(v.experimentName, 'taxi-fare');
    assert.deepEqual(v.settings, {
      default_compute: 'cpu-cluster',
      default_datastore: 'workspaceblobstore',
      continue_on_step_failure: false,
      _source: 'YAML.JOB',
    });
    assert.deepEqual(v.inputs.learning_rate, { jobInputType: 'literal', value: '0.05' });
    assert.deepEqual(v.inputs.training_data, {
      jobInputType: 'uri_folder',
      uri: 'azureml://datastores/workspaceblobstore/paths/taxi/train/',
      mode: 'ReadOnlyMount',
    });
    assert.deepEqual(v.outputs.trained_model, { jobOutputType: 'mlflow_model', mode: 'Upload' });
    assert.deepEqual(
      p.steps.map((s) => s.name),
      ['train', 'evaluate'],
    );
    const train = anon(step(p, 'train'));
    assert.deepEqual(train.code, { code: path.join(SAMPLE, 'src') });
    assert.match(train.environment.environment.condaFile as string, /mlflow/);
    const evaluate = step(p, 'evaluate');
    assert.deepEqual(evaluate.inputs.model_input, lit('${{parent.jobs.train.outputs.model_output}}'));
    assert.equal(typeof anon(evaluate).environment, 'string', 'a registered environment');
    assert.ok(fs.readFileSync(path.join(SAMPLE, 'src/train.py'), 'utf8').includes('mlflow.log_metric("auc"'));
    assert.ok(fs.readFileSync(path.join(SAMPLE, 'src/train.py'), 'utf8').includes('mlflow.log_metric("rmse"'));
  });

  test('task inputs win over the YAML for display name, experiment and tags', () => {
    const dir = copySample();
    const p = translatePipelineJob(path.join(dir, 'pipeline.yml'), {
      root: dir,
      overrides: [],
      displayName: 'nightly',
      experimentName: 'exp2',
      tags: { team: 'risk' },
    });
    assert.equal(p.body.displayName, 'nightly');
    assert.equal(p.body.experimentName, 'exp2');
    assert.deepEqual(p.body.tags, { team: 'risk' });
  });

  test('the same files give the same plan twice (stable environment hash)', () => {
    const a = translatePipelineJob(path.join(SAMPLE, 'pipeline.yml'), { root: SAMPLE, overrides: [] });
    const b = translatePipelineJob(path.join(SAMPLE, 'pipeline.yml'), { root: SAMPLE, overrides: [] });
    assert.deepEqual(a, b);
    assert.deepEqual(readable(a) as JsonObject, readable(b) as JsonObject);
  });
});
