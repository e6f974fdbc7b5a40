/** AmlPrivateLinkCheck@1 entry point: read inputs, call the core, set outputs. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { runTask } from '../common/agent';
import { ArmClient } from '../common/arm';
import { UserError } from '../common/errors';
import { connectionInput, openWorkspace, workspaceInputs } from '../common/session';
import { checkNames, mergeTargets } from './check';
import { discover } from './discovery';
import { assessPosture, diagnoseChecks, type PostureCheck } from './posture';
import { failureLine, logLine, summaryMarkdown, type Report } from './report';
import { readHosts } from './resolve';
import { parseDnsServers, parseFqdns, parseRanges, type NameTarget } from './targets';

const DEFAULT_RANGES = '10.0.0.0/8,172.16.0.0/12,192.168.0.0/16,100.64.0.0/10';

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
    throw new UserError("Input 'azureSubscription': a workspace was given but no service connection to read it with. Select an Azure Resource Manager service connection, or clear 'workspaceName' and list names in 'fqdns'.", 'azureSubscription');
  }
  if (!connection && explicit.length === 0) {
    throw new UserError("Input 'fqdns': nothing to check. List host names in 'fqdns' (one per line), or set 'azureSubscription', 'resourceGroupName' and 'workspaceName' to discover them.", 'fqdns');
  }

  let discovered: NameTarget[] = [];
  let posture: PostureCheck[] = [];
  const notes: string[] = [];
  let workspaceName: string | undefined;
  if (connection) {
    const ws = workspaceInputs(io);
    workspaceName = ws.name;
    io.progress(5, 'Reading the workspace');
    const session = await openWorkspace(io, connection, ws);
    io.progress(15, 'Discovering private endpoints');
    const d = await discover(new ArmClient(session.arm), session.workspace, session.arm.endpoint.environment, (l) => io.info(l));
    discovered = d.targets;
    notes.push(...d.notes);
    io.info(`Discovered ${d.targets.length} names from ${d.workspaceConnections.length} workspace endpoint(s) and ${d.dependencies.length} dependencies.`);
    if (io.bool('checkPosture', true)) {
      posture = assessPosture(session.workspace, ws.resourceGroup, d);
      if (io.bool('runDiagnose', false)) {
        io.progress(25, 'Running workspace diagnose');
        const diag = await session.client.workspaces.beginDiagnoseAndWait(ws.resourceGroup, ws.name, { parameters: { value: {} } });
        posture.push(...diagnoseChecks(diag.value));
      }
    }
  }

  const targets = mergeTargets(discovered, explicit);
  io.progress(40, `Resolving ${targets.length} names`);
  io.info(`Resolving ${targets.length} names with ${servers.length ? servers.join(', ') : "the agent's resolver"} (timeout ${timeoutMs / 1000}s each${tcp ? ', then TCP 443' : ''}).`);
  const names = await checkNames(targets, { servers, timeoutMs, ranges, tcp, hosts: readHosts() });
  io.progress(90, 'Writing the report');
  for (const n of names) io.info(logLine(n));
  for (const p of posture) io.info(`${p.status.padEnd(12)} ${p.check}: ${p.detail}${p.fix ? ` (fix: ${p.fix})` : ''}`);

  const failed = names.some((n) => n.verdict !== 'OK') || posture.some((p) => p.status === 'FAIL');
  const report: Report = { ok: !failed, ...(workspaceName ? { workspace: workspaceName } : {}), dnsServers: servers, allowedRanges: ranges.text, names, posture, notes };
  const reportPath = path.join(io.tempDir(), `aml-private-link-report-${process.pid}.json`);
  fs.writeFileSync(reportPath, JSON.stringify(report, null, 2));
  io.summary('aml-private-link-check', summaryMarkdown(report));
  io.output('privateLinkOk', String(!failed));
  io.output('reportPath', reportPath);
  io.progress(100, 'Done');

  if (failed) {
    const line = failureLine(names, posture);
    if (continueOnWarning) io.warn(`Private link check: ${line}. Continuing because continueOnWarning is true.`);
    else throw new UserError(`Private link check failed: ${line}. See the run summary for the cause and fix of each.`);
  } else {
    io.info(`All ${names.length} names resolve to their private endpoints${posture.length ? ' and the workspace is isolated' : ''}.`);
  }
});
