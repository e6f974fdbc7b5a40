/** AmlModelRegister@1's evaluation gate: the metricGate grammar, compareWith, and the verdicts. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../tasks/common/errors';
import {
  checkComparable,
  judge,
  metricTags,
  parseCompareWith,
  parseMetricGate,
  type Condition,
} from '../../tasks/AmlModelRegister/gate-expr';
import { checkModelName, checkModelPath, checkUserTags, parseModelOutput } from '../../tasks/AmlModelRegister/spec';

function fails(fn: () => unknown, ...fragments: Array<string | RegExp>): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof UserError, `expected a UserError, got ${String(e)}`);
    for (const f of fragments) {
      if (typeof f === 'string') assert.ok(e.message.includes(f), `message lacks ${JSON.stringify(f)}: ${e.message}`);
      else assert.match(e.message, f);
    }
    return true;
  });
}

const one = (line: string): Condition => parseMetricGate(line)[0]!;

test('parses thresholds on job metrics and step metrics', () => {
  const cs = parseMetricGate('auc >= 0.85\n  train.rmse<3.2  \n\n# a comment\nevaluate.f1 == 1\nloss != -1e-3');
  assert.deepEqual(
    cs.map((c) => [c.line, c.ref.step, c.ref.metric, c.op, c.threshold, c.key]),
    [
      [1, undefined, 'auc', '>=', 0.85, 'auc'],
      [2, 'train', 'rmse', '<', 3.2, 'train.rmse'],
      [5, 'evaluate', 'f1', '==', 1, 'evaluate.f1'],
      [6, undefined, 'loss', '!=', -0.001, 'loss'],
    ],
  );
});

test('metric names keep slashes and inner dots; the step is the text before the first dot', () => {
  assert.deepEqual(one('eval/auc > .9').ref, { metric: 'eval/auc' });
  assert.deepEqual(one('train.val/rmse <= 2').ref, { step: 'train', metric: 'val/rmse' });
  assert.deepEqual(one('train.val.loss < 0.5').ref, { step: 'train', metric: 'val.loss' });
  assert.deepEqual(one('my-step.accuracy >= +0.9 # keep it high').ref, { step: 'my-step', metric: 'accuracy' });
});

test('backticks name a job-level metric that contains a dot, or any odd metric name of a step', () => {
  const c = one('`val.auc` >= 0.8');
  assert.deepEqual(c.ref, { metric: 'val.auc' });
  assert.equal(c.key, '`val.auc`', 'the canonical key keeps the quotes, so it never reads as a step prefix');
  assert.deepEqual(one('train.`loss (val)` < 1').ref, { step: 'train', metric: 'loss (val)' });
  assert.equal(one('train.`loss (val)` < 1').key, 'train.loss (val)');
});

for (const [line, fragment] of [
  ['auc => 0.8', "write '>=' rather than '=>'"],
  ['auc = 0.8', "write '==' for equality"],
  ['auc 0.8', "found '0.8'"],
  ['auc >=', "no number after '>='"],
  ['auc >= high', "'high' is not a number"],
  ['auc', 'no operator'],
  ['>= 0.8', 'does not start with a metric name'],
  ['train. >= 1', "names step 'train' but no metric"],
  ['`val.auc >= 1', 'not closed'],
  ['auc >= 0.8 0.9', "'0.8 0.9' is not a number"],
] as const) {
  test(`an unparsable line fails naming the line: ${line}`, () => {
    fails(() => parseMetricGate(`auc >= 0.5\n\n${line}`), "Input 'metricGate': line 3", `'${line}'`, fragment, 'auc >= 0.85');
  });
}

test('compareWith: none, latest, tag:key=value; anything else is refused', () => {
  assert.deepEqual(parseCompareWith(undefined), { kind: 'none' });
  assert.deepEqual(parseCompareWith('None'), { kind: 'none' });
  assert.deepEqual(parseCompareWith('latest'), { kind: 'latest' });
  assert.deepEqual(parseCompareWith('tag:stage=production'), { kind: 'tag', key: 'stage', value: 'production' });
  assert.deepEqual(parseCompareWith('tag: stage = prod=1'), { kind: 'tag', key: 'stage', value: 'prod=1' });
  fails(() => parseCompareWith('production'), "Input 'compareWith'", 'tag:stage=production');
  fails(() => parseCompareWith('tag:stage'), 'needs a tag key and value');
  fails(() => parseCompareWith('tag:stage=a,b'), 'commas');
});

test('a champion comparison needs one direction per metric', () => {
  fails(() => checkComparable(parseMetricGate('auc >= 0.8\nauc <= 0.99')), "metric 'auc' has conditions in both directions");
  fails(() => checkComparable(parseMetricGate('auc == 1')), 'needs at least one condition with >');
  checkComparable(parseMetricGate('auc >= 0.8\nauc > 0.1\nrmse < 3\nauc != 0.5'));
});

const values = (o: Record<string, number>) => new Map(Object.entries(o));

test('thresholds: every condition must hold; the verdict says why one failed', () => {
  const cs = parseMetricGate('auc >= 0.85\ntrain.rmse < 3.2');
  const ok = judge(cs, values({ auc: 0.85, 'train.rmse': 3.1 }));
  assert.equal(ok.pass, true);
  assert.deepEqual(
    ok.rows.map((r) => r.verdict),
    ['pass', 'pass'],
  );
  const bad = judge(cs, values({ auc: 0.84, 'train.rmse': 3.2 }));
  assert.equal(bad.pass, false);
  assert.deepEqual(
    bad.rows.map((r) => r.verdict),
    ['FAIL: 0.84 is not >= 0.85', 'FAIL: 3.2 is not < 3.2'],
  );
});

test('a NaN metric never passes', () => {
  const j = judge(parseMetricGate('loss < 1'), values({ loss: NaN }));
  assert.equal(j.pass, false);
  assert.match(j.rows[0]!.verdict, /NaN/);
});

const champion = (tags: Record<string, string>) => ({ label: 'taxi:3', tags });

test('champion: higher is better for >=, the improvement is added in that direction', () => {
  const cs = parseMetricGate('auc >= 0.8');
  const champ = champion({ 'metric.auc': '0.9' });
  assert.equal(judge(cs, values({ auc: 0.9 }), { champion: champ }).pass, true, 'equal passes with >= and no minimum');
  assert.equal(
    judge(cs, values({ auc: 0.905 }), { champion: champ, minImprovement: 0.005 }).pass,
    true,
    'exactly champion + minImprovement passes (no float noise)',
  );
  const j = judge(cs, values({ auc: 0.904 }), { champion: champ, minImprovement: 0.005 });
  assert.equal(j.pass, false);
  assert.equal(j.rows[0]!.champion?.required, 0.905);
  assert.match(j.rows[0]!.verdict, /does not beat champion taxi:3 \(0\.9\) by 0\.005: needs >= 0\.905/);
});

test('champion: lower is better for < and <=; strict operators need a strict improvement', () => {
  const champ = champion({ 'metric.train.rmse': '3.0' });
  assert.equal(judge(parseMetricGate('train.rmse <= 5'), values({ 'train.rmse': 3.0 }), { champion: champ }).pass, true);
  assert.equal(
    judge(parseMetricGate('train.rmse < 5'), values({ 'train.rmse': 3.0 }), { champion: champ }).pass,
    false,
    'equal is not strictly better',
  );
  assert.equal(
    judge(parseMetricGate('train.rmse < 5'), values({ 'train.rmse': 2.9 }), { champion: champ, minImprovement: 0.1 }).pass,
    false,
    '2.9 is not below 3.0 - 0.1',
  );
  assert.equal(
    judge(parseMetricGate('train.rmse < 5'), values({ 'train.rmse': 2.89 }), { champion: champ, minImprovement: 0.1 }).pass,
    true,
  );
  const worse = judge(parseMetricGate('train.rmse < 5'), values({ 'train.rmse': 3.1 }), { champion: champ });
  assert.match(worse.rows[0]!.verdict, /3\.1 is not lower than champion taxi:3 \(3\)/);
});

test('champion: a threshold failure and a champion failure are both reported; == stays a threshold', () => {
  const cs = parseMetricGate('auc >= 0.95\nversion == 2');
  const j = judge(cs, values({ auc: 0.9, version: 2 }), { champion: champion({ 'metric.auc': '0.91', 'metric.version': '9' }) });
  assert.equal(j.rows[0]!.verdict, 'FAIL: 0.9 is not >= 0.95; 0.9 is not as good as champion taxi:3 (0.91)');
  assert.equal(j.rows[1]!.champion, undefined);
  assert.equal(j.rows[1]!.pass, true);
});

test('champion without the recorded metric fails closed, naming the tag', () => {
  const j = judge(parseMetricGate('auc >= 0.8'), values({ auc: 0.99 }), { champion: champion({ stage: 'production' }) });
  assert.equal(j.pass, false);
  assert.match(j.rows[0]!.verdict, /champion taxi:3 has no recorded auc \(tag metric\.auc\)/);
});

test('gated metrics are recorded as metric.<key> tags', () => {
  const cs = parseMetricGate('auc >= 0.8\ntrain.rmse < 3\n`val.auc` > 0');
  assert.deepEqual(metricTags(cs, values({ auc: 0.91, 'train.rmse': 2.5, '`val.auc`': 0.7 })), {
    'metric.auc': '0.91',
    'metric.train.rmse': '2.5',
    'metric.`val.auc`': '0.7',
  });
});

test('model names, outputs, paths and tags are checked like Azure ML does', () => {
  for (const ok of ['taxi', 'taxi-fare_model.v2', 'A1', 'x'.repeat(255)]) assert.equal(checkModelName(ok), ok);
  for (const bad of ['-taxi', '.taxi', 'taxi model', 'taxi/fare', 'taxi.', 'x'.repeat(256), 'tàxi'])
    fails(() => checkModelName(bad), "Input 'modelName'", `'${bad}'`);
  assert.deepEqual(parseModelOutput('trained_model'), { kind: 'output', output: 'trained_model' });
  assert.deepEqual(parseModelOutput('train.model_output'), { kind: 'output', step: 'train', output: 'model_output' });
  fails(() => parseModelOutput('train.model.output'), "Input 'modelOutput'");
  fails(() => parseModelOutput('a b'), "Input 'modelOutput'");
  assert.equal(checkModelPath('azureml://jobs/j1/outputs/artifacts/paths/model/').kind, 'path');
  assert.equal(checkModelPath('azureml://datastores/workspaceblobstore/paths/models/taxi/').kind, 'path');
  fails(() => checkModelPath('https://x.blob.core.windows.net/c/model'), "Input 'modelPath'");
  fails(() => checkModelPath('azureml:taxi:3'), "Input 'modelPath'");
  fails(() => checkUserTags({ 'ado.runId': '1' }), "tag 'ado.runId'", 'lineage');
  fails(() => checkUserTags({ 'Metric.auc': '1' }), 'gated metrics');
  assert.deepEqual(checkUserTags({ stage: 'candidate' }), { stage: 'candidate' });
});
