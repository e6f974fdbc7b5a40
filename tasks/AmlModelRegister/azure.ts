/**
 * AmlModelRegister@1, the part that talks to Azure (loads the SDKs). Order, so that nothing is
 * written unless everything checks out: the branch gate; the job (it must have completed) and
 * the output that holds the model; the gated metrics (MLflow); this run's earlier registration
 * (a re-run returns it); the champion; the verdict; only then one model version PUT.
 */
import { msg } from './messages';
import type { AgentIo } from '../common/agent';
import { ArmClient, studioUrl } from '../common/arm';
import { DataPlane } from '../common/dataplane';
import { translateAzureError, UserError } from '../common/errors';
import type { GateSettings } from '../common/gate';
import { enforceGate } from '../common/gate-run';
import type { WorkspaceInputs } from '../common/inputs';
import { LINEAGE_KEYS, lineageTags } from '../common/lineage';
import { openWorkspace } from '../common/session';
import { Summary, link } from '../common/summary';
import { WorkspaceArm } from '../common/workspace-arm';
import { describeCompare, direction, fmt, judge, metricTagKey, metricTags, type Champion, type CompareWith, type Condition, type GateJudgement } from './gate-expr';
import { TrainingJob } from './job';
import { findOwn, registerVersion, type Identity, type ModelRegistry, type ModelVersion, type ModelVersionProps } from './register';
import { IDENTITY_KEYS, jobOfUri, SOURCE_PROPERTY, type GateSpec, type ModelSource, type ModelType } from './spec';

export interface RegisterInputs {
  connection: string;
  ws: WorkspaceInputs;
  /** The protected-branch gate; undefined when enforceBranchGate is false. */
  branchGate?: GateSettings;
  jobName?: string;
  source: ModelSource;
  model: { name: string; type: ModelType; description?: string; tags: Record<string, string> };
  gate: GateSpec;
}

/** Model versions of one model through ARM (api-version 2024-04-01: tag filters, jobName). */
class ArmModelRegistry implements ModelRegistry {
  constructor(
    private readonly ws: WorkspaceArm,
    private readonly name: string,
  ) {}

  private path(tail = ''): string {
    return `models/${encodeURIComponent(this.name)}${tail}`;
  }

  versions(filter: { tags?: Record<string, string>; top?: number } = {}): Promise<ModelVersion[]> {
    const q = new URLSearchParams({ $orderBy: 'createdtime desc' });
    if (filter.top) q.set('$top', String(filter.top));
    if (filter.tags && Object.keys(filter.tags).length) q.set('tags', Object.entries(filter.tags).map(([k, v]) => `${k}=${v}`).join(','));
    return this.ws.list<ModelVersion>(`${this.path('/versions')}?${q}`, filter.top ? 1 : 50);
  }

  get(version: string): Promise<ModelVersion | undefined> {
    return this.ws.find<ModelVersion>(this.path(`/versions/${encodeURIComponent(version)}`));
  }

  put(version: string, body: { properties: ModelVersionProps }): Promise<ModelVersion> {
    return this.ws.put<ModelVersion>(this.path(`/versions/${encodeURIComponent(version)}`), body);
  }

  async nextVersion(): Promise<number> {
    const c = await this.ws.find<{ properties?: { latestVersion?: string | null; nextVersion?: string | null } }>(this.path());
    if (!c) return 1;
    const next = Number(c.properties?.nextVersion);
    const latest = Number(c.properties?.latestVersion);
    return Math.max(Number.isInteger(next) && next > 0 ? next : 1, Number.isInteger(latest) && latest >= 0 ? latest + 1 : 1);
  }
}

/** The version compareWith names: the newest, or the newest with a tag; undefined when there is none yet. */
async function findChampion(reg: ModelRegistry, compare: CompareWith): Promise<ModelVersion | undefined> {
  if (compare.kind === 'none') return undefined;
  if (compare.kind === 'latest') return (await reg.versions({ top: 1 }))[0];
  const hasTag = (v: ModelVersion): boolean => v.properties?.tags?.[compare.key] === compare.value;
  const top = (await reg.versions({ tags: { [compare.key]: compare.value }, top: 1 }))[0];
  if (!top || hasTag(top)) return top;
  // A service that ignored the filter: look through every version ourselves.
  return (await reg.versions()).find(hasTag);
}

function gateTable(summary: Summary, j: GateJudgement, champion: ModelVersion | undefined, modelName: string, compare: CompareWith, min: number): void {
  const label = champion ? `${modelName}:${champion.name}` : undefined;
  const compared = compare.kind !== 'none';
  const championHeader = label ? msg('HeaderChampionOf', label) : msg('HeaderChampion');
  const headers = [msg('HeaderMetric'), msg('HeaderValue'), msg('HeaderThreshold'), ...(compared ? [championHeader] : []), msg('HeaderVerdict')];
  const rows = j.rows.map((r) => {
    const c = r.condition;
    let champ = '';
    if (compared) {
      if (!champion) champ = msg('ChampionNoneYet');
      else if (!r.champion) champ = msg('ChampionThresholdOnly');
      else if (r.champion.value === undefined) champ = msg('ChampionNotRecordedCell');
      else if (min > 0 && r.champion.required !== undefined) champ = msg('ChampionNeeds', fmt(r.champion.value), c.op, fmt(r.champion.required));
      else champ = fmt(r.champion.value);
    }
    return [c.key, fmt(r.value), `${c.op} ${fmt(c.threshold)}`, ...(compared ? [champ] : []), r.verdict];
  });
  summary.heading(msg('SummaryGateHeading')).table(headers, rows);
  const note = msg('SummaryMetricValues');
  if (!compared) summary.para(note);
  else if (!label) summary.para(`${msg('SummaryNoChampion', describeCompare(compare))} ${note}`);
  else if (min > 0) summary.para(`${msg('SummaryComparedWithBy', describeCompare(compare), label, fmt(min))} ${note}`);
  else summary.para(`${msg('SummaryComparedWith', describeCompare(compare), label)} ${note}`);
}

/**
 * The champion's metrics: its `metric.*` tags (recorded when this task registered it), and for a
 * model registered another way (by hand, by the CLI, before adopting this task) the same metrics
 * read from the job that trained it, when it names one. What cannot be found stays missing, and
 * the gate says so for that metric.
 */
async function championMetrics(io: AgentIo, ws: WorkspaceArm, dp: DataPlane, name: string, v: ModelVersion, conditions: Condition[]): Promise<Record<string, string>> {
  const tags = { ...(v.properties?.tags ?? {}) };
  const missing = conditions.filter((c) => direction(c.op) !== 0 && tags[metricTagKey(c)] === undefined);
  const jobName = tags[LINEAGE_KEYS.jobName] ?? v.properties?.jobName ?? undefined;
  if (!missing.length || !jobName) return tags;
  let job: TrainingJob;
  try {
    job = await TrainingJob.open(ws, dp, jobName);
  } catch (e) {
    io.info(msg('ChampionJobUnreadable', `${name}:${v.name}`, jobName, (e as Error).message.split('\n')[0]));
    return tags;
  }
  for (const c of missing) {
    try {
      const value = await job.metric(c.ref, msg('MetricGateLineContext', c.line, c.text));
      tags[metricTagKey(c)] = String(value);
      io.info(msg('ChampionMetricFromJob', `${name}:${v.name}`, c.key, fmt(value), jobName));
    } catch {
      io.info(msg('ChampionMetricNotInJob', `${name}:${v.name}`, c.key, jobName));
    }
  }
  return tags;
}

export async function run(io: AgentIo, i: RegisterInputs): Promise<void> {
  const name = i.model.name;
  // The branch gate runs before anything touches Azure.
  if (i.branchGate) await enforceGate(io, i.branchGate, i.connection);
  else io.warn(msg('BranchGateOff'));

  io.output('modelName', name);
  io.output('registered', 'false');
  io.output('modelVersion', '');
  io.output('modelId', '');

  const session = await openWorkspace(io, i.connection, i.ws);
  const ws = new WorkspaceArm(new ArmClient(session.arm), session.ref);
  const dp = new DataPlane(session.arm, session.ref, session.workspace);
  const fail = (action: string) => (e: unknown) => {
    throw translateAzureError(e, { action, scope: ws.base, connection: session.arm.endpoint.name });
  };

  // 1. The job and the output that holds the model (reads only).
  const job = i.jobName ? await TrainingJob.open(ws, dp, i.jobName).catch(fail(msg('ActionReadJob', i.jobName))) : undefined;
  if (job) io.info(job.steps.length ? msg('JobCompletedSteps', job.name, job.steps.join(', ')) : msg('JobCompleted', job.name));
  const src = i.source;
  const modelUri = src.kind === 'path' ? src.uri : await job!.outputUri(src.output, src.step).catch(fail(msg('ActionReadOutputs', i.jobName)));
  const sourceLabel = src.kind === 'path' ? src.uri : `${src.step ? `${src.step}.` : ''}${src.output}`;
  io.info(src.kind === 'output' ? msg('ModelFilesOutput', sourceLabel, job!.name, modelUri) : msg('ModelFilesPath', modelUri));

  // 2. The gated metrics: the last value each run logged (MLflow).
  const values = new Map<string, number>();
  for (const c of i.gate.conditions) {
    if (values.has(c.key)) continue;
    const v = await job!.metric(c.ref, msg('MetricGateLineContext', c.line, c.text)).catch(fail(msg('ActionReadMetric', c.key, job!.name)));
    values.set(c.key, v);
  }

  // 3. This run's registration of this job, if an earlier attempt made it.
  const lineage = lineageTags((n) => io.variable(n));
  if (job) lineage[LINEAGE_KEYS.jobName] = job.name;
  const identity: Identity = { tags: Object.fromEntries(IDENTITY_KEYS.filter((k) => lineage[k]).map((k) => [k, lineage[k]!])), source: modelUri };
  const reg = new ArmModelRegistry(ws, name);
  const reused = await findOwn(reg, identity).catch(fail(msg('ActionListVersions', name)));

  const sourcePara =
    src.kind === 'output'
      ? msg('SummarySourceOutput', sourceLabel, link(job!.name, job!.studioUrl))
      : job
        ? msg('SummarySourcePathJob', modelUri, link(job.name, job.studioUrl))
        : msg('SummarySourcePath', modelUri);
  /** The run summary: what happened to the model, the gate table when there was a gate, the lineage. */
  const writeSummary = (title: string, lead: string, gate?: (s: Summary) => void, v?: ModelVersion): void => {
    const summary = new Summary(title).para(`${lead} ${sourcePara}`);
    gate?.(summary);
    const recorded = Object.entries(v?.properties?.tags ?? {}).filter(([k]) => k.startsWith('ado.') || k.startsWith('metric.'));
    if (recorded.length) summary.heading(msg('SummaryLineageHeading')).table([msg('HeaderTag'), msg('HeaderValue')], recorded);
    io.summary('aml-model-register', summary.toMarkdown());
  };
  const publish = (v: ModelVersion): string => {
    const url = studioUrl(session.ref, `model/${encodeURIComponent(name)}:${encodeURIComponent(v.name)}/details/overview`);
    io.output('modelVersion', v.name);
    io.output('modelId', v.id || `${ws.base}/models/${name}/versions/${v.name}`);
    io.output('registered', 'true');
    io.info(msg('StudioLink', url));
    return link(`${name}:${v.name}`, url);
  };

  if (reused) {
    io.info(msg('ModelReused', name, reused.name, job?.name ?? modelUri));
    const l = publish(reused);
    writeSummary(msg('SummaryReusedTitle', name, reused.name), msg('SummaryReusedLead', l), undefined, reused);
    return;
  }

  // 4. The champion and the verdict.
  const champion = await findChampion(reg, i.gate.compare).catch(fail(msg('ActionFindChampion', name)));
  if (i.gate.compare.kind !== 'none') {
    const compared = describeCompare(i.gate.compare);
    io.info(champion ? msg('ChampionFound', name, champion.name, compared) : msg('NoChampion', name, compared));
  }
  const champ: Champion | undefined = champion ? { label: `${name}:${champion.name}`, tags: await championMetrics(io, ws, dp, name, champion, i.gate.conditions) } : undefined;
  const verdict = judge(i.gate.conditions, values, { ...(champ ? { champion: champ } : {}), minImprovement: i.gate.minImprovement });
  for (const r of verdict.rows) {
    const c = r.condition;
    io.info(
      r.champion?.value !== undefined
        ? msg('GateRowLogChampion', c.key, fmt(r.value), c.op, fmt(c.threshold), fmt(r.champion.value), r.verdict)
        : msg('GateRowLog', c.key, fmt(r.value), c.op, fmt(c.threshold), r.verdict),
    );
  }
  const table = i.gate.conditions.length ? (s: Summary) => gateTable(s, verdict, champion, name, i.gate.compare, i.gate.minImprovement) : undefined;
  if (!table) io.info(msg('NoMetricGate'));

  if (!verdict.pass) {
    const reasons = verdict.rows.filter((r) => !r.pass).map((r) => `${r.condition.key}: ${r.failure}`).join('; ');
    const message = msg('GateFailed', name, reasons);
    writeSummary(msg('SummaryNotRegisteredTitle', name), msg('SummaryNotRegisteredLead'), table);
    if (i.gate.onGateFail === 'skip') {
      io.succeededWithIssues(message);
      return;
    }
    throw new UserError(message);
  }

  // 5. Register: the next integer version, retried on conflicts, never twice for this run.
  const tags = { ...i.model.tags, ...lineage, ...metricTags(i.gate.conditions, values) };
  const runId = lineage[LINEAGE_KEYS.runId];
  const runLabel = lineage[LINEAGE_KEYS.runUrl] ?? (runId ? msg('RunLabelId', runId) : msg('RunLabelUnknown'));
  const body: { properties: ModelVersionProps } = {
    properties: {
      description: i.model.description ?? (src.kind === 'output' ? msg('DescriptionFromOutput', runLabel, sourceLabel, job!.name) : msg('DescriptionFromPath', runLabel, modelUri)),
      tags,
      // Properties cannot be changed later: the lineage stays true even if tags are edited.
      properties: { ...lineage, [SOURCE_PROPERTY]: modelUri },
      modelType: i.model.type,
      modelUri,
      // The job that wrote the files: a step's own run for a step output.
      ...(job ? { jobName: jobOfUri(modelUri) ?? job.name } : {}),
      isAnonymous: false,
      isArchived: false,
    },
  };
  const result = await registerVersion(reg, body, identity, { log: (l) => io.info(l), modelName: name }).catch(fail(msg('ActionRegister', name)));
  if (result.recovered) io.info(msg('VersionRecovered', result.version.name));
  io.info(msg('ModelRegistered', name, result.version.name, modelUri));
  const l = publish(result.version);
  writeSummary(msg('SummaryRegisteredTitle', name, result.version.name), table ? msg('SummaryRegisteredLead', l) : msg('SummaryRegisteredNoGateLead', l), table, result.version);
}
