/**
 * AmlModelRegister@1, the part that talks to Azure (loads the SDKs). Order, so that nothing is
 * written unless everything checks out: the branch gate; with registryName the registry (it
 * exists, the workspace is in one of its regions); the job (it must have completed) and the
 * output that holds the model, or the workspace version sourceModel names; the gated metrics
 * (MLflow); this run's earlier registration, or this source's earlier promotion (a re-run
 * returns it); the champion; the verdict; for a registry, whether the workspace's storage lets
 * it copy; only then one model version PUT (in a registry: a long-running copy).
 */
import { msg } from './messages';
import type { AgentIo } from '../common/agent';
import { ArmClient, studioUrl, type WorkspaceSession } from '../common/arm';
import { DataPlane } from '../common/dataplane';
import { errorLine, translateAzureError, UserError } from '../common/errors';
import type { GateSettings } from '../common/gate';
import { enforceGate } from '../common/gate-run';
import type { WorkspaceInputs } from '../common/inputs';
import { LINEAGE_KEYS, lineageTags } from '../common/lineage';
import { OperationFailed, type LroOptions } from '../common/lro';
import { openRegistry, requireRegion, type OpenedRegistry } from '../common/registry';
import { registryModelUri } from '../common/registry-uri';
import { openWorkspace } from '../common/session';
import { Summary, link } from '../common/summary';
import { WorkspaceArm } from '../common/workspace-arm';
import {
  describeCompare,
  direction,
  fmt,
  judge,
  metricTagKey,
  metricTags,
  type Champion,
  type CompareWith,
  type Condition,
  type GateJudgement,
} from './gate-expr';
import { TrainingJob } from './job';
import { checkSharing, longUri, readSourceModel } from './promote';
import { findOwn, registerVersion, type Identity, type ModelRegistry, type ModelVersion, type ModelVersionProps } from './register';
import { IDENTITY_KEYS, jobOfUri, SOURCE_PROPERTY, type GateSpec, type ModelSource, type ModelType } from './spec';
import { ArmModelRegistry, RegistryModelVersions } from './versions';

export interface RegisterInputs {
  connection: string;
  ws: WorkspaceInputs;
  /** The protected-branch gate; undefined when enforceBranchGate is false. */
  branchGate?: GateSettings;
  jobName?: string;
  source: ModelSource;
  model: { name: string; type: ModelType; description?: string; tags: Record<string, string> };
  gate: GateSpec;
  /** Promotion: the version is created in this registry; the workspace is where the model comes from. */
  registry?: { name: string; resourceGroup?: string };
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

function gateTable(
  summary: Summary,
  j: GateJudgement,
  champion: ModelVersion | undefined,
  modelName: string,
  compare: CompareWith,
  min: number,
): void {
  const label = champion ? `${modelName}:${champion.name}` : undefined;
  const compared = compare.kind !== 'none';
  const championHeader = label ? msg('HeaderChampionOf', label) : msg('HeaderChampion');
  const headers = [
    msg('HeaderMetric'),
    msg('HeaderValue'),
    msg('HeaderThreshold'),
    ...(compared ? [championHeader] : []),
    msg('HeaderVerdict'),
  ];
  const rows = j.rows.map((r) => {
    const c = r.condition;
    let champ = '';
    if (compared) {
      if (!champion) champ = msg('ChampionNoneYet');
      else if (!r.champion) champ = msg('ChampionThresholdOnly');
      else if (r.champion.value === undefined) champ = msg('ChampionNotRecordedCell');
      else if (min > 0 && r.champion.required !== undefined)
        champ = msg('ChampionNeeds', fmt(r.champion.value), c.op, fmt(r.champion.required));
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
async function championMetrics(
  io: AgentIo,
  ws: WorkspaceArm,
  dp: DataPlane,
  name: string,
  v: ModelVersion,
  conditions: Condition[],
): Promise<Record<string, string>> {
  const tags = { ...(v.properties?.tags ?? {}) };
  const missing = conditions.filter((c) => direction(c.op) !== 0 && tags[metricTagKey(c)] === undefined);
  const jobName = tags[LINEAGE_KEYS.jobName] ?? v.properties?.jobName ?? undefined;
  if (!missing.length || !jobName) return tags;
  let job: TrainingJob;
  try {
    job = await TrainingJob.open(ws, dp, jobName);
  } catch (e) {
    io.info(msg('ChampionJobUnreadable', `${name}:${v.name}`, jobName, errorLine(e)));
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

/** Where the model's files are, read from the job or the shared workspace version (reads only). */
interface ResolvedSource {
  job?: TrainingJob;
  /** The URI in the workspace's terms (azureml://jobs/..., azureml://datastores/...). */
  modelUri: string;
  /** What the summary and the description call it: `step.output`, the path, or `name:version`. */
  label: string;
  /** The shared workspace version (sourceModel). */
  version?: ModelVersion;
}

async function resolveSource(
  io: AgentIo,
  ws: WorkspaceArm,
  dp: DataPlane,
  i: RegisterInputs,
  fail: (action: string) => (e: unknown) => never,
): Promise<ResolvedSource> {
  const src = i.source;
  let version: ModelVersion | undefined;
  let jobName = i.jobName;
  if (src.kind === 'model') {
    version = await readSourceModel(ws, src).catch(fail(msg('ActionReadSourceModel', `${src.name}:${src.version}`)));
    const uri = version.properties?.modelUri;
    if (!uri) throw new UserError(msg('SourceModelNoUri', `${src.name}:${src.version}`), 'sourceModel');
    // The job that trained it: as given, else as this task recorded it, else the version's own.
    jobName ??= version.properties?.tags?.[LINEAGE_KEYS.jobName] ?? version.properties?.jobName ?? jobOfUri(uri) ?? undefined;
    if (!jobName && i.gate.conditions.length) throw new UserError(msg('SourceModelNoJobForGate', `${src.name}:${src.version}`), 'jobName');
  }
  const job = jobName ? await TrainingJob.open(ws, dp, jobName).catch(fail(msg('ActionReadJob', jobName))) : undefined;
  if (job) io.info(job.steps.length ? msg('JobCompletedSteps', job.name, job.steps.join(', ')) : msg('JobCompleted', job.name));
  if (src.kind === 'model') {
    const modelUri = version!.properties!.modelUri!;
    io.info(msg('ModelFilesSourceModel', `${src.name}:${src.version}`, ws.ref.name, modelUri));
    return { ...(job ? { job } : {}), modelUri, label: `${src.name}:${src.version}`, version: version! };
  }
  const modelUri =
    src.kind === 'path' ? src.uri : await job!.outputUri(src.output, src.step).catch(fail(msg('ActionReadOutputs', jobName)));
  const label = src.kind === 'path' ? src.uri : `${src.step ? `${src.step}.` : ''}${src.output}`;
  io.info(src.kind === 'output' ? msg('ModelFilesOutput', label, job!.name, modelUri) : msg('ModelFilesPath', modelUri));
  return { ...(job ? { job } : {}), modelUri, label };
}

/** The last value each run logged for every gated metric (MLflow), keyed as the gate names them. */
async function gatedMetrics(
  job: TrainingJob | undefined,
  conditions: RegisterInputs['gate']['conditions'],
  fail: (action: string) => (e: unknown) => never,
): Promise<Map<string, number>> {
  const values = new Map<string, number>();
  for (const c of conditions) {
    if (values.has(c.key)) continue;
    const v = await job!.metric(c.ref, msg('MetricGateLineContext', c.line, c.text)).catch(fail(msg('ActionReadMetric', c.key, job!.name)));
    values.set(c.key, v);
  }
  return values;
}

/** One line per gate row: value, threshold, the champion's value when compared, verdict. */
function logVerdict(io: AgentIo, verdict: ReturnType<typeof judge>): void {
  for (const r of verdict.rows) {
    const c = r.condition;
    io.info(
      r.champion?.value !== undefined
        ? msg('GateRowLogChampion', c.key, fmt(r.value), c.op, fmt(c.threshold), fmt(r.champion.value), r.verdict)
        : msg('GateRowLog', c.key, fmt(r.value), c.op, fmt(c.threshold), r.verdict),
    );
  }
}

/** The model version to PUT: tags (the user's, the source's metrics, lineage, gated metrics), immutable lineage properties, the files. */
function versionBody(
  i: RegisterInputs,
  source: ResolvedSource,
  o: { lineage: Record<string, string>; values: Map<string, number>; modelUri: string; linkJob: boolean },
): { properties: ModelVersionProps } {
  const { lineage, modelUri } = o;
  const job = source.job;
  const carried = source.version
    ? Object.fromEntries(Object.entries(source.version.properties?.tags ?? {}).filter(([k]) => k.startsWith('metric.')))
    : {};
  const tags = { ...i.model.tags, ...carried, ...lineage, ...metricTags(i.gate.conditions, o.values) };
  const runId = lineage[LINEAGE_KEYS.runId];
  const runLabel = lineage[LINEAGE_KEYS.runUrl] ?? (runId ? msg('RunLabelId', runId) : msg('RunLabelUnknown'));
  const description =
    i.model.description ??
    source.version?.properties?.description ??
    (i.source.kind === 'output'
      ? msg('DescriptionFromOutput', runLabel, source.label, job!.name)
      : msg('DescriptionFromPath', runLabel, source.modelUri));
  return {
    properties: {
      description,
      tags,
      // Properties cannot be changed later: the lineage stays true even if tags are edited.
      properties: { ...lineage, [SOURCE_PROPERTY]: modelUri },
      modelType: i.model.type,
      modelUri,
      // The job that wrote the files (a step's own run for a step output); a registry links it
      // through the long-form URI and the lineage instead, having no jobs of its own.
      ...(job && o.linkJob ? { jobName: jobOfUri(modelUri) ?? job.name } : {}),
      isAnonymous: false,
      isArchived: false,
    },
  };
}

/** The registry a promotion goes to: it exists, the connection sees it, the workspace is in one of its regions. */
async function promotionTarget(
  io: AgentIo,
  arm: ArmClient,
  session: WorkspaceSession,
  r: { name: string; resourceGroup?: string },
): Promise<OpenedRegistry> {
  const registry = await openRegistry(arm, r.name, {
    subscriptionId: session.ref.subscriptionId,
    ...(r.resourceGroup ? { resourceGroup: r.resourceGroup } : {}),
    input: 'registryName',
    groupInput: 'registryResourceGroup',
    connection: session.arm.endpoint.name,
  });
  requireRegion(registry, { name: session.ref.name, location: session.workspace.location }, 'registryName');
  io.info(msg('RegistryOpened', registry.ref.name, registry.ref.resourceGroup, registry.regions.join(', '), session.ref.name));
  return registry;
}

/** Polling options for the registry's copy: progress, and a line when the status changes. */
function promotionProgress(io: AgentIo, registryName: string): () => LroOptions {
  let lastStatus = '';
  return () => ({
    signal: io.signal,
    minIntervalMs: 500,
    maxIntervalMs: 10_000,
    onPoll: (status: string, ms: number) => {
      io.progress(Math.min(95, 60 + ms / 2000), msg('PromotionProgress', registryName, status));
      if (status !== lastStatus) io.info(msg('PromotionStatus', registryName, status, Math.round(ms / 1000)));
      lastStatus = status;
    },
  });
}

/** Where the model came from, for the summary. */
function sourceParagraph(i: RegisterInputs, source: ResolvedSource, workspaceName: string): string {
  const job = source.job;
  const jobLink = job ? link(job.name, job.studioUrl) : '';
  if (source.version)
    return job
      ? msg('SummarySourceModelJob', source.label, workspaceName, jobLink)
      : msg('SummarySourceModel', source.label, workspaceName);
  if (i.source.kind === 'output') return msg('SummarySourceOutput', source.label, jobLink);
  return job ? msg('SummarySourcePathJob', source.modelUri, jobLink) : msg('SummarySourcePath', source.modelUri);
}

/** The run summary (what happened to the model, the gate table when there was a gate, the lineage) and the outputs of a version. */
function reporter(
  io: AgentIo,
  session: WorkspaceSession,
  ws: WorkspaceArm,
  name: string,
  registry: OpenedRegistry | undefined,
  sourcePara: string,
) {
  const writeSummary = (title: string, lead: string, gate?: (s: Summary) => void, v?: ModelVersion): void => {
    const summary = new Summary(title).para(`${lead} ${sourcePara}`);
    gate?.(summary);
    const recorded = Object.entries(v?.properties?.tags ?? {}).filter(([k]) => k.startsWith('ado.') || k.startsWith('metric.'));
    if (recorded.length) summary.heading(msg('SummaryLineageHeading')).table([msg('HeaderTag'), msg('HeaderValue')], recorded);
    io.summary('aml-model-register', summary.toMarkdown());
  };
  /** Sets the outputs for a version; returns how the summary links it. */
  const publish = (v: ModelVersion): string => {
    io.output('modelVersion', v.name);
    io.output('registered', 'true');
    if (registry) {
      // What AmlAksDeploy@1 takes, in any workspace in the registry's regions.
      const uri = registryModelUri(registry.ref.name, name, v.name);
      io.output('modelId', uri);
      return `\`${uri}\``;
    }
    const url = studioUrl(session.ref, `model/${encodeURIComponent(name)}:${encodeURIComponent(v.name)}/details/overview`);
    io.output('modelId', v.id || `${ws.base}/models/${name}/versions/${v.name}`);
    io.info(msg('StudioLink', url));
    return link(`${name}:${v.name}`, url);
  };
  return { writeSummary, publish };
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
  const arm = new ArmClient(session.arm);
  const ws = new WorkspaceArm(arm, session.ref);
  const dp = new DataPlane(session.arm, session.ref, session.workspace);
  const fail =
    (action: string) =>
    (e: unknown): never => {
      throw translateAzureError(e, { action, scope: ws.base, connection: session.arm.endpoint.name });
    };

  // 0. Promotion: the registry exists, the connection sees it, the workspace is in one of its regions.
  const registry = i.registry ? await promotionTarget(io, arm, session, i.registry) : undefined;
  const rfail =
    (action: string) =>
    (e: unknown): never => {
      throw translateAzureError(e, { action, scope: registry?.resource.id ?? ws.base, connection: session.arm.endpoint.name });
    };

  // 1. The job and the output (or the workspace version) that holds the model (reads only).
  const source = await resolveSource(io, ws, dp, i, fail);
  const job = source.job;
  // A registry has no workspace: it copies from the long form of the URI.
  const modelUri = registry ? longUri(source.modelUri, session.ref) : source.modelUri;

  // 2. The gated metrics: the last value each run logged (MLflow).
  const values = await gatedMetrics(job, i.gate.conditions, fail);

  // 3. This run's registration of this job (a promotion: this source's), if an earlier attempt made it.
  const lineage = lineageTags((n) => io.variable(n));
  if (job) lineage[LINEAGE_KEYS.jobName] = job.name;
  if (registry) lineage[LINEAGE_KEYS.sourceWorkspace] = ws.base;
  if (source.version) lineage[LINEAGE_KEYS.sourceModel] = source.label;
  const identityKeys = registry ? [LINEAGE_KEYS.sourceWorkspace, LINEAGE_KEYS.jobName] : IDENTITY_KEYS;
  const identity: Identity = {
    tags: Object.fromEntries(identityKeys.filter((k) => lineage[k]).map((k) => [k, lineage[k]!])),
    source: modelUri,
  };
  const reg: ModelRegistry = registry
    ? new RegistryModelVersions(registry.assets, name, promotionProgress(io, registry.ref.name))
    : new ArmModelRegistry(ws, name);
  const where = registry ? rfail : fail;
  const reused = await findOwn(reg, identity).catch(where(msg('ActionListVersions', name)));

  const { writeSummary, publish } = reporter(io, session, ws, name, registry, sourceParagraph(i, source, session.ref.name));

  if (reused) {
    io.info(
      registry
        ? msg('ModelPromotedBefore', name, reused.name, registry.ref.name, source.label)
        : msg('ModelReused', name, reused.name, job?.name ?? modelUri),
    );
    const l = publish(reused);
    writeSummary(
      registry ? msg('SummaryPromotedBeforeTitle', name, reused.name, registry.ref.name) : msg('SummaryReusedTitle', name, reused.name),
      registry ? msg('SummaryPromotedBeforeLead', l) : msg('SummaryReusedLead', l),
      undefined,
      reused,
    );
    return;
  }

  // 4. The champion and the verdict.
  const champion = await findChampion(reg, i.gate.compare).catch(where(msg('ActionFindChampion', name)));
  if (i.gate.compare.kind !== 'none') {
    const compared = describeCompare(i.gate.compare);
    io.info(champion ? msg('ChampionFound', name, champion.name, compared) : msg('NoChampion', name, compared));
  }
  const champ: Champion | undefined = champion
    ? { label: `${name}:${champion.name}`, tags: await championMetrics(io, ws, dp, name, champion, i.gate.conditions) }
    : undefined;
  const verdict = judge(i.gate.conditions, values, { ...(champ ? { champion: champ } : {}), minImprovement: i.gate.minImprovement });
  logVerdict(io, verdict);
  const table = i.gate.conditions.length
    ? (s: Summary) => gateTable(s, verdict, champion, name, i.gate.compare, i.gate.minImprovement)
    : undefined;
  if (!table) io.info(msg('NoMetricGate'));

  if (!verdict.pass) {
    const reasons = verdict.rows
      .filter((r) => !r.pass)
      .map((r) => `${r.condition.key}: ${r.failure}`)
      .join('; ');
    const message = registry ? msg('GateFailedPromotion', name, registry.ref.name, reasons) : msg('GateFailed', name, reasons);
    writeSummary(
      registry ? msg('SummaryNotPromotedTitle', name, registry.ref.name) : msg('SummaryNotRegisteredTitle', name),
      registry ? msg('SummaryNotPromotedLead') : msg('SummaryNotRegisteredLead'),
      table,
    );
    if (i.gate.onGateFail === 'skip') {
      io.succeededWithIssues(message);
      return;
    }
    throw new UserError(message);
  }

  // 5. A registry copies from the workspace's storage: refuse now what it could not copy.
  if (registry) await checkSharing(arm, session.workspace, session.ref.name, registry, (l) => io.warn(l));

  // 6. Register: the next integer version, retried on conflicts, never twice for this run (or source).
  const body = versionBody(i, source, { lineage, values, modelUri, linkJob: !registry });
  if (registry) io.info(msg('Promoting', name, registry.ref.name, modelUri));
  const result = await registerVersion(reg, body, identity, { log: (l) => io.info(l), modelName: name }).catch((e: unknown): never => {
    // The registry accepted the version and then could not copy the files: say what usually causes it.
    if (registry && e instanceof OperationFailed)
      throw new UserError(
        msg('PromotionCopyFailed', registry.ref.name, name, session.ref.name, e.message.replace(/\.+$/, ''), registry.resource.id),
      );
    return where(registry ? msg('ActionPromote', name, registry.ref.name) : msg('ActionRegister', name))(e);
  });
  if (result.recovered) io.info(msg('VersionRecovered', result.version.name));
  io.info(
    registry
      ? msg('ModelPromoted', name, result.version.name, registry.ref.name, modelUri)
      : msg('ModelRegistered', name, result.version.name, modelUri),
  );
  const l = publish(result.version);
  const title = registry
    ? msg('SummaryPromotedTitle', name, result.version.name, registry.ref.name)
    : msg('SummaryRegisteredTitle', name, result.version.name);
  const lead = registry ? msg('SummaryPromotedLead', l) : table ? msg('SummaryRegisteredLead', l) : msg('SummaryRegisteredNoGateLead', l);
  writeSummary(title, lead, table, result.version);
}
