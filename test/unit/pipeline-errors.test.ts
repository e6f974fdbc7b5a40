import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { parseOverrides } from '../../tasks/AmlPipelineJob/overrides';
import { translatePipelineJob } from '../../tasks/AmlPipelineJob/translate';
import { copySample, scratch, throwsUserError } from '../../testkit/pipeline-sample';

const COMPONENT = `type: command
name: train
inputs:
  data: {type: uri_folder}
  lr: {type: number, default: 0.1}
outputs:
  model: {type: uri_folder}
code: ./src
environment: azureml:sklearn-env:3
command: python train.py --data \${{inputs.data}} --lr \${{inputs.lr}} --model \${{outputs.model}}
`;

/** A small valid pipeline; tests replace parts of it. */
function pipeline(jobs: string, head = ''): string {
  return `type: pipeline
${head}inputs:
  raw: {type: uri_folder, path: azureml://datastores/workspaceblobstore/paths/raw/}
  lr: 0.05
outputs:
  model:
settings:
  default_compute: azureml:cpu-cluster
jobs:
${jobs}`;
}

const TRAIN = `  train:
    component: ./train.yml
    inputs:
      data: \${{parent.inputs.raw}}
      lr: \${{parent.inputs.lr}}
    outputs:
      model: \${{parent.outputs.model}}
`;

function repo(files: Record<string, string | Buffer>): string {
  return scratch({ 'train.yml': COMPONENT, 'src/train.py': 'print(1)\n', ...files });
}

function run(dir: string, file = 'pipeline.yml', overrides: string[] = []) {
  return () => translatePipelineJob(path.join(dir, file), { root: dir, overrides: parseOverrides(overrides) });
}

describe('bad input: every refusal is one UserError naming the file, key and fix', () => {
  test('the baseline used by these cases translates', () => {
    const dir = repo({ 'pipeline.yml': pipeline(TRAIN) });
    const plan = translatePipelineJob(path.join(dir, 'pipeline.yml'), { root: dir, overrides: [] });
    assert.equal(plan.steps.length, 1);
  });

  test('1. truncated YAML reports the line', () => {
    const text = pipeline(TRAIN);
    const cut = text.slice(0, text.indexOf('path: azureml://') + 8);
    throwsUserError(run(repo({ 'pipeline.yml': cut })), 'pipeline.yml line 3: the YAML is not valid', 'fix the YAML syntax');
  });

  test('2. a stray quote reports its line', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': 'type: pipeline\ndisplay_name: "unterminated\njobs: {}\n' })),
      'pipeline.yml line 2: a double quote opened here is never closed',
    );
  });

  test('3. duplicate keys are refused with the line of the second one', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN).replace('settings:\n', 'settings:\n  default_compute: azureml:gpu\n') })),
      'pipeline.yml line 9: a key appears twice',
    );
  });

  test('4. an alias bomb is refused before it expands', () => {
    const bomb = ['type: pipeline', 'a: &a ["x","x","x","x","x","x","x","x","x","x"]'];
    for (let i = 1; i <= 8; i++)
      bomb.push(
        `${String.fromCharCode(97 + i)}: &${String.fromCharCode(97 + i)} [${Array(10)
          .fill(`*${String.fromCharCode(96 + i)}`)
          .join(',')}]`,
      );
    throwsUserError(run(repo({ 'pipeline.yml': bomb.join('\n') + '\n' })), 'pipeline.yml:', 'alias bomb');
  });

  test('5. a file over 1 MiB is refused and says so', () => {
    const big = pipeline(TRAIN) + `# ${'x'.repeat(1024 * 1024)}\n`;
    throwsUserError(run(repo({ 'pipeline.yml': big })), 'pipeline.yml:', 'more than the 1 MiB');
  });

  test('6. an empty file', () => {
    throwsUserError(run(repo({ 'pipeline.yml': '\n  \n' })), 'pipeline.yml: the file is empty');
  });

  test('7. a top level that is a list, not a mapping', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': '- type: pipeline\n' })),
      'pipeline.yml: the top level of the file is a list, not a mapping',
    );
  });

  test('8. an unknown top-level key, with a suggestion', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN, 'experiment: x\n') })),
      "pipeline.yml line 2: 'experiment' is not supported by AmlPipelineJob@1 in a pipeline job",
      "did you mean 'experiment_name'?",
    );
  });

  test('9. an unknown key deep in a step names the exact path', () => {
    const jobs = TRAIN + '    resources:\n      instance_count: 2\n      foo: bar\n';
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(jobs) })),
      "pipeline.yml line 19: 'jobs.train.resources.foo' is not supported by AmlPipelineJob@1 in resources",
    );
  });

  test('10. wrong type: jobs is a list', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': 'type: pipeline\njobs:\n  - train\n' })),
      "pipeline.yml line 2: 'jobs' must be a mapping of step names to steps",
    );
  });

  test('11. wrong type: a boolean setting written as text', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN).replace('settings:\n', 'settings:\n  continue_on_step_failure: "yes"\n') })),
      "'settings.continue_on_step_failure' must be true or false",
    );
  });

  test('12. wrong type: a tag value that is a number', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN, 'tags:\n  build: 42\n') })),
      "pipeline.yml line 3: 'tags.build' must be text, not 42",
      'quote it',
    );
  });

  test('13. a missing component file', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN.replace('./train.yml', './missing.yml')) })),
      "pipeline.yml line 11: 'jobs.train.component' points at './missing.yml', which does not exist",
    );
  });

  test('14. code path traversal out of the repository (../../etc)', () => {
    const dir = repo({ 'pipeline.yml': pipeline(TRAIN), 'train.yml': COMPONENT.replace('code: ./src', 'code: ../../etc') });
    throwsUserError(run(dir), "train.yml line 8: 'code' points at '../../etc', which is outside the repository folder");
  });

  test('15. a symlinked code folder that leads outside the repository', () => {
    const outside = fs.mkdtempSync(path.join(os.tmpdir(), 'outside-'));
    fs.writeFileSync(path.join(outside, 'secret.py'), 'x=1\n');
    const dir = repo({ 'pipeline.yml': pipeline(TRAIN), 'train.yml': COMPONENT.replace('code: ./src', 'code: ./linked') });
    fs.symlinkSync(outside, path.join(dir, 'linked'));
    throwsUserError(
      run(dir),
      "train.yml line 8: 'code' points at './linked', a symbolic link that leads outside the repository folder",
      'copy the code into the repository',
    );
  });

  test('16. a binding to a pipeline input that does not exist', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN.replace('parent.inputs.lr', 'parent.inputs.learning_rate')) })),
      "pipeline.yml line 14: 'jobs.train.inputs.lr' binds to ${{parent.inputs.learning_rate}}, but the pipeline has no input 'learning_rate'",
      'declared inputs: raw, lr',
    );
  });

  test('17. a binding to a step that does not exist', () => {
    const jobs = TRAIN + '  score:\n    component: ./train.yml\n    inputs:\n      data: ${{parent.jobs.trian.outputs.model}}\n';
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(jobs) })),
      "'jobs.score.inputs.data' binds to ${{parent.jobs.trian.outputs.model}}, but there is no step 'trian'",
    );
  });

  test('18. a binding to an output the component does not declare', () => {
    const jobs = TRAIN + '  score:\n    component: ./train.yml\n    inputs:\n      data: ${{parent.jobs.train.outputs.metrics}}\n';
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(jobs) })),
      "'jobs.score.inputs.data' binds to ${{parent.jobs.train.outputs.metrics}}, but step 'train' has no output 'metrics'",
      'its outputs are model',
    );
  });

  test('19. a step reading its own output', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN.replace('${{parent.inputs.raw}}', '${{parent.jobs.train.outputs.model}}')) })),
      "'jobs.train.inputs.data' binds to ${{parent.jobs.train.outputs.model}}, an output of the same step",
    );
  });

  test('20. a cycle between two steps', () => {
    const jobs = `  a:
    component: ./train.yml
    inputs:
      data: \${{parent.jobs.b.outputs.model}}
  b:
    component: ./train.yml
    inputs:
      data: \${{parent.jobs.a.outputs.model}}
`;
    throwsUserError(run(repo({ 'pipeline.yml': pipeline(jobs) })), "'jobs.a' is part of a cycle of step bindings (a -> b -> a)");
  });

  test('21. the old ${{inputs.x}} binding form in a pipeline step', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN.replace('${{parent.inputs.lr}}', '${{inputs.lr}}')) })),
      "'jobs.train.inputs.lr' uses the old binding ${{inputs.lr}}",
      'write ${{parent.inputs.lr}}',
    );
  });

  test('22. an override that matches nothing names the override line', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN) }), 'pipeline.yml', ['inputs.lr=0.1', 'jobs.trian.compute=azureml:big']),
      "Input 'overrides' line 2 ('jobs.trian.compute=azureml:big'): 'jobs.trian' matches nothing in pipeline.yml",
    );
  });

  test('23. a malformed override line names its line number', () => {
    throwsUserError(() => parseOverrides(['# comment', '', 'inputs.lr 0.1']), "Input 'overrides' line 3: 'inputs.lr 0.1' has no '='");
  });

  test('24. an override that would replace a mapping', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN) }), 'pipeline.yml', ['settings=x']),
      "Input 'overrides' line 1 ('settings=x'): 'settings' in pipeline.yml is a mapping",
      'settings.default_compute=...',
    );
  });

  test('25. an unsupported step type is refused by name, saying what to do instead', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN.replace('    component:', '    type: data_transfer\n    component:')) })),
      "pipeline.yml line 11: 'jobs.train.type' is 'data_transfer'",
      'data transfer steps are not supported',
      'express it with command steps',
    );
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN.replace('    component:', '    type: if_else\n    component:')) })),
      "'jobs.train.type' is 'if_else'",
      'if_else control-flow steps are not supported',
    );
  });

  test('26. an inline environment whose Docker build context is remote (only a local folder is uploaded)', () => {
    const dir = repo({
      'pipeline.yml': pipeline(TRAIN),
      'train.yml': COMPONENT.replace(
        'environment: azureml:sklearn-env:3',
        'environment:\n  build:\n    path: https://github.com/x/y.git#main:docker',
      ),
    });
    throwsUserError(
      run(dir),
      "train.yml line 11: 'environment.build.path' is the remote location 'https://github.com/x/y.git#main:docker'",
      'path: ./docker-context',
    );
  });

  test('27. a compute name with a space', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN + '    compute: azureml:cpu cluster\n') })),
      "'jobs.train.compute' is 'azureml:cpu cluster', which is not a compute name",
    );
  });

  test('28. a local data path that does not exist names the key and where it looked', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN).replace('path: azureml://datastores/workspaceblobstore/paths/raw/', 'path: ./data') })),
      "pipeline.yml line 3: 'inputs.raw.path' points at './data', which does not exist",
      'relative to the folder of pipeline.yml',
    );
  });

  test('29. a step input the component does not declare', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN.replace('      lr: ', '      epochs: 3\n      lr: ')) })),
      "'jobs.train.inputs.epochs' is not an input of the component train.yml (train)",
      'its inputs are data, lr',
    );
  });

  test('30. a required component input left unset', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN.replace('      data: ${{parent.inputs.raw}}\n', '')) })),
      "'jobs.train.inputs' does not set 'data', which the component train.yml (train) requires",
    );
  });

  test('31. a command that uses an undeclared input', () => {
    const dir = repo({ 'pipeline.yml': pipeline(TRAIN), 'train.yml': COMPONENT.replace('--lr ${{inputs.lr}}', '--lr ${{inputs.rate}}') });
    throwsUserError(run(dir), "train.yml line 10: 'command' uses ${{inputs.rate}}, but there is no input 'rate'");
  });

  test('32. a job type that is not submitted on its own is refused by name, saying what to write', () => {
    throwsUserError(
      run(repo({ 'job.yml': 'type: automl\ntask: classification\n' }), 'job.yml'),
      "job.yml line 1: 'type' is 'automl', a job type AmlPipelineJob@1 does not submit on its own",
      'write a pipeline job (type: pipeline) with this AutoML job under jobs:',
    );
  });

  test('33. a job file outside the repository folder', () => {
    const dir = repo({ 'pipeline.yml': pipeline(TRAIN) });
    throwsUserError(
      () => translatePipelineJob(path.join(dir, '..', 'elsewhere.yml'), { root: dir, overrides: [] }),
      "Input 'jobFile':",
      'is outside the repository folder',
    );
  });

  test('34. a job file that does not exist', () => {
    throwsUserError(run(repo({}), 'pipelines/train.yml'), "Input 'jobFile': 'pipelines/train.yml' does not exist");
  });

  test("35. the old 'type: path' on a job input", () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN).replace('{type: uri_folder, path:', '{type: path, path:') })),
      "'inputs.raw.type' is the old type 'path'",
      "write 'uri_folder'",
    );
  });

  test('36. a YAML tag such as !!python/object is refused', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN, 'description: !!python/object:os.system "x"\n') })),
      'pipeline.yml line 2:',
      'remove the YAML tag',
    );
  });

  test('37. a step output bound to an undeclared pipeline output', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN.replace('parent.outputs.model', 'parent.outputs.best_model')) })),
      "'jobs.train.outputs.model' binds to the pipeline output 'best_model', which the pipeline does not declare",
      '(declared: model)',
    );
  });

  test('38. an input mode that does not exist', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN).replace('paths/raw/}', 'paths/raw/, mode: rw_mount}') })),
      "'inputs.raw.mode' is 'rw_mount', which is not an input mode",
      'ro_mount',
    );
  });

  test('39. a step with neither component nor command', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline('  train:\n    compute: azureml:cpu\n') })),
      "'jobs.train' has neither component: nor command:",
    );
  });

  test('40. a component file of a type the task does not run', () => {
    const dir = repo({ 'pipeline.yml': pipeline(TRAIN), 'train.yml': COMPONENT.replace('type: command', 'type: data_transfer') });
    throwsUserError(run(dir), "train.yml line 1: 'type' is 'data_transfer'", 'use type: command, parallel, spark or pipeline');
  });

  test('41. a conda file that does not exist', () => {
    const dir = repo({
      'pipeline.yml': pipeline(TRAIN),
      'train.yml': COMPONENT.replace('environment: azureml:sklearn-env:3', 'environment:\n  image: python:3.11\n  conda_file: ./conda.yml'),
    });
    throwsUserError(run(dir), "train.yml line 11: 'environment.conda_file' points at './conda.yml', which does not exist");
  });

  test('42. a step timeout written as text', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN + '    limits:\n      timeout: 1h\n') })),
      '\'jobs.train.limits.timeout\' is "1h", not a number of seconds',
    );
  });

  test('43. a bad value set through an override names the override, not the file line', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN) }), 'pipeline.yml', ['settings.default_compute=azureml:gpu cluster']),
      "pipeline.yml (overrides line 1: 'settings.default_compute=azureml:gpu cluster'): 'settings.default_compute' is 'azureml:gpu cluster'",
    );
  });

  test('44. a step name that differs from its key', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN + '    name: training\n') })),
      "'jobs.train.name' is 'training' but the step key is 'train'",
    );
  });

  test('45. a step without compute when the pipeline has no default', () => {
    throwsUserError(
      run(
        repo({ 'pipeline.yml': pipeline(TRAIN).replace('  default_compute: azureml:cpu-cluster\n', '  continue_on_step_failure: true\n') }),
      ),
      "'jobs.train' has no compute and the pipeline sets no default",
      'settings.default_compute',
    );
  });

  test('46. an empty pipeline input', () => {
    throwsUserError(
      run(repo({ 'pipeline.yml': pipeline(TRAIN).replace('  lr: 0.05', '  lr:') })),
      "pipeline.yml line 4: 'inputs.lr' has no value",
    );
  });

  test('47. a step input given as a local folder where the data is a single file (uri_file)', () => {
    const dir = repo({
      'pipeline.yml': pipeline(TRAIN.replace('${{parent.inputs.raw}}', '{type: uri_file, path: ./data}')),
      'data/a.csv': 'x\n',
    });
    throwsUserError(run(dir), "'jobs.train.inputs.data.path' is a uri_file input, but './data' is a folder", 'write type: uri_folder');
  });

  test('48. the sample pipeline with an environment label other than latest', () => {
    const dir = copySample();
    fs.writeFileSync(
      path.join(dir, 'components/evaluate.yml'),
      fs.readFileSync(path.join(dir, 'components/evaluate.yml'), 'utf8').replace('@latest', '@prod'),
    );
    throwsUserError(run(dir), "components/evaluate.yml line 19: 'environment' uses the label '@prod'");
  });
});
