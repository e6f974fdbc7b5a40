/**
 * The rollout as a state machine: endpoint → create → smoke → each traffic step → finish, or a
 * rollback from wherever it stopped. What the rollout has changed in Azure (endpoint created,
 * deployment requested, traffic touched, the split now) is one explicit record, RolloutState,
 * so the rollback undoes exactly that. Azure, the agent and the smoke test come in through
 * RolloutPorts: the machine runs the same against the task's OnlineApi and a unit test's fakes.
 */
import { UserError, errorLine } from '../common/errors';
import { OperationAbandoned, OperationFailed, type LroOptions } from '../common/lro';
import { abortableSleep, pollUntil } from '../common/sleep';
import { msg } from './messages';
import { isBusy, type OnlineApi, type OnlineDeployment, type OnlineEndpoint } from './online-api';
import type { RolloutReport } from './report';
import { formatTraffic, sameTraffic, serving, splitAt, trafficCommand, type Traffic } from './rollout';

/** Where the rollout is: the step a failure is reported at. */
export type Phase = 'endpoint' | 'create' | 'smoke' | `${number}%`;

export interface RolloutState {
  phase: Phase;
  endpointCreated: boolean;
  deploymentRequested: boolean;
  trafficTouched: boolean;
  /** The endpoint's split as the rollout last set (or found) it. */
  current: Traffic;
}

/** The Azure operations the rollout uses. */
export type OnlineOps = Pick<OnlineApi, 'endpoint' | 'deployment' | 'putEndpoint' | 'putDeployment' | 'deleteDeployment' | 'logs'>;

/** The agent: log lines, progress and the run's cancellation (AgentIo in the task). */
export interface RolloutLog {
  readonly signal: AbortSignal;
  info(line: string): void;
  warn(line: string): void;
  progress(percent: number, text: string): void;
  group(title: string, lines: string[]): void;
}

export interface RolloutPorts {
  log: RolloutLog;
  api: OnlineOps;
  report: RolloutReport;
  /** An Azure error for `action`, translated into cause and fix. */
  translate: (action: string) => (e: unknown) => Error;
  /** Code and environment of the new deployment (uploaded or registered when local). */
  assets: () => Promise<{ codeId?: string; environmentId?: string }>;
  /** The deployment's PUT body, given its assets and the endpoint's location. */
  deploymentBody: (assets: { codeId?: string; environmentId?: string }, location: string | undefined) => unknown;
  /** The smoke test against the new deployment alone (undefined when there is none); throws CheckFailed. */
  smokeTest?: (scoringUri: string) => Promise<string>;
  sleep?: (ms: number, signal: AbortSignal) => Promise<void>;
  /** How long the rollback may take after a failure or a cancelled run. */
  cleanupMs?: number;
}

export interface RolloutSettings {
  endpoint: string;
  deployment: string;
  computeName: string;
  computeId: string;
  authMode: string;
  /** The workspace's region, for a new endpoint. */
  location: string | undefined;
  lineage: Record<string, string>;
  /** The endpoint as found (undefined: the rollout creates it). */
  existing?: OnlineEndpoint;
  previous: Traffic;
  steps: number[];
  stepWaitSeconds: number;
  rollbackOnFailure: boolean;
  keepPrevious: boolean;
  keepFailedDeployment: boolean;
}

/** Thrown for a failed check of the rollout (smoke test, health); its message is the cause. */
export class CheckFailed extends Error {}

class Cancelled extends Error {
  constructor() {
    super(msg('PipelineRunCancelled'));
  }
}

const LOG_TAIL = 100;
const CLEANUP_MS = 15 * 60_000;
const sec = (ms: number): string => msg('DurationSeconds', Math.round(ms / 1000));
/** The first line of an error's message, without a closing period (messages compose it into sentences). */
export const first = (e: unknown): string => errorLine(e).replace(/\.+$/, '');

/** A rollback's operations: bounded by the cleanup deadline, polled briskly, reported only by their outcome. */
const cleanupLro = (deadline: AbortSignal): LroOptions => ({
  signal: deadline,
  minIntervalMs: 500,
  maxIntervalMs: 5000,
  onPoll: () => undefined,
});

/** The PUT body that changes only the traffic of an endpoint as GET returned it. */
function withTraffic(e: OnlineEndpoint, traffic: Traffic): unknown {
  const { provisioningState: _p, scoringUri: _s, swaggerUri: _w, ...props } = e.properties;
  const body: Record<string, unknown> = { location: e.location, properties: { ...props, traffic } };
  if (e.tags) body.tags = e.tags;
  if (e.kind) body.kind = e.kind;
  if (e.identity?.type)
    body.identity = {
      type: e.identity.type,
      ...(e.identity.userAssignedIdentities
        ? { userAssignedIdentities: Object.fromEntries(Object.keys(e.identity.userAssignedIdentities).map((k) => [k, {}])) }
        : {}),
    };
  return body;
}

export class Rollout {
  readonly state: RolloutState;
  /** The endpoint once it exists (found, or created by the rollout). */
  endpoint: OnlineEndpoint | undefined;
  private lastLine = 0;

  constructor(
    private readonly s: RolloutSettings,
    private readonly ports: RolloutPorts,
  ) {
    this.state = { phase: 'create', endpointCreated: false, deploymentRequested: false, trafficTouched: false, current: s.previous };
    this.endpoint = s.existing;
  }

  get scoringUri(): string {
    return this.endpoint?.properties.scoringUri ?? '';
  }

  /** Runs every phase to 100%, or rolls back and throws the UserError that says what happened and what was undone. */
  async run(onEndpointReady: (scoringUri: string) => void): Promise<void> {
    try {
      await this.ensureEndpoint();
      onEndpointReady(this.scoringUri);
      this.throwIfCancelled();
      await this.createDeployment();
      await this.smoke();
      for (const [n, pct] of this.s.steps.entries()) await this.shift(n, pct);
    } catch (e) {
      await this.rollBack(e);
    }
  }

  /** Operation options whose polling logs a line on change and moves progress within [from, to]. */
  lro(what: string, from: number, to: number): LroOptions {
    const { log } = this.ports;
    let lastStatus = '';
    return {
      signal: log.signal,
      minIntervalMs: 500,
      maxIntervalMs: 10_000,
      onPoll: (status, ms) => {
        if (status !== lastStatus || Date.now() - this.lastLine > 30_000) {
          log.info(msg('OperationStatusLine', what, status, sec(ms)));
          lastStatus = status;
          this.lastLine = Date.now();
        }
        // Progress moves within its band, approaching the end while the operation runs.
        log.progress(from + (to - from) * (1 - Math.exp(-ms / 120_000)), msg('OperationStatusProgress', what, status));
      },
    };
  }

  private throwIfCancelled(): void {
    if (this.ports.log.signal.aborted) throw new Cancelled();
  }

  /** For a phase's catch: the operation's own outcome and failed checks as they are, anything else translated. */
  private rethrow(action: string) {
    return (e: unknown): never => {
      throw e instanceof OperationAbandoned || e instanceof OperationFailed || e instanceof CheckFailed
        ? e
        : this.ports.translate(action)(e);
    };
  }

  /** 1. The endpoint, on the Kubernetes compute. Creating it moves no traffic. */
  private async ensureEndpoint(): Promise<void> {
    if (this.endpoint) return;
    const { s, state } = this;
    state.phase = 'endpoint';
    this.ports.log.info(msg('CreatingEndpoint', s.endpoint, s.computeName, s.authMode));
    const body = {
      location: s.location,
      tags: s.lineage,
      properties: {
        authMode: s.authMode,
        compute: s.computeId,
        description: `Kubernetes online endpoint, created by Azure Pipelines (AmlAksDeploy@1).`,
        traffic: {},
      },
    };
    const created = await this.ports.api
      .putEndpoint(s.endpoint, body, this.lro(msg('OperationEndpoint', s.endpoint), 5, 15))
      .catch((e: unknown) => {
        // Accepted by Azure (then failed or abandoned): the endpoint exists.
        if (e instanceof OperationAbandoned || e instanceof OperationFailed) state.endpointCreated = true;
        return this.rethrow(msg('ActionCreateEndpoint', s.endpoint))(e);
      });
    state.endpointCreated = true;
    if (created.properties.provisioningState !== 'Succeeded')
      throw new CheckFailed(msg('CheckEndpointEnded', s.endpoint, created.properties.provisioningState));
    this.endpoint = created;
    this.ports.report.row(
      'endpoint',
      msg('NoTraffic'),
      msg('TimelineEndpointCreated', s.computeName, created.properties.authMode ?? s.authMode),
      'created',
    );
  }

  /** 2. The assets, then 3. the new deployment beside the current one, with 0% traffic. */
  private async createDeployment(): Promise<void> {
    const { s, state, ports } = this;
    state.phase = 'create';
    const assets = await ports.assets();
    this.throwIfCancelled();
    ports.log.info(msg('CreatingDeployment', s.deployment, s.endpoint, '0%'));
    const t0 = Date.now();
    state.deploymentRequested = true;
    const dep = await ports.api
      .putDeployment(
        s.endpoint,
        s.deployment,
        ports.deploymentBody(assets, this.endpoint?.location),
        this.lro(msg('OperationDeployment', s.deployment), 20, 50),
      )
      .catch(this.rethrow(msg('ActionCreateDeployment', s.deployment)));
    if (dep.properties.provisioningState !== 'Succeeded')
      throw new CheckFailed(msg('CheckDeploymentEnded', s.deployment, dep.properties.provisioningState));
    ports.report.row(
      'create',
      `${s.deployment} 0%${serving(s.previous).length ? ` (${formatTraffic(s.previous)})` : ''}`,
      msg('TimelineDeploymentCreated', sec(Date.now() - t0)),
      'ok',
    );
    this.throwIfCancelled();
  }

  /** The smoke test's verdict on the new deployment alone, or undefined when there is none. */
  private async smokeVerdict(): Promise<string | undefined> {
    if (!this.ports.smokeTest) return undefined;
    const uri = this.scoringUri;
    if (!uri) throw new CheckFailed(msg('CheckNoScoringUri', this.s.endpoint));
    try {
      return await this.ports.smokeTest(uri);
    } catch (e) {
      this.throwIfCancelled();
      throw e;
    }
  }

  /** 4. The smoke test, on the new deployment alone. */
  private async smoke(): Promise<void> {
    const { s, ports } = this;
    this.state.phase = 'smoke';
    ports.log.progress(52, msg('ProgressSmokeTest', s.deployment));
    const verdict = await this.smokeVerdict();
    if (verdict !== undefined) {
      ports.log.info(msg('SmokeTestAlone', s.deployment, verdict));
      ports.report.row('smoke', msg('TimelineSmokeTraffic', s.deployment), verdict, 'passed');
    }
    this.throwIfCancelled();
  }

  /** 5. One traffic step, held, then a health check. */
  private async shift(n: number, pct: number): Promise<void> {
    const { s, ports } = this;
    this.state.phase = `${pct}%`;
    const target = splitAt(s.previous, s.deployment, pct);
    const band = 55 + (40 * n) / s.steps.length;
    ports.log.info(msg('RolloutStep', n + 1, s.steps.length, formatTraffic(target)));
    await this.setTraffic(target, this.lro(msg('OperationTraffic', `${pct}%`), band, band + 5), msg('TrafficLabelStep', `${pct}%`)).catch(
      this.rethrow(msg('ActionSetTraffic', s.endpoint, formatTraffic(target))),
    );
    if (s.stepWaitSeconds > 0) {
      ports.log.progress(band + 5, msg('ProgressHolding', `${pct}%`, s.stepWaitSeconds));
      await (ports.sleep ?? abortableSleep)(s.stepWaitSeconds * 1000, ports.log.signal);
    }
    this.throwIfCancelled();
    const checks = await this.health();
    ports.log.info(msg('HealthAtStep', `${pct}%`, checks));
    ports.report.row(
      `${pct}%`,
      formatTraffic(target),
      s.stepWaitSeconds ? msg('TimelineHeldChecks', s.stepWaitSeconds, checks) : checks,
      'passed',
    );
    this.throwIfCancelled();
  }

  private async health(): Promise<string> {
    const { s } = this;
    const d = await this.ports.api.deployment(s.endpoint, s.deployment);
    const st = d?.properties.provisioningState;
    if (st !== 'Succeeded')
      throw new CheckFailed(
        st === undefined ? msg('CheckDeploymentGone', s.deployment) : msg('CheckDeploymentNotSucceeded', s.deployment, st),
      );
    const smoke = await this.smokeVerdict();
    return [msg('HealthProvisioning', st), smoke === undefined ? msg('HealthNoSmokeTest') : msg('HealthSmoke', smoke)].join('; ');
  }

  /** Set the endpoint's traffic (PUT of the endpoint as it is, with the new split) and check it took. */
  private async setTraffic(target: Traffic, o: LroOptions, label: string): Promise<void> {
    const { s, state, ports } = this;
    const now = await ports.api.endpoint(s.endpoint);
    if (!now) throw new Error(msg('EndpointDisappeared', s.endpoint));
    if (sameTraffic(now.properties.traffic ?? {}, target)) return;
    state.trafficTouched = true;
    const after = await ports.api.putEndpoint(s.endpoint, withTraffic(now, target), o);
    const got = after.properties.traffic ?? {};
    if (after.properties.provisioningState !== 'Succeeded' || !sameTraffic(got, target)) {
      throw new CheckFailed(
        msg('CheckTrafficUpdateEnded', formatTraffic(target), label, after.properties.provisioningState, formatTraffic(got)),
      );
    }
    state.current = target;
  }

  /** 6. The new deployment has 100%: the previous ones go, unless asked to keep them. Returns what could not be done. */
  async finish(previousServing: string[]): Promise<string[]> {
    const { s, state, ports } = this;
    const issues: string[] = [];
    if (previousServing.length && !s.keepPrevious) {
      ports.log.progress(96, msg('ProgressDeletingPrevious'));
      for (const old of previousServing) {
        try {
          ports.log.info(msg('DeletingPreviousDeployment', old, '0%'));
          await ports.api.deleteDeployment(s.endpoint, old, this.lro(msg('OperationDelete', old), 96, 99));
          ports.report.row('cleanup', formatTraffic(state.current), msg('TimelineDeleted', old), 'done');
        } catch (e) {
          const why =
            e instanceof OperationAbandoned ? msg('CancelledWhileDeleting') : first(ports.translate(msg('ActionDeleteDeployment', old))(e));
          issues.push(msg('PreviousNotDeleted', old, why, '0%', s.endpoint, old));
          ports.report.row('cleanup', formatTraffic(state.current), msg('TimelineDeleteFailed', old, why), 'not done');
        }
      }
    } else if (previousServing.length) {
      ports.report.row('cleanup', formatTraffic(state.current), msg('TimelineKeptPrevious', previousServing.join(', '), '0%'), 'kept');
    }
    return issues;
  }

  /** Why the rollout stopped, in one sentence part, and whether the run was cancelled. */
  private causeOf(e: unknown): { cause: string; cancelled: boolean } {
    const { s, state } = this;
    const cancelled =
      e instanceof Cancelled || this.ports.log.signal.aborted || (e instanceof OperationAbandoned && e.reason === 'cancelled');
    if (cancelled) return { cause: msg('PipelineRunCancelled'), cancelled };
    if (e instanceof CheckFailed) return { cause: e.message, cancelled };
    if (!(e instanceof OperationFailed)) return { cause: first(this.ports.translate(msg('ActionRollOut', s.deployment))(e)), cancelled };
    const said = `${e.code ? `${e.code}: ` : ''}${e.message}`;
    if (state.phase === 'endpoint') return { cause: msg('CauseEndpointCreationFailed', s.endpoint, said), cancelled };
    if (state.phase === 'create') return { cause: msg('CauseDeploymentCreationFailed', s.deployment, said), cancelled };
    return { cause: msg('CauseTrafficUpdateFailed', state.phase, said), cancelled };
  }

  /** The rollback: users first (the previous split, exactly), then the failed deployment's logs, then the deployment. Always throws. */
  async rollBack(e: unknown): Promise<never> {
    const { s, state, ports } = this;
    const { cause, cancelled } = this.causeOf(e);
    ports.log.warn(
      cancelled ? msg('RolloutCancelledAt', s.deployment, state.phase, cause) : msg('RolloutFailedAt', s.deployment, state.phase, cause),
    );
    // The first sentence of the task's error: what happened, where, why.
    const outcome = cancelled
      ? msg('RolloutOfDeploymentCancelled', s.deployment, s.endpoint, state.phase, cause)
      : msg('RolloutOfDeploymentFailed', s.deployment, s.endpoint, state.phase, cause);
    ports.report.row(state.phase, formatTraffic(state.current), cause, cancelled ? 'cancelled' : 'failed');

    if (!s.rollbackOnFailure) {
      await this.printLogs();
      const restore = trafficCommand(s.endpoint, s.previous);
      ports.report.publish(cancelled ? msg('SummaryTitleCancelledNoRollback') : msg('SummaryTitleFailedNoRollback'), [
        state.trafficTouched
          ? msg('NoRollbackTrafficLeft', formatTraffic(state.current), s.deployment)
          : msg('NoRollbackTrafficUnchanged', s.deployment),
        msg('NoRollbackRestoreCommand', restore),
      ]);
      const kept = state.trafficTouched
        ? msg('NoRollbackTrafficLeftKept', formatTraffic(state.current), s.deployment, restore)
        : msg('NoRollbackTrafficUnchangedKept', s.deployment, restore);
      throw new UserError([outcome, kept].join(' '));
    }

    // Cleanup runs to its end even though the run is cancelled: its own deadline, not the run's signal.
    const deadline = AbortSignal.timeout(ports.cleanupMs ?? CLEANUP_MS);
    const done: string[] = [];
    const problems: string[] = [];
    await this.restoreTraffic(deadline, done, problems);
    if (state.deploymentRequested) {
      await this.printLogs();
      if (s.keepFailedDeployment) done.push(msg('RollbackDeploymentKept', s.deployment, '0%'));
      else await this.deleteFailed(deadline, done, problems);
    }
    // A new endpoint stays (empty, no traffic): its name and keys are ready for the re-run.
    if (state.endpointCreated) done.push(msg('RollbackEndpointKept', s.endpoint));
    const complete = !problems.length;
    ports.report.row(
      'rollback',
      formatTraffic(state.current),
      [...done, ...problems].join('; ') || msg('RollbackNothingToUndo'),
      complete ? 'rolled back' : 'rollback incomplete',
    );
    ports.report.publish(
      cancelled
        ? complete
          ? msg('SummaryTitleCancelledRolledBack')
          : msg('SummaryTitleCancelledRollbackIncomplete')
        : complete
          ? msg('SummaryTitleFailedRolledBack')
          : msg('SummaryTitleFailedRollbackIncomplete'),
      problems,
    );
    for (const p of problems) ports.log.warn(p);
    const rollback = !complete
      ? msg('RollbackIncomplete', problems.join(' '))
      : done.length
        ? msg('RolledBack', done.join('; '))
        : msg('RolledBackNothingChanged');
    const logs = state.deploymentRequested && !s.keepFailedDeployment && complete ? [msg('ContainerLogsAbove')] : [];
    throw new UserError([outcome, rollback, ...logs].join(' '));
  }

  /** The resource once no operation is running on it (or the cleanup deadline passed). */
  private async idle<T extends { properties: { provisioningState?: string } }>(
    read: () => Promise<T | undefined>,
    deadline: AbortSignal,
  ): Promise<T | undefined> {
    const r = await pollUntil(read, (v) => !v || !isBusy(v.properties.provisioningState), {
      signal: deadline,
      maxPolls: 600,
      ...(this.ports.sleep ? { sleep: this.ports.sleep } : {}),
    });
    return r.settled ? r.value : read();
  }

  private async restoreTraffic(deadline: AbortSignal, done: string[], problems: string[]): Promise<void> {
    const { s, state, ports } = this;
    if (!state.trafficTouched && !state.deploymentRequested) return;
    try {
      const ep = await this.idle(() => ports.api.endpoint(s.endpoint), deadline);
      if (ep && !sameTraffic(ep.properties.traffic ?? {}, s.previous)) {
        ports.log.info(msg('RestoringTraffic', formatTraffic(s.previous)));
        state.trafficTouched = true;
        await this.setTraffic(s.previous, cleanupLro(deadline), msg('TrafficLabelRollback'));
      }
      if (state.trafficTouched) done.push(msg('RollbackTrafficRestored', formatTraffic(s.previous)));
      state.current = s.previous;
    } catch (err) {
      problems.push(
        msg(
          'RollbackTrafficNotRestored',
          first(err instanceof CheckFailed ? err : ports.translate(msg('ActionRestoreTraffic', s.endpoint))(err)),
          trafficCommand(s.endpoint, s.previous),
        ),
      );
    }
  }

  private async deleteFailed(deadline: AbortSignal, done: string[], problems: string[]): Promise<void> {
    const { s, ports } = this;
    try {
      const d: OnlineDeployment | undefined = await this.idle(() => ports.api.deployment(s.endpoint, s.deployment), deadline);
      if (!d) return;
      ports.log.info(msg('DeletingFailedDeployment', s.deployment));
      await ports.api.deleteDeployment(s.endpoint, s.deployment, cleanupLro(deadline));
      done.push(msg('RollbackDeploymentDeleted', s.deployment));
    } catch (err) {
      problems.push(
        msg(
          'RollbackDeploymentNotDeleted',
          s.deployment,
          first(ports.translate(msg('ActionDeleteDeployment', s.deployment))(err)),
          s.endpoint,
          s.deployment,
        ),
      );
    }
  }

  private async printLogs(): Promise<void> {
    const { s, ports } = this;
    for (const container of ['StorageInitializer', 'InferenceServer'] as const) {
      try {
        const text = await ports.api.logs(s.endpoint, s.deployment, container, LOG_TAIL);
        const lines = text.split(/\r?\n/).filter((l) => l.trim() !== '');
        if (!lines.length) continue;
        ports.log.group(msg('ContainerLogsGroup', s.deployment, container, lines.length), lines);
      } catch (err) {
        ports.log.info(msg('NoContainerLogs', container, s.deployment, first(err)));
      }
    }
  }
}
