/** AmlPrivateLinkCheck@1 entry point: read inputs, call the core, set outputs. */
import { msg } from './messages';
import { runTask } from '../common/agent';
import { UserError } from '../common/errors';
import { connectionInput, optionalGateSettings, workspaceInputs } from '../common/inputs';
import { parseAllowedPrincipals } from './access';
import { DEFAULT_RANGES, mergeTargets, NO_SCAN, runPrivateLinkCheck } from './check';
import { failureLine, logLine, summaryMarkdown } from './report';
import { parseDnsServers, parseFqdns, parseRanges, registryInput } from './targets';

runTask(__dirname, async (io) => {
  const connection = connectionInput(io, true);
  const explicit = parseFqdns(io.lines('fqdns'));
  const ranges = parseRanges(io.input('allowedRanges') ?? DEFAULT_RANGES);
  const servers = parseDnsServers(io.input('dnsServers'));
  const tcp = io.bool('tcpCheck', true);
  const timeoutMs = io.int('timeoutSeconds', 5, 1, 120) * 1000;
  const continueOnWarning = io.bool('continueOnWarning', false);
  const hasWorkspace = !!(io.input('workspaceName') || io.input('resourceGroupName'));
  if (hasWorkspace && !connection) {
    throw new UserError(msg('WorkspaceNeedsConnection'), 'azureSubscription');
  }
  if (!connection && explicit.length === 0) {
    throw new UserError(msg('NothingToCheck'), 'fqdns');
  }
  const ws = connection ? workspaceInputs(io) : undefined;
  // The production identity is used only from a protected branch unless the gate is turned off.
  const gate = connection ? optionalGateSettings(io) : undefined;

  // Only the workspace mode needs the Azure SDKs; a names-only check never loads them.
  const access =
    connection && io.bool('checkAccess', true) ? { allowed: parseAllowedPrincipals(io.lines('allowedPrincipals')) } : undefined;
  const options = { posture: io.bool('checkPosture', true), diagnose: io.bool('runDiagnose', false), ...(access ? { access } : {}) };
  const registry = registryInput(io, !!ws);
  const scan = connection && ws ? await (await import('./azure')).scanWorkspace(io, connection, ws, options, gate, registry) : NO_SCAN;

  const targets = mergeTargets(scan.targets, explicit);
  io.progress(40, msg('ProgressResolving', targets.length));
  const resolver = servers.length ? servers.join(', ') : msg('ResolverAgent');
  io.info(msg('ResolvingNames', targets.length, timeoutMs / 1000, tcp ? msg('ResolverThenTcp', resolver) : resolver));
  const report = await runPrivateLinkCheck(scan, targets, { servers, timeoutMs, ranges, tcp, ...(ws ? { workspace: ws.name } : {}) });
  const { names } = report;
  const failed = !report.ok;
  io.progress(90, msg('ProgressWritingReport'));
  for (const n of names) io.info(logLine(n));
  for (const p of scan.posture)
    io.info(
      p.fix
        ? msg('PostureLogLineFix', p.status.padEnd(12), p.check, p.detail, p.fix)
        : msg('PostureLogLine', p.status.padEnd(12), p.check, p.detail),
    );

  const reportPath = io.report('aml-private-link-report', report);
  io.summary('aml-private-link-check', summaryMarkdown(report));
  io.output('privateLinkOk', String(!failed));
  io.output('reportPath', reportPath);
  io.progress(100, msg('ProgressDone'));

  if (!failed) {
    io.info(msg('AllNamesOk', names.length));
  } else if (continueOnWarning) {
    io.succeededWithIssues(msg('CheckFailedContinuing', failureLine(names, scan.posture), msg('ContinuingOnWarning')));
  } else {
    throw new UserError(msg('CheckFailed', failureLine(names, scan.posture)));
  }
});
