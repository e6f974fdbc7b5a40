import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as path from 'node:path';
import { after, before, describe, test } from 'node:test';
import { parseOverrides } from '../../tasks/AmlPipelineJob/overrides';
import type { AnonymousComponent, ComponentRef, PlannedStep, SubmissionPlan } from '../../tasks/AmlPipelineJob/plan';
import { translatePipelineJob } from '../../tasks/AmlPipelineJob/translate';
import { copyReference, copySample, referenceYamls, SAMPLE, throwsUserError } from '../fixtures/pipeline/helpers';

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

function step(p: SubmissionPlan, name: string): PlannedStep {
  const s = p.steps.find((x) => x.name === name);
  assert.ok(s, `no step ${name} in ${p.steps.map((x) => x.name).join(', ')}`);
  return s;
}

function anon(c: ComponentRef): AnonymousComponent {
  assert.equal(c.kind, 'anonymous');
  return c as AnonymousComponent;
}

const lit = (value: string) => ({ job_input_type: 'literal', value });

/**
 * Every YAML in the reference set, and what the task does with it: translated (a test below
 * asserts the plan) or refused, naming the exact key path.
 */
const EXPECTED: Record<string, { refused: string; fragments?: string[] } | 'translates'> = {
  [`${BASICS}/1a_e2e_local_components/pipeline.yml`]: { refused: "line 26: 'jobs.train_job.inputs.training_data.path' is the local path './data'", fragments: ['az ml data create'] },
  [`${BASICS}/1a_e2e_local_components/train.yml`]: { refused: 'is a command component (commandComponent.schema.json), not a pipeline job' },
  [`${BASICS}/1a_e2e_local_components/score.yml`]: { refused: 'is a command component (commandComponent.schema.json), not a pipeline job' },
  [`${BASICS}/1a_e2e_local_components/eval.yml`]: { refused: 'is a command component (commandComponent.schema.json), not a pipeline job' },
  [`${BASICS}/1a_e2e_local_components/data.yml`]: { refused: 'data.yml line 7: a key appears twice in the same mapping' },
  [`${BASICS}/1b_e2e_registered_components/pipeline.yml`]: { refused: "line 31: 'jobs.train_job.inputs.training_data.path' is the local path './data'" },
  [`${BASICS}/1b_e2e_registered_components/pipeline-serverless.yml`]: { refused: "line 36: 'jobs.train_job.services' is not supported by AmlPipelineJob@1", fragments: ['remove it'] },
  [`${BASICS}/1b_e2e_registered_components/train.yml`]: { refused: 'not a pipeline job' },
  [`${BASICS}/1b_e2e_registered_components/score.yml`]: { refused: 'not a pipeline job' },
  [`${BASICS}/1b_e2e_registered_components/eval.yml`]: { refused: 'not a pipeline job' },
  [`${BASICS}/2a_basic_component/pipeline.yml`]: { refused: "2a_basic_component/component.yml line 8: 'inputs.number' is 1, not an input definition", fragments: ['{type: number'] },
  [`${BASICS}/2a_basic_component/component.yml`]: { refused: 'not a pipeline job' },
  [`${BASICS}/2b_component_with_input_output/pipeline.yml`]: { refused: "line 20: 'jobs.hello_python_world_job.inputs.sample_input_data.path' is the local path './data'" },
  [`${BASICS}/2b_component_with_input_output/component.yml`]: { refused: 'not a pipeline job' },
  [`${BASICS}/3a_basic_pipeline/pipeline.yml`]: { refused: "line 8: 'settings.default_datestore' is not supported by AmlPipelineJob@1 in settings", fragments: ["did you mean 'default_datastore'?"] },
  [`${BASICS}/3a_basic_pipeline/componentA.yml`]: { refused: 'not a pipeline job' },
  [`${BASICS}/3a_basic_pipeline/componentB.yml`]: { refused: 'not a pipeline job' },
  [`${BASICS}/3a_basic_pipeline/componentC.yml`]: { refused: 'not a pipeline job' },
  [`${BASICS}/4b_datastore_datapath_uri/pipeline.yml`]: 'translates',
  [`${BASICS}/4b_datastore_datapath_uri/component-file.yml`]: { refused: 'not a pipeline job' },
  [`${BASICS}/4b_datastore_datapath_uri/component-folder.yml`]: { refused: 'not a pipeline job' },
  [`${BASICS}/5a_env_public_docker_image/pipeline.yml`]: 'translates',
  [`${BASICS}/5a_env_public_docker_image/component.yml`]: { refused: 'not a pipeline job' },
  [`${BASICS}/5b_env_registered/pipeline.yml`]: 'translates',
  [`${BASICS}/5b_env_registered/component.yml`]: { refused: 'not a pipeline job' },
  [`${BASICS}/5c_env_conda_file/pipeline.yml`]: 'translates',
  [`${BASICS}/5c_env_conda_file/component.yml`]: { refused: 'not a pipeline job' },
  [`${BASICS}/5c_env_conda_file/conda.yaml`]: { refused: 'is a conda environment file, not a pipeline job' },
  [`${BASICS}/5c_env_conda_file/conda.yml`]: { refused: 'is a conda environment file, not a pipeline job' },
  'classical/aml-cli-v2/data-science/environment/train-conda.yml': { refused: 'is a conda environment file, not a pipeline job' },
  'classical/aml-cli-v2/mlops/azureml/train/pipeline.yml': { refused: "line 10: 'inputs.input.path' is the local path '../../../data/'" },
  'classical/aml-cli-v2/mlops/azureml/train/train.yml': { refused: "line 9: 'inputs.pipeline_job_input.path' is the local path '../../../data/'" },
  'classical/aml-cli-v2/mlops/azureml/train/data.yml': { refused: 'is a data definition (data.schema.json), not a pipeline job' },
  'classical/aml-cli-v2/mlops/azureml/train/train-env.yml': { refused: 'is an environment definition (environment.schema.json), not a pipeline job' },
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

  test('1a (local components) translates once its two local data paths point at a datastore', () => {
    const p = plan(AZ, `${BASICS}/1a_e2e_local_components/pipeline.yml`, [
      'jobs.train_job.inputs.training_data.path=azureml://datastores/workspaceblobstore/paths/1a/data/',
      'jobs.score_job.inputs.test_data.path=azureml://datastores/workspaceblobstore/paths/1a/data/',
    ]);
    assert.equal(p.displayName, '1a_e2e_local_components');
    assert.equal(p.description, 'Dummy train-score-eval pipeline with local components');
    assert.deepEqual(p.inputs, {
      pipeline_job_training_max_epocs: { jobInputType: 'literal', value: '20' },
      pipeline_job_training_learning_rate: { jobInputType: 'literal', value: '1.8' },
      pipeline_job_learning_rate_schedule: { jobInputType: 'literal', value: 'time-based' },
    });
    assert.deepEqual(p.outputs, {
      pipeline_job_trained_model: { jobOutputType: 'uri_folder', mode: 'Upload' },
      pipeline_job_evaluation_report: { jobOutputType: 'uri_folder', mode: 'Upload' },
    });
    assert.deepEqual(p.steps.map((s) => s.name), ['train_job', 'score_job', 'evaluate_job']);

    const train = step(p, 'train_job');
    assert.equal(train.compute, 'cpu-cluster');
    assert.deepEqual(train.inputs, {
      training_data: { job_input_type: 'uri_folder', uri: 'azureml://datastores/workspaceblobstore/paths/1a/data/' },
      max_epocs: lit('${{parent.inputs.pipeline_job_training_max_epocs}}'),
      learning_rate: lit('${{parent.inputs.pipeline_job_training_learning_rate}}'),
      learning_rate_schedule: lit('${{parent.inputs.pipeline_job_learning_rate_schedule}}'),
    });
    assert.deepEqual(train.outputs, { model_output: { value: '${{parent.outputs.pipeline_job_trained_model}}', type: 'literal' } });
    const tc = anon(train.component);
    assert.equal(tc.spec.name, 'train');
    assert.equal(tc.spec._source, 'YAML.COMPONENT');
    assert.deepEqual(tc.spec.inputs, {
      training_data: { type: 'uri_folder' },
      max_epocs: { type: 'integer' },
      learning_rate: { type: 'number', default: 0.01 },
      learning_rate_schedule: { type: 'string', default: 'time-based' },
    });
    assert.equal(tc.code?.kind, 'local');
    assert.equal((tc.code as { path: string }).path, path.join(copy, AZ, BASICS, '1a_e2e_local_components/train_src'));
    assert.deepEqual({ ...tc.environment, origin: undefined }, { kind: 'named', name: 'AzureML-sklearn-0.24-ubuntu18.04-py37-cpu', label: 'latest', origin: undefined });
    assert.equal(tc.spec.code, undefined, 'code is carried as a CodeRef, not in the spec');

    // score.yml uses the old `code: local_path:` form and `type: path` ports, which the CLI still accepts
    const score = step(p, 'score_job');
    const sc = anon(score.component);
    assert.equal((sc.code as { path: string }).path, path.join(copy, AZ, BASICS, '1a_e2e_local_components/score_src'));
    assert.deepEqual(sc.spec.outputs, { score_output: { type: 'path' } });
    assert.deepEqual(score.inputs.model_input, lit('${{parent.jobs.train_job.outputs.model_output}}'));
    assert.deepEqual(score.outputs, { score_output: { job_output_type: 'uri_folder', mode: 'Upload' } });
    assert.deepEqual({ ...sc.environment, origin: undefined }, { kind: 'named', name: 'AzureML-sklearn-0.24-ubuntu18.04-py37-cpu', version: '5', origin: undefined });

    const ev = step(p, 'evaluate_job');
    assert.deepEqual(ev.inputs, { scoring_result: lit('${{parent.jobs.score_job.outputs.score_output}}') });
    assert.deepEqual(ev.outputs, { eval_output: { value: '${{parent.outputs.pipeline_job_evaluation_report}}', type: 'literal' } });
  });

  test('1b (registered components) keeps azureml:name@latest references and the top-level compute', () => {
    const p = plan(AZ, `${BASICS}/1b_e2e_registered_components/pipeline.yml`, [
      'jobs.train_job.inputs.training_data.path=azureml:taxi-data@latest',
      'jobs.score_job.inputs.test_data.path=azureml:taxi-data:2',
    ]);
    assert.equal(p.compute, 'cpu-cluster');
    const train = step(p, 'train_job');
    assert.deepEqual({ ...train.component, origin: undefined }, { kind: 'named', name: 'my_train', label: 'latest', origin: undefined });
    assert.equal(train.compute, undefined);
    assert.deepEqual(train.inputs.training_data, { job_input_type: 'uri_folder', uri: 'azureml:taxi-data@latest' });
    assert.deepEqual(Object.keys(p.assets ?? {}).sort(), ['azureml:taxi-data:2', 'azureml:taxi-data@latest']);
    assert.equal(p.assets!['azureml:taxi-data:2']!.assetType, 'data');
    assert.equal(p.assets!['azureml:taxi-data:2']!.version, '2');
    // registered components: outputs are not known locally, bindings pass through
    assert.deepEqual(step(p, 'evaluate_job').inputs, { scoring_result: lit('${{parent.jobs.score_job.outputs.score_output}}') });
  });

  test('2b: a CRLF component file translates once the data path is a datastore URI', () => {
    const p = plan(AZ, `${BASICS}/2b_component_with_input_output/pipeline.yml`, ['jobs.hello_python_world_job.inputs.sample_input_data.path=azureml://datastores/workspaceblobstore/paths/2b/']);
    assert.deepEqual(p.settings, { default_compute: 'serverless' });
    const s = step(p, 'hello_python_world_job');
    const c = anon(s.component);
    assert.equal(c.spec.command, 'python hello.py   --input_data ${{inputs.sample_input_data}} --input_string ${{inputs.sample_input_string}} --output_data ${{outputs.sample_output_data}}');
    assert.deepEqual(c.spec.inputs, { sample_input_data: { type: 'uri_folder' }, sample_input_string: { type: 'string', default: 'hello_python_world_default' } });
    assert.equal(c.environment.kind, 'inline');
    assert.equal((c.environment as { image: string }).image, 'python');
  });

  test('3a translates when the datastore typo is fixed: limits, local_path code, CRLF component', () => {
    const file = path.join(copy, AZ, BASICS, '3a_basic_pipeline/pipeline.yml');
    const fixed = path.join(path.dirname(file), 'pipeline-fixed.yml');
    fs.writeFileSync(fixed, fs.readFileSync(file, 'utf8').replace('default_datestore', 'default_datastore'));
    try {
      const p = translatePipelineJob(fixed, { root: path.join(copy, AZ), overrides: [] });
      assert.deepEqual(p.settings, { default_datastore: 'workspaceblobstore', default_compute: 'serverless' });
      assert.deepEqual(step(p, 'component_a').extra, { limits: { job_limits_type: 'Command', timeout: 'PT1H' } });
      assert.equal((anon(step(p, 'component_a').component).code as { path: string }).path, path.join(path.dirname(file), 'componentA_src'));
      assert.equal(anon(step(p, 'component_b').component).spec.name, 'component_b');
    } finally {
      fs.rmSync(fixed);
    }
  });

  test('4b: datastore URIs with ${{name}}, modes, uri_file, an empty step output and a pipeline output path', () => {
    const p = plan(AZ, `${BASICS}/4b_datastore_datapath_uri/pipeline.yml`);
    assert.deepEqual(p.settings, { default_compute: 'cpu-cluster' });
    assert.deepEqual(p.outputs, { pipeline_sample_output_data: { jobOutputType: 'uri_folder', uri: 'azureml://datastores/workspaceblobstore/paths/azureml/${{name}}' } });
    const folder = step(p, 'component_folder');
    assert.deepEqual(folder.inputs, {
      sample_input_data: { job_input_type: 'uri_folder', uri: 'azureml://datastores/workspaceblobstore/paths/azureml/${{name}}', mode: 'ReadOnlyMount' },
      sample_input_string: lit('${{parent.inputs.pipeline_sample_input_string}}'),
    });
    const file = step(p, 'component_file');
    assert.deepEqual(file.inputs, {
      sample_input_data_file: { job_input_type: 'uri_file', uri: 'azureml://datastores/workspaceblobstore/paths/azureml/${{name}}/hello-world.txt', mode: 'Download' },
      placeholder: lit('${{parent.jobs.component_folder.outputs.sample_output_data}}'),
    });
    assert.deepEqual(file.outputs, {}, 'an empty step output is left to the component default, as the CLI does');
  });

  test('5a/5b/5c: inline image, registry environment, conda file read next to the component', () => {
    const a = anon(step(plan(AZ, `${BASICS}/5a_env_public_docker_image/pipeline.yml`), 'hello_python_world_job').component);
    assert.equal(a.environment.kind, 'inline');
    assert.equal((a.environment as { image: string }).image, 'docker.io/python');
    assert.match((a.environment as { hash: string }).hash, /^[0-9a-f]{64}$/);

    const b = step(plan(AZ, `${BASICS}/5b_env_registered/pipeline.yml`), 'hello_python_world_job');
    assert.equal(b.compute, 'cpu-cluster');
    assert.deepEqual({ ...anon(b.component).environment, origin: undefined }, { kind: 'id', id: 'azureml://registries/azureml/environments/sklearn-1.0/labels/latest', origin: undefined });

    const p = plan(AZ, `${BASICS}/5c_env_conda_file/pipeline.yml`);
    const env = anon(step(p, 'hello_python_world_job').component).environment as { condaFile: string; image: string };
    assert.equal(env.condaFile, fs.readFileSync(path.join(copy, AZ, BASICS, '5c_env_conda_file/conda.yaml'), 'utf8'));
    assert.equal(env.image, 'mcr.microsoft.com/azureml/openmpi4.1.0-cuda11.8-cudnn8-ubuntu22.04:latest');
  });

  test('mlops-project-template: inline steps become anonymous components with inferred inputs', () => {
    const p = plan(MLOPS, 'classical/aml-cli-v2/mlops/azureml/train/pipeline.yml', ['inputs.input.path=azureml:taxi-data@latest']);
    assert.equal(p.experimentName, 'taxi-fare-training');
    assert.deepEqual(p.settings, { default_datastore: 'workspaceblobstore', default_compute: 'rai-cluster', continue_on_step_failure: false });
    assert.deepEqual(p.inputs, { input: { jobInputType: 'uri_folder', uri: 'azureml:taxi-data@latest' } });
    assert.deepEqual(Object.keys(p.outputs), ['prepared_data', 'trained_model', 'predictions', 'score_report', 'deploy_flag']);
    assert.deepEqual(p.outputs.prepared_data, { jobOutputType: 'uri_folder' });

    const prep = step(p, 'prep_data');
    assert.equal(prep.displayName, 'prep-data');
    const pc = anon(prep.component);
    assert.equal(pc.spec._source, 'YAML.JOB');
    assert.equal(pc.spec.name, undefined, 'inline steps have no component name; body.ts names them azureml_anonymous');
    assert.deepEqual(pc.spec.inputs, { raw_data: { type: 'uri_folder' } });
    assert.deepEqual(pc.spec.outputs, { prepared_data: { type: 'uri_folder' } });
    assert.equal((pc.code as { path: string }).path, path.join(copy, MLOPS, 'classical/aml-cli-v2/data-science/src'));
    assert.deepEqual({ ...pc.environment, origin: undefined }, { kind: 'named', name: 'taxi-train-env', label: 'latest', origin: undefined });

    const ev = step(p, 'evaluate_model');
    assert.deepEqual(anon(ev.component).spec.inputs, {
      model_name: { type: 'string', default: 'taxi-model' },
      model_input: { type: 'uri_folder' },
      prepared_data: { type: 'uri_folder' },
    });
    assert.deepEqual(ev.inputs.model_name, lit('taxi-model'));
    const reg = step(p, 'register_model');
    assert.deepEqual(reg.outputs, {});
    assert.equal(anon(reg.component).spec.outputs, undefined);
    assert.deepEqual(reg.inputs.deploy_flag, lit('${{parent.jobs.evaluate_model.outputs.deploy_flag}}'));
  });
});

describe('the sample train/evaluate pipeline (examples/mlops)', () => {
  test('translates: local components, local code, inline conda environment, registered env and data', () => {
    const p = translatePipelineJob(path.join(SAMPLE, 'pipeline.yml'), { root: SAMPLE, overrides: [] });
    assert.equal(p.displayName, 'train-evaluate');
    assert.equal(p.experimentName, 'taxi-fare');
    assert.deepEqual(p.settings, { default_compute: 'cpu-cluster', default_datastore: 'workspaceblobstore', continue_on_step_failure: false });
    assert.deepEqual(p.inputs.learning_rate, { jobInputType: 'literal', value: '0.05' });
    assert.deepEqual(p.inputs.training_data, { jobInputType: 'uri_folder', uri: 'azureml://datastores/workspaceblobstore/paths/taxi/train/', mode: 'ReadOnlyMount' });
    assert.deepEqual(p.outputs.trained_model, { jobOutputType: 'mlflow_model', mode: 'Upload' });
    assert.deepEqual(p.steps.map((s) => s.name), ['train', 'evaluate']);
    const train = anon(step(p, 'train').component);
    assert.equal((train.code as { path: string }).path, path.join(SAMPLE, 'src'));
    assert.equal(train.environment.kind, 'inline');
    assert.match((train.environment as { condaFile: string }).condaFile, /mlflow/);
    const evaluate = step(p, 'evaluate');
    assert.deepEqual(evaluate.inputs.model_input, lit('${{parent.jobs.train.outputs.model_output}}'));
    assert.equal(anon(evaluate.component).environment.kind, 'named');
    assert.ok(fs.readFileSync(path.join(SAMPLE, 'src/train.py'), 'utf8').includes('mlflow.log_metric("auc"'));
    assert.ok(fs.readFileSync(path.join(SAMPLE, 'src/train.py'), 'utf8').includes('mlflow.log_metric("rmse"'));
  });

  test('task inputs win over the YAML for display name, experiment and tags', () => {
    const dir = copySample();
    const p = translatePipelineJob(path.join(dir, 'pipeline.yml'), { root: dir, overrides: [], displayName: 'nightly', experimentName: 'exp2', tags: { team: 'risk' } });
    assert.equal(p.displayName, 'nightly');
    assert.equal(p.experimentName, 'exp2');
    assert.deepEqual(p.tags, { team: 'risk' });
  });

  test('the same files give the same plan twice (stable environment hash)', () => {
    const a = translatePipelineJob(path.join(SAMPLE, 'pipeline.yml'), { root: SAMPLE, overrides: [] });
    const b = translatePipelineJob(path.join(SAMPLE, 'pipeline.yml'), { root: SAMPLE, overrides: [] });
    assert.deepEqual(a, b);
  });
});
