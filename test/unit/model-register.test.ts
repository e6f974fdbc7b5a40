/** AmlModelRegister@1's version allocation: idempotent per run and job, distinct under races, safe with lost responses. */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../tasks/common/errors';
import {
  findOwn,
  registerVersion,
  type Identity,
  type ModelRegistry,
  type ModelVersion,
  type ModelVersionProps,
} from '../../tasks/AmlModelRegister/register';

class HttpError extends Error {
  constructor(
    readonly statusCode: number,
    message: string,
  ) {
    super(message);
  }
}

/** Azure ML's semantics in memory: PUT creates or updates, a changed modelUri is refused; each call yields, so calls interleave. */
class FakeRegistry implements ModelRegistry {
  readonly store = new Map<string, ModelVersion>();
  readonly order: string[] = [];
  puts = 0;
  /** Store the next PUT, then fail it (a lost response). */
  lose = 0;
  /** Fail the next PUTs without storing (retries exhausted). */
  refuse = 0;
  /** Runs before a PUT is applied (another registration sneaking in). */
  beforePut?: (version: string) => void;
  private tick = (): Promise<void> => new Promise((r) => setImmediate(r));

  async versions(filter: { tags?: Record<string, string>; top?: number } = {}): Promise<ModelVersion[]> {
    await this.tick();
    const all = [...this.order].reverse().map((v) => this.store.get(v)!);
    const hits = all.filter((v) => Object.entries(filter.tags ?? {}).every(([k, x]) => v.properties?.tags?.[k] === x));
    return filter.top ? hits.slice(0, filter.top) : hits;
  }
  async get(version: string): Promise<ModelVersion | undefined> {
    await this.tick();
    return this.store.get(version);
  }
  async nextVersion(): Promise<number> {
    await this.tick();
    const ints = [...this.store.keys()].map(Number).filter(Number.isInteger);
    return ints.length ? Math.max(...ints) + 1 : 1;
  }
  add(version: string, props: ModelVersionProps): ModelVersion {
    const v: ModelVersion = { id: `/models/taxi/versions/${version}`, name: version, properties: props };
    if (!this.store.has(version)) this.order.push(version);
    this.store.set(version, v);
    return v;
  }
  async put(version: string, body: { properties: ModelVersionProps }): Promise<ModelVersion> {
    await this.tick();
    this.beforePut?.(version);
    this.puts++;
    if (this.refuse > 0) {
      this.refuse--;
      throw new HttpError(503, 'The service is temporarily unavailable.');
    }
    const existing = this.store.get(version);
    if (existing && existing.properties?.modelUri !== body.properties.modelUri) throw new HttpError(400, 'Asset paths cannot be updated.');
    const v = this.add(version, body.properties);
    if (this.lose > 0) {
      this.lose--;
      throw new HttpError(503, 'The service is temporarily unavailable.');
    }
    return v;
  }
}

const identity = (job: string, runId = '4711'): Identity => ({
  tags: { 'ado.runId': runId, 'ado.jobName': job },
  source: `azureml://jobs/${job}/outputs/model`,
});
const body = (id: Identity): { properties: ModelVersionProps } => ({
  properties: { modelUri: id.source, tags: { ...id.tags }, properties: { 'ado.modelSource': id.source }, modelType: 'mlflow_model' },
});

test('a new model starts at version 1, the next one follows the highest integer version', async () => {
  const reg = new FakeRegistry();
  const a = await registerVersion(reg, body(identity('j1')), identity('j1'));
  assert.equal(a.version.name, '1');
  reg.add('7', { modelUri: 'azureml://datastores/x/paths/m/', tags: {} });
  const b = await registerVersion(reg, body(identity('j2')), identity('j2'));
  assert.equal(b.version.name, '8');
});

test('this run and job find their own version; another run, job or source does not', async () => {
  const reg = new FakeRegistry();
  await registerVersion(reg, body(identity('j1')), identity('j1'));
  assert.equal((await findOwn(reg, identity('j1')))?.name, '1');
  assert.equal(await findOwn(reg, identity('j1', '4712')), undefined, 'a new pipeline run registers anew');
  assert.equal(await findOwn(reg, identity('j2')), undefined);
  assert.equal(
    await findOwn(reg, { ...identity('j1'), source: 'azureml://jobs/j1/outputs/other' }),
    undefined,
    'another output of the same job is another model',
  );
});

test('three concurrent registrations get three distinct versions, each exactly once', async () => {
  const reg = new FakeRegistry();
  reg.add('1', { modelUri: 'azureml://datastores/x/paths/m/', tags: {} });
  const ids = ['a', 'b', 'c'].map((j) => identity(j));
  const logs: string[] = [];
  const results = await Promise.all(ids.map((id) => registerVersion(reg, body(id), id, { log: (l) => logs.push(l) })));
  assert.deepEqual(results.map((r) => r.version.name).sort(), ['2', '3', '4']);
  assert.equal(reg.store.size, 4);
  for (const [i, r] of results.entries()) assert.equal(r.version.properties?.modelUri, ids[i]!.source);
});

test('a version taken between the check and the PUT moves on (Asset paths cannot be updated)', async () => {
  const reg = new FakeRegistry();
  let sneaked = false;
  reg.beforePut = (v) => {
    if (!sneaked) {
      sneaked = true;
      reg.add(v, { modelUri: 'azureml://jobs/other/outputs/model', tags: {} });
    }
  };
  const logs: string[] = [];
  const r = await registerVersion(reg, body(identity('j1')), identity('j1'), { log: (l) => logs.push(l) });
  assert.equal(r.version.name, '2');
  assert.equal(r.conflicts, 1);
  assert.match(logs.join('\n'), /Version 1 was taken by a concurrent registration/);
  assert.equal(
    reg.store.get('1')!.properties?.modelUri,
    'azureml://jobs/other/outputs/model',
    'the other registration was not overwritten',
  );
});

test('a PUT that landed but whose response was lost is recognised, not registered twice', async () => {
  const reg = new FakeRegistry();
  reg.lose = 1;
  const r = await registerVersion(reg, body(identity('j1')), identity('j1'));
  assert.equal(r.version.name, '1');
  assert.equal(r.recovered, true);
  assert.equal(reg.store.size, 1);
  assert.equal(reg.puts, 1);
});

test('a PUT that failed without landing is reported as it is', async () => {
  const reg = new FakeRegistry();
  reg.refuse = 1;
  await assert.rejects(registerVersion(reg, body(identity('j1')), identity('j1')), (e: HttpError) => e.statusCode === 503);
  assert.equal(reg.store.size, 0);
});

test('an endless run of conflicts ends with a clear error after the attempt budget', async () => {
  const reg = new FakeRegistry();
  reg.beforePut = (v) => reg.add(v, { modelUri: `azureml://jobs/x${v}/outputs/model`, tags: {} });
  await assert.rejects(registerVersion(reg, body(identity('j1')), identity('j1'), { maxAttempts: 4, modelName: 'taxi' }), (e: unknown) => {
    assert.ok(e instanceof UserError);
    assert.match(e.message, /Could not register model 'taxi': 4 versions in a row were taken/);
    return true;
  });
});
