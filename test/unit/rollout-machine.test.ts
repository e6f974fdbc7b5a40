// AmlAksDeploy's rollout state machine against fakes: an in-memory endpoint and deployments that
// record every call, so each test can say exactly what the rollout did in Azure and what the
// rollback undid (the agent-level tests in test/agent/aks-deploy.test.ts run it against the emulator).
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { UserError } from '../../tasks/common/errors';
import { OperationFailed } from '../../tasks/common/lro';
import type { OnlineDeployment, OnlineEndpoint } from '../../tasks/AmlAksDeploy/online-api';
import { RolloutReport } from '../../tasks/AmlAksDeploy/report';
import { CheckFailed, Rollout, type OnlineOps, type RolloutSettings } from '../../tasks/AmlAksDeploy/rollout-machine';
import type { Traffic } from '../../tasks/AmlAksDeploy/rollout';

interface Fault {
  /** Which call fails: e.g. 'putDeployment', 'putEndpoint:traffic', 'deleteDeployment:green'. */
  at: string;
  error: () => Error;
}

class FakeOnline implements OnlineOps {
  readonly calls: string[] = [];
  endpointState: OnlineEndpoint | undefined;
  readonly deployments = new Map<string, OnlineDeployment>();
  faults: Fault[] = [];
  /** Provisioning state a new deployment ends in. */
  deploymentEndsIn = 'Succeeded';

  constructor(traffic?: Traffic) {
    if (traffic) {
      this.endpointState = {
        name: 'ep',
        location: 'westeurope',
        properties: { traffic, provisioningState: 'Succeeded', scoringUri: 'https://ep.example/score', authMode: 'Key', compute: 'aks' },
      } as OnlineEndpoint;
      for (const d of Object.keys(traffic))
        this.deployments.set(d, { name: d, properties: { provisioningState: 'Succeeded', model: `m-${d}` } } as OnlineDeployment);
    }
  }

  private fail(at: string): void {
    const f = this.faults.find((x) => x.at === at);
    if (f) {
      this.faults = this.faults.filter((x) => x !== f);
      throw f.error();
    }
  }

  get traffic(): Traffic {
    return this.endpointState?.properties.traffic ?? {};
  }

  async endpoint(): Promise<OnlineEndpoint | undefined> {
    this.calls.push('GET endpoint');
    return this.endpointState && structuredClone(this.endpointState);
  }

  async deployment(_e: string, name: string): Promise<OnlineDeployment | undefined> {
    this.calls.push(`GET ${name}`);
    return this.deployments.get(name);
  }

  async putEndpoint(_e: string, body: unknown): Promise<OnlineEndpoint> {
    const props = (body as { properties: { traffic?: Traffic; authMode?: string } }).properties;
    const kind = this.endpointState ? 'traffic' : 'create';
    this.calls.push(kind === 'create' ? 'PUT endpoint' : `PUT traffic ${JSON.stringify(props.traffic)}`);
    this.fail(`putEndpoint:${kind}`);
    this.endpointState = {
      name: 'ep',
      location: 'westeurope',
      properties: {
        ...(this.endpointState?.properties ?? { scoringUri: 'https://ep.example/score', authMode: props.authMode }),
        traffic: { ...(props.traffic ?? {}) },
        provisioningState: 'Succeeded',
      },
    } as OnlineEndpoint;
    return structuredClone(this.endpointState);
  }

  async putDeployment(_e: string, name: string): Promise<OnlineDeployment> {
    this.calls.push(`PUT ${name}`);
    this.fail('putDeployment');
    const d = { name, properties: { provisioningState: this.deploymentEndsIn } } as OnlineDeployment;
    this.deployments.set(name, d);
    return d;
  }

  async deleteDeployment(_e: string, name: string): Promise<void> {
    this.calls.push(`DELETE ${name}`);
    this.fail(`deleteDeployment:${name}`);
    this.deployments.delete(name);
    // Azure drops a deleted deployment from the endpoint's traffic (it had to be at 0%).
    if (this.endpointState?.properties.traffic) delete this.endpointState.properties.traffic[name];
  }

  async logs(_e: string, name: string, container: string): Promise<string> {
    this.calls.push(`LOGS ${name} ${container}`);
    return container === 'InferenceServer' ? 'Traceback: model failed to load\n' : '';
  }
}

function machine(api: FakeOnline, o: Partial<RolloutSettings> & { smoke?: (n: number) => void; signal?: AbortSignal } = {}) {
  const lines: string[] = [];
  const summaries: string[] = [];
  const groups: string[] = [];
  let smokes = 0;
  const report = new RolloutReport({
    endpoint: 'ep',
    deployment: 'green',
    model: { name: 'm', version: '2' },
    computeName: 'aks',
    studioUrl: 'https://ml.azure.com/x',
    scoringUri: () => api.endpointState?.properties.scoringUri ?? '',
    publish: (_n, md) => summaries.push(md),
  });
  const settings: RolloutSettings = {
    endpoint: 'ep',
    deployment: 'green',
    computeName: 'aks',
    computeId: '/subscriptions/s/computes/aks',
    authMode: 'Key',
    location: 'westeurope',
    lineage: { 'ado.runId': '1' },
    ...(api.endpointState ? { existing: structuredClone(api.endpointState) } : {}),
    previous: { ...api.traffic },
    steps: [10, 50, 100],
    stepWaitSeconds: 0,
    rollbackOnFailure: true,
    keepPrevious: false,
    keepFailedDeployment: false,
    ...o,
  };
  const rollout = new Rollout(settings, {
    log: {
      signal: o.signal ?? new AbortController().signal,
      info: (l) => lines.push(l),
      warn: (l) => lines.push(`WARN ${l}`),
      progress: () => undefined,
      group: (t) => groups.push(t),
    },
    api,
    report,
    translate: () => (e) => (e instanceof Error ? e : new Error(String(e))),
    assets: async () => ({ codeId: 'code-1' }),
    deploymentBody: (a) => ({ properties: a }),
    smokeTest: async () => {
      o.smoke?.(++smokes);
      return '200, 1 prediction';
    },
    sleep: async () => undefined,
  });
  return { rollout, lines, summaries, groups, report };
}

const run = (r: Rollout) => r.run(() => undefined);

test('the happy path: deployment at 0%, smoke test alone, then each step, ending at 100% with the previous deployment deleted', async () => {
  const api = new FakeOnline({ blue: 100 });
  const { rollout, report } = machine(api);
  await run(rollout);
  const issues = await rollout.finish(['blue']);
  assert.deepEqual(issues, []);
  assert.deepEqual(
    api.calls.filter((c) => !c.startsWith('GET')),
    [
      'PUT green',
      'PUT traffic {"blue":90,"green":10}',
      'PUT traffic {"blue":50,"green":50}',
      'PUT traffic {"blue":0,"green":100}',
      'DELETE blue',
    ],
  );
  assert.deepEqual(api.traffic, { green: 100 });
  assert.deepEqual([...api.deployments.keys()], ['green']);
  assert.deepEqual(rollout.state, {
    phase: '100%',
    endpointCreated: false,
    deploymentRequested: true,
    trafficTouched: true,
    current: { blue: 0, green: 100 },
  });
  assert.deepEqual(
    report.timeline.map((r) => `${r.step}:${r.result}`),
    ['create:ok', 'smoke:passed', '10%:passed', '50%:passed', '100%:passed', 'cleanup:done'],
  );
});

test('a failing smoke test rolls back before any traffic moves: logs printed, the new deployment deleted, traffic never touched', async () => {
  const api = new FakeOnline({ blue: 100 });
  const { rollout, lines, groups, summaries } = machine(api, {
    smoke: () => {
      throw new CheckFailed('the smoke test got 500');
    },
  });
  await assert.rejects(
    run(rollout),
    (e: unknown) => e instanceof UserError && /failed at smoke: the smoke test got 500/.test(e.message) && /deleted/.test(e.message),
  );
  assert.ok(!api.calls.some((c) => c.startsWith('PUT traffic')), api.calls.join(', '));
  assert.deepEqual(
    api.calls.filter((c) => c.startsWith('DELETE') || c.startsWith('LOGS')),
    ['LOGS green StorageInitializer', 'LOGS green InferenceServer', 'DELETE green'],
  );
  assert.deepEqual(api.traffic, { blue: 100 });
  assert.deepEqual([...api.deployments.keys()], ['blue']);
  assert.equal(groups.length, 1, 'only the container with log lines is printed');
  assert.ok(lines.some((l) => l.startsWith('WARN ') && l.includes('the smoke test got 500')));
  assert.match(summaries.at(-1)!, /rolled back/i);
  assert.equal(rollout.state.trafficTouched, false);
});

test('a health check failing at 50% restores the exact previous split, then deletes the new deployment', async () => {
  const api = new FakeOnline({ blue: 70, red: 30 });
  const { rollout, report } = machine(api, {
    smoke: (n) => {
      if (n === 3) throw new CheckFailed('5xx from green'); // smoke alone, 10%, then 50%
    },
  });
  await assert.rejects(run(rollout), /failed at 50%: 5xx from green/);
  const puts = api.calls.filter((c) => c.startsWith('PUT traffic'));
  assert.deepEqual(puts.at(-1), 'PUT traffic {"blue":70,"red":30}', puts.join(' | '));
  assert.deepEqual(api.traffic, { blue: 70, red: 30 });
  assert.ok(!api.deployments.has('green'));
  assert.deepEqual(rollout.state.current, { blue: 70, red: 30 });
  assert.deepEqual(
    report.timeline.map((r) => `${r.step}:${r.result}`),
    ['create:ok', 'smoke:passed', '10%:passed', '50%:failed', 'rollback:rolled back'],
  );
});

test('Azure failing the traffic update is reported with its code, and the rollback still restores the split', async () => {
  const api = new FakeOnline({ blue: 100 });
  api.faults.push({ at: 'putEndpoint:traffic', error: () => new OperationFailed('Failed', 'InternalServerError', 'the update failed') });
  const { rollout } = machine(api);
  await assert.rejects(run(rollout), /InternalServerError: the update failed/);
  assert.deepEqual(api.traffic, { blue: 100 });
  assert.ok(!api.deployments.has('green'));
});

test('a rollback that cannot delete the failed deployment says so, with the command to finish it, and nothing is lost', async () => {
  const api = new FakeOnline({ blue: 100 });
  api.deploymentEndsIn = 'Failed';
  api.faults.push({ at: 'deleteDeployment:green', error: () => new Error('403 AuthorizationFailed') });
  const { rollout, lines, summaries } = machine(api);
  await assert.rejects(
    run(rollout),
    (e: unknown) =>
      e instanceof UserError &&
      /failed at create/.test(e.message) &&
      /403 AuthorizationFailed/.test(e.message) &&
      !/logs are above/i.test(e.message),
  );
  assert.deepEqual(api.traffic, { blue: 100 }, 'users still on the previous deployment');
  assert.ok(api.deployments.has('green'), 'the deployment the rollback could not delete is still there');
  assert.ok(lines.some((l) => l.startsWith('WARN ') && l.includes('403 AuthorizationFailed')));
  assert.match(summaries.at(-1)!, /incomplete/i);
});

test('a new endpoint is created first and kept (empty) by the rollback; without rollbackOnFailure the traffic is left and the restore command given', async () => {
  const fresh = new FakeOnline();
  const a = machine(fresh, {
    smoke: () => {
      throw new CheckFailed('wrong answer');
    },
  });
  await assert.rejects(run(a.rollout), /failed at smoke/);
  assert.equal(fresh.calls[0], 'PUT endpoint');
  assert.equal(a.rollout.state.endpointCreated, true);
  assert.ok(fresh.endpointState, 'the endpoint stays');
  assert.deepEqual(fresh.traffic, {});

  const api = new FakeOnline({ blue: 100 });
  const b = machine(api, {
    rollbackOnFailure: false,
    smoke: (n) => {
      if (n === 2) throw new CheckFailed('slow');
    },
  });
  await assert.rejects(run(b.rollout), (e: unknown) => e instanceof UserError && /az ml online-endpoint update/.test(e.message));
  assert.deepEqual(api.traffic, { blue: 90, green: 10 }, 'left where it failed');
  assert.ok(api.deployments.has('green'), 'kept for inspection');
});

test('a cancelled run rolls back what it changed and says it was cancelled', async () => {
  const api = new FakeOnline({ blue: 100 });
  const ac = new AbortController();
  const { rollout } = machine(api, {
    signal: ac.signal,
    smoke: (n) => {
      if (n === 2) ac.abort();
    },
  });
  await assert.rejects(run(rollout), (e: unknown) => e instanceof UserError && /cancel/i.test(e.message));
  assert.deepEqual(api.traffic, { blue: 100 });
  assert.ok(!api.deployments.has('green'));
});
