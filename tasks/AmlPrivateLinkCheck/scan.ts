/**
 * Discovery and posture of a workspace already read, with any ARM credential: shared by
 * AmlPrivateLinkCheck@1 (service connection) and the jump-host command (developer sign-in).
 */
import type { AzureMachineLearningWorkspaces, Workspace } from '@azure/arm-machinelearning';
import { ArmClient, type ArmContext } from '../common/arm';
import type { WorkspaceInputs } from '../common/inputs';
import type { Scan } from './check';
import { discover } from './discovery';
import { assessPosture, diagnoseChecks } from './posture';

/** Where the scan reports what it is doing: the agent's log, or the terminal. */
export interface ScanLog {
  info(line: string): void;
  warn(line: string): void;
  progress(percent: number, text: string): void;
}

export interface ScanOptions {
  posture: boolean;
  diagnose: boolean;
}

/** Discovery and posture of a workspace already read, with any ARM credential. */
export async function scanOpenedWorkspace(arm: ArmContext, client: AzureMachineLearningWorkspaces, workspace: Workspace, ws: WorkspaceInputs, o: ScanOptions, log: ScanLog): Promise<Scan> {
  log.progress(15, 'Discovering private endpoints');
  const d = await discover(new ArmClient(arm), workspace, arm.endpoint.environment, (l) => log.warn(l));
  log.info(`Discovered ${d.targets.length} names from ${d.workspaceConnections.length} workspace endpoint(s) and ${d.dependencies.length} dependencies.`);
  const checks = o.posture ? assessPosture(workspace, ws.resourceGroup, d) : [];
  if (o.posture && o.diagnose) {
    log.progress(25, 'Running workspace diagnose');
    const diag = await client.workspaces.beginDiagnoseAndWait(ws.resourceGroup, ws.name, { parameters: { value: {} } });
    checks.push(...diagnoseChecks(diag.value));
  }
  return { targets: d.targets, posture: checks, notes: d.notes };
}
