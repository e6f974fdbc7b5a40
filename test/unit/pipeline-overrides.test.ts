import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { applyOverrides, parseOverrides } from '../../tasks/AmlPipelineJob/overrides';
import { Slot } from '../../tasks/AmlPipelineJob/plan';
import { translatePipelineJob } from '../../tasks/AmlPipelineJob/translate';
import { parseYamlText } from '../../tasks/common/yaml';
import { copySample, throwsUserError } from '../../testkit/pipeline-sample';

describe('parseOverrides', () => {
  test('values are YAML scalars: numbers stay numbers, booleans booleans, quoted text text', () => {
    const o = parseOverrides([
      'inputs.learning_rate=0.01',
      'settings.force_rerun = true',
      'inputs.tag="0.01"',
      "display_name='nightly build'",
      'inputs.n=7',
      'inputs.x=1.0',
    ]);
    assert.deepEqual(
      o.map((x) => [x.path.join('.'), x.value]),
      [
        ['inputs.learning_rate', 0.01],
        ['settings.force_rerun', true],
        ['inputs.tag', '0.01'],
        ['display_name', 'nightly build'],
        ['inputs.n', 7],
        ['inputs.x', 1],
      ],
    );
    assert.equal(o[5]!.source, '1.0');
  });

  test('a value may itself contain = and : (URIs, azureml: references)', () => {
    const [o] = parseOverrides(['jobs.train.inputs.data.path=azureml://datastores/ws/paths/a=b/']);
    assert.equal(o!.value, 'azureml://datastores/ws/paths/a=b/');
    const [c] = parseOverrides(['settings.default_compute=azureml:gpu-cluster']);
    assert.equal(c!.value, 'azureml:gpu-cluster');
  });

  test('blank lines and # comments are skipped; line numbers count every line, also inside multi-line entries', () => {
    const o = parseOverrides(['# nightly', '', 'inputs.a=1\r\ninputs.b=2']);
    assert.deepEqual(
      o.map((x) => [x.line, x.text]),
      [
        [3, 'inputs.a=1'],
        [4, 'inputs.b=2'],
      ],
    );
  });

  test('malformed lines name the input and the line', () => {
    throwsUserError(() => parseOverrides(['inputs.a=1', '=3']), "Input 'overrides' line 2: '=3' has no key path");
    throwsUserError(() => parseOverrides(['inputs..a=3']), "Input 'overrides' line 1: the key path 'inputs..a' is not valid");
    throwsUserError(() => parseOverrides(['inputs.a=']), "Input 'overrides' line 1: 'inputs.a' has no value after '='");
    throwsUserError(
      () => parseOverrides(['inputs.a=[1, 2]']),
      "Input 'overrides' line 1: the value of 'inputs.a' must be a single value",
      'not a list or mapping',
    );
    throwsUserError(() => parseOverrides(['inputs.a=null']), "Input 'overrides' line 1: 'inputs.a' is set to null");
    throwsUserError(
      () => parseOverrides(['inputs.a="x']),
      "Input 'overrides' line 1: the value of 'inputs.a' must be a single value",
      'invalid YAML',
    );
    throwsUserError(() => parseOverrides(['inputs.a=1', 'inputs.a=2']), "Input 'overrides' line 2: 'inputs.a' is already set on line 1");
  });
});

describe('applyOverrides', () => {
  const yaml = () =>
    parseYamlText(
      'type: pipeline\ninputs:\n  lr: 0.1\nsettings:\n  default_compute: azureml:cpu\njobs:\n  train:\n    compute: azureml:cpu\n    inputs: {lr: 1}\n',
      'pipeline.yml',
    );

  test('replaces existing values and adds new keys under existing mappings', () => {
    const doc = yaml();
    applyOverrides(
      doc,
      parseOverrides([
        'inputs.lr=0.01',
        'inputs.epochs=10',
        'jobs.train.compute=azureml:big',
        'display_name=x',
        'jobs.train.display_name=Train',
      ]),
    );
    assert.deepEqual(doc.data.inputs, { lr: 0.01, epochs: 10 });
    assert.deepEqual(doc.data.jobs, { train: { compute: 'azureml:big', inputs: { lr: 1 }, display_name: 'Train' } });
    assert.equal(doc.data.display_name, 'x');
  });

  test('creates top-level settings and tags when the file has none', () => {
    const doc = parseYamlText('type: pipeline\njobs: {a: {component: ./c.yml}}\n', 'p.yml');
    applyOverrides(doc, parseOverrides(['settings.default_compute=azureml:gpu-cluster', 'tags.owner=risk']));
    assert.deepEqual(doc.data.settings, { default_compute: 'azureml:gpu-cluster' });
    assert.deepEqual(doc.data.tags, { owner: 'risk' });
  });

  test('a path through a missing or scalar key matches nothing and names the override', () => {
    throwsUserError(
      () => applyOverrides(yaml(), parseOverrides(['jobs.score.compute=azureml:x'])),
      "Input 'overrides' line 1 ('jobs.score.compute=azureml:x'): 'jobs.score' matches nothing in pipeline.yml (there: train)",
    );
    throwsUserError(
      () => applyOverrides(yaml(), parseOverrides(['outputs.model.mode=upload'])),
      "'outputs' matches nothing in pipeline.yml",
    );
    throwsUserError(
      () => applyOverrides(yaml(), parseOverrides(['inputs.lr.value=1'])),
      "'inputs.lr' in pipeline.yml is a single value, not a mapping",
    );
    throwsUserError(
      () => applyOverrides(yaml(), parseOverrides(['jobs.train.inputs=1'])),
      "'jobs.train.inputs' in pipeline.yml is a mapping",
      'jobs.train.inputs.lr=...',
    );
  });

  test('the overridden values reach the plan, stringified like the CLI (0.01, True, 1.0)', () => {
    const dir = copySample();
    const plan = translatePipelineJob(path.join(dir, 'pipeline.yml'), {
      root: dir,
      overrides: parseOverrides([
        'inputs.learning_rate=0.01',
        'inputs.n_estimators=1.0',
        'inputs.use_gpu=true',
        'settings.default_compute=azureml:gpu-cluster',
        'jobs.train.compute=azureml:big',
        'jobs.evaluate.inputs.min_auc=0.8',
        'experiment_name=nightly',
      ]),
    });
    const inputs = plan.body.inputs as Record<string, unknown>;
    assert.deepEqual(inputs.learning_rate, { jobInputType: 'literal', value: '0.01' });
    assert.deepEqual(inputs.n_estimators, { jobInputType: 'literal', value: '1.0' });
    assert.deepEqual(inputs.use_gpu, { jobInputType: 'literal', value: 'True' });
    // Computes are slots the submitter resolves: the slot names the overridden compute.
    const computeOf = (t: unknown) => plan.refs[(t as Slot).ref];
    assert.deepEqual(computeOf((plan.body.settings as Record<string, unknown>).default_compute), {
      kind: 'compute',
      name: 'gpu-cluster',
      origin: { file: path.join(dir, 'pipeline.yml'), path: 'settings.default_compute' },
    });
    const jobs = plan.body.jobs as Record<string, Record<string, unknown>>;
    assert.equal((computeOf(jobs.train!.computeId) as { name: string }).name, 'big');
    assert.deepEqual((jobs.evaluate!.inputs as Record<string, unknown>).min_auc, { job_input_type: 'literal', value: '0.8' });
    assert.equal(plan.body.experimentName, 'nightly');
  });

  test('a translation error on an overridden value points at the override line', () => {
    const dir = copySample();
    throwsUserError(
      () =>
        translatePipelineJob(path.join(dir, 'pipeline.yml'), {
          root: dir,
          overrides: parseOverrides(['', 'jobs.train.limits.timeout=soon']),
        }),
      "pipeline.yml (overrides line 2: 'jobs.train.limits.timeout=soon'): 'jobs.train.limits.timeout' is \"soon\", not a number of seconds",
    );
  });
});

describe('overrides cannot reach object internals', () => {
  test('__proto__, constructor and prototype are refused as keys', () => {
    throwsUserError(
      () => parseOverrides(['__proto__.polluted=1']),
      "Input 'overrides' line 1: the key path '__proto__.polluted' is not valid",
    );
    throwsUserError(() => parseOverrides(['inputs.constructor=1']), 'is not valid');
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
    throwsUserError(
      () => parseYamlText('type: pipeline\n__proto__: {polluted: 1}\n', 'p.yml'),
      "p.yml: the key '__proto__' is not allowed",
    );
    assert.equal(({} as Record<string, unknown>).polluted, undefined);
  });
});
