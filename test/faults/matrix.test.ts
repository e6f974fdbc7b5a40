/**
 * The fault matrix: every Azure-calling task, one fault at a time on its main ARM route,
 * injected through the emulator. Each cell asserts the promise, not the log:
 * - the final Azure state in the emulator (one job, one model version, the endpoint's traffic
 *   as intended after a recovered fault or exactly as before after a persistent one);
 * - the task result (Succeeded after a transient fault; Failed with one clear line otherwise);
 * - retries stayed bounded (requests to the faulted route are counted);
 * - nothing was duplicated.
 * Each task gets its own emulator and the four columns run side by side; cells of one task run
 * one after another. The table (faults x tasks) is printed at the end.
 * Cells listed in KNOWN are real task bugs: they run as `todo` (reported, not failing the suite).
 */
import assert from 'node:assert/strict';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { after, before, describe as suite, test } from 'node:test';
import type { FaultHandle } from '../../testkit/emulator/faults';
import { copySample } from '../../testkit/pipeline-sample';
import type { TaskRun } from '../../testkit/harness';
import { describe, startWorld, workspaceInputs, type World } from '../../testkit/world';
import {
  armWrites,
  expireWhenHit,
  FAULTS,
  matrixTable,
  oneLine,
  record,
  routeRequests,
  TRANSIENT,
  type FaultName,
  type TaskName,
} from './helpers';

/**
 * Cells that fail because of a task bug run as `todo` with the reason, so they are reported
 * without turning the suite red; a fixed one prints `fixed?`. None are open: the OIDC retry
 * (tasks/common/devops.ts) and the renewal of a rejected token (tasks/common/http.ts
 * bearerAuthPolicy) closed the eight cells this matrix found.
 */
const KNOWN: Partial<Record<`${TaskName}|${FaultName}`, string>> = {};

interface Route {
  method: string;
  /** Matches the logged path (no query) and the faulted path+query. */
  path: RegExp;
}

interface CellPlan {
  /** The main ARM route of the task, where the fault goes. */
  route: Route;
  /** A request made after the first ARM calls, delayed while tokens are expired. */
  midRun: Route;
  run(): Promise<TaskRun>;
  /** The Azure state after a successful run. */
  succeeded(r: TaskRun, since: number): void;
  /** The Azure state after a failed run: nothing made, nothing half-done. */
  failedClean(r: TaskRun, since: number): void;
  /** Makes the task's long-running operation end Failed (undefined: not applicable). */
  lroFails?: () => void;
}

interface TaskSpec {
  task: TaskName;
  start(w: World): Promise<void>;
  cell(w: World, id: string): CellPlan;
}

const esc = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
const routeRe = (p: string) => new RegExp(`${p}(\\?|$)`, 'i');

// ---------------------------------------------------------------- the tasks

const privateLink: TaskSpec = {
  task: 'AmlPrivateLinkCheck',
  async start() {},
  cell(w) {
    return {
      route: { method: 'GET', path: routeRe(`/workspaces/${esc(w.seed.workspace.name)}`) },
      midRun: { method: 'GET', path: routeRe('/Microsoft\\.Storage/storageAccounts/[^/?]+') },
      run: () =>
        w.run('AmlPrivateLinkCheck', {
          connection: 'wif',
          inputs: { ...workspaceInputs(w.seed), dnsServers: w.dns.address, tcpCheck: 'false' },
        }),
      succeeded(r, since) {
        assert.equal(r.outputs.privateLinkOk, 'true', describe(r));
        const rep = JSON.parse(fs.readFileSync(r.outputs.reportPath!, 'utf8')) as { names: Array<{ verdict: string }> };
        assert.equal(rep.names.length, w.names.length, 'every private name checked');
        assert.ok(rep.names.every((n) => n.verdict === 'OK'));
        assert.deepEqual(armWrites(w, since), [], 'a check writes nothing');
      },
      failedClean(_r, since) {
        assert.deepEqual(armWrites(w, since), [], 'a check writes nothing');
      },
    };
  },
};

let sample = '';
const jobCount = (w: World) => w.emu.aml.engine.jobs.size;
const jobStatus = (w: World, name: string) => String((w.emu.aml.job(name)?.body.properties as { status?: string } | undefined)?.status);

function writeJobFile(name: string): string {
  const base = fs.readFileSync(path.join(sample, 'pipeline.yml'), 'utf8');
  fs.writeFileSync(path.join(sample, `${name}.yml`), `name: ${name}\n${base}`);
  return `${name}.yml`;
}

const pipelineJob: TaskSpec = {
  task: 'AmlPipelineJob',
  async start(w) {
    w.emu.aml.scriptJobs({ startDelayMs: 10, stepDurationMs: 20, phaseMs: 2 });
    w.emu.aml.addData(w.seed.workspace.id, 'taxi-test', '1', 'azureml://datastores/workspaceblobstore/paths/taxi/test/');
  },
  cell(w, id) {
    const name = `fault_${id}`;
    const jobFile = writeJobFile(name);
    const jobsBefore = jobCount(w);
    const route = { method: 'PUT', path: routeRe(`/jobs/${name}`) };
    return {
      route,
      midRun: { method: 'GET', path: routeRe(`/jobs/${name}`) },
      run: () => w.run('AmlPipelineJob', { connection: 'wif', inputs: { ...workspaceInputs(w.seed), jobFile }, sources: sample }),
      succeeded(r, since) {
        assert.equal(r.outputs.jobName, name);
        assert.equal(r.outputs.jobStatus, 'Completed');
        assert.equal(jobStatus(w, name), 'Completed');
        assert.equal(jobCount(w) - jobsBefore, 1, 'exactly one job created');
        assert.equal(
          routeRequests(w, since, 'PUT', route.path).filter((q) => q.status >= 200 && q.status < 300).length,
          1,
          'the job was written once',
        );
      },
      failedClean() {
        assert.equal(jobCount(w) - jobsBefore, 0, 'no job created');
      },
    };
  },
};

const SRC_JOB = 'fault_src';
const versions = (w: World, model: string) => w.emu.models.versions(w.seed.workspace.id, model);

const modelRegister: TaskSpec = {
  task: 'AmlModelRegister',
  async start(w) {
    w.emu.aml.scriptJobs({ startDelayMs: 10, stepDurationMs: 20, phaseMs: 2 });
    w.emu.aml.addData(w.seed.workspace.id, 'taxi-test', '1', 'azureml://datastores/workspaceblobstore/paths/taxi/test/');
    const r = await w.run('AmlPipelineJob', {
      connection: 'wif',
      inputs: { ...workspaceInputs(w.seed), jobFile: writeJobFile(SRC_JOB), wait: 'false' },
      sources: sample,
    });
    assert.equal(r.result, 'Succeeded', describe(r));
    const end = Date.now() + 20_000;
    while (jobStatus(w, SRC_JOB) !== 'Completed') {
      if (Date.now() > end) throw new Error(`source job ended ${jobStatus(w, SRC_JOB)}`);
      await new Promise((res) => setTimeout(res, 20));
    }
    w.emu.aml.setMetrics(SRC_JOB, 'evaluate', { auc: [0.9] });
  },
  cell(w, id) {
    const model = `m-${id}`;
    const route = { method: 'PUT', path: routeRe(`/models/${model}/versions/[^/?]+`) };
    return {
      route,
      midRun: { method: 'GET', path: routeRe(`/jobs/${SRC_JOB}`) },
      run: () =>
        w.run('AmlModelRegister', {
          connection: 'wif',
          inputs: {
            ...workspaceInputs(w.seed),
            modelName: model,
            jobName: SRC_JOB,
            modelOutput: 'train.model_output',
            metricGate: 'evaluate.auc >= 0.5',
          },
          sources: sample,
        }),
      succeeded(r) {
        assert.equal(r.outputs.registered, 'true', describe(r));
        assert.equal(r.outputs.modelVersion, '1');
        assert.equal(versions(w, model).length, 1, 'exactly one model version');
      },
      failedClean() {
        assert.equal(versions(w, model).length, 0, 'no model version');
      },
    };
  },
};

const modelId = (w: World, v: string) => `${w.seed.workspace.id}/models/taxi-fare/versions/${v}`;
const deploymentNames = (w: World, ep: string) =>
  w.emu.online
    .deployments(ep)
    .map((d) => String(d.name))
    .sort();

const aksDeploy: TaskSpec = {
  task: 'AmlAksDeploy',
  async start(w) {
    w.emu.online.script({ endpointMs: 20, deploymentMs: 40, deleteMs: 20, retryAfterSeconds: 0 });
    for (const v of ['6', '7']) w.emu.models.add(w.seed.workspace.id, 'taxi-fare', v, { modelType: 'mlflow_model' });
  },
  cell(w, id) {
    const ep = `ep-${id}`;
    const dep = `d-${id}`;
    w.emu.online.addEndpoint(w.seed.workspace.id, ep, {
      compute: 'aks-prod',
      deployments: [{ name: 'blue', model: modelId(w, '6'), traffic: 100 }],
    });
    const before = w.emu.online.traffic(ep);
    return {
      route: { method: 'PUT', path: routeRe(`/onlineEndpoints/${ep}/deployments/${dep}`) },
      midRun: { method: 'PUT', path: routeRe(`/onlineEndpoints/${ep}`) },
      run: () =>
        w.run('AmlAksDeploy', {
          connection: 'wif',
          inputs: {
            ...workspaceInputs(w.seed),
            computeName: 'aks-prod',
            model: 'taxi-fare:7',
            endpointName: ep,
            deploymentName: dep,
            rollout: '50,100',
            stepWaitSeconds: '0',
            smokeTestFile: 'deploy/sample-request.json',
          },
          sources: aksRepo,
        }),
      succeeded() {
        assert.deepEqual(w.emu.online.traffic(ep), { [dep]: 100 });
        assert.deepEqual(deploymentNames(w, ep), [dep], 'one deployment, the old one removed');
        assert.deepEqual(
          w.emu.online.trafficHistory(ep),
          [before, { blue: 50, [dep]: 50 }, { blue: 0, [dep]: 100 }],
          'each split applied once, in order',
        );
      },
      failedClean() {
        assert.deepEqual(w.emu.online.traffic(ep), before, 'the previous traffic, exactly');
        assert.deepEqual(deploymentNames(w, ep), ['blue'], 'no leftover deployment');
      },
      lroFails: () =>
        w.emu.online.scriptDeployment(dep, { createMs: 100, fail: { code: 'ResourceNotReady', message: 'Liveness probe failed' } }),
    };
  },
};

let aksRepo = '';

// ---------------------------------------------------------------- the cells

function inject(w: World, fault: FaultName, plan: CellPlan): { handle?: FaultHandle; done(): void; fired(): boolean } {
  const on = (spec: Omit<Parameters<World['emu']['faults']['add']>[0], 'path' | 'method' | 'service'>, route = plan.route) =>
    w.emu.faults.add({ service: 'arm', method: route.method, path: route.path, ...spec });
  let handle: FaultHandle | undefined;
  let expirer: ReturnType<typeof expireWhenHit> | undefined;
  switch (fault) {
    case 'none (baseline)':
      break;
    case '429 + Retry-After':
      handle = on({ kind: 'status', status: 429, retryAfterSeconds: 1 });
      break;
    case '500 once':
      handle = on({ kind: 'status', status: 500 });
      break;
    case '503 once':
      handle = on({ kind: 'status', status: 503, retryAfterSeconds: 0 });
      break;
    case 'connection reset':
      handle = on({ kind: 'reset' });
      break;
    case '30 s stall':
      // Never answered: the task's 30 s per-try timeout abandons it and tries again.
      handle = on({ kind: 'stall' });
      break;
    case 'malformed JSON':
      handle = on({ kind: 'malformed' });
      break;
    case '503 persistent':
      handle = on({ kind: 'status', status: 503, retryAfterSeconds: 0, times: Infinity });
      break;
    case 'token expired mid-run':
      // Hold a request that comes after the first ARM calls, and expire every token meanwhile.
      handle = on({ kind: 'delay', delayMs: 400 }, plan.midRun);
      expirer = expireWhenHit(w, handle);
      break;
    case 'OIDC fails once':
      handle = w.emu.faults.add({
        service: 'ado',
        method: 'POST',
        path: /\/oidctoken(\?|$)/,
        kind: 'status',
        status: 503,
        retryAfterSeconds: 0,
      });
      break;
    case 'LRO ends Failed':
      plan.lroFails!();
      break;
  }
  return {
    ...(handle ? { handle } : {}),
    done: () => {
      expirer?.stop();
      handle?.remove();
    },
    fired: () => expirer?.fired() ?? true,
  };
}

const SPECS = [privateLink, pipelineJob, modelRegister, aksDeploy];
const applicable = (spec: TaskSpec, fault: FaultName) => fault !== 'LRO ends Failed' || spec.task === 'AmlAksDeploy';

before(() => {
  sample = copySample();
  aksRepo = fs.mkdtempSync(path.join(os.tmpdir(), 'faults-aks-'));
  fs.mkdirSync(path.join(aksRepo, 'deploy'));
  fs.writeFileSync(path.join(aksRepo, 'deploy/sample-request.json'), JSON.stringify({ data: [[1, 2, 3, 4]] }));
});

after(() => {
  console.log(
    `\nFault matrix (pass: promise kept; known bug: a reported task bug, run as todo; n/a: no such operation)\n${matrixTable()}\n`,
  );
});

suite('fault matrix', { concurrency: SPECS.length }, () => {
  for (const spec of SPECS) {
    suite(spec.task, { concurrency: 1 }, () => {
      let w: World;
      let baseline = 0;
      before(async () => {
        w = await startWorld();
        await spec.start(w);
      });
      after(() => w.close());

      for (const fault of FAULTS) {
        if (!applicable(spec, fault)) {
          record(spec.task, fault, 'n/a');
          continue;
        }
        const known = KNOWN[`${spec.task}|${fault}`];
        test(fault, known ? { todo: known } : {}, async () => {
          record(spec.task, fault, known ? 'known bug' : 'FAIL');
          const id = fault
            .replace(/[^a-z0-9]+/gi, '')
            .toLowerCase()
            .slice(0, 12);
          const plan = spec.cell(w, id);
          const since = w.emu.requests.length;
          const inj = inject(w, fault, plan);
          let r: TaskRun;
          try {
            r = await plan.run();
          } finally {
            inj.done();
          }
          const routeCount = routeRequests(w, since, plan.route.method, plan.route.path).length;
          if (fault === 'none (baseline)') baseline = routeCount;
          assert.ok(inj.fired(), 'the fault was applied during the run');
          if (inj.handle) assert.ok(inj.handle.hits >= 1, `the fault was hit (${inj.handle.hits})`);

          if (TRANSIENT.has(fault)) {
            assert.equal(r.result, 'Succeeded', describe(r));
            plan.succeeded(r, since);
            if (inj.handle && fault !== 'token expired mid-run') {
              assert.equal(inj.handle.hits, 1);
              if (fault !== 'OIDC fails once')
                assert.ok(routeCount <= baseline + 1, `bounded: ${routeCount} requests to the route (baseline ${baseline})`);
            }
            if (fault === 'token expired mid-run') {
              // Every ARM read or write that was refused for the expired token was redone and accepted.
              const last = new Map<string, number>();
              for (const q of w.emu.requests.slice(since)) if (q.service === 'arm') last.set(`${q.method} ${q.path}`, q.status);
              const refused = [...last].filter(([, st]) => st === 401).map(([k]) => k);
              assert.deepEqual(refused, [], 'ARM accepted a renewed token for every request');
            }
            if (fault === '429 + Retry-After') {
              const q = routeRequests(w, since, plan.route.method, plan.route.path);
              const i = q.findIndex((x) => x.status === 429);
              assert.ok(q[i + 1] && q[i + 1]!.time - q[i]!.time >= 900, 'the retry waited for Retry-After (1 s)');
            }
          } else if (fault === 'malformed JSON' && r.result === 'Succeeded') {
            // Recovering from an unreadable answer is fine, as long as nothing was duplicated.
            plan.succeeded(r, since);
            assert.ok(routeCount <= baseline + 6, `bounded: ${routeCount} requests to the route`);
          } else {
            assert.equal(r.result, 'Failed', describe(r));
            const bad = oneLine(r);
            assert.equal(bad, undefined, bad);
            plan.failedClean(r, since);
            if (fault === '503 persistent')
              assert.ok(
                inj.handle!.hits >= 2 && inj.handle!.hits <= 6 * Math.max(1, baseline),
                `retries bounded: ${inj.handle!.hits} attempts`,
              );
          }
          record(spec.task, fault, known ? 'fixed?' : fault === 'malformed JSON' ? `pass (${r.result})` : 'pass');
        });
      }
    });
  }
});
