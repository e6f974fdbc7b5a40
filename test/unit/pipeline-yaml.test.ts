import assert from 'node:assert/strict';
import * as path from 'node:path';
import { describe, test } from 'node:test';
import { isoDuration } from '../../tasks/common/duration';
import { classifyPath, findBindings, pyFloatRepr, pyStr, pyType } from '../../tasks/AmlPipelineJob/io';
import { translatePipelineJob } from '../../tasks/AmlPipelineJob/translate';
import { loadYamlFile, parseYamlText } from '../../tasks/common/yaml';
import { scratch, throwsUserError } from '../../testkit/pipeline-sample';

describe('loading YAML', () => {
  test('CRLF and a byte-order mark read like LF, with the same line numbers', () => {
    const lf = 'type: pipeline\njobs:\n  a:\n    bogus: 1\n';
    const crlf = '\ufeff' + lf.replace(/\n/g, '\r\n');
    for (const text of [lf, crlf]) {
      const doc = parseYamlText(text, 'p.yml');
      assert.deepEqual(doc.data, { type: 'pipeline', jobs: { a: { bogus: 1 } } });
      assert.equal(doc.lineOf(['jobs', 'a', 'bogus']), 4);
      assert.equal(doc.where(['jobs', 'a', 'bogus', 'deeper']), 'p.yml line 4', 'a missing key falls back to its nearest parent');
    }
  });

  test('a CRLF pipeline translates and refuses with the right line', () => {
    const comp = 'type: command\r\nenvironment: azureml:e:1\r\ncommand: echo hi\r\n';
    const dir = scratch({
      'c.yml': comp,
      'p.yml': 'type: pipeline\r\nsettings:\r\n  default_compute: azureml:cpu\r\njobs:\r\n  a:\r\n    component: ./c.yml\r\n',
    });
    assert.equal(translatePipelineJob(path.join(dir, 'p.yml'), { root: dir, overrides: [] }).steps.length, 1);
    const bad = scratch({
      'c.yml': comp,
      'p.yml': 'type: pipeline\r\njobs:\r\n  a:\r\n    component: ./c.yml\r\n    compute: azureml:cpu\r\n    retries: 3\r\n',
    });
    throwsUserError(
      () => translatePipelineJob(path.join(bad, 'p.yml'), { root: bad, overrides: [] }),
      "p.yml line 6: 'jobs.a.retries' is not supported",
    );
  });

  test('anchors, aliases and merge keys within the limit work', () => {
    const doc = parseYamlText(
      'base: &b {compute: azureml:cpu, limits: {timeout: 60}}\njobs:\n  a:\n    <<: *b\n    component: ./a.yml\n',
      'p.yml',
    );
    assert.deepEqual(doc.data.jobs, { a: { compute: 'azureml:cpu', limits: { timeout: 60 }, component: './a.yml' } });
  });

  test('the source text of scalars is kept (1.0 stays a float)', () => {
    const doc = parseYamlText('inputs:\n  a: 1.0\n  b: 1\n  c: 1e-5\n', 'p.yml');
    assert.equal(doc.sourceOf(['inputs', 'a']), '1.0');
    assert.equal(doc.sourceOf(['inputs', 'b']), '1');
    assert.equal(pyStr(1, doc.sourceOf(['inputs', 'a'])), '1.0');
    assert.equal(pyStr(1, doc.sourceOf(['inputs', 'b'])), '1');
    assert.equal(pyStr(0.00001, doc.sourceOf(['inputs', 'c'])), '1e-05');
  });

  test('a folder, a missing file and multiple documents are refused clearly', () => {
    const dir = scratch({ 'two.yml': 'type: pipeline\n---\ntype: pipeline\n' });
    throwsUserError(() => loadYamlFile(dir), 'is a folder, not a YAML file');
    throwsUserError(() => loadYamlFile(path.join(dir, 'nope.yml')), 'nope.yml: the YAML file does not exist');
    throwsUserError(() => loadYamlFile(path.join(dir, 'two.yml')), 'two.yml line 2: the file holds more than one YAML document');
  });

  test('a scalar top level is refused', () => {
    throwsUserError(
      () => parseYamlText('just text\n', 'p.yml'),
      'p.yml: the top level of the file is a single value ("just text"), not a mapping',
    );
  });
});

describe('values as the CLI stringifies them (Python str())', () => {
  test('booleans, integers, floats and strings', () => {
    assert.equal(pyStr(true), 'True');
    assert.equal(pyStr(false), 'False');
    assert.equal(pyStr(20), '20');
    assert.equal(pyStr(1.8), '1.8');
    assert.equal(pyStr('time-based'), 'time-based');
    // eslint-disable-next-line no-loss-of-precision -- deliberately beyond 2^53: YAML parses it to this very float
    assert.equal(pyStr(12345678901234567890, '12345678901234567890'), '12345678901234567890');
    assert.equal(pyType(20, '20'), 'integer');
    assert.equal(pyType(1, '1.0'), 'number');
    assert.equal(pyType(true), 'boolean');
  });

  test('float repr follows Python (exponent below 1e-4 and from 1e16)', () => {
    const cases: Array<[number, string]> = [
      [0.0001, '0.0001'],
      [0.00001, '1e-05'],
      [1e16, '1e+16'],
      [1e15, '1000000000000000.0'],
      [123.456, '123.456'],
      [-2.5, '-2.5'],
      [0, '0.0'],
      [1.5e-7, '1.5e-07'],
      [2.5e20, '2.5e+20'],
    ];
    for (const [v, s] of cases) assert.equal(pyFloatRepr(v), s, String(v));
  });

  test('ISO durations as isodate writes them', () => {
    assert.equal(isoDuration(3600), 'PT1H');
    assert.equal(isoDuration(90), 'PT1M30S');
    assert.equal(isoDuration(86400), 'P1D');
    assert.equal(isoDuration(90061), 'P1DT1H1M1S');
  });
});

describe('bindings and paths', () => {
  test('bindings are classified', () => {
    assert.deepEqual(
      findBindings('${{parent.inputs.lr}}').map((b) => b.kind),
      ['parentInput'],
    );
    assert.deepEqual(
      findBindings('x ${{parent.jobs.a.outputs.m}} ${{name}}').map((b) => b.kind),
      ['jobOutput', 'runtime'],
    );
    assert.deepEqual(
      findBindings('${{ inputs.x }}').map((b) => b.kind),
      ['legacy'],
    );
    assert.deepEqual(
      findBindings('${{jobs.a.outputs.m}}').map((b) => b.kind),
      ['legacy'],
    );
    assert.deepEqual(
      findBindings('${{parent.jobs.a.inputs.m}}').map((b) => b.kind),
      ['unknown'],
    );
  });

  test('paths are classified', () => {
    assert.equal(classifyPath('azureml://datastores/ws/paths/x/').kind, 'uri');
    assert.equal(classifyPath('https://acct.blob.core.windows.net/c/x.csv').kind, 'uri');
    assert.equal(classifyPath('abfss://fs@acct.dfs.core.windows.net/x').kind, 'uri');
    assert.deepEqual(classifyPath('azureml:taxi:3'), { kind: 'asset', ref: 'azureml:taxi:3', name: 'taxi', version: '3' });
    assert.deepEqual(classifyPath('azureml:taxi@latest'), { kind: 'asset', ref: 'azureml:taxi@latest', name: 'taxi', label: 'latest' });
    assert.equal(classifyPath('${{parent.inputs.raw}}').kind, 'binding');
    assert.equal(classifyPath('./data').kind, 'local');
    assert.equal(classifyPath('/mnt/data').kind, 'local');
  });
});
