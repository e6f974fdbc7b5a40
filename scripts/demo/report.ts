/**
 * The end of a rehearsal: what happened (job, metrics, gate, model, rollout, scoring URI) read
 * from the steps' outputs and from the emulated world, whether it is what the variant expects,
 * the index of run summaries (summary.md) and the HTML page for the Marketplace screenshot.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { holds, parseMetricGate, type Condition } from '../../tasks/AmlModelRegister/gate-expr';
import { rawRequest } from '../../testkit/emulator/raw';
import type { Result } from './expr';
import type { Log } from './log';
import type { StageRecord, StepRecord } from './runner';
import type { Variant } from './variants';
import type { DemoWorld } from './world';

export interface GateLine {
  text: string;
  metric: string;
  op: string;
  threshold: number;
  value: number | undefined;
  pass: boolean | undefined;
}

export interface Facts {
  job?: { name: string; status: string; steps: Array<{ name: string; status: string }> };
  metrics: Record<string, number>;
  gate?: { lines: GateLine[]; compareWith: string; registered: string | undefined; result: Result; warnings: string[] };
  model?: { name: string; version: string; id: string };
  /** Two workspaces: the promotion into the registry (Promote › promote). */
  promotion?: {
    registry: string;
    result: Result;
    registered: string | undefined;
    id: string;
    lineage: Record<string, string>;
    warnings: string[];
  };
  rollout?: {
    endpoint: string;
    deployment: string;
    result: Result;
    traffic: Record<string, number>;
    steps: number[];
    previous: string;
    errors: string[];
  };
  scoring?: { uri: string; status?: number; body?: string; error?: string };
  /** The first failed step (where the run stopped). */
  failedAt?: StepRecord;
  skippedStages: Array<{ name: string; why: string }>;
  /** Writes to Azure ML: job PUTs, code/blob uploads. */
  jobsSubmitted: number;
}

const findStep = (stages: StageRecord[], task: string): StepRecord | undefined =>
  stages.flatMap((s) => s.jobs.flatMap((j) => j.steps)).find((s) => s.task?.split('@')[0] === task && s.result !== 'Skipped');

async function score(uri: string, key: string, body: string, ca: string): Promise<{ status: number; body: string }> {
  const r = await rawRequest(new URL(uri).origin, ca, 'POST', uri, {
    headers: { 'content-type': 'application/json', authorization: `Bearer ${key}` },
    body,
    timeoutMs: 10_000,
  });
  return { status: r.status, body: r.text };
}

/** The gate as AmlModelRegister@1 reads it; an unreadable gate already failed that step, so it shows no lines. */
function parseGate(text: string, metrics: Record<string, number>): GateLine[] {
  let conditions: Condition[];
  try {
    conditions = parseMetricGate(text);
  } catch {
    return [];
  }
  return conditions.map((c) => {
    const metric = c.ref.step ? `${c.ref.step}.${c.ref.metric}` : c.ref.metric;
    const value = metrics[metric];
    return {
      text: c.text,
      metric,
      op: c.op,
      threshold: c.threshold,
      value,
      pass: value === undefined ? undefined : holds(value, c.op, c.threshold),
    };
  });
}

export async function collectFacts(world: DemoWorld, stages: StageRecord[], smokeBody: string | undefined): Promise<Facts> {
  const { emu } = world;
  const facts: Facts = {
    metrics: {},
    skippedStages: stages.filter((s) => s.result === 'Skipped').map((s) => ({ name: s.name, why: s.skipped ?? '' })),
    jobsSubmitted: world.submittedJobs.length,
  };
  facts.failedAt = stages.flatMap((s) => s.jobs.flatMap((j) => j.steps)).find((s) => s.result === 'Failed');

  const train = findStep(stages, 'AmlPipelineJob');
  const jobName = train?.outputs.jobName;
  if (jobName) {
    const job = emu.aml.job(jobName);
    const children = emu.aml.children(jobName);
    facts.job = {
      name: jobName,
      status: String((job?.body.properties as { status?: string } | undefined)?.status ?? train.outputs.jobStatus ?? 'unknown'),
      steps: children.map((c) => ({ name: c.step ?? c.displayName, status: c.status })),
    };
    for (const c of children)
      for (const [k, points] of emu.aml.engine.metricsOf(c.runId))
        if (points.length) facts.metrics[`${c.step}.${k}`] = points[points.length - 1]!.value;
  }

  const steps = stages
    .flatMap((s) => s.jobs.flatMap((j) => j.steps))
    .filter((s) => s.task?.split('@')[0] === 'AmlModelRegister' && s.result !== 'Skipped');
  const reg = steps.find((s) => !s.inputs?.registryName);
  const promote = steps.find((s) => !!s.inputs?.registryName);
  if (promote) {
    const registry = promote.inputs?.registryName ?? '';
    const id = promote.outputs.registered === 'true' ? (promote.outputs.modelId ?? '') : '';
    const registryId = world.production.find((p) => p.registryId?.endsWith(`/${registry}`))?.registryId;
    const version =
      registryId && id
        ? world.emu.registries
            .versions(registryId, promote.outputs.modelName ?? '')
            .find((v) => String(v.name) === promote.outputs.modelVersion)
        : undefined;
    const tags = ((version?.properties as { tags?: Record<string, string> } | undefined)?.tags ?? {}) as Record<string, string>;
    const lineage = Object.fromEntries(
      Object.entries(tags).filter(([k]) => /^ado\.(sourceWorkspace|jobName|sourceModel|runId|branch|commit)$/.test(k)),
    );
    facts.promotion = { registry, result: promote.result, registered: promote.outputs.registered, id, lineage, warnings: promote.warnings };
  }
  if (reg) {
    facts.gate = {
      lines: parseGate(reg.inputs?.metricGate ?? '', facts.metrics),
      compareWith: reg.inputs?.compareWith ?? 'none',
      registered: reg.outputs.registered,
      result: reg.result,
      warnings: reg.warnings,
    };
    if (reg.outputs.registered === 'true')
      facts.model = { name: reg.outputs.modelName ?? '', version: reg.outputs.modelVersion ?? '', id: reg.outputs.modelId ?? '' };
  }

  const dep = findStep(stages, 'AmlAksDeploy');
  if (dep) {
    const endpoint = dep.outputs.endpointName ?? dep.inputs?.endpointName ?? '';
    const deployment = dep.outputs.deploymentName ?? '';
    const history = emu.online.trafficHistory(endpoint);
    facts.rollout = {
      endpoint,
      deployment,
      result: dep.result,
      traffic: emu.online.traffic(endpoint),
      steps: [...new Set(history.map((h) => h[deployment] ?? 0).filter((v) => v > 0))],
      previous: dep.outputs.previousDeployment ?? '',
      errors: dep.errors,
    };
    const uri = dep.outputs.scoringUri;
    const key = emu.online.keysOf(endpoint)?.primaryKey;
    if (uri) {
      facts.scoring = { uri };
      if (key && smokeBody !== undefined) {
        try {
          const r = await score(uri, key, smokeBody, emu.caCertPem);
          facts.scoring.status = r.status;
          facts.scoring.body = r.body;
        } catch (e) {
          facts.scoring.error = (e as Error).message;
        }
      }
    }
  }
  return facts;
}

/** Did the run end where the variant says it must? */
export function verdict(
  v: Variant,
  stages: StageRecord[],
  facts: Facts,
  world: DemoWorld,
): { ok: boolean; checks: Array<{ ok: boolean; text: string }> } {
  const stage = (n: string) => stages.find((s) => s.name === n);
  const checks: Array<{ ok: boolean; text: string }> = [];
  const check = (ok: boolean, text: string) => checks.push({ ok, text });
  const endpointName = facts.rollout?.endpoint ?? world.production[0]?.endpoint;
  switch (v.name) {
    case 'green': {
      const bad = stages.filter((s) => s.result !== 'Succeeded' && s.result !== 'SucceededWithIssues');
      check(
        bad.length === 0,
        `every stage ran and succeeded${bad.length ? ` (not: ${bad.map((s) => `${s.name} ${s.result}`).join(', ')})` : ''}`,
      );
      check(facts.job?.status === 'Completed', `the Azure ML job completed (${facts.job?.status ?? 'no job'})`);
      check(
        facts.gate?.registered === 'true' && !!facts.model?.version,
        `the gate passed and the model was registered (${facts.model ? `${facts.model.name}:${facts.model.version}` : `registered=${facts.gate?.registered ?? 'n/a'}`})`,
      );
      if (stage('Promote')) {
        const lineage = facts.promotion?.lineage ?? {};
        check(
          facts.promotion?.registered === 'true' && !!lineage['ado.jobName'] && !!lineage['ado.sourceWorkspace'],
          `the registered version was promoted into registry ${facts.promotion?.registry ?? '(none)'} with its lineage (${facts.promotion?.id || `registered=${facts.promotion?.registered ?? 'n/a'}`}; job ${lineage['ado.jobName'] ?? 'not tagged'}, workspace ${lineage['ado.sourceWorkspace'] ?? 'not tagged'})`,
        );
        const served = facts.rollout
          ? String(
              (
                world.emu.online.deployments(facts.rollout.endpoint).find((d) => String(d.name) === facts.rollout!.deployment)
                  ?.properties as { model?: string } | undefined
              )?.model ?? '',
            )
          : '';
        check(
          !!facts.promotion?.id && served === facts.promotion.id,
          `production deploys the registry's version (${served || 'no deployment'})`,
        );
      }
      const at = facts.rollout ? facts.rollout.traffic[facts.rollout.deployment] : undefined;
      check(
        facts.rollout?.result === 'Succeeded' && at === 100,
        `the rollout reached 100% on the new deployment (${facts.rollout ? `${facts.rollout.deployment}: ${at ?? 0}%` : 'no rollout'})`,
      );
      check(facts.scoring?.status === 200, `the scoring URI answers (${facts.scoring?.status ?? facts.scoring?.error ?? 'not called'})`);
      break;
    }
    case 'feature-branch': {
      const f = facts.failedAt;
      check(
        !!f && f.stage === 'NetworkCheck' && f.id === 'privateLink' && !!f.task?.startsWith('AmlPrivateLinkCheck'),
        `the run is refused at its first use of the production connection, NetworkCheck › privateLink (AmlPrivateLinkCheck@1)${f ? ` (failed at ${f.stage} › ${f.id})` : ' (nothing failed)'}`,
      );
      check(
        !!f && f.errors.some((e) => e.includes(v.branch) || /protected|branch/i.test(e)),
        'the refusal names the branch and the protection it lacks',
      );
      const puts = world.emu.requests.filter((r) => r.method === 'PUT' && /\/jobs\//i.test(r.path)).length;
      check(facts.jobsSubmitted === 0 && puts === 0, `nothing was submitted to Azure ML (${facts.jobsSubmitted} job(s))`);
      const during =
        f?.startedAt !== undefined
          ? world.emu.requests.filter(
              (r) => r.time >= f.startedAt! && r.time <= f.startedAt! + f.ms && (r.service === 'arm' || r.service === 'entra'),
            ).length
          : -1;
      check(
        during === 0,
        `the gate refused before any Azure call (${during < 0 ? 'step not run' : `${during} Entra/ARM request(s) during the step`})`,
      );
      check(
        stage('Evaluate')?.result === 'Skipped' && stage('Deploy')?.result === 'Skipped',
        `Evaluate and Deploy are skipped (${stage('Evaluate')?.result}, ${stage('Deploy')?.result})`,
      );
      break;
    }
    case 'bad-model': {
      check(
        stage('Train')?.result === 'Succeeded',
        `the job ran and completed (Train: ${stage('Train')?.result}, job ${facts.job?.status ?? 'none'})`,
      );
      check(
        facts.gate?.registered === 'false' && facts.gate.result === 'SucceededWithIssues',
        `the gate at Evaluate › register said no: registered=${facts.gate?.registered ?? 'n/a'}, ${facts.gate?.result ?? 'not run'}`,
      );
      check(stage('Deploy')?.result === 'Skipped', `the Deploy stage is skipped (${stage('Deploy')?.result ?? 'absent'})`);
      const before = world.production.find((x) => x.endpoint === endpointName);
      const untouched = !endpointName
        ? true
        : before
          ? JSON.stringify(world.emu.online.traffic(endpointName)) === JSON.stringify({ [before.deployment]: 100 }) &&
            world.emu.online.deployments(endpointName).length === 1 &&
            world.emu.online.trafficHistory(endpointName).length === 1
          : !world.emu.online.endpoint(endpointName);
      check(
        untouched,
        `the endpoint was not touched${endpointName ? ` (${endpointName}${before ? `: ${before.deployment} still serves 100%` : ''})` : ''}`,
      );
      const c = world.champions[0] ?? world.production[0];
      const versions = c ? world.emu.models.versions(c.workspaceId, c.model).length : 0;
      check(!facts.model && versions <= 1, `no model version was registered${c ? ` (${c.model} still has version 1 only)` : ''}`);
      break;
    }
    case 'promotion-refused': {
      check(facts.gate?.registered === 'true', `the model was registered in development (registered=${facts.gate?.registered ?? 'n/a'})`);
      check(
        facts.promotion?.registered === 'false' && facts.promotion.result === 'SucceededWithIssues',
        `the gate at Promote › promote said no against the registry's champion: registered=${facts.promotion?.registered ?? 'n/a'}, ${facts.promotion?.result ?? 'not run'}`,
      );
      const champ = world.production.find((p) => p.registryId);
      const inRegistry = champ?.registryId ? world.emu.registries.versions(champ.registryId, champ.model).length : -1;
      check(
        inRegistry === 1,
        `nothing was added to the registry (${champ ? `${champ.model} has ${inRegistry} version(s)` : 'no registry seeded'})`,
      );
      check(stage('Deploy')?.result === 'Skipped', `the Deploy stage is skipped (${stage('Deploy')?.result ?? 'absent'})`);
      const untouched =
        !!champ &&
        JSON.stringify(world.emu.online.traffic(champ.endpoint)) === JSON.stringify({ [champ.deployment]: 100 }) &&
        world.emu.online.trafficHistory(champ.endpoint).length === 1;
      check(untouched, `production was not touched${champ ? ` (${champ.endpoint}: ${champ.deployment} still serves 100%)` : ''}`);
      break;
    }
  }
  return { ok: checks.every((c) => c.ok), checks };
}

const pct = (steps: number[]) => steps.map((s) => `${s}%`).join(' → ');

/** The short report at the end of the log; returns its plain lines. */
export function printReport(
  log: Log,
  v: Variant,
  stages: StageRecord[],
  facts: Facts,
  result: ReturnType<typeof verdict>,
  world: DemoWorld,
): string[] {
  const out: string[] = [];
  const champ = world.champions[0] ?? world.production[0];
  const row = (k: string, val: string) => {
    const line = `  ${k.padEnd(13)}${val}`;
    log.print(line);
    out.push(line.replace(/\x1b\[[0-9;]*m/g, ''));
  };
  log.print();
  log.print(log.bold('═'.repeat(100)));
  log.print(log.bold(`Rehearsal report · ${v.name}: ${v.title}`));
  log.print(log.bold('═'.repeat(100)));
  row(
    'Stages',
    stages
      .map(
        (s) =>
          `${s.name} ${s.result === 'Succeeded' ? log.green(s.result) : s.result === 'Failed' ? log.red(s.result) : log.yellow(s.result)}`,
      )
      .join(' · '),
  );
  if (facts.job)
    row(
      'Job',
      `${facts.job.name}  ${facts.job.status === 'Completed' ? log.green(facts.job.status) : log.red(facts.job.status)}  (${facts.job.steps.map((s) => `${s.name} ${s.status}`).join(', ')})`,
    );
  else row('Job', log.dim(`none submitted${facts.jobsSubmitted === 0 ? ' (nothing reached Azure ML)' : ''}`));
  const m = Object.entries(facts.metrics);
  row('Metrics', m.length ? m.map(([k, x]) => `${k} ${x}`).join(' · ') : log.dim('none logged'));
  if (facts.gate) {
    const lines = facts.gate.lines
      .map(
        (g) =>
          `${g.text} ${g.pass === undefined ? '?' : g.pass ? log.green('✔') : log.red('✖')}${g.value !== undefined ? ` (${g.value})` : ''}`,
      )
      .join(', ');
    // The gate's own verdict (its lines), apart from whether the registration then succeeded.
    // (SucceededWithIssues with registered=false is onGateFail: skip, i.e. the gate, with its champion, said no.)
    const registered = facts.gate.registered === 'true';
    const verdicts = facts.gate.lines.map((g) => g.pass);
    const saidNo = !registered && facts.gate.result === 'SucceededWithIssues';
    const gate =
      saidNo || verdicts.some((p) => p === false)
        ? log.red('not passed')
        : verdicts.length && verdicts.every((p) => p === true)
          ? log.green('passed')
          : log.yellow('not evaluated');
    const champion = champ
      ? ` (champion ${champ.model}:${champ.version}${
          Object.keys(champ.metrics).length
            ? `: ${Object.entries(champ.metrics)
                .map(([k, x]) => `${k} ${x}`)
                .join(', ')}`
            : ''
        })`
      : '';
    row(
      'Gate',
      `${gate}: ${lines}; compareWith ${facts.gate.compareWith}${champion}${registered ? '' : ` → registered=${facts.gate.registered ?? 'n/a'} (${facts.gate.result})`}`,
    );
  } else row('Gate', log.dim('not reached'));
  row('Model', facts.model ? log.bold(`${facts.model.name}:${facts.model.version}`) : log.dim('not registered'));
  if (facts.promotion) {
    const p = facts.promotion;
    row(
      'Promoted',
      p.id ? log.bold(p.id) : log.yellow(`not promoted to registry ${p.registry} (registered=${p.registered ?? 'n/a'}, ${p.result})`),
    );
    // Ids shortened for one line: the workspace by name, the commit to 12 characters.
    const shown = (k: string, v: string) =>
      k === 'ado.sourceWorkspace' ? (v.split('/').pop() ?? v) : k === 'ado.commit' ? v.slice(0, 12) : v;
    if (Object.keys(p.lineage).length)
      row(
        'Lineage',
        Object.entries(p.lineage)
          .map(([k, v]) => `${k.replace(/^ado\./, '')} ${shown(k, v)}`)
          .join(' · '),
      );
    if (p.registered === 'false')
      for (const w of [...new Set(p.warnings)]) for (const [i, l] of w.split('\n').entries()) row(i ? '' : 'Promote said', log.yellow(l));
  }
  if (facts.rollout) {
    const at = facts.rollout.traffic[facts.rollout.deployment] ?? 0;
    const ok = facts.rollout.result === 'Succeeded' && at === 100;
    row(
      'Rollout',
      `${ok ? log.green(`${facts.rollout.deployment} at ${at}%`) : log.red(`${facts.rollout.deployment || '(no deployment)'} ${facts.rollout.result}, at ${at}%`)} on endpoint ${facts.rollout.endpoint} (${pct(facts.rollout.steps) || 'no traffic moved'})${facts.rollout.previous ? `, replacing ${facts.rollout.previous}` : ', first deployment'}`,
    );
  } else
    row(
      'Rollout',
      log.dim(stages.find((s) => s.name === 'Deploy')?.result === 'Skipped' ? 'skipped (Deploy stage not run)' : 'not reached'),
    );
  if (facts.scoring)
    row(
      'Scoring URI',
      `${facts.scoring.uri}${facts.scoring.status !== undefined ? `  → ${facts.scoring.status} ${facts.scoring.body ?? ''}` : facts.scoring.error ? `  → ${facts.scoring.error}` : ''}`,
    );
  else row('Scoring URI', log.dim('none'));
  if (facts.failedAt) {
    const f = facts.failedAt;
    row('Stopped at', log.red(`stage ${f.stage} › job ${f.job} › step ${f.id}${f.task ? ` (${f.task})` : ''}`));
    for (const e of [...new Set(f.errors)])
      for (const [i, l] of e.split('\n').entries()) row(i ? '' : /^Refus/.test(e) ? 'Refusal' : 'Error', log.red(l));
  }
  for (const s of facts.skippedStages) row('Skipped', `${s.name}: ${s.why}`);
  if (facts.gate && facts.gate.registered === 'false')
    for (const w of [...new Set(facts.gate.warnings)])
      for (const [i, l] of w.split('\n').entries()) row(i ? '' : 'Gate said', log.yellow(l));
  log.print();
  log.print(log.bold(`Expected: ${v.expectation}`));
  for (const c of result.checks) {
    const line = `  ${c.ok ? log.green('✔') : log.red('✖')} ${c.text}`;
    log.print(line);
    out.push(line.replace(/\x1b\[[0-9;]*m/g, ''));
  }
  log.print(
    result.ok ? log.green(log.bold('The rehearsal behaved as expected.')) : log.red(log.bold('The rehearsal did NOT behave as expected.')),
  );
  return out;
}

/** dist/demo/summary.md: the run as a table, the report, and links to each task's summary. */
export function writeIndex(outDir: string, v: Variant, stages: StageRecord[], report: string[], ok: boolean, notes: string[]): string {
  const rel = (f: string) => path.relative(outDir, f).split(path.sep).join('/');
  const md: string[] = [
    `# Rehearsal: ${v.name}`,
    '',
    v.title,
    '',
    `Expected: ${v.expectation}. ${ok ? '**Behaved as expected.**' : '**Did not behave as expected.**'}`,
    '',
  ];
  if (notes.length) md.push(...notes.map((n) => `- ${n}`), '');
  md.push('| Stage | Job | Step | Task | Result | Duration | Run summary |', '|---|---|---|---|---|---|---|');
  for (const s of stages) {
    if (s.result === 'Skipped') {
      md.push(`| ${s.name} | | | | Skipped | | ${s.skipped ?? ''} |`);
      continue;
    }
    for (const j of s.jobs)
      for (const st of j.steps)
        md.push(
          `| ${s.name} | ${j.name} | ${st.displayName} | ${st.task ?? ''} | ${st.result} | ${st.task ? `${(st.ms / 1000).toFixed(1)} s` : ''} | ${st.summaryFiles.map((f) => `[${path.basename(f)}](${rel(f)})`).join(', ')} |`,
        );
  }
  md.push('', '## Report', '', '```', ...report, '```', '');
  const file = path.join(outDir, 'summary.md');
  fs.writeFileSync(file, md.join('\n'));
  return file;
}

/**
 * A run summary as the Azure DevOps "Extensions" tab shows it (white page, Segoe UI, plain table
 * borders), for the Marketplace screenshot that scripts/images/render.sh takes with Chromium.
 */
export async function writeScreenshotHtml(file: string, summaryFile: string, title: string): Promise<void> {
  const { marked } = await import('marked');
  // Status emoji as Azure DevOps shows them, drawn with glyphs every font has (headless Chromium
  // on a build machine usually has no colour emoji font).
  const glyphs: Array<[RegExp, string]> = [
    [/✅/g, '<span class="ok">✔</span>'],
    [/❌/g, '<span class="bad">✖</span>'],
    [/⚠️?/g, '<span class="warn">⚠</span>'],
    [/ℹ️?/g, '<span class="info">ℹ</span>'],
  ];
  let body = await marked.parse(fs.readFileSync(summaryFile, 'utf8'), { gfm: true, async: true });
  for (const [re, html] of glyphs) body = body.replace(re, html);
  // Short cells stay on one line; long names may wrap anywhere (they have no spaces).
  body = body.replace(/<td>([^<]{33,})<\/td>/g, '<td class="long">$1</td>');
  const esc = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
  const html = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>${esc(title)}</title>
<style>
  html, body { margin: 0; background: #fff; color: #201f1e; font: 14px/1.5 "Segoe UI", "Segoe UI Web (West European)", -apple-system, "DejaVu Sans", "Helvetica Neue", sans-serif; }
  .bar { display: flex; align-items: center; gap: 12px; padding: 12px 28px; border-bottom: 1px solid #eaeaea; }
  .bar .run { font-size: 20px; font-weight: 600; }
  .bar .meta { color: #605e5c; font-size: 13px; }
  .tabs { display: flex; gap: 24px; padding: 0 28px; border-bottom: 1px solid #eaeaea; }
  .tabs span { padding: 10px 0; color: #605e5c; }
  .tabs span.on { color: #201f1e; font-weight: 600; border-bottom: 2px solid #0078d4; }
  .card { margin: 20px 28px; border: 1px solid #eaeaea; border-radius: 4px; box-shadow: 0 1px 2px rgba(0,0,0,.06); }
  .card h2.section { margin: 0; padding: 12px 16px; font-size: 14px; font-weight: 600; border-bottom: 1px solid #eaeaea; }
  .content { padding: 4px 16px 16px; }
  .content h1, .content h2, .content h3 { font-weight: 600; margin: 14px 0 8px; }
  .content h1 { font-size: 20px; } .content h2 { font-size: 16px; } .content h3 { font-size: 14px; }
  table { border-collapse: collapse; margin: 8px 0; font-size: 12.5px; width: 100%; }
  th, td { border: 1px solid #d1d1d1; padding: 4px 8px; text-align: left; vertical-align: top; white-space: nowrap; }
  td.long { white-space: normal; overflow-wrap: anywhere; }
  .ok { color: #107c10; font-weight: 600; } .bad { color: #a4262c; font-weight: 600; } .warn { color: #c19c00; } .info { color: #0078d4; }
  th { background: #f8f8f8; font-weight: 600; }
  code { font-family: Consolas, "DejaVu Sans Mono", monospace; font-size: 12px; background: #f4f4f4; padding: 1px 4px; border-radius: 2px; }
  pre code { display: block; padding: 8px; white-space: pre-wrap; }
  a { color: #0078d4; text-decoration: none; }
</style>
</head>
<body>
<div class="bar"><span class="run">Run summary of the network check</span><span class="meta">rehearsed with npm run demo · azure-pipelines.yml · refs/heads/main</span></div>
<div class="tabs"><span>Summary</span><span>Environments</span><span class="on">Extensions</span></div>
<div class="card">
<h2 class="section">${esc(title)}</h2>
<div class="content">
${body}
</div>
</div>
</body>
</html>
`;
  fs.mkdirSync(path.dirname(file), { recursive: true });
  fs.writeFileSync(file, html);
}
