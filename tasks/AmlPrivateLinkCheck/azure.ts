/**
 * The Azure half of the check (loads the Azure SDKs): sign in, read the workspace, discover
 * names and expected IPs, assess posture.
 */
import type { AgentIo } from '../common/agent';
import { ArmClient } from '../common/arm';
import type { WorkspaceInputs } from '../common/inputs';
import { openWorkspace } from '../common/session';
import { discover } from './discovery';
import { assessPosture, diagnoseChecks, type PostureCheck } from './posture';
import type { NameTarget } from './targets';

export interface Scan {
  targets: NameTarget[];
  posture: PostureCheck[];
  notes: string[];
}

export async function scanWorkspace(io: AgentIo, connection: string, ws: WorkspaceInputs, posture: boolean, diagnose: boolean): Promise<Scan> {
  io.progress(5, 'Reading the workspace');
  const session = await openWorkspace(io, connection, ws);
  io.progress(15, 'Discovering private endpoints');
  const d = await discover(new ArmClient(session.arm), session.workspace, session.arm.endpoint.environment, (l) => io.warn(l));
  io.info(`Discovered ${d.targets.length} names from ${d.workspaceConnections.length} workspace endpoint(s) and ${d.dependencies.length} dependencies.`);
  const checks = posture ? assessPosture(session.workspace, ws.resourceGroup, d) : [];
  if (posture && diagnose) {
    io.progress(25, 'Running workspace diagnose');
    const diag = await session.client.workspaces.beginDiagnoseAndWait(ws.resourceGroup, ws.name, { parameters: { value: {} } });
    checks.push(...diagnoseChecks(diag.value));
  }
  return { targets: d.targets, posture: checks, notes: d.notes };
}
