/**
 * `aml-secure-mlops check-privatelink`: the AmlPrivateLinkCheck@1 check from a jump host or a
 * VPN client, where people debug private DNS. Same core, same verdicts and fixes; the sign-in is
 * the developer's own. Exit codes: 0 all good, 1 findings, 2 usage or sign-in errors.
 */
import { parseArgs } from 'node:util';
import { DEFAULT_RANGES, mergeTargets, NO_SCAN, runPrivateLinkCheck } from '../tasks/AmlPrivateLinkCheck/check';
import type { Report } from '../tasks/AmlPrivateLinkCheck/report';
import { parseDnsServers, parseFqdns, parseRanges } from '../tasks/AmlPrivateLinkCheck/targets';
import { translateAzureError, UserError } from '../tasks/common/errors';
import { neutralize } from '../tasks/common/sink';

// The command often runs inside a pipeline step: nothing it prints (DNS answers, Azure's errors)
// may become an agent command. The same sink as the tasks' (tasks/common/sink.ts).
const stdout = (text: string): boolean => process.stdout.write(neutralize(text));
const stderr = (text: string): boolean => process.stderr.write(neutralize(text));

const USAGE = `Usage: aml-secure-mlops check-privatelink [options]

Checks that the names of an Azure ML workspace and its storage, Key Vault and container
registry resolve to their private endpoints from this machine, then that TCP 443 opens.

  --workspace <name>        workspace to discover names and expected IPs from (needs a sign-in)
  --resource-group <name>   its resource group (required with --workspace)
  --subscription <id>       default: AZURE_SUBSCRIPTION_ID, else the one holding the workspace
  --fqdns <list>            extra names, comma separated; name=ip[,ip] pins the expected IPs.
                            Without --workspace no sign-in is needed.
  --dns-servers <list>      ask these servers (ip or ip:port) instead of the system resolver
  --allowed-ranges <list>   private ranges (default ${DEFAULT_RANGES})
  --timeout <seconds>       per name (default 5)
  --no-tcp                  skip the TCP 443 check
  --no-posture              skip the posture checks (public access, endpoint approvals, registry,
                            computes and their subnets, managed network, AKS, online endpoints)
  --check-access            also list everyone who can write to the workspace (role assignments
                            at and above it); nobody is exempt but --allowed-principals
  --allowed-principals <list>  object ids, comma separated, that may write (the pipeline's own)
  --cloud <name>            AzureCloud (default), AzureUSGovernment, AzureChinaCloud
  --arm-url <url>           another Resource Manager URL (Azure Stack, private clouds)
  --json                    print the report as JSON
  --no-color                plain output (also when NO_COLOR is set, or output is not a terminal
                            and FORCE_COLOR is not set)
  --version                 print the version and exit
  -h, --help                print this help and exit

Sign-in: 'az login', or AZURE_TENANT_ID / AZURE_CLIENT_ID / AZURE_CLIENT_SECRET, or a managed
identity (DefaultAzureCredential). Proxy: HTTPS_PROXY and NO_PROXY.
Exit codes: 0 every name resolves privately, 1 findings, 2 usage or sign-in error.`;

class UsageError extends Error {}

interface Options {
  workspace?: string;
  resourceGroup?: string;
  subscription?: string;
  fqdns: string[];
  dnsServers?: string;
  allowedRanges: string;
  timeoutSeconds: number;
  tcp: boolean;
  posture: boolean;
  /** The access audit, with the object ids allowed to write. */
  access?: { allowed: string[] };
  cloud: string;
  armUrl?: string;
  json: boolean;
  color: boolean;
}

function parse(argv: string[]): Options | 'help' | 'version' {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      options: {
        workspace: { type: 'string' },
        'resource-group': { type: 'string' },
        subscription: { type: 'string' },
        fqdns: { type: 'string', multiple: true },
        'dns-servers': { type: 'string' },
        'allowed-ranges': { type: 'string' },
        timeout: { type: 'string' },
        'no-tcp': { type: 'boolean' },
        'no-posture': { type: 'boolean' },
        'check-access': { type: 'boolean' },
        'allowed-principals': { type: 'string' },
        cloud: { type: 'string' },
        'arm-url': { type: 'string' },
        json: { type: 'boolean' },
        'no-color': { type: 'boolean' },
        help: { type: 'boolean', short: 'h' },
        version: { type: 'boolean' },
      },
    });
  } catch (e) {
    // Node's parser speaks of positional arguments and '--'; say what a user of this command needs.
    const code = (e as { code?: string }).code;
    const option = /'(-{1,2}[^' ]+)/.exec((e as Error).message)?.[1] ?? '';
    if (code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') throw new UsageError(`Unknown option '${option}'. The options are listed below.`);
    if (code === 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE') throw new UsageError(`Option '${option}' needs a value, as in ${option} <value>.`);
    throw new UsageError((e as Error).message);
  }
  const v = parsed.values;
  if (v.help) return 'help';
  if (v.version) return 'version';
  const [command, ...extra] = parsed.positionals;
  if (!command) throw new UsageError('Give a command: check-privatelink.');
  if (command !== 'check-privatelink') throw new UsageError(`Unknown command '${command}'. The command is check-privatelink.`);
  if (extra.length) throw new UsageError(`Unexpected argument '${extra[0]}'.`);
  if (v.workspace && !v['resource-group']) throw new UsageError('--workspace needs --resource-group.');
  if (v['resource-group'] && !v.workspace) throw new UsageError('--resource-group needs --workspace.');
  const fqdns = (v.fqdns ?? []).flatMap((f) => f.split(/[\s;]+|,(?![\d.:]+(?:,|$))/)).filter(Boolean);
  if (!v.workspace && fqdns.length === 0) throw new UsageError('Nothing to check: give --workspace with --resource-group, or --fqdns.');
  if (v['check-access'] && !v.workspace) throw new UsageError('--check-access needs --workspace and --resource-group.');
  if (v['allowed-principals'] && !v['check-access']) throw new UsageError('--allowed-principals goes with --check-access.');
  const allowed = (v['allowed-principals'] ?? '').split(/[\s,]+/).filter(Boolean);
  const bad = allowed.find((id) => !/^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i.test(id));
  if (bad)
    throw new UsageError(
      `--allowed-principals: '${bad}' is not an object id (a GUID). Give object ids separated by commas, e.g. from az ad sp show --id <appId> --query id.`,
    );
  const timeout = v.timeout ?? '5';
  if (!/^\d+$/.test(timeout) || Number(timeout) < 1 || Number(timeout) > 120)
    throw new UsageError(`--timeout must be whole seconds from 1 to 120, not '${timeout}'.`);
  return {
    ...(v.workspace ? { workspace: v.workspace } : {}),
    ...(v['resource-group'] ? { resourceGroup: v['resource-group'] } : {}),
    ...(v.subscription ? { subscription: v.subscription } : {}),
    fqdns,
    ...(v['dns-servers'] ? { dnsServers: v['dns-servers'] } : {}),
    allowedRanges: v['allowed-ranges'] ?? DEFAULT_RANGES,
    timeoutSeconds: Number(timeout),
    tcp: !v['no-tcp'],
    posture: !v['no-posture'],
    ...(v['check-access'] ? { access: { allowed: allowed.map((x) => x.toLowerCase()) } } : {}),
    cloud: v.cloud ?? 'AzureCloud',
    ...(v['arm-url'] ? { armUrl: v['arm-url'] } : {}),
    json: !!v.json,
    // NO_COLOR and FORCE_COLOR as most command-line tools read them (no-color.org, Node's own).
    color:
      !v['no-color'] && !process.env.NO_COLOR && (!!process.stdout.isTTY || (!!process.env.FORCE_COLOR && process.env.FORCE_COLOR !== '0')),
  };
}

const ANSI = { red: '\x1b[31m', green: '\x1b[32m', yellow: '\x1b[33m', dim: '\x1b[2m', bold: '\x1b[1m', reset: '\x1b[0m' };

/** The report as a terminal table: verdict, name, answer, expected; the fix under each failure. */
function table(report: Report, color: boolean): string {
  const paint = (c: keyof typeof ANSI, s: string) => (color ? `${ANSI[c]}${s}${ANSI.reset}` : s);
  const rows = report.names.map((n) => [n.verdict, n.fqdn, n.answer.join(',') || '-', n.expected.join(',') || '-']);
  const head = ['VERDICT', 'NAME', 'ANSWER', 'EXPECTED'];
  const width = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i]!.length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(width[i]!))
      .join('  ')
      .trimEnd();
  const out = [paint('bold', line(head))];
  report.names.forEach((n, i) => {
    const text = line(rows[i]!);
    const verdict = rows[i]![0]!;
    out.push(paint(n.verdict === 'OK' ? 'green' : 'red', verdict) + text.slice(verdict.length));
    if (n.advice) out.push(paint('dim', `${' '.repeat(width[0]! + 2)}${n.advice}`));
  });
  if (report.posture.length) {
    out.push('', paint('bold', 'ISOLATION POSTURE'));
    for (const p of report.posture) {
      const status = p.status.padEnd(5);
      out.push(`${paint(p.status === 'PASS' ? 'green' : p.status === 'FAIL' ? 'red' : 'yellow', status)}  ${p.check}: ${p.detail}`);
      if (p.fix) out.push(paint('dim', `       fix: ${p.fix}`));
    }
  }
  for (const note of report.notes) out.push('', paint('yellow', `note: ${note}`));
  const bad = report.names.filter((n) => n.verdict !== 'OK').length;
  const badPosture = report.posture.filter((p) => p.status === 'FAIL').length;
  out.push(
    '',
    report.ok
      ? paint(
          'green',
          `All ${report.names.length} names resolve to their private endpoints${report.posture.length ? ' and the posture checks pass' : ''}.`,
        )
      : paint('red', `${bad} of ${report.names.length} names failed${badPosture ? `, ${badPosture} posture check(s) failed` : ''}.`),
  );
  return out.join('\n');
}

async function main(argv: string[]): Promise<number> {
  const o = parse(argv);
  if (o === 'help') {
    stdout(`${USAGE}\n`);
    return 0;
  }
  if (o === 'version') {
    stdout(`${typeof CLI_VERSION === 'string' ? CLI_VERSION : 'development'}\n`);
    return 0;
  }
  const explicit = parseFqdns(o.fqdns, '--fqdns', true);
  const ranges = parseRanges(o.allowedRanges, '--allowed-ranges');
  const servers = parseDnsServers(o.dnsServers, '--dns-servers');
  // Status lines go to stderr so that --json output stays parseable.
  const log = { info: (l: string) => stderr(`${l}\n`), warn: (l: string) => stderr(`warning: ${l}\n`), progress: () => undefined };
  const scan =
    o.workspace && o.resourceGroup
      ? await (
          await import('./azure')
        ).scanWithDeveloperLogin(
          {
            workspace: o.workspace,
            resourceGroup: o.resourceGroup,
            cloud: o.cloud,
            posture: o.posture,
            ...(o.access ? { access: o.access } : {}),
            ...(o.subscription ? { subscription: o.subscription } : {}),
            ...(o.armUrl ? { armUrl: o.armUrl } : {}),
          },
          log,
        )
      : NO_SCAN;
  const targets = mergeTargets(scan.targets, explicit);
  log.info(
    `Resolving ${targets.length} names with ${servers.length ? servers.join(', ') : 'the system resolver'}${o.tcp ? ', then TCP 443' : ''}...`,
  );
  const report = await runPrivateLinkCheck(scan, targets, {
    servers,
    timeoutMs: o.timeoutSeconds * 1000,
    ranges,
    tcp: o.tcp,
    ...(o.workspace ? { workspace: o.workspace } : {}),
  });
  stdout(`${o.json ? JSON.stringify(report, null, 2) : table(report, o.color)}\n`);
  return report.ok ? 0 : 1;
}

/** Set by the build from package.json. */
declare const CLI_VERSION: string | undefined;

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (e: unknown) => {
    if (e instanceof UsageError) {
      stderr(`aml-secure-mlops: ${e.message}\n\n${USAGE}\n`);
    } else {
      const err = translateAzureError(e, { action: 'check the workspace' });
      stderr(`aml-secure-mlops: ${err instanceof UserError ? err.message : `unexpected error: ${err.message}`}\n`);
    }
    process.exitCode = 2;
  },
);
