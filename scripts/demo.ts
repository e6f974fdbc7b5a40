/**
 * Local rehearsal of the example pipeline: `npm run demo` (and `npm run demo:fail`).
 *
 * It compiles azure-pipelines.yml as Azure DevOps would (extends template -> stage template ->
 * step templates, parameters bound with the service's checks), starts the emulated Azure + Azure
 * DevOps world seeded to match it (scripts/demo/world.ts), then runs the stages, jobs and steps in
 * order with the BUNDLED tasks in dist/tasks, exactly as the agent runs them (testkit/harness.ts),
 * printing a pipeline-style log, writing each task's run summary to dist/demo/<stage>-<step>.md
 * (index: dist/demo/summary.md) and ending with a report and a verdict.
 *
 *   node --import tsx scripts/demo.ts [options]
 *     --variant <green|feature-branch|bad-model>   what to rehearse (default green)
 *     --fail                       the failing variants: feature-branch and bad-model (or --variant)
 *     --parameters <file>          parameters for the extends template, replacing the pipeline's
 *                                  `extends: parameters:` block (YAML or JSON)
 *     --pipeline <file>            default azure-pipelines.yml
 *     --repository <alias=folder>  a local copy of a repository resource the pipeline's templates
 *                                  come from (`template: x.yml@alias`), e.g. mlops=. (repeatable)
 *     --hold-seconds <n>           upper bound for AmlAksDeploy's stepWaitSeconds (default 1)
 *     --out <dir>                  summaries (default dist/demo, dist/demo/<variant> for the others)
 *     --no-sandbox                 do not use a private network namespace even when root
 *     --no-color
 *
 * Exit code 0 when every rehearsed variant ended where it should (green: all green; a failing
 * variant: stopped at the expected place), 1 when not or when the pipeline does not compile, 2 on
 * bad usage, 3 when the pipeline uses something the rehearsal does not support.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { loadTasks } from '../testkit/yaml-pipeline/validate';
import { Unsupported } from './demo/expr';
import { Log } from './demo/log';
import { CompileError, compilePipeline } from './demo/pipeline';
import { planPipeline, taskSteps } from './demo/plan';
import { collectFacts, printReport, verdict, writeIndex, writeScreenshotHtml } from './demo/report';
import { NotBuilt, PipelineRunner } from './demo/runner';
import { inSandbox, rerunInSandbox, sandboxAvailable, AZURE_DNS } from './demo/sandbox';
import { FAILING_VARIANTS, variant, VARIANTS, type VariantName } from './demo/variants';
import { startDemoWorld, type DemoWorld } from './demo/world';

const ROOT = path.resolve(__dirname, '..');
/** A path as the user can open it: relative to the current folder when inside it. */
const shown = (p: string): string => {
  const r = path.relative(process.cwd(), p);
  return !r ? '.' : r.startsWith('..') ? p : r;
};

interface Args {
  variants: VariantName[];
  parameters?: string;
  pipeline: string;
  repositories: Record<string, string>;
  holdSeconds: number;
  out?: string;
  sandbox: boolean;
  color?: boolean;
  help: boolean;
}

class UsageError extends Error {}

const HELP = `Usage: npm run demo -- [options]        (node --import tsx scripts/demo.ts after npm run build)

Rehearses a pipeline (default azure-pipelines.yml) end to end against the local emulator with the
bundled tasks: compiled through its templates as Azure DevOps does, then every stage, job and step
run as the agent runs them, ending with a report and a verdict.

  --variant <name>           green (default: main, a model that passes), feature-branch (refused
                             by the gate), bad-model (the metric gate says no); repeatable
  --fail                     the failing variants: feature-branch and bad-model
  --pipeline <file>          the pipeline to rehearse (default azure-pipelines.yml)
  --parameters <file>        parameters for the extends template (YAML or JSON), replacing the
                             pipeline's extends: parameters: block
  --repository <alias=dir>   a local copy of a repository resource its templates come from
                             (template: x.yml@alias), e.g. --repository mlops=.
  --hold-seconds <n>         upper bound for AmlAksDeploy's stepWaitSeconds (default 1)
  --out <dir>                where the run summaries go (default dist/demo)
  --no-sandbox               no private network namespace, even as root
  --no-color                 plain output

Exit codes: 0 behaved as expected, 1 did not (or the pipeline does not compile), 2 usage, 3 the
pipeline uses something the rehearsal does not support.`;

function parseArgs(argv: string[]): Args {
  const a: Args = { variants: [], pipeline: 'azure-pipelines.yml', repositories: {}, holdSeconds: 1, sandbox: true, help: false };
  let fail = false;
  const value = (i: number, flag: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) throw new UsageError(`${flag} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const f = argv[i]!;
    const [flag, inline] =
      f.includes('=') && f.startsWith('--') ? [f.slice(0, f.indexOf('=')), f.slice(f.indexOf('=') + 1)] : [f, undefined];
    const take = () => {
      if (inline !== undefined) return inline;
      const v = value(i, flag);
      i++;
      return v;
    };
    switch (flag) {
      case '--variant': {
        const v = take() as VariantName;
        if (!VARIANTS.includes(v)) throw new UsageError(`--variant ${v}: use one of ${VARIANTS.join(', ')}`);
        if (!a.variants.includes(v)) a.variants.push(v);
        break;
      }
      case '--fail':
        fail = true;
        break;
      case '--parameters':
        a.parameters = take();
        break;
      case '--pipeline':
        a.pipeline = take();
        break;
      case '--repository': {
        const v = take();
        const eq = v.indexOf('=');
        if (eq <= 0) throw new UsageError(`--repository takes alias=folder, not '${v}'`);
        a.repositories[v.slice(0, eq)] = path.resolve(v.slice(eq + 1));
        break;
      }
      case '--hold-seconds': {
        const n = Number(take());
        if (!Number.isInteger(n) || n < 0) throw new UsageError('--hold-seconds needs a whole number of seconds');
        a.holdSeconds = n;
        break;
      }
      case '--out':
        a.out = take();
        break;
      case '--no-sandbox':
        a.sandbox = false;
        break;
      case '--no-color':
        a.color = false;
        break;
      case '-h':
      case '--help':
        a.help = true;
        break;
      default:
        throw new UsageError(`unknown option ${f}`);
    }
  }
  if (fail && a.variants.includes('green'))
    throw new UsageError('--fail rehearses the failing variants; green is the default run without --fail');
  if (!a.variants.length) a.variants = fail ? [...FAILING_VARIANTS] : ['green'];
  return a;
}

function outDirFor(a: Args, v: VariantName): string {
  const base = a.out ? path.resolve(a.out) : path.join(ROOT, 'dist', 'demo');
  const dir = a.variants.length > 1 || (!a.out && v !== 'green') ? path.join(base, v) : base;
  fs.mkdirSync(dir, { recursive: true });
  for (const f of fs.readdirSync(dir)) if (f.endsWith('.md')) fs.rmSync(path.join(dir, f));
  return dir;
}

function describeWorld(log: Log, world: DemoWorld, sandboxNote: string | undefined): void {
  const p = (s: string) => log.print(`  ${s}`);
  log.print(log.bold('World') + log.dim(` · emulator ${world.emu.url} (Entra ID, ARM, Azure ML, Azure DevOps over HTTPS with a test CA)`));
  for (const w of world.workspaces) {
    const ips = w.names.map((n) => n.ip);
    p(
      `workspace ${log.bold(w.name)} in ${w.resourceGroup}: public network access disabled; ${w.names.length} private-link names (workspace, notebooks, blob, file, vault, registry) → ${ips[0]}–${ips[ips.length - 1]}`,
    );
    p(
      `  computes ${w.computes.join(', ')}${w.computes.length > 2 ? ' (Kubernetes: the attached AKS cluster)' : ''}${w.data.length ? ` · data ${w.data.join(', ')}` : ''}`,
    );
  }
  p(
    world.sandbox
      ? `DNS: the agent's resolver asks ${AZURE_DNS} (Azure DNS, private zones linked): public names CNAME into privatelink zones answering the endpoint IPs; TCP 443 answers on each IP (private network namespace)`
      : `DNS: the emulator's DNS server ${world.dns.address} answers the private names correctly; ${log.yellow(`no private network namespace (${sandboxNote ?? 'disabled'}): the private-link checks ask it through dnsServers and skip TCP 443`)}`,
  );
  for (const c of world.connections.values())
    p(
      `service connection ${log.bold(c.name)} → ${c.id} (${c.scheme}${c.registered ? ', trusted by the pipeline service principal, Contributor on the resource group; Branch control check: refs/heads/main' : ''})`,
    );
  for (const x of world.production)
    p(
      `production today: ${log.bold(`${x.model}:${x.version}`)} (${
        Object.entries(x.metrics)
          .map(([k, v]) => `${k} ${v}`)
          .join(', ') || 'no recorded metrics'
      }) serves 100% of endpoint ${x.endpoint} as deployment ${x.deployment}`,
    );
  p(
    `repository ${world.seed.ado.org}/${world.seed.ado.project}/${world.seed.ado.repository.name}: ${world.branch.ref} has ${world.branch.policy}`,
  );
  p(`run: CI of ${log.bold(world.branch.ref)} at ${world.branch.commit.slice(0, 12)} (Build.Reason IndividualCI, Build.BuildId 4711)`);
}

async function rehearse(a: Args, name: VariantName, sandbox: boolean, sandboxNote: string | undefined, log: Log): Promise<number> {
  const v = variant(name);
  log.print(log.bold('═'.repeat(100)));
  log.print(log.bold(`Rehearsal of ${a.pipeline} · ${v.name}: ${v.title}`));
  log.print(log.bold('═'.repeat(100)));

  let plan;
  try {
    const compiled = compilePipeline(ROOT, a.pipeline, a.parameters, a.repositories);
    plan = planPipeline(compiled.pipeline, new Set(loadTasks(ROOT).map((t) => t.ref)));
    const steps = taskSteps(plan);
    log.print(
      log.dim(
        `Compiled ${a.pipeline}${compiled.parametersFile ? ` with parameters from ${compiled.parametersFile}` : ''} through its templates: ${plan.stages.length} stages, ${plan.stages.reduce((n, s) => n + s.jobs.length, 0)} jobs, ${steps.length} task steps; validated against ${shown(compiled.schemaFile)} and the tasks' task.json.`,
      ),
    );
    for (const n of plan.notes) log.print(log.dim(n));
  } catch (e) {
    if (e instanceof CompileError) {
      log.print(log.red('##[error]The pipeline is not valid; Azure DevOps would not start this run:'));
      for (const p of e.problems) log.print(log.red(p));
      return 1;
    }
    if (e instanceof Unsupported) {
      log.print(log.red(`##[error]Not supported by the rehearsal: ${e.message}`));
      log.print(
        log.dim(
          "The rehearsal runs exactly what our templates use: stages, jobs and runOnce deployment jobs, checkout self|none, this extension's tasks, job variables (mapping form, $[ ] runtime expressions), conditions with status functions and dependencies/stageDependencies outputs.",
        ),
      );
      return 3;
    }
    throw e;
  }
  log.print(
    log.dim(
      "Supported here: stages, jobs and runOnce deployment jobs, checkout self|none, this extension's bundled tasks, job variables with $[ ] runtime expressions, conditions (succeeded(), eq(), and(), dependencies/stageDependencies outputs) and $( ) macros. Anything else stops the rehearsal with a message.",
    ),
  );

  const outDir = outDirFor(a, name);
  const world = await startDemoWorld({ plan, variant: v, sandbox, repoRoot: ROOT });
  try {
    describeWorld(log, world, sandboxNote);
    if (v.name === 'feature-branch') {
      log.print(
        log.yellow(
          `  note: in Azure DevOps the connection's "Branch control" check (refs/heads/main) would hold this run before its first job; the rehearsal does not evaluate service-connection checks, so what you see is the tasks' own gate, the second line of defence.`,
        ),
      );
    }
    const runner = new PipelineRunner(plan, world, {
      repoRoot: ROOT,
      tasksDir: path.join(ROOT, 'dist', 'tasks'),
      outDir,
      holdSeconds: a.holdSeconds,
      log,
    });
    let stages;
    try {
      stages = await runner.run();
    } catch (e) {
      if (e instanceof Unsupported) {
        log.print(log.red(`##[error]Not supported by the rehearsal: ${e.message}`));
        return 3;
      }
      if (e instanceof NotBuilt) {
        log.print(log.red(`##[error]${e.message}`));
        return 1;
      }
      throw e;
    } finally {
      runner.dispose();
    }
    const deploy = taskSteps(plan).find((s) => s.step.task.startsWith('AmlAksDeploy'));
    const smokeFile = deploy?.step.inputs.smokeTestFile;
    const smokeBody =
      smokeFile && fs.existsSync(path.resolve(ROOT, smokeFile)) ? fs.readFileSync(path.resolve(ROOT, smokeFile), 'utf8') : undefined;
    const facts = await collectFacts(world, stages, smokeBody);
    const result = verdict(v, stages, facts, world);
    const report = printReport(log, v, stages, facts, result, world);
    const notes = [
      world.sandbox
        ? 'Ran in a private network namespace: the agent resolver and TCP 443 as in the VNet.'
        : `No private network namespace (${sandboxNote ?? 'disabled'}): the private-link checks asked the VNet DNS through dnsServers and skipped TCP 443.`,
    ];
    const index = writeIndex(outDir, v, stages, report, result.ok, notes);
    log.print(log.dim(`Run summaries: ${shown(outDir)}/ (index ${shown(index)})`));
    if (v.name === 'green') {
      const pl = stages.find((s) => s.name === 'NetworkCheck')?.jobs[0]?.steps.find((s) => s.task?.startsWith('AmlPrivateLinkCheck'));
      const src = pl?.summaryFiles[0];
      if (src) {
        const html = a.out ? path.join(path.resolve(a.out), 'summary-screenshot.html') : path.join(ROOT, 'dist', 'summary-screenshot.html');
        const title = path.basename(pl.run?.summaries[0]?.path ?? src, '.md').replace(/-\d+$/, '');
        // The page the Marketplace screenshot is rendered from (scripts/images/render.sh; CONTRIBUTING.md).
        await writeScreenshotHtml(html, src, title);
      }
    }
    return result.ok ? 0 : 1;
  } finally {
    await world.close();
  }
}

async function main(): Promise<number> {
  let a: Args;
  try {
    a = parseArgs(process.argv.slice(2));
  } catch (e) {
    if (e instanceof UsageError) {
      process.stderr.write(`${e.message}\n\n${HELP}\n`);
      return 2;
    }
    throw e;
  }
  if (a.help) {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  let sandbox = false;
  let note: string | undefined;
  if (a.sandbox) {
    if (inSandbox()) sandbox = true;
    else {
      const s = sandboxAvailable();
      if (s.ok) return rerunInSandbox();
      note = s.why;
    }
  } else note = '--no-sandbox';
  const log = new Log(a.color);
  let code = 0;
  for (const v of a.variants) {
    const c = await rehearse(a, v, sandbox, note, log);
    code = Math.max(code, c);
    if (a.variants.length > 1) log.print();
  }
  if (a.variants.length > 1)
    log.print(
      code === 0
        ? log.green(log.bold(`All ${a.variants.length} rehearsals behaved as expected.`))
        : log.red(log.bold('At least one rehearsal did not behave as expected.')),
    );
  return code;
}

main().then(
  (code) => process.exit(code),
  (e) => {
    process.stderr.write(`${(e as Error).stack ?? String(e)}\n`);
    process.exit(1);
  },
);
