/**
 * `npm run task -- <Task> [options]`: runs a built task (dist/tasks/<Task>) against a running
 * emulator (`npm run emulator`) the way the agent runs it (testkit/harness.ts: INPUT_*, ENDPOINT_*,
 * variables in the environment, ##vso[...] parsed), prints what the agent would show, and exits
 * 0 when the task succeeded (or succeeded with issues), 1 when it failed, 2 on a usage error.
 */
import * as fs from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';
import { handoffFile, type Handoff } from '../testkit/emulator/cli';
import type { SeedConnectionKind } from '../testkit/emulator/agentenv';
import { DIST, ROOT, runTask, type Endpoint } from '../testkit/harness';

const HELP = `Usage: npm run task -- <Task> [options]

Runs a built task (npm run build) against the emulator started with npm run emulator, as the
agent would, and prints its log, warnings, errors, output variables, summaries and result.

  <Task>                    AmlPrivateLinkCheck, AmlPipelineJob, AmlModelRegister or AmlAksDeploy
  --input <name=value>      a task input (repeatable); azureSubscription is set from --connection
  --variable <name=value>   a pipeline variable (repeatable), e.g. Build.SourceBranch=refs/heads/x
  --connection <kind>       wif (default), secret, certificate, managedIdentity, or none
  --sources <folder>        Build.SourcesDirectory (default: this repository)
  --emulator <port>         which running emulator (default: the one started last)
  -h, --help                print this help

AmlPrivateLinkCheck gets dnsServers (the emulator's VNet DNS server), tcpCheck=false and
allowedPrincipals (the other seeded pipeline identities) unless you give them; each is printed.

Example:
  npm run task -- AmlPipelineJob --input resourceGroupName=rg-aml-prod \\
    --input workspaceName=mlw-prod --input jobFile=examples/mlops/pipeline.yml
Exit codes: 0 succeeded, 1 the task failed, 2 usage error or no emulator.`;

class UsageError extends Error {}

interface Args {
  task: string;
  inputs: Record<string, string>;
  variables: Record<string, string>;
  connection: SeedConnectionKind | 'none';
  sources: string;
  emulator?: string;
}

function pair(text: string | undefined, flag: string): [string, string] {
  const eq = text?.indexOf('=') ?? -1;
  if (!text || eq <= 0) throw new UsageError(`${flag} takes name=value, not '${text ?? ''}'.`);
  return [text.slice(0, eq), text.slice(eq + 1)];
}

function parse(argv: string[]): Args | 'help' {
  if (argv.includes('-h') || argv.includes('--help')) return 'help';
  const tasks = fs.existsSync(DIST) ? fs.readdirSync(DIST).filter((t) => fs.existsSync(path.join(DIST, t, 'task.json'))) : [];
  const a: Args = { task: '', inputs: {}, variables: {}, connection: 'wif', sources: ROOT };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    const value = (): string => {
      const v = argv[++i];
      if (v === undefined) throw new UsageError(`${arg} needs a value.`);
      return v;
    };
    if (arg === '--input') {
      const [k, v] = pair(value(), arg);
      a.inputs[k] = v;
    } else if (arg === '--variable') {
      const [k, v] = pair(value(), arg);
      a.variables[k] = v;
    } else if (arg === '--connection') {
      const c = value();
      if (!['wif', 'secret', 'certificate', 'managedIdentity', 'none'].includes(c))
        throw new UsageError(`--connection is wif, secret, certificate, managedIdentity or none, not '${c}'.`);
      a.connection = c as Args['connection'];
    } else if (arg === '--sources') a.sources = path.resolve(value());
    else if (arg === '--emulator') a.emulator = value();
    else if (arg.startsWith('-')) throw new UsageError(`Unknown option '${arg}'.`);
    else if (!a.task) a.task = arg;
    else throw new UsageError(`Unexpected argument '${arg}': give one task.`);
  }
  if (!a.task) throw new UsageError(`Give the task to run: ${tasks.join(', ') || 'run npm run build first'}.`);
  if (!tasks.includes(a.task))
    throw new UsageError(`'${a.task}' is not a built task${tasks.length ? ` (built: ${tasks.join(', ')})` : ''}. Run npm run build first.`);
  return a;
}

/** The handoff of the emulator asked for, or of the one started last. */
function handoff(port: string | undefined): Handoff {
  const file = port
    ? handoffFile(port)
    : fs
        .readdirSync(tmpdir())
        .filter((f) => /^aml-emulator-\d+\.json$/.test(f))
        .map((f) => path.join(tmpdir(), f))
        .sort((x, y) => fs.statSync(y).mtimeMs - fs.statSync(x).mtimeMs)[0];
  if (!file || !fs.existsSync(file))
    throw new UsageError(`No running emulator${port ? ` on port ${port}` : ''}: start one with npm run emulator (in another shell).`);
  return JSON.parse(fs.readFileSync(file, 'utf8')) as Handoff;
}

async function main(argv: string[]): Promise<number> {
  const a = parse(argv);
  if (a === 'help') {
    process.stdout.write(`${HELP}\n`);
    return 0;
  }
  const h = handoff(a.emulator);
  const endpoints: Record<string, Endpoint> = { ...h.job.endpoints };
  const env: Record<string, string> = { ...h.job.env };
  const inputs = { ...a.inputs };
  if (a.connection !== 'none') {
    const c = h.connections[a.connection];
    endpoints[c.id] = c.endpoint;
    inputs.azureSubscription ??= c.id;
    if (c.scheme === 'ManagedServiceIdentity') env.AZURE_POD_IDENTITY_AUTHORITY_HOST = h.url;
  }
  if (a.task === 'AmlPrivateLinkCheck') {
    // What the emulator is not: a VNet around this machine. Say each input chosen for it.
    const defaults: Array<[string, string, string]> = [
      ['dnsServers', h.dnsServer, "the emulator's VNet DNS server, which answers for the private-link names"],
      ['tcpCheck', 'false', 'the private endpoint IPs exist only in the emulator'],
      ...(a.connection !== 'none'
        ? [
            [
              'allowedPrincipals',
              h.pipelinePrincipals.join('\n'),
              'the emulator seeds one pipeline identity per auth scheme; production has one',
            ] as [string, string, string],
          ]
        : []),
    ];
    for (const [name, value, why] of defaults) {
      if (name in inputs) continue;
      inputs[name] = value;
      process.stderr.write(`run-task: ${name} = ${value.replace(/\n/g, ',')} (${why})\n`);
    }
  }
  const variables = {
    ...h.job.variables,
    'Build.SourcesDirectory': a.sources,
    'System.DefaultWorkingDirectory': a.sources,
    ...a.variables,
  };
  const r = await runTask(a.task, { inputs, endpoints, env, variables, timeoutMs: 60 * 60_000 });
  const out: string[] = [...r.log];
  for (const w of r.warnings) out.push(`warning: ${w}`);
  for (const e of r.errors) out.push(`error: ${e}`);
  for (const [k, v] of Object.entries(r.outputs)) out.push(`output ${k} = ${v}`);
  for (const s of r.summaries) out.push(`summary: ${s.path}`);
  out.push(`result: ${r.result}${r.resultMessage ? ` (${r.resultMessage})` : ''}`);
  process.stdout.write(`${out.join('\n')}\n`);
  if (r.stderr.trim()) process.stderr.write(r.stderr);
  return r.result === 'Succeeded' || r.result === 'SucceededWithIssues' ? 0 : 1;
}

main(process.argv.slice(2)).then(
  (code) => (process.exitCode = code),
  (e: unknown) => {
    process.stderr.write(`run-task: ${e instanceof Error ? e.message : String(e)}\n${e instanceof UsageError ? `\n${HELP}\n` : ''}`);
    process.exitCode = 2;
  },
);
